"""Power and sample size for a two-arm comparison of means: how many participants next year.

The city sizes next year's program from two questions: with ``n`` participants and the
comparison group it has, what is the smallest effect the evaluation can detect (the
minimum detectable effect, MDE); and how many participants are needed to detect a target
effect, e.g. a 5% reduction in annual medical costs.

The calculations are those of the two-sample t-test (noncentral t distribution, as in
G*Power and ``statsmodels.stats.power.TTestIndPower``), with two adjustments common in
programme evaluation (Bloom 1995; Duflo, Glennerster & Kremer 2007):

- a design effect ``1 + (m - 1) * icc`` when people are clustered (households,
  districts), which divides the effective sample size;
- the share of outcome variance explained by baseline covariates, ``r2``, which shrinks
  the residual standard deviation to ``sd * sqrt(1 - r2)``.

References
----------
Cohen J. Statistical Power Analysis for the Behavioral Sciences. 2nd ed. 1988.
Bloom HS. Minimum detectable effects. Evaluation Review 1995;19(5):547-556.
Duflo E, Glennerster R, Kremer M. Using randomization in development economics
research: a toolkit. Handbook of Development Economics 2007;4:3895-3962.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

_N_MAX = 1e9


@dataclass(frozen=True)
class SampleSize:
    """Participants needed per arm (rounded up) and the exact solution.

    Attributes
    ----------
    n_treated, n_control, n_total : int
        Whole people needed (each arm rounded up).
    n_treated_exact : float
        The real-valued solution for the treated arm (``n_control = ratio * n_treated``).
    """

    n_treated: int
    n_control: int
    n_total: int
    n_treated_exact: float

    def __repr__(self) -> str:
        return (
            f"<SampleSize n_treated={self.n_treated:,} n_control={self.n_control:,} "
            f"n_total={self.n_total:,}>"
        )


def design_effect(cluster_size: float, icc: float) -> float:
    """Variance inflation from clustering, ``1 + (cluster_size - 1) * icc`` (Kish 1965).

    Parameters
    ----------
    cluster_size : float
        Mean number of people per cluster (e.g. per household), at least 1.
    icc : float
        Intra-cluster correlation of the outcome, in [0, 1].
    """
    if not cluster_size >= 1:
        raise ValueError(f"cluster_size must be >= 1, got {cluster_size!r}")
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must be in [0, 1], got {icc!r}")
    return 1.0 + (cluster_size - 1.0) * icc


def _check_common(alpha: float, power: float, design_effect: float, r2: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    if not design_effect >= 1:
        raise ValueError(f"design_effect must be >= 1, got {design_effect!r}")
    if not 0 <= r2 < 1:
        raise ValueError(f"r2 must be in [0, 1), got {r2!r}")


def _positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _power_d(d: float, n1: float, n2: float, alpha: float, two_sided: bool) -> float:
    """Power of the two-sample t-test for standardised effect ``d`` (noncentral t)."""
    df = n1 + n2 - 2.0
    nc = abs(d) / math.sqrt(1.0 / n1 + 1.0 / n2)
    if two_sided:
        crit = stats.t.ppf(1 - alpha / 2, df)
        out = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    else:
        crit = stats.t.ppf(1 - alpha, df)
        out = float(stats.nct.sf(crit, df, nc))
    if np.isnan(out):  # scipy's noncentral t fails far in the tail, where the z-test is exact
        return float(stats.norm.sf(crit - nc) + (stats.norm.cdf(-crit - nc) if two_sided else 0))
    return out


def _effective(n_treated: float, n_control: float, design_effect: float) -> tuple[float, float]:
    n1, n2 = n_treated / design_effect, n_control / design_effect
    if n1 + n2 <= 2.5 or min(n1, n2) < 1:
        raise ValueError(
            f"too few people: n_treated={n_treated}, n_control={n_control} "
            f"(effective {n1:.1f} and {n2:.1f} after design effect {design_effect:g})"
        )
    return n1, n2


def power_of_test(
    effect: float,
    n_treated: float,
    n_control: float,
    sd: float,
    *,
    alpha: float = 0.05,
    two_sided: bool = True,
    design_effect: float = 1.0,
    r2: float = 0.0,
) -> float:
    """Probability that the comparison detects a true difference in means of ``effect``.

    Parameters
    ----------
    effect : float
        True difference in means, in outcome units (sign ignored).
    n_treated, n_control : float
        People per arm.
    sd : float
        Outcome standard deviation (common to both arms).
    alpha : float
        Significance level.
    two_sided : bool
        Two-sided test (default) or one-sided.
    design_effect : float
        Variance inflation from clustering (see :func:`design_effect`).
    r2 : float
        Share of outcome variance explained by baseline covariates.

    Returns
    -------
    float
        Power in (0, 1).
    """
    _check_common(alpha, 0.5, design_effect, r2)
    _positive("sd", sd)
    n1, n2 = _effective(n_treated, n_control, design_effect)
    return _power_d(effect / (sd * math.sqrt(1 - r2)), n1, n2, alpha, two_sided)


def minimum_detectable_effect(
    n_treated: float,
    n_control: float,
    sd: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    design_effect: float = 1.0,
    r2: float = 0.0,
) -> float:
    """Smallest true difference in means detected with the given power.

    Parameters
    ----------
    n_treated, n_control : float
        People per arm.
    sd : float
        Outcome standard deviation.
    alpha, power : float
        Significance level and target power.
    two_sided : bool
        Two-sided test (default) or one-sided.
    design_effect : float
        Variance inflation from clustering (see :func:`design_effect`); 1 = none.
    r2 : float
        Share of outcome variance explained by baseline covariates; 0 = none.

    Returns
    -------
    float
        The MDE in outcome units (positive).

    Examples
    --------
    >>> round(minimum_detectable_effect(64, 64, 1.0), 2)
    0.5
    """
    _check_common(alpha, power, design_effect, r2)
    _positive("sd", sd)
    n1, n2 = _effective(n_treated, n_control, design_effect)
    se = math.sqrt(1.0 / n1 + 1.0 / n2)
    hi = 2 * (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power) + 5) * se

    def gap(d: float) -> float:
        return _power_d(d, n1, n2, alpha, two_sided) - power

    d = optimize.brentq(gap, 1e-12, hi, xtol=1e-12)
    return float(d * sd * math.sqrt(1 - r2))


def required_sample_size(
    effect: float,
    sd: float,
    *,
    ratio: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    design_effect: float = 1.0,
    r2: float = 0.0,
) -> SampleSize:
    """People needed to detect a difference in means of ``effect`` with the given power.

    Parameters
    ----------
    effect : float
        Target difference in means, in outcome units (non-zero; sign ignored).
    sd : float
        Outcome standard deviation.
    ratio : float
        Comparison people per participant (``n_control = ratio * n_treated``).
    alpha, power, two_sided, design_effect, r2
        As in :func:`minimum_detectable_effect`.

    Returns
    -------
    SampleSize

    Examples
    --------
    >>> required_sample_size(0.5, 1.0).n_treated
    64
    """
    _check_common(alpha, power, design_effect, r2)
    _positive("sd", sd)
    _positive("ratio", ratio)
    if not (np.isfinite(effect) and effect != 0):
        raise ValueError(f"effect must be a non-zero number, got {effect!r}")
    d = abs(effect) / (sd * math.sqrt(1 - r2))

    def gap(n1: float) -> float:
        return _power_d(d, n1 / design_effect, ratio * n1 / design_effect, alpha, two_sided) - power

    lo = design_effect * max(2.0, 1.0 / ratio) * 1.0001 + 1.0
    z = stats.norm.ppf(1 - alpha / (2 if two_sided else 1)) + stats.norm.ppf(power)
    hi = 2 * design_effect * z**2 * (1 + 1 / ratio) / d**2 + 2 * lo
    if hi > _N_MAX:
        raise ValueError(f"effect {effect!r} is too small to detect with under {_N_MAX:g} people")
    n1 = lo if gap(lo) >= 0 else optimize.brentq(gap, lo, hi, xtol=1e-9, rtol=1e-12)
    nt, nc = math.ceil(n1 - 1e-9), math.ceil(ratio * n1 - 1e-9)
    return SampleSize(nt, nc, nt + nc, float(n1))


def minimum_detectable_cost_reduction(
    n_treated: float, n_control: float, mean_cost: float, sd_cost: float, **options
) -> float:
    """MDE for a cost outcome as a share of the mean cost (0.05 = a 5% reduction).

    Parameters
    ----------
    n_treated, n_control : float
        People per arm.
    mean_cost, sd_cost : float
        Mean and standard deviation of the cost outcome (yen per person and period).
    **options
        ``alpha``, ``power``, ``two_sided``, ``design_effect``, ``r2`` as in
        :func:`minimum_detectable_effect`.
    """
    _positive("mean_cost", mean_cost)
    return minimum_detectable_effect(n_treated, n_control, sd_cost, **options) / mean_cost


def required_sample_size_for_cost(
    relative_reduction: float, mean_cost: float, sd_cost: float, **options
) -> SampleSize:
    """People needed to detect a relative cost reduction (0.05 = 5% of ``mean_cost``).

    Medical costs are skewed (the SD is often 2-4 times the mean), so a 5% reduction
    typically needs thousands of participants; covariate adjustment (``r2``) helps most.

    Parameters
    ----------
    relative_reduction : float
        Target reduction as a share of the mean, in (0, 1).
    mean_cost, sd_cost : float
        Mean and standard deviation of the cost outcome (yen per person and period).
    **options
        ``ratio``, ``alpha``, ``power``, ``two_sided``, ``design_effect``, ``r2`` as in
        :func:`required_sample_size`.
    """
    if not 0 < relative_reduction < 1:
        raise ValueError(f"relative_reduction must be in (0, 1), got {relative_reduction!r}")
    _positive("mean_cost", mean_cost)
    return required_sample_size(relative_reduction * mean_cost, sd_cost, **options)

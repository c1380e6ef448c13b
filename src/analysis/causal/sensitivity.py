"""Sensitivity to unmeasured confounding, and placebo-outcome checks.

- ``e_value``: the minimum strength of association (risk-ratio scale) an unmeasured
  confounder would need with both treatment and outcome to explain the estimate away
  (VanderWeele & Ding 2017). Binary outcomes: our estimators give a risk difference,
  converted to a risk ratio with the comparison group's risk, ``RR = (p0 + RD) / p0``
  (``p0`` treated as fixed). Continuous outcomes: the standardised difference
  ``d = estimate / sd(outcome)`` is converted with ``RR ~ exp(0.91 d)`` and the CI with
  ``exp(0.91 d +- 1.78 se_d)`` (VanderWeele & Ding 2017, section 5; Chinn 2000), an
  approximation that assumes a roughly normal outcome.
- ``robustness_value``: Cinelli & Hazlett's (2020) robustness value from the t-statistic
  and residual degrees of freedom of the treatment coefficient in an OLS regression: the
  partial R^2 that confounders would need with both treatment and outcome to reduce the
  estimate by ``100 q`` percent (or make it insignificant at ``alpha``).
- ``placebo_outcomes``: effects on outcomes the program cannot have changed (e.g.
  prior-year costs); all should be near zero.

References
----------
VanderWeele, T. J. & Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. Annals of Internal Medicine 167(4), 268-274.
Cinelli, C. & Hazlett, C. (2020). Making sense of sensitivity: extending omitted variable
bias. Journal of the Royal Statistical Society B 82(1), 39-67.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.diagnostics import Check
from analysis.causal.multiplicity import holm


@dataclass(frozen=True)
class EValue:
    """E-values of a point estimate and of its confidence limit closest to the null.

    Attributes
    ----------
    point : float
        E-value of the estimate.
    ci : float
        E-value of the confidence limit closest to 1 (1 when the CI includes the null).
    risk_ratio : float
        The estimate on the risk-ratio scale used.
    scale : str
        ``"risk_ratio"``, ``"risk_difference"`` (converted with the baseline risk) or
        ``"standardised_difference"`` (converted with exp(0.91 d)).
    """

    point: float
    ci: float
    risk_ratio: float
    scale: str


def _e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return float(rr + math.sqrt(rr * (rr - 1)))


def e_value_rr(rr: float, ci_low: float | None = None, ci_high: float | None = None) -> EValue:
    """E-value for a risk ratio and (optionally) its confidence interval.

    Examples
    --------
    >>> round(e_value_rr(3.9, 1.8, 8.7).point, 2), round(e_value_rr(3.9, 1.8, 8.7).ci, 2)
    (7.26, 3.0)
    """
    if not rr > 0:
        raise ValueError(f"risk ratio must be positive, got {rr!r}")
    ci = math.nan
    if rr >= 1 and ci_low is not None:
        ci = 1.0 if ci_low <= 1 else _e(ci_low)
    elif rr < 1 and ci_high is not None:
        ci = 1.0 if ci_high >= 1 else _e(ci_high)
    return EValue(_e(rr), ci, float(rr), "risk_ratio")


def e_value(result, *, outcome_sd: float | None = None, baseline_risk: float | None = None):
    """E-value of an ``EffectResult`` (see the module docstring for the conversions).

    Parameters
    ----------
    result : EffectResult
    outcome_sd : float, optional
        Outcome standard deviation for continuous outcomes (default: from the result).
    baseline_risk : float, optional
        Comparison-group risk for binary outcomes (default: from the result).

    Returns
    -------
    EValue
    """
    info = getattr(result, "info", {}) or {}
    binary = info.get("outcome_binary", baseline_risk is not None)
    if binary:
        p0 = baseline_risk if baseline_risk is not None else info.get("control_mean")
        if p0 is None or not 0 < p0 < 1:
            raise ValueError("e_value needs baseline_risk in (0, 1) for a binary outcome")
        rr = (p0 + result.estimate) / p0
        lo, hi = (p0 + result.ci_low) / p0, (p0 + result.ci_high) / p0
        if rr <= 0:
            raise ValueError("the risk difference implies a non-positive risk in the treated")
        ev = e_value_rr(rr, max(lo, 1e-12), max(hi, 1e-12))
        return EValue(ev.point, ev.ci, ev.risk_ratio, "risk_difference")
    sd = outcome_sd if outcome_sd is not None else info.get("outcome_sd")
    if sd is None or not sd > 0:
        raise ValueError("e_value needs outcome_sd > 0 for a continuous outcome")
    d, se_d = result.estimate / sd, result.se / sd
    ev = e_value_rr(
        math.exp(0.91 * d), math.exp(0.91 * d - 1.78 * se_d), math.exp(0.91 * d + 1.78 * se_d)
    )
    return EValue(ev.point, ev.ci, ev.risk_ratio, "standardised_difference")


@dataclass(frozen=True)
class RobustnessValue:
    """Cinelli & Hazlett's robustness values and the treatment's partial R^2 with the outcome.

    Attributes
    ----------
    rv : float
        Partial R^2 (with treatment and with outcome) that would reduce the estimate by
        ``100 q`` percent.
    rv_alpha : float
        Partial R^2 that would make the estimate insignificant at level ``alpha``.
    partial_r2 : float
        Partial R^2 of the treatment with the outcome, ``t^2 / (t^2 + df)``.
    q, alpha : float
    """

    rv: float
    rv_alpha: float
    partial_r2: float
    q: float
    alpha: float


def _rv(f: float) -> float:
    if f <= 0:
        return 0.0
    return float(0.5 * (math.sqrt(f**4 + 4 * f**2) - f**2))


def robustness_value(
    result=None,
    *,
    t_stat: float | None = None,
    df: float | None = None,
    q: float = 1.0,
    alpha: float = 0.05,
) -> RobustnessValue:
    """Robustness value of an OLS treatment coefficient (Cinelli & Hazlett 2020).

    Parameters
    ----------
    result : EffectResult, optional
        A ``method="regression"`` result (its ``t_stat`` and ``df``).
    t_stat, df : float, optional
        The coefficient's t-statistic and the residual degrees of freedom.
    q : float
        Share of the estimate to be explained away (1 = all of it).
    alpha : float
        Significance level of ``rv_alpha``.

    Examples
    --------
    >>> r = robustness_value(t_stat=4.18, df=783)  # Darfur example in the paper
    >>> round(r.rv, 3), round(r.partial_r2, 4)
    (0.139, 0.0218)
    """
    if result is not None:
        if getattr(result, "method", None) != "regression":
            raise ValueError(
                "robustness_value needs an OLS result (method='regression') or t_stat and df"
            )
        t_stat, df = result.info["t_stat"], result.info["df"]
    if t_stat is None or df is None or not df > 1:
        raise ValueError("robustness_value needs t_stat and df > 1")
    if not (q > 0 and 0 < alpha < 1):
        raise ValueError("q must be positive and alpha in (0, 1)")
    f = abs(t_stat) / math.sqrt(df)
    t_crit = stats.t.ppf(1 - alpha / 2, df - 1)
    return RobustnessValue(
        rv=_rv(q * f),
        rv_alpha=_rv(q * f - t_crit / math.sqrt(df - 1)),
        partial_r2=float(t_stat**2 / (t_stat**2 + df)),
        q=q,
        alpha=alpha,
    )


def placebo_outcomes(data: pd.DataFrame, *, treatment: str, outcomes, covariates, **kwargs):
    """Effects on placebo (negative-control) outcomes, which should all be near zero.

    Parameters
    ----------
    data : pandas.DataFrame
    treatment : str
    outcomes : list of str
        Outcomes the program cannot have changed (prior-year costs, dental costs ...).
    covariates : list of str
    **kwargs
        Passed to ``estimate_effect`` (method, estimand, seed ...).

    Returns
    -------
    pandas.DataFrame
        ``to_frame()`` rows plus ``p_value_holm`` and ``ci_covers_zero``; the table's
        ``attrs["check"]`` is the gate "no placebo effect after Holm adjustment".
    """
    from analysis.causal.estimate import estimate_effect

    outcomes = list(outcomes)
    if not outcomes:
        raise ValueError("placebo_outcomes needs at least one outcome")
    rows = [
        estimate_effect(
            data, treatment=treatment, outcome=o, covariates=covariates, **kwargs
        ).to_frame()
        for o in outcomes
    ]
    table = pd.concat(rows, ignore_index=True)
    table["p_value_holm"] = holm(table["p_value"].to_numpy())
    table["ci_covers_zero"] = (table["ci_low"] <= 0) & (table["ci_high"] >= 0)
    table.attrs["check"] = placebo_check(table["p_value_holm"].to_numpy())
    return table


def placebo_check(p_values_adjusted, alpha: float = 0.05) -> Check:
    """Gate: the smallest adjusted placebo p-value must be at least ``alpha``."""
    p = float(np.min(p_values_adjusted))
    return Check(
        "placebo_outcomes",
        p,
        alpha,
        p >= alpha,
        f"no placebo-outcome effect (Holm-adjusted p >= {alpha})",
    )

"""Regression discontinuity at a risk-score cutoff (sharp or fuzzy), with a manipulation test.

People just above and just below the risk-score cutoff that separates the Vitality
(lower risk) and Mystar (higher risk) offers are alike except for the offer they get, so
the jump in an outcome at the cutoff estimates the effect of the offer (sharp RD) or,
dividing by the jump in participation, of taking part among compliers (fuzzy RD).

Estimation is by local polynomial regression with an MSE-optimal bandwidth and the
robust bias-corrected confidence interval of Calonico, Cattaneo & Titiunik (2014), via
the ``rdrobust`` package (its estimate, robust SE, interval, bandwidths and effective
numbers of people are reported as it computes them). Sorting around the cutoff (people
or staff nudging scores) is checked with a manipulation test in the spirit of McCrary
(2008): a jump in the density of the running variable at the cutoff, estimated by the
local polynomial density estimator of Cattaneo, Jansson & Ma (2020) in the
``rddensity`` package (jackknife standard errors, its own bandwidth selection).

References
----------
Calonico S, Cattaneo MD, Titiunik R. Robust nonparametric confidence intervals for
regression-discontinuity designs. Econometrica 2014;82(6):2295-2326.
McCrary J. Manipulation of the running variable in the regression discontinuity design:
a density test. J Econometrics 2008;142(2):698-714.
Cattaneo MD, Jansson M, Ma X. Simple local polynomial density estimators.
J Am Stat Assoc 2020;115(531):1449-1455.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.iv import (
    MIN_FIRST_STAGE_F,
    binary_column,
    check_alpha,
    check_frame,
    covariate_matrix,
    numeric_column,
)
from analysis.causal.result import DesignEffect

DENSITY_ALPHA = 0.05
"""Gate: the density (manipulation) test must not reject at this level."""
MIN_EFFECTIVE_N = 20
"""Gate: people within the bandwidth on each side of the cutoff."""
MIN_SIDE_N = 20
"""Fewer people than this on a side of the cutoff is an error."""
KERNELS = ("triangular", "epanechnikov", "uniform")


# ----------------------------------------------------------------------------- density test
@dataclass(frozen=True)
class DensityTest:
    """Manipulation test: a jump in the density of the running variable at the cutoff.

    Attributes
    ----------
    t_stat, p_value : float
        ``rddensity``'s robust (jackknife) test of equal densities on both sides.
    density_left, density_right : float
        Estimated densities at the cutoff from each side.
    bandwidth_left, bandwidth_right : float
    n_effective_left, n_effective_right : int
        People within each side's bandwidth.
    """

    t_stat: float
    p_value: float
    density_left: float
    density_right: float
    bandwidth_left: float
    bandwidth_right: float
    n_effective_left: int
    n_effective_right: int

    @property
    def log_difference(self) -> float:
        """``log f(c+) - log f(c-)``; positive means bunching just above the cutoff."""
        return float(np.log(self.density_right) - np.log(self.density_left))


def density_test(running: np.ndarray, cutoff: float) -> DensityTest:
    """Density (manipulation) test at ``cutoff`` with ``rddensity`` (Cattaneo, Jansson &
    Ma 2020): local quadratic density estimates on each side, jackknife variance.

    Raises
    ------
    ValueError
        When ``rddensity`` cannot estimate a density at the cutoff (too few distinct
        values on a side).
    """
    from rddensity import rddensity

    x = np.asarray(running, float)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            r = rddensity(X=x, c=float(cutoff))
        except Exception as e:  # rddensity raises bare Exceptions on degenerate data
            raise ValueError(f"running: density test failed at the cutoff ({e})") from None
    t, p = float(r.test["t_jk"]), float(r.test["p_jk"])
    left, right = float(r.hat["left"]), float(r.hat["right"])
    if not (np.isfinite(p) and left > 0 and right > 0):
        raise ValueError("running: estimated density at the cutoff is not positive")
    return DensityTest(t, p, left, right, float(r.h["left"]), float(r.h["right"]),
                       int(r.n["eff_left"]), int(r.n["eff_right"]))  # fmt: skip


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class RDResult(DesignEffect):
    """Sharp or fuzzy RD estimate with robust bias-corrected inference.

    Attributes
    ----------
    estimate : float
        Conventional local-polynomial estimate of the jump (sharp) or the LATE (fuzzy).
    se, ci_low, ci_high, p_value : float
        Robust bias-corrected SE, CI and p-value (Calonico, Cattaneo & Titiunik 2014).
    bandwidth, bias_bandwidth : float
        Main (h) and bias (b) bandwidths.
    n_left, n_right : int
        People below and at-or-above the cutoff.
    n_effective_left, n_effective_right : int
        People within the bandwidth on each side.
    first_stage, first_stage_f : float or None
        Fuzzy RD: jump in participation and its squared robust z statistic.
    density : DensityTest
    bins : pandas.DataFrame
        Binned means for the plot: ``side, x_mid, y_mean, n``.
    fit_left, fit_right : numpy.ndarray
        Local polynomial coefficients in ``(x - cutoff)`` on each side (for the plot).
    diagnostics : Diagnostics
        Gates ``density_p``, ``effective_n_left``, ``effective_n_right`` and, for fuzzy
        RD, ``first_stage_f``.
    running, outcome, treatment : str
    cutoff : float
    design : {"sharp", "fuzzy"}
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    bandwidth: float
    bias_bandwidth: float
    n_left: int
    n_right: int
    n_effective_left: int
    n_effective_right: int
    first_stage: float | None
    first_stage_f: float | None
    density: DensityTest
    bins: pd.DataFrame
    fit_left: np.ndarray
    fit_right: np.ndarray
    diagnostics: Diagnostics
    running: str = "running"
    outcome: str = "outcome"
    treatment: str | None = None
    cutoff: float = 0.0
    design: str = "sharp"
    kernel: str = "triangular"
    info: dict = field(default_factory=dict, compare=False)

    @property
    def method(self) -> str:
        return f"rd_{self.design}"

    @property
    def estimand(self) -> str:
        return "LATE at cutoff" if self.design == "fuzzy" else "effect at cutoff"

    def __repr__(self) -> str:
        return (
            f"<RDResult {self.design} estimate={self.estimate:.4g} "
            f"[{self.ci_low:.4g}, {self.ci_high:.4g}] h={self.bandwidth:.3g} "
            f"n_eff={self.n_effective_left:,}/{self.n_effective_right:,} "
            f"passed={self.diagnostics.passed}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: estimate, robust inference, bandwidth, effective n, density test."""
        row = {
            "term": f"rd_{self.design}",
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "outcome": self.outcome,
            "running": self.running,
            "cutoff": self.cutoff,
            "bandwidth": self.bandwidth,
            "n_effective_left": self.n_effective_left,
            "n_effective_right": self.n_effective_right,
            "first_stage": np.nan if self.first_stage is None else self.first_stage,
            "density_p": self.density.p_value,
            "passed": self.diagnostics.passed,
        }
        return pd.DataFrame([row])

    def _summary_header(self) -> list[tuple[str, str]]:
        return [
            ("design", f"regression discontinuity ({self.design}, rdrobust)"),
            ("outcome", self.outcome),
            ("running variable / cutoff", f"{self.running} / {self.cutoff:g}"),
            ("bandwidth h (b)", f"{self.bandwidth:.4g} ({self.bias_bandwidth:.4g})"),
            (
                "effective n (left / right)",
                f"{self.n_effective_left:,} / {self.n_effective_right:,}",
            ),
        ]

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        cols = ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]
        return self.to_frame()[cols].round(decimals)

    def _summary_notes(self) -> tuple[str, ...]:
        return ("estimate: conventional; SE, CI and p: robust bias-corrected",)

    def _effect_fields(self) -> dict:
        """``n_treated`` and ``n_control`` are the effective numbers above and below."""
        return {
            "n_treated": self.n_effective_right,
            "n_control": self.n_effective_left,
            "method": self.method,
            "estimand": self.estimand,
            "outcome": self.outcome,
            "treatment": self.treatment or f"{self.running} >= {self.cutoff:g}",
            "info": {"bandwidth": self.bandwidth, "density_p": self.density.p_value},
        }

    def plot(self, ax=None, lang: str = "en"):
        """Binned means on each side with the local polynomial fits inside the bandwidth."""
        ax, lab = self._axes(ax, lang)
        for side, coef, color in (("left", self.fit_left, "C0"), ("right", self.fit_right, "C1")):
            b = self.bins[self.bins["side"] == side]
            ax.scatter(b["x_mid"], b["y_mean"], s=14, color=color, alpha=0.8)
            sign = -1 if side == "left" else 1
            grid = self.cutoff + sign * np.linspace(0, self.bandwidth, 50)
            ax.plot(grid, np.polynomial.polynomial.polyval(grid - self.cutoff, coef), color=color)
        ax.axvline(self.cutoff, color="0.3", lw=0.8, ls="--")
        ax.set_xlabel(self.running)
        ax.set_ylabel(self.outcome)
        ax.set_title(
            f"{lab['estimate']} {self.estimate:.3g} [{self.ci_low:.3g}, {self.ci_high:.3g}]"
        )
        return ax


def _binned_means(x: np.ndarray, y: np.ndarray, cutoff: float, n_bins: int) -> pd.DataFrame:
    rows = []
    for side, mask in (("left", x < cutoff), ("right", x >= cutoff)):
        xs, ys = x[mask], y[mask]
        edges = np.linspace(xs.min(), xs.max(), n_bins + 1)
        idx = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, n_bins - 1)
        for k in np.unique(idx):
            sel = idx == k
            rows.append((side, (edges[k] + edges[k + 1]) / 2, ys[sel].mean(), int(sel.sum())))
    return pd.DataFrame(rows, columns=["side", "x_mid", "y_mean", "n"])


def _run_rdrobust(**kwargs):
    """Call rdrobust, turning its printed notes into warnings."""
    from rdrobust import rdrobust

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        out = rdrobust(**kwargs)
    for line in buffer.getvalue().splitlines():
        if line.strip():
            warnings.warn(f"rdrobust: {line.strip()}", UserWarning, stacklevel=3)
    return out


def rd_effect(
    data: pd.DataFrame,
    *,
    running: str,
    outcome: str,
    cutoff: float,
    treatment: str | None = None,
    covariates: list[str] | None = None,
    p: int = 1,
    kernel: str = "triangular",
    bandwidth: float | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    n_bins: int = 20,
) -> RDResult:
    """Sharp (``treatment=None``) or fuzzy regression-discontinuity estimate at ``cutoff``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person (not modified).
    running : str
        Numeric running variable (e.g. the risk score); treatment is assigned at
        ``running >= cutoff``.
    outcome : str
        Numeric outcome.
    cutoff : float
        Threshold, strictly inside the range of ``running``.
    treatment : str, optional
        Binary participation column for a fuzzy design (the LATE of participation at
        the cutoff); ``None`` for the sharp effect of crossing the cutoff.
    covariates : list of str, optional
        Pre-determined covariates for efficiency (``rdrobust`` ``covs``).
    p : int
        Local polynomial order (1 = local linear).
    kernel : {"triangular", "epanechnikov", "uniform"}
    bandwidth : float, optional
        Fixed main bandwidth; by default MSE-optimal (``mserd``).
    cluster : str, optional
        Cluster ids for cluster-robust variance.
    alpha : float
        1 - confidence level.
    n_bins : int
        Bins per side in the plot.

    Returns
    -------
    RDResult

    Raises
    ------
    ValueError
        Missing columns or values, a non-numeric running variable, a cutoff outside the
        data range, fewer than 20 people on a side, a non-binary treatment.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = np.random.default_rng(0); x = g.uniform(-1, 1, 3000)
    >>> df = pd.DataFrame({"score": x, "y": x + 2.0 * (x >= 0) + g.normal(0, 1, 3000)})
    >>> res = rd_effect(df, running="score", outcome="y", cutoff=0.0)
    >>> bool(res.ci_low < 2.0 < res.ci_high)
    True
    """
    covariates = list(covariates or [])
    check_alpha(alpha)
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if p not in (0, 1, 2, 3):
        raise ValueError(f"p (polynomial order) must be 0-3, got {p!r}")
    used = [running, outcome, *covariates] + [c for c in (treatment, cluster) if c]
    check_frame(data, used)
    x = numeric_column(data, running, "running")
    y = numeric_column(data, outcome, "outcome")
    if not np.isfinite(cutoff) or not x.min() < cutoff <= x.max():
        raise ValueError(
            f"cutoff {cutoff!r} is outside the range of running column {running!r} "
            f"[{x.min():g}, {x.max():g}]"
        )
    n_left, n_right = int((x < cutoff).sum()), int((x >= cutoff).sum())
    if min(n_left, n_right) < MIN_SIDE_N:
        raise ValueError(
            f"running column {running!r}: {n_left} people below and {n_right} at or above "
            f"the cutoff; at least {MIN_SIDE_N} needed on each side"
        )
    t = binary_column(data, treatment, "treatment") if treatment else None
    covs = covariate_matrix(data, covariates) if covariates else None
    out = _run_rdrobust(
        y=y,
        x=x,
        c=float(cutoff),
        fuzzy=t,
        covs=covs,
        p=p,
        h=bandwidth,
        kernel={"triangular": "tri", "epanechnikov": "epa", "uniform": "uni"}[kernel],
        cluster=data[cluster].to_numpy() if cluster else None,
        level=100 * (1 - alpha),
    )
    est = float(out.coef.iloc[0, 0])
    se, pv = float(out.se.iloc[2, 0]), float(out.pv.iloc[2, 0])
    ci_low, ci_high = (float(v) for v in out.ci.iloc[2])
    n_eff_l, n_eff_r = (int(v) for v in out.N_h)
    dens = density_test(x, float(cutoff))

    checks = [
        Check(
            "density_p",
            dens.p_value,
            DENSITY_ALPHA,
            bool(dens.p_value >= DENSITY_ALPHA),
            f"density test (rddensity) p >= {DENSITY_ALPHA:g} (no sorting at the cutoff)",
        ),
        Check(
            "effective_n_left",
            n_eff_l,
            MIN_EFFECTIVE_N,
            n_eff_l >= MIN_EFFECTIVE_N,
            f"people within the bandwidth below the cutoff >= {MIN_EFFECTIVE_N}",
        ),
        Check(
            "effective_n_right",
            n_eff_r,
            MIN_EFFECTIVE_N,
            n_eff_r >= MIN_EFFECTIVE_N,
            f"people within the bandwidth above the cutoff >= {MIN_EFFECTIVE_N}",
        ),
    ]
    first_stage = first_f = None
    if t is not None:
        first_stage = float(np.asarray(out.tau_T).ravel()[0])
        se_t = float(np.asarray(out.se_T).ravel()[-1])
        first_f = (first_stage / se_t) ** 2 if se_t > 0 else float("inf")
        checks.append(
            Check(
                "first_stage_f",
                first_f,
                MIN_FIRST_STAGE_F,
                bool(first_f > MIN_FIRST_STAGE_F),
                f"fuzzy RD first-stage F > {MIN_FIRST_STAGE_F:g} (weak jump in participation)",
            )
        )

    def _coef(beta) -> np.ndarray:
        return np.asarray(beta, float).reshape(p + 1, -1)[:, 0]

    return RDResult(
        estimate=est,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=pv,
        bandwidth=float(out.bws.iloc[0, 0]),
        bias_bandwidth=float(out.bws.iloc[1, 0]),
        n_left=n_left,
        n_right=n_right,
        n_effective_left=n_eff_l,
        n_effective_right=n_eff_r,
        first_stage=first_stage,
        first_stage_f=first_f,
        density=dens,
        bins=_binned_means(x, y, float(cutoff), n_bins),
        fit_left=_coef(out.beta_p_l),
        fit_right=_coef(out.beta_p_r),
        diagnostics=Diagnostics(checks=tuple(checks)),
        running=running,
        outcome=outcome,
        treatment=treatment,
        cutoff=float(cutoff),
        design="fuzzy" if t is not None else "sharp",
        kernel=kernel,
    )

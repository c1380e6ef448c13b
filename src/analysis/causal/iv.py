"""Instrumental variables: the randomised invitation letter as an instrument for participation.

When the letter variant (or the offer itself) is randomised, three quantities follow:

- the intention-to-treat effect (ITT, the reduced form): outcome on instrument;
- the first stage: participation on instrument, with its F statistic (weak-instrument
  gate F > 10, Staiger & Stock 1997);
- the local average treatment effect (LATE) of participation among compliers, by
  two-stage least squares with a heteroskedasticity-robust (HC1) or cluster-robust
  sandwich variance. Without covariates it equals the Wald ratio ITT / first stage
  (Imbens & Angrist 1994).

This module also holds the input checks the design-based estimators share.

References
----------
Imbens GW, Angrist JD. Identification and estimation of local average treatment effects.
Econometrica 1994;62(2):467-475.
Staiger D, Stock JH. Instrumental variables regression with weak instruments.
Econometrica 1997;65(3):557-586.
Cameron AC, Miller DL. A practitioner's guide to cluster-robust inference.
J Hum Resour 2015;50(2):317-372.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.design import MIN_GROUP_SIZE, encode_covariates
from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.result import (  # noqa: F401  (display helpers re-exported for callers)
    HEADER_LABELS,
    PLOT_LABELS,
    DesignEffect,
    build_summary,
    plot_labels,
)

MIN_FIRST_STAGE_F = 10.0
"""Weak-instrument gate: first-stage F must exceed this (Staiger & Stock 1997)."""

ESTIMATE_COLUMNS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value"]


# ----------------------------------------------------------------------------- shared helpers
def check_frame(data: pd.DataFrame, columns: list[str]) -> None:
    """Raise a one-line ``ValueError`` for a non-DataFrame, missing columns or missing values."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ValueError(f"column(s) not found in data: {', '.join(map(repr, absent))}")
    for c in columns:
        n_missing = int(data[c].isna().sum())
        if n_missing:
            raise ValueError(f"column {c!r} has {n_missing} missing value(s)")


def numeric_column(data: pd.DataFrame, name: str, role: str) -> np.ndarray:
    """A numeric (or boolean) column as a finite float array."""
    col = data[name]
    if not (pd.api.types.is_numeric_dtype(col) or col.dtype == bool):
        raise ValueError(f"{role} column {name!r} must be numeric, got {col.dtype}")
    values = col.to_numpy(float)
    if not np.isfinite(values).all():
        raise ValueError(f"{role} column {name!r} has infinite values")
    return values


def binary_column(data: pd.DataFrame, name: str, role: str) -> np.ndarray:
    """A 0/1 (or boolean) column as a float array; anything else is an error naming it."""
    values = numeric_column(data, name, role) if data[name].dtype != bool else None
    if values is None:
        return data[name].to_numpy(float)
    seen = np.unique(values)
    if not set(seen.tolist()) <= {0.0, 1.0}:
        raise ValueError(
            f"{role} column {name!r} must be binary 0/1 or boolean; saw {seen[:5].tolist()}"
        )
    if len(seen) < 2:
        raise ValueError(f"{role} column {name!r} takes only the value {seen[0]:g}")
    return values


def covariate_matrix(data: pd.DataFrame, covariates: list[str] | None) -> np.ndarray:
    """Encoded covariates (categoricals as dummies); a constant column is an error."""
    if not covariates:
        return np.empty((len(data), 0))
    X, _names, notes = encode_covariates(data, list(covariates))
    if notes:
        raise ValueError(notes[0])
    return X


def normal_interval(est: float, se: float, alpha: float) -> tuple[float, float, float]:
    """Wald CI and two-sided p-value under a normal reference distribution."""
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(est) / se) if se > 0 else float("nan")
    return est - z * se, est + z * se, float(p)


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


# ----------------------------------------------------------------------------- numerics
@dataclass(frozen=True)
class LinearFit:
    """Coefficients and sandwich covariance of an OLS or 2SLS fit.

    Attributes
    ----------
    coef : numpy.ndarray, shape (k,)
    vcov : numpy.ndarray, shape (k, k)
        HC1 (or CR1 when clustered) sandwich covariance.
    """

    coef: np.ndarray
    vcov: np.ndarray


def sandwich_vcov(bread_x: np.ndarray, resid: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """HC1 or CR1 sandwich ``(A'A)^-1 (sum s s') (A'A)^-1`` with scores ``s = a_i u_i``.

    For 2SLS ``bread_x`` is the projected regressor matrix; for OLS the regressors.
    """
    n, k = bread_x.shape
    inv = np.linalg.pinv(bread_x.T @ bread_x)
    scores = bread_x * resid[:, None]
    if cluster is None:
        meat = scores.T @ scores * n / (n - k)
    else:
        codes = pd.factorize(cluster)[0]
        groups = np.zeros((codes.max() + 1, k))
        np.add.at(groups, codes, scores)
        g = groups.shape[0]
        if g < 2:
            raise ValueError("cluster: at least two clusters are needed")
        meat = groups.T @ groups * (g / (g - 1)) * ((n - 1) / (n - k))
    return inv @ meat @ inv


def ols_fit(X: np.ndarray, y: np.ndarray, cluster: np.ndarray | None = None) -> LinearFit:
    """OLS with an HC1 (or CR1) sandwich covariance."""
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return LinearFit(coef, sandwich_vcov(X, y - X @ coef, cluster))


def tsls_fit(
    X: np.ndarray, Z: np.ndarray, y: np.ndarray, cluster: np.ndarray | None = None
) -> LinearFit:
    """Two-stage least squares ``(X_hat'X)^-1 X_hat'y`` with ``X_hat = P_Z X``.

    The residuals of the sandwich use the actual regressors, ``u = y - X b`` (using the
    second-stage residuals ``y - X_hat b`` instead is the classic mistake of running the
    two stages by hand).
    """
    gamma, *_ = np.linalg.lstsq(Z, X, rcond=None)
    x_hat = Z @ gamma
    coef = np.linalg.solve(x_hat.T @ X, x_hat.T @ y)
    return LinearFit(coef, sandwich_vcov(x_hat, y - X @ coef, cluster))


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True)
class IVResult(DesignEffect):
    """ITT, first stage and LATE of a binary instrument.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value : float
        The LATE (2SLS) and its robust inference.
    itt, first_stage : float
        Reduced-form effect on the outcome and effect on participation (complier share).
    first_stage_f : float
        Robust Wald F of the instrument in the first stage.
    n, n_instrument : int
        People, and people with instrument = 1.
    estimates : pandas.DataFrame
        Tidy rows ``itt``, ``first_stage``, ``late``.
    diagnostics : Diagnostics
        Gate ``first_stage_f`` (> 10).
    instrument, treatment, outcome : str
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    itt: float
    first_stage: float
    first_stage_f: float
    n: int
    n_instrument: int
    estimates: pd.DataFrame = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    instrument: str = "instrument"
    treatment: str = "treatment"
    outcome: str = "outcome"
    method: str = "2sls"
    estimand: str = "LATE"
    _figsize = (5, 2.5)

    def __repr__(self) -> str:
        return (
            f"<IVResult LATE={self.estimate:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] "
            f"F={self.first_stage_f:.1f} n={self.n:,} passed={self.diagnostics.passed}>"
        )

    def _effect_fields(self) -> dict:
        return {
            "n_treated": self.n_instrument,
            "n_control": self.n - self.n_instrument,
            "method": self.method,
            "estimand": self.estimand,
            "outcome": self.outcome,
            "treatment": self.treatment,
            "info": {
                "instrument": self.instrument,
                "itt": self.itt,
                "first_stage": self.first_stage,
            },
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate (itt, first_stage, late) with snake_case columns."""
        out = self.estimates.copy()
        out["n"] = self.n
        out["instrument"], out["treatment"], out["outcome"] = (
            self.instrument,
            self.treatment,
            self.outcome,
        )
        return out

    def _summary_header(self) -> list[tuple[str, str]]:
        return [
            ("design", "instrumental variables (2SLS)"),
            ("outcome", self.outcome),
            ("treatment / instrument", f"{self.treatment} / {self.instrument}"),
            ("n", f"{self.n:,}"),
        ]

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        return self.estimates.round(decimals)

    def plot(self, ax=None, lang: str = "en"):
        """ITT and LATE with their confidence intervals (outcome units); returns the Axes."""
        ax, lab = self._axes(ax, lang)
        rows = self.estimates.set_index("term").loc[["itt", "late"]]
        y = np.arange(len(rows))
        ax.errorbar(
            rows["estimate"],
            y,
            xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
            fmt="o",
            capsize=4,
        )
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, [lab["itt"], lab["late"]])
        ax.set_xlabel(self.outcome)
        ax.set_title(f"{lab['first_stage_f']} = {self.first_stage_f:.1f}")
        return ax


def iv_effect(
    data: pd.DataFrame,
    *,
    instrument: str,
    treatment: str,
    outcome: str,
    covariates: list[str] | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    min_first_stage_f: float = MIN_FIRST_STAGE_F,
) -> IVResult:
    """ITT, first stage and LATE (2SLS) of a binary instrument for a binary treatment.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person (not modified).
    instrument : str
        Binary 0/1 column, e.g. the randomised letter variant.
    treatment : str
        Binary 0/1 column, e.g. participation.
    outcome : str
        Numeric outcome column.
    covariates : list of str, optional
        Exogenous adjustment columns (categoricals are encoded).
    cluster : str, optional
        Cluster ids (e.g. household) for cluster-robust (CR1) standard errors;
        otherwise heteroskedasticity-robust (HC1).
    alpha : float
        1 - confidence level.
    min_first_stage_f : float
        The gate ``first_stage_f``: the first-stage F must exceed it. The default (10,
        Staiger & Stock 1997) keeps the 2SLS bias small; a 95% interval from the usual
        t-ratio has its stated coverage only from F > 104.7 (Lee, McCrary, Moreira &
        Porter 2022, AER 112(10)), and showing an estimate only when F passes a lower
        gate selects the draws in which 2SLS leans towards OLS.

    Returns
    -------
    IVResult

    Raises
    ------
    ValueError
        Missing columns or values, a non-binary instrument or treatment, a constant covariate.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = np.random.default_rng(0); z = g.integers(0, 2, 2000)
    >>> d = (g.uniform(size=2000) < 0.1 + 0.5 * z).astype(int)
    >>> df = pd.DataFrame({"letter": z, "joined": d, "steps": 500 * d + g.normal(0, 300, 2000)})
    >>> res = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    >>> bool(abs(res.estimate - 500) < 100)
    True
    """
    covariates = list(covariates or [])
    check_alpha(alpha)
    used = [instrument, treatment, outcome, *covariates] + ([cluster] if cluster else [])
    check_frame(data, used)
    if len({instrument, treatment, outcome}) < 3:
        raise ValueError("instrument, treatment and outcome must be three different columns")
    z = binary_column(data, instrument, "instrument")
    if min(z.sum(), len(z) - z.sum()) < MIN_GROUP_SIZE:
        raise ValueError(
            f"instrument column {instrument!r}: {int(z.sum())} people with 1 and "
            f"{int(len(z) - z.sum())} with 0; at least {MIN_GROUP_SIZE} needed in each"
        )
    d = binary_column(data, treatment, "treatment")
    y = numeric_column(data, outcome, "outcome")
    W = np.column_stack([np.ones(len(data)), covariate_matrix(data, covariates)])
    cl = data[cluster].to_numpy() if cluster else None

    rows = []
    reduced = ols_fit(np.column_stack([z, W]), y, cl)
    first = ols_fit(np.column_stack([z, W]), d, cl)
    late = tsls_fit(np.column_stack([d, W]), np.column_stack([z, W]), y, cl)
    for term, fit in (("itt", reduced), ("first_stage", first), ("late", late)):
        est, se = float(fit.coef[0]), float(np.sqrt(fit.vcov[0, 0]))
        rows.append((term, est, se, *normal_interval(est, se, alpha)))
    estimates = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    f_stat = float(first.coef[0] ** 2 / first.vcov[0, 0]) if first.vcov[0, 0] > 0 else np.inf
    check = Check(
        "first_stage_f",
        f_stat,
        min_first_stage_f,
        bool(f_stat > min_first_stage_f),
        f"first-stage F > {min_first_stage_f:g} (weak instrument otherwise)",
    )
    lrow = estimates.iloc[2]
    return IVResult(
        estimate=float(lrow.estimate),
        se=float(lrow.se),
        ci_low=float(lrow.ci_low),
        ci_high=float(lrow.ci_high),
        p_value=float(lrow.p_value),
        itt=float(estimates.iloc[0].estimate),
        first_stage=float(estimates.iloc[1].estimate),
        first_stage_f=f_stat,
        n=len(data),
        n_instrument=int(z.sum()),
        estimates=estimates,
        diagnostics=Diagnostics(checks=(check,)),
        instrument=instrument,
        treatment=treatment,
        outcome=outcome,
    )

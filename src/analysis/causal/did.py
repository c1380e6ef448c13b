"""Staggered difference-in-differences: Callaway & Sant'Anna group-time effects.

People join the programs in different months, so the two-way fixed-effects regression
(which uses already-treated people as controls) is biased when effects grow over time.
Callaway & Sant'Anna (2021) estimate one effect per cohort ``g`` (first treated period)
and period ``t``::

    ATT(g, t) = E[Y_t - Y_{g-1} | G = g] - E[Y_t - Y_{g-1} | control]

with never-treated (or not-yet-treated) people as controls, each by the doubly robust
estimator of Sant'Anna & Zhao (2020): a logistic propensity model for belonging to
cohort ``g`` and a linear model for the control units' change in outcome. Pre-treatment
cells (``t < g - 1``) are placebo effects against the same base period ``g - 1`` (the
default ``base="last"``).

``base="pre_mean"`` measures each cohort's changes from the mean of all its pre-start
periods instead of the single period ``g - 1``::

    ATT(g, t) = E[Y_t - mean(Y_0..Y_{g-1}) | G = g] - E[Y_t - mean(Y_0..Y_{g-1}) | control]

It needs parallel trends over the whole pre-start window rather than from ``g - 1`` on:
a trend that differs between the groups is extrapolated from the middle of the window
(with a linear differential trend of ``d`` per period and 12 + 12 periods, the overall
ATT is biased by ``12 d``, against ``6.5 d`` with the last period as base), while a dip
or bump in the period just before the start biases the last base and not the mean. The
pre-trend test is the same for both bases (with one cohort, the same statistic), so the
choice is one of variance: with one cohort, never-treated controls, no covariates and a
balanced panel it is the imputation estimator of Borusyak, Jaravel & Spiess (2024),
efficient when the errors are homoskedastic and serially uncorrelated. For monthly
medical costs it matters: with a single base month, one person's hospital stay in that
month moves every post-start cell at once, so the estimate is twice as variable and its
errors skewed; a symmetric interval then covers less than it says (89% instead of 95% at
uptake 10 in ``mvm-eval bench recovery``). Every pre-start period then gets a placebo
coefficient (a cohort's placebos average to zero; a cohort with a single pre-start period
has none) and there is no reference period.

The cells are aggregated, weighted by cohort size, into an event study (effect by
months since start, ``e = t - g``) and an overall ATT (all post-start cells). Standard
errors come from the estimators' influence functions through a multiplier bootstrap
(Mammen weights, drawn per unit or per cluster), which also gives a uniform (sup-t)
confidence band over the event study. Pre-trends are tested by a joint Wald test of the
pre-start event-study coefficients.

References
----------
Callaway B, Sant'Anna PHC. Difference-in-differences with multiple time periods.
J Econometrics 2021;225(2):200-230.
Sant'Anna PHC, Zhao J. Doubly robust difference-in-differences estimators.
J Econometrics 2020;219(1):101-122.
Borusyak K, Jaravel X, Spiess J. Revisiting event-study designs: robust and efficient
estimation. Rev Econ Stud 2024;91(6):3253-3285.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.iv import check_alpha, covariate_matrix, numeric_column
from analysis.causal.result import DesignEffect
from analysis.seeds import rng

PRETREND_ALPHA = 0.05
"""Gate: the joint pre-trend test must not reject at this level."""
MIN_COHORT_SIZE = 10
"""A cohort or control group smaller than this is an error (NDB small-cell rule)."""
PS_MAX = 0.995
"""Control units with a propensity above this are reported (poor overlap)."""
METHODS = ("dr", "reg", "ipw")
CONTROL_GROUPS = ("never_treated", "not_yet_treated")
BASES = ("last", "pre_mean")
BASE_TEXT = {"last": "the period before the start", "pre_mean": "the mean of the pre-start periods"}


# ----------------------------------------------------------------------------- numerics
@dataclass(frozen=True)
class CellFit:
    """One group-time ATT and its influence function over the cell's units.

    Attributes
    ----------
    att : float
    influence : numpy.ndarray, shape (n_cell,)
        Influence function, scaled so that ``var(att) = sum(influence**2) / n_cell**2``.
    max_control_ps : float
        Largest fitted propensity among the cell's control units.
    """

    att: float
    influence: np.ndarray
    max_control_ps: float


def _logit_mle(X: np.ndarray, d: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """Logistic regression coefficients by Newton-Raphson (unpenalised maximum likelihood)."""
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(d.mean() / (1 - d.mean()))
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-np.clip(X @ beta, -30, 30)))
        hess = (X * (p * (1 - p))[:, None]).T @ X
        step = np.linalg.lstsq(hess, X.T @ (d - p), rcond=None)[0]
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            return beta
    raise ValueError(
        "did: the propensity model for a cohort did not converge (perfect separation on "
        "the covariates?); use fewer covariates or method='reg'"
    )


def dr_did_panel(dy: np.ndarray, d: np.ndarray, X: np.ndarray, method: str = "dr") -> CellFit:
    """Sant'Anna & Zhao (2020) doubly robust DiD for panel data, with its influence function.

    Parameters
    ----------
    dy : numpy.ndarray, shape (n,)
        Change in outcome between the base and the evaluated period.
    d : numpy.ndarray, shape (n,)
        1 for the cohort, 0 for controls.
    X : numpy.ndarray, shape (n, k)
        Covariates including an intercept column first.
    method : {"dr", "reg", "ipw"}
        Doubly robust; outcome regression only (propensity = intercept); inverse
        probability weighting only (no outcome model).

    Returns
    -------
    CellFit
        The estimate and the influence function (including the estimation effect of the
        propensity and outcome models), as in the ``DRDID`` R package's ``drdid_panel``.
    """
    n = len(d)
    x_ps = X if method in ("dr", "ipw") else X[:, :1]
    ps = 1 / (1 + np.exp(-np.clip(x_ps @ _logit_mle(x_ps, d), -30, 30)))
    ps = np.minimum(ps, 1 - 1e-6)
    if method == "ipw":
        fitted, ols_if = np.zeros(n), np.zeros((n, X.shape[1]))
    else:
        ctrl = d == 0
        coef = np.linalg.lstsq(X[ctrl], dy[ctrl], rcond=None)[0]
        fitted = X @ coef
        xpx_inv = np.linalg.pinv((X * (1 - d)[:, None]).T @ X / n)
        ols_if = ((1 - d) * (dy - fitted))[:, None] * X @ xpx_inv
    w1 = d.astype(float)
    w0 = ps * (1 - d) / (1 - ps)
    resid = dy - fitted
    eta1 = np.mean(w1 * resid) / np.mean(w1)
    eta0 = np.mean(w0 * resid) / np.mean(w0)
    # propensity-score estimation effect
    hess_inv = np.linalg.pinv((x_ps * (ps * (1 - ps))[:, None]).T @ x_ps) * n
    ps_if = ((d - ps)[:, None] * x_ps) @ hess_inv
    inf_treat = (w1 * resid - w1 * eta1 - ols_if @ np.mean(w1[:, None] * X, axis=0)) / np.mean(w1)
    m2 = np.mean((w0 * (resid - eta0))[:, None] * x_ps, axis=0)
    m3 = np.mean(w0[:, None] * X, axis=0)
    inf_cont = (w0 * resid - w0 * eta0 + ps_if @ m2 - ols_if @ m3) / np.mean(w0)
    return CellFit(float(eta1 - eta0), inf_treat - inf_cont, float(ps[d == 0].max()))


def _mammen(gen: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Mammen (1993) two-point multiplier weights: mean 0, variance 1, third moment 1."""
    s5 = np.sqrt(5.0)
    low, high = (1 - s5) / 2, (1 + s5) / 2
    p_low = (s5 + 1) / (2 * s5)
    return np.where(gen.uniform(size=size) < p_low, low, high)


def cluster_sums(influence: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Influence values summed within clusters: ``(G, k)`` from ``(n, k)``."""
    codes = pd.factorize(cluster)[0]
    summed = np.zeros((codes.max() + 1, influence.shape[1]))
    np.add.at(summed, codes, influence)
    return summed


def influence_vcov(influence: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Variance matrix of the estimates from an ``(n, k)`` influence matrix.

    ``psi' psi / n^2``; with clusters, the influence values are summed within clusters
    first and the result scaled by ``G / (G - 1)`` (Liang & Zeger 1986), as
    ``analysis.causal.estimate.influence_se`` does for one estimate.
    """
    n = influence.shape[0]
    if cluster is None:
        return influence.T @ influence / n**2
    summed = cluster_sums(influence, cluster)
    g = summed.shape[0]
    if g < 2:
        raise ValueError("cluster: at least two clusters are needed for clustered standard errors")
    return g / (g - 1) * (summed.T @ summed) / n**2


def multiplier_bootstrap(
    influence: np.ndarray, cluster: np.ndarray | None, n_bootstrap: int, seed: int
) -> np.ndarray:
    """Bootstrap draws of ``estimate* - estimate`` from an ``(n, k)`` influence matrix.

    Units (or whole clusters) get independent Mammen weights; returns ``(n_bootstrap, k)``.
    """
    n = influence.shape[0]
    if cluster is not None:
        influence = cluster_sums(influence, cluster)
    gen = rng(seed, "did", "multiplier")
    out = np.empty((n_bootstrap, influence.shape[1]))
    chunk = max(1, 2_000_000 // max(influence.shape[0], 1))
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        out[start:stop] = _mammen(gen, (stop - start, influence.shape[0])) @ influence / n
    return out


# ----------------------------------------------------------------------------- panel
@dataclass(frozen=True)
class _Panel:
    y: np.ndarray  # (n_units, n_periods)
    group: np.ndarray  # first-treated period index, np.inf for never treated
    X: np.ndarray  # (n_units, k) with intercept
    cluster: np.ndarray | None
    periods: np.ndarray  # the original time values
    n_dropped_always: int
    n_incomplete: int = 0


def _unit_constant(panel: pd.DataFrame, unit: str, column: str) -> pd.Series:
    per_unit = panel.groupby(unit, sort=True)[column]
    varying = per_unit.nunique(dropna=False) > 1
    if varying.any():
        raise ValueError(
            f"column {column!r} must be constant within each {unit!r}; "
            f"it varies for {int(varying.sum())} unit(s)"
        )
    return per_unit.first()


def _first_treated_index(first: pd.Series, periods: pd.Index, name: str) -> np.ndarray:
    never = first.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(first):
        never |= np.isinf(first.to_numpy(float, na_value=np.nan))
    idx = np.full(len(first), np.inf)
    values = first[~never]
    try:
        codes = periods.get_indexer(values)
        beyond = (codes < 0) & (values > periods[-1]).to_numpy()
    except TypeError as exc:
        raise ValueError(f"column {name!r} must hold values of the time column") from exc
    if ((codes < 0) & ~beyond).any():
        bad = values[(codes < 0) & ~beyond].iloc[0]
        raise ValueError(f"column {name!r}: value {bad!r} is not one of the panel's time values")
    # a start after the last period counts as untreated during the panel
    idx[np.flatnonzero(~never)] = np.where(beyond, np.inf, codes)
    return idx


def _prepare_panel(
    panel: pd.DataFrame,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    covariates: list[str],
    cluster: str | None,
    incomplete: str = "error",
) -> _Panel:
    if not isinstance(panel, pd.DataFrame):
        raise ValueError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    used = [unit, time, outcome, first_treated, *covariates] + ([cluster] if cluster else [])
    absent = [c for c in used if c not in panel.columns]
    if absent:
        raise ValueError(f"column(s) not found in panel: {', '.join(map(repr, absent))}")
    checked = [unit, time, *covariates] + ([cluster] if cluster else [])
    for c in checked + ([outcome] if incomplete == "error" else []):
        n_missing = int(panel[c].isna().sum())
        if n_missing:
            raise ValueError(f"column {c!r} has {n_missing} missing value(s)")
    numeric_column(panel[panel[outcome].notna()], outcome, "outcome")
    if panel.duplicated([unit, time]).any():
        n_dup = int(panel.duplicated([unit, time]).sum())
        raise ValueError(f"panel has {n_dup} duplicated ({unit!r}, {time!r}) row(s)")
    wide = panel.pivot(index=unit, columns=time, values=outcome).sort_index(axis=1)
    gaps = wide.isna().any(axis=1)
    if gaps.any() and incomplete == "error":
        raise ValueError(
            f"panel is unbalanced: {int(gaps.sum())} {unit!r} value(s) lack an outcome for "
            f"some {time!r}; fill the missing periods (e.g. zero cost), restrict the panel "
            "or pass incomplete='drop'"
        )
    n_incomplete = int(gaps.sum())
    if n_incomplete:
        warnings.warn(
            f"did: {n_incomplete} {unit!r} value(s) without an outcome in every period are "
            "left out (incomplete='drop')",
            UserWarning,
            stacklevel=3,
        )
        wide = wide[~gaps]
    periods = wide.columns
    if len(periods) < 2:
        raise ValueError(f"column {time!r} must have at least two periods")
    units = pd.DataFrame(index=wide.index)
    first = _unit_constant(panel, unit, first_treated).reindex(wide.index)
    group = _first_treated_index(first, periods, first_treated)
    per_unit = [_unit_constant(panel, unit, c).reindex(wide.index) for c in covariates]
    cov_frame = pd.concat(per_unit, axis=1) if per_unit else units
    X = np.column_stack([np.ones(len(wide)), covariate_matrix(cov_frame, covariates)])
    cl = _unit_constant(panel, unit, cluster).reindex(wide.index).to_numpy() if cluster else None
    always = group <= 0
    if always.any():
        warnings.warn(
            f"did: {int(always.sum())} unit(s) treated in the first period have no "
            "pre-treatment period and are left out",
            UserWarning,
            stacklevel=3,
        )
    keep = ~always
    return _Panel(
        y=wide.to_numpy(float)[keep],
        group=group[keep],
        X=X[keep],
        cluster=None if cl is None else cl[keep],
        periods=periods.to_numpy(),
        n_dropped_always=int(always.sum()),
        n_incomplete=n_incomplete,
    )


def _cells(
    p: _Panel, control_group: str, method: str, base_kind: str = "last"
) -> tuple[pd.DataFrame, np.ndarray]:
    """All ATT(g, t) cells with their influence functions scaled to the full sample."""
    n_units, n_periods = p.y.shape
    rows, columns, max_ps, small = [], [], 0.0, []
    for g in np.unique(p.group[np.isfinite(p.group)]).astype(int):
        treated = p.group == g
        if treated.sum() < MIN_COHORT_SIZE:
            small.append(f"{p.periods[g]} (n={int(treated.sum())})")
            continue
        base = g - 1  # the last period every base value uses
        y_base = p.y[:, base] if base_kind == "last" else p.y[:, :g].mean(axis=1)
        for t in range(n_periods):
            if t == base and base_kind == "last":
                continue
            if t < g and g == 1:  # one pre-start period: its placebo is identically 0
                continue
            if control_group == "never_treated":
                control = ~np.isfinite(p.group)
            else:
                control = (p.group > max(t, base)) & ~treated
            n_control = int(control.sum())
            if n_control < MIN_COHORT_SIZE:
                if t >= g:
                    continue  # no not-yet-treated controls left this late
                raise ValueError(
                    f"control_group={control_group!r}: {n_control} control units for the "
                    f"cohort first treated at {p.periods[g]!r}, fewer than {MIN_COHORT_SIZE}"
                )
            sub = treated | control
            dy = p.y[sub, t] - y_base[sub]
            fit = dr_did_panel(dy, treated[sub].astype(float), p.X[sub], method)
            psi = np.zeros(n_units)
            psi[sub] = fit.influence * n_units / sub.sum()
            columns.append(psi)
            max_ps = max(max_ps, fit.max_control_ps)
            rows.append((g, t, t - g, fit.att, int(treated.sum()), n_control))
    if small:
        warnings.warn(
            f"did: cohorts under {MIN_COHORT_SIZE} units get no effect of their own: "
            + ", ".join(small),
            UserWarning,
            stacklevel=3,
        )
    if not rows:
        raise ValueError(f"no cohort has {MIN_COHORT_SIZE} or more units with usable controls")
    cells = pd.DataFrame(rows, columns=["g", "t", "event_time", "att", "n_treated", "n_control"])
    cells.attrs["max_control_ps"] = max_ps
    cells.attrs["small_cohorts"] = small
    return cells, np.column_stack(columns)


def _aggregate(
    cells: pd.DataFrame, psi: np.ndarray, group: np.ndarray, mask: np.ndarray
) -> tuple[float, np.ndarray]:
    """Cohort-size-weighted mean of the selected cells and its influence function.

    Includes the estimation effect of the cohort shares (Callaway & Sant'Anna 2021, sec. 4).
    """
    sel = np.flatnonzero(mask)
    g_sel = cells["g"].to_numpy()[sel]
    share = np.array([np.mean(group == g) for g in g_sel])
    w = share / share.sum()
    att = cells["att"].to_numpy()[sel]
    estimate = float(w @ att)
    ind = np.column_stack([(group == g).astype(float) for g in g_sel])  # (n, m)
    share_if = ind - share
    w_if = share_if / share.sum() - np.outer(share_if.sum(axis=1), share) / share.sum() ** 2
    return estimate, psi[:, sel] @ w + w_if @ att


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, repr=False)
class DidResult(DesignEffect):
    """Callaway & Sant'Anna DiD: overall ATT, event study and group-time effects.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value : float
        Overall ATT (cohort-size-weighted mean of all post-start cells) and its inference.
    event_study : pandas.DataFrame
        One row per event time ``e`` (periods since start; with ``base="last"``,
        ``e = -1`` is the reference, fixed at 0): ``event_time, estimate, se, ci_low,
        ci_high, band_low, band_high, p_value``; ``band_*`` is the uniform (sup-t) band.
    group_time : pandas.DataFrame
        ``ATT(g, t)``: ``group, time, event_time, estimate, se, ci_low, ci_high,
        n_treated, n_control``.
    pretrend_chi2, pretrend_df, pretrend_p : float
        Joint Wald test that the pre-start event-study coefficients before ``e = -1``
        are zero (with ``base="pre_mean"`` the one at ``e = -1`` follows from them).
    n_units, n_treated, n_control : int
        Units used; ever treated during the panel; never treated.
    diagnostics : Diagnostics
        Gate ``pretrend_p``; warnings on overlap.
    outcome, method, control_group : str
    base : str
        ``"last"`` (changes from the period before the start) or ``"pre_mean"`` (from the
        mean of the pre-start periods).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    event_study: pd.DataFrame
    group_time: pd.DataFrame
    pretrend_chi2: float
    pretrend_df: int
    pretrend_p: float
    n_units: int
    n_treated: int
    n_control: int
    diagnostics: Diagnostics
    outcome: str = "outcome"
    method: str = "dr"
    control_group: str = "never_treated"
    base: str = "last"
    estimand: str = "ATT"
    n_bootstrap: int = 0
    info: dict = field(default_factory=dict, compare=False)
    _figsize = (7, 3.5)

    def __repr__(self) -> str:
        return (
            f"<DidResult ATT={self.estimate:.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}] "
            f"cells={len(self.group_time)} units={self.n_units:,} "
            f"passed={self.diagnostics.passed}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """The event study plus an ``overall`` row: ``term, event_time, estimate, se ...``."""
        es = self.event_study.assign(term="event_time")
        overall = pd.DataFrame(
            [
                {
                    "term": "overall",
                    "event_time": np.nan,
                    "estimate": self.estimate,
                    "se": self.se,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "p_value": self.p_value,
                }
            ]
        )
        out = pd.concat([es, overall], ignore_index=True)
        out["outcome"], out["method"] = self.outcome, f"cs_did_{self.method}"
        first = ["term", "event_time", "estimate", "se", "ci_low", "ci_high", "p_value"]
        return out[first + [c for c in out.columns if c not in first]]

    def _summary_header(self) -> list[tuple[str, str]]:
        return [
            ("design", "difference-in-differences (Callaway & Sant'Anna, doubly robust)"),
            ("outcome", self.outcome),
            ("control group", self.control_group),
            ("base", BASE_TEXT[self.base]),
            ("units (treated / never treated)", f"{self.n_treated:,} / {self.n_control:,}"),
        ]

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        return self.to_frame().drop(columns=["outcome", "method"]).round(decimals)

    def _summary_notes(self) -> tuple[str, ...]:
        return (
            f"pre-trend Wald chi2({self.pretrend_df}) = {self.pretrend_chi2:.2f}, "
            f"p = {self.pretrend_p:.3f}",
        )

    def _effect_fields(self) -> dict:
        return {
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "method": f"cs_did_{self.method}",
            "estimand": self.estimand,
            "outcome": self.outcome,
            "treatment": "program start",
            "info": {
                "control_group": self.control_group,
                "base": self.base,
                "n_bootstrap": self.n_bootstrap,
            },
        }

    def plot(
        self,
        ax=None,
        lang: str = "en",
        *,
        xlabel: str | None = None,
        ylabel: str | None = None,
        title: str | None = None,
    ):
        """Event-study plot: estimates, pointwise 95% CIs and the uniform band.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        lang : {"ja", "en"}
            Language of the default labels.
        xlabel, ylabel : str, optional
            Axis labels; by default "periods since start" and "difference in the outcome"
            in ``lang`` (never the outcome's column name).
        title : str, optional
            No title by default: the figure's caption says what it shows.

        Returns
        -------
        matplotlib Axes
            The y axis shows plain numbers with thousands separators (no scientific
            notation or offset).
        """
        from matplotlib.ticker import MaxNLocator

        ax, base = self._axes(ax, lang)
        lab = {**base, **DID_PLOT_LABELS[lang]}
        es = self.event_study
        e = es["event_time"].to_numpy()
        if es["band_low"].notna().any():
            ax.fill_between(
                e,
                es["band_low"],
                es["band_high"],
                color="C0",
                alpha=0.15,
                step=None,
                label=lab["uniform_band"],
            )
        pre = e < 0
        for mask, color, label in ((pre, "0.4", lab["pre"]), (~pre, "C0", lab["post"])):
            ax.errorbar(
                e[mask],
                es["estimate"].to_numpy()[mask],
                yerr=[
                    (es["estimate"] - es["ci_low"]).to_numpy()[mask],
                    (es["ci_high"] - es["estimate"]).to_numpy()[mask],
                ],
                fmt="o",
                color=color,
                capsize=2,
                label=label,
            )
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(-0.5, color="0.3", lw=0.8, ls="--")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(plain_number_formatter())
        ax.yaxis.set_major_formatter(plain_number_formatter())
        ax.set_xlabel(lab["event_time"] if xlabel is None else xlabel)
        ax.set_ylabel(lab["difference"] if ylabel is None else ylabel)
        if title:
            ax.set_title(title)
        ax.legend(loc="best", fontsize="small")
        return ax


DID_PLOT_LABELS = {
    "ja": {
        "event_time": "開始からの期間",
        "difference": "効果（参加者と比較対象者の差）",
        "uniform_band": "同時95%信頼帯",
        "pre": "開始前",
        "post": "開始後",
    },
    "en": {
        "event_time": "Periods since program start",
        "difference": "Effect (participants minus comparison)",
        "uniform_band": "Simultaneous 95% band",
        "pre": "Before start",
        "post": "After start",
    },
}
"""Default labels of the event-study plot (override the shared design-plot labels)."""


def plain_number_formatter():
    """A matplotlib ``Formatter`` of plain numbers with thousands separators.

    Ticks read ``−150,000`` or ``0.25``: never scientific notation or an offset; the
    decimals follow the tick spacing (:func:`format_plain`).
    """
    from matplotlib.ticker import Formatter

    class PlainNumbers(Formatter):
        decimals = 0

        def set_locs(self, locs):
            super().set_locs(locs)
            self.decimals = _decimals(locs)

        def __call__(self, x, pos=None):
            return format_plain(x, self.decimals)

    return PlainNumbers()


def _decimals(locs) -> int:
    """Fewest decimals (at most 6) that show every tick of ``locs`` exactly."""
    locs = np.asarray(locs, float)
    locs = locs[np.isfinite(locs)]
    scale = max(float(np.max(np.abs(locs))), 1.0) if locs.size else 1.0
    for d in range(7):
        if np.all(np.abs(np.round(locs, d) - locs) <= 1e-9 * scale):
            return d
    return 6


def format_plain(x: float, decimals: int = 0) -> str:
    """``x`` with thousands separators and ``decimals`` places; a true minus sign."""
    text = f"{x:,.{decimals}f}"
    if text.lstrip("-").strip("0.,") == "":
        text = text.lstrip("-")  # no "-0"
    return text.replace("-", "\u2212")


def _inference(
    estimates: np.ndarray,
    psi: np.ndarray,
    draws: np.ndarray | None,
    alpha: float,
    cluster: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    se_analytic = np.sqrt(np.clip(np.diag(influence_vcov(psi, cluster)), 0, None))
    if draws is None:
        se = se_analytic
    else:
        q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
        se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
        se = np.where(se > 0, se, se_analytic)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * stats.norm.sf(np.abs(estimates) / se), np.nan)
    return {"se": se, "ci_low": estimates - z * se, "ci_high": estimates + z * se, "p_value": p}


def _uniform_critical(draws: np.ndarray, se: np.ndarray, alpha: float) -> float:
    ok = se > 0
    t_max = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    return float(np.quantile(t_max, 1 - alpha))


def _pretrend(
    es: pd.DataFrame, psi: np.ndarray, cluster: np.ndarray | None = None
) -> tuple[float, int, float]:
    """Joint Wald test of the event-study coefficients at ``event_time <= -2``.

    With ``base="last"`` ``e = -1`` is the reference. Against a pre-start mean a cohort's
    placebos sum to zero, so the coefficient at ``e = -1`` is determined by the others
    (the cohort-share-weighted sum over event times is exactly 0) and is left out too;
    with one cohort the statistic is then that of the last base. ``es`` holds the
    estimated event times only (the rows of ``psi``'s columns), not a reference row.
    """
    pre = np.flatnonzero(es["event_time"].to_numpy() <= -2)
    if len(pre) == 0:
        return float("nan"), 0, float("nan")
    vcov = influence_vcov(psi[:, pre], cluster)
    b = es["estimate"].to_numpy()[pre]
    chi2 = float(b @ np.linalg.pinv(vcov) @ b)
    df = int(np.linalg.matrix_rank(vcov))
    return chi2, df, float(stats.chi2.sf(chi2, df))


def did_effect(
    panel: pd.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    first_treated: str,
    covariates: list[str] | None = None,
    control_group: str = "never_treated",
    method: str = "dr",
    seed: int = 0,
    n_bootstrap: int = 999,
    cluster: str | None = None,
    alpha: float = 0.05,
    incomplete: str = "error",
    base: str = "last",
) -> DidResult:
    """Group-time ATTs (Callaway & Sant'Anna 2021), an event study and an overall ATT.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long balanced panel, one row per unit and period (e.g. person x month of cost);
        not modified.
    unit, time, outcome : str
        Unit id, period (integers, dates or periods; sorted order is used) and the
        numeric outcome.
    first_treated : str
        The period a unit starts the program (a value of ``time``), constant within
        unit; missing (NaN/NaT) or ``inf`` for units never treated. A start after the
        last period counts as untreated during the panel.
    covariates : list of str, optional
        Baseline covariates, constant within unit (categoricals are encoded).
    control_group : {"never_treated", "not_yet_treated"}
        Who the cohorts are compared with.
    method : {"dr", "reg", "ipw"}
        Doubly robust (Sant'Anna & Zhao 2020), outcome regression or IPW.
    seed : int
        Run seed for the multiplier bootstrap.
    n_bootstrap : int
        Multiplier-bootstrap draws (0: analytic influence-function SEs, no uniform band).
    cluster : str, optional
        Cluster column (e.g. household), constant within unit: the analytic standard
        errors and the pre-trend Wald test are cluster-robust (influence values summed
        within clusters), and bootstrap weights are drawn per cluster. By default per unit.
    alpha : float
        1 - confidence level.
    incomplete : {"error", "drop"}
        Units lacking an outcome (a row, or a non-missing value) in some period: an
        error, or left out with a warning (e.g. people not enrolled throughout).
    base : {"last", "pre_mean"}
        What changes are measured from: each cohort's last period before its start
        (``g - 1``, Callaway & Sant'Anna's; event time -1 is the reference, fixed at 0)
        or the mean of all its periods before the start (every pre-start event time
        gets a placebo coefficient; see the module docstring). ``"pre_mean"`` suits
        noisy, heavy-tailed outcomes such as monthly costs.

    Returns
    -------
    DidResult

    Raises
    ------
    ValueError
        Missing columns or values, an unbalanced panel or duplicated rows, values that
        vary within unit, a control group under 10 units, no cohort of 10 or more units.
        (A cohort under 10 units is left out with a warning.)

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = np.random.default_rng(0); n, T = 300, 6
    >>> start = np.where(np.arange(n) < 100, 3, np.nan)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), T), "month": np.tile(np.arange(T), n),
    ...                    "start": np.repeat(start, T)})
    >>> df["cost"] = g.normal(size=len(df)) - 2.0 * (df.month >= df.start)
    >>> res = did_effect(df, unit="id", time="month", outcome="cost", first_treated="start",
    ...                  n_bootstrap=199)
    >>> bool(res.ci_low < -2 < res.ci_high)
    True
    """
    covariates = list(covariates or [])
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if control_group not in CONTROL_GROUPS:
        raise ValueError(f"control_group must be one of {CONTROL_GROUPS}, got {control_group!r}")
    if not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}")
    check_alpha(alpha)
    if incomplete not in ("error", "drop"):
        raise ValueError(f"incomplete must be 'error' or 'drop', got {incomplete!r}")
    if base not in BASES:
        raise ValueError(f"base must be one of {BASES}, got {base!r}")
    p = _prepare_panel(panel, unit, time, outcome, first_treated, covariates, cluster, incomplete)
    n_treated = int(np.isfinite(p.group).sum())
    n_never = int((~np.isfinite(p.group)).sum())
    if n_treated == 0:
        raise ValueError(f"column {first_treated!r}: no unit is treated during the panel")
    if control_group == "never_treated" and n_never < MIN_COHORT_SIZE:
        raise ValueError(
            f"column {first_treated!r}: {n_never} never-treated units, fewer than "
            f"{MIN_COHORT_SIZE}; try control_group='not_yet_treated'"
        )

    cells, psi_cells = _cells(p, control_group, method, base)
    event_times = np.sort(cells["event_time"].unique())
    es_est, es_psi = [], []
    for e in event_times:
        est, inf = _aggregate(cells, psi_cells, p.group, (cells["event_time"] == e).to_numpy())
        es_est.append(est)
        es_psi.append(inf)
    post = (cells["event_time"] >= 0).to_numpy()
    overall, overall_psi = _aggregate(cells, psi_cells, p.group, post)
    es_psi = np.column_stack(es_psi)
    all_psi = np.column_stack([psi_cells, es_psi, overall_psi])
    all_est = np.concatenate([cells["att"].to_numpy(), es_est, [overall]])
    draws = multiplier_bootstrap(all_psi, p.cluster, n_bootstrap, seed) if n_bootstrap else None
    inf = _inference(all_est, all_psi, draws, alpha, p.cluster)

    k, m = len(cells), len(event_times)
    es_slice = slice(k, k + m)
    event_study = pd.DataFrame(
        {
            "event_time": event_times,
            "estimate": es_est,
            **{key: val[es_slice] for key, val in inf.items()},
        }
    )
    if draws is not None:
        crit = _uniform_critical(draws[:, es_slice], inf["se"][es_slice], alpha)
        event_study["band_low"] = event_study["estimate"] - crit * event_study["se"]
        event_study["band_high"] = event_study["estimate"] + crit * event_study["se"]
    else:
        event_study["band_low"] = event_study["band_high"] = np.nan
    chi2, df, p_pre = _pretrend(event_study, es_psi, p.cluster)
    if base == "last":  # the reference period, fixed at 0
        ref = {"event_time": -1, "estimate": 0.0, "se": 0.0, "ci_low": 0.0, "ci_high": 0.0,
               "p_value": np.nan, "band_low": 0.0, "band_high": 0.0}  # fmt: skip
        event_study = pd.concat([event_study, pd.DataFrame([ref])], ignore_index=True)
    event_study = event_study.sort_values("event_time", kind="stable").reset_index(drop=True)
    event_study["event_time"] = event_study["event_time"].astype(int)
    group_time = pd.DataFrame(
        {
            "group": p.periods[cells["g"].to_numpy()],
            "time": p.periods[cells["t"].to_numpy()],
            "event_time": cells["event_time"],
            "estimate": cells["att"],
            "se": inf["se"][:k],
            "ci_low": inf["ci_low"][:k],
            "ci_high": inf["ci_high"][:k],
            "n_treated": cells["n_treated"],
            "n_control": cells["n_control"],
        }
    )
    checks, notes = [], []
    if df > 0:
        checks.append(
            Check(
                "pretrend_p",
                p_pre,
                PRETREND_ALPHA,
                bool(p_pre >= PRETREND_ALPHA),
                f"joint pre-trend Wald test p >= {PRETREND_ALPHA:g}",
            )
        )
    else:
        notes.append("fewer than two periods before the start: pre-trends not testable")
    if cells.attrs["max_control_ps"] > PS_MAX:
        notes.append(
            f"some control units have a propensity above {PS_MAX:g} (poor overlap on covariates)"
        )
    if p.n_dropped_always:
        notes.append(f"{p.n_dropped_always} unit(s) treated in the first period left out")
    if cells.attrs["small_cohorts"]:
        notes.append(
            f"cohorts under {MIN_COHORT_SIZE} units left out: "
            + ", ".join(cells.attrs["small_cohorts"])
        )
    if p.n_incomplete:
        notes.append(f"{p.n_incomplete} unit(s) without an outcome in every period left out")
    return DidResult(
        estimate=overall,
        se=float(inf["se"][-1]),
        ci_low=float(inf["ci_low"][-1]),
        ci_high=float(inf["ci_high"][-1]),
        p_value=float(inf["p_value"][-1]),
        event_study=event_study,
        group_time=group_time,
        pretrend_chi2=chi2,
        pretrend_df=df,
        pretrend_p=p_pre,
        n_units=int(p.y.shape[0]),
        n_treated=n_treated,
        n_control=n_never,
        diagnostics=Diagnostics(checks=tuple(checks), warnings=tuple(notes)),
        outcome=outcome,
        method=method,
        control_group=control_group,
        base=base,
        n_bootstrap=int(n_bootstrap),
    )

"""Time to a severe event: weighted Kaplan-Meier curves, weighted Cox model and RMST.

Participants and non-participants differ at baseline, so their survival curves are
compared after inverse-probability-of-treatment weighting (IPTW): each person is weighted
by the stabilised inverse of the probability of the group they are in, given baseline
covariates, which makes both weighted groups resemble the whole cohort (Cole & Hernán
2004; Xie & Liu 2005). Three summaries follow:

- ``weighted_km``: adjusted Kaplan-Meier survival curves per arm;
- ``weighted_cox``: the marginal hazard ratio from a Cox model of the treatment alone,
  weighted; with IPTW its standard error comes from a bootstrap that re-fits the
  propensity model in every resample (the robust sandwich SE ignores that the weights
  were estimated and is conservative: about 1.6 times the sampling SD in
  ``tests/causal/test_se_calibration.py``);
- ``rmst_difference``: the difference in restricted mean survival time up to ``tau``
  (event-free time gained within ``tau``; Royston & Parmar 2013), with a bootstrap CI
  that re-fits the propensity model in every resample.

References
----------
Cole SR, Hernán MA. Adjusted survival curves with inverse probability weights.
Comput Methods Programs Biomed 2004;75(1):45-49.
Xie J, Liu C. Adjusted Kaplan-Meier estimator and log-rank test with inverse probability
of treatment weighting for survival data. Stat Med 2005;24(20):3089-3110.
Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard ratio
for the design and analysis of randomized trials with a time-to-event outcome.
BMC Med Res Methodol 2013;13:152.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.balance import SMD_THRESHOLD, balance_table
from analysis.causal.design import make_design
from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.ipw import ipw_weights
from analysis.causal.iv import check_alpha, numeric_column
from analysis.causal.propensity import fit_propensity
from analysis.causal.result import DesignEffect, DesignResult, plot_labels
from analysis.seeds import rng

ARMS = {1: "treated", 0: "control"}
MAX_WEIGHT_SHARE = 0.05
"""Warn when one person carries more than this share of an arm's total weight."""


# ----------------------------------------------------------------------------- numerics
def km_steps(time: np.ndarray, event: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Weighted Kaplan-Meier product-limit table at each distinct time.

    ``S(t) = prod_{s <= t} (1 - d_w(s) / n_w(s))`` with weighted events ``d_w`` and
    weighted numbers at risk ``n_w`` (Xie & Liu 2005).

    Returns
    -------
    pandas.DataFrame
        ``time, at_risk, events, survival`` (weighted counts).
    """
    order = np.argsort(time, kind="stable")
    t, d, w = time[order], event[order], weights[order]
    times, first = np.unique(t, return_index=True)
    w_all = np.add.reduceat(w, first)
    w_event = np.add.reduceat(w * d, first)
    at_risk = np.cumsum(w_all[::-1])[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(at_risk > 0, 1 - w_event / at_risk, 1.0)
    return pd.DataFrame(
        {"time": times, "at_risk": at_risk, "events": w_event, "survival": np.cumprod(factor)}
    )


def rmst(steps: pd.DataFrame, tau: float) -> float:
    """Area under a Kaplan-Meier step function from 0 to ``tau``."""
    t = steps["time"].to_numpy()
    s = steps["survival"].to_numpy()
    knots = np.concatenate([[0.0], t[t < tau], [tau]])
    level = np.concatenate([[1.0], s[t < tau]])
    return float(np.sum(level * np.diff(knots)))


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class _Survival:
    time: np.ndarray
    event: np.ndarray
    t: np.ndarray
    X: np.ndarray
    names: tuple[str, ...]
    cluster: np.ndarray | None


def _prepare(data, duration, event, treatment, covariates, cluster=None) -> _Survival:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for name in (duration, event):
        if name not in data.columns:
            raise ValueError(f"column(s) not found in data: {name!r}")
        n_missing = int(data[name].isna().sum())
        if n_missing:
            raise ValueError(f"column {name!r} has {n_missing} missing value(s)")
    design = make_design(
        data, treatment=treatment, outcome=None, covariates=list(covariates or []), cluster=cluster
    )
    time = numeric_column(data, duration, "duration")
    if (time < 0).any():
        raise ValueError(
            f"duration column {duration!r} has {int((time < 0).sum())} negative value(s)"
        )
    ev = numeric_column(data, event, "event")
    if not np.isin(ev, (0.0, 1.0)).all():
        raise ValueError(f"event column {event!r} must be 0/1 (1 = event, 0 = censored)")
    return _Survival(time, ev, design.t.astype(int), design.X, design.columns, design.cluster)


def _weights(s: _Survival, weights, seed: int, propensity_model: str) -> np.ndarray:
    if weights is None:
        return np.ones(len(s.t))
    if isinstance(weights, str) and weights == "ipw":
        if s.X.shape[1] == 0:
            raise ValueError("weights='ipw' needs covariates for the propensity model")
        e = fit_propensity(s.X, s.t, seed=seed, model=propensity_model)
        return ipw_weights(s.t, np.clip(e, 1e-6, 1 - 1e-6), "ATE")
    raise ValueError(f"weights must be None or 'ipw', got {weights!r}")


def _diagnostics(s: _Survival, w: np.ndarray) -> Diagnostics:
    checks, notes, tables = [], [], {}
    if s.X.shape[1]:
        table = balance_table(s.X, s.t, list(s.names), w)
        tables["balance"] = table
        worst = float(table["smd_after"].abs().max())
        checks.append(
            Check(
                "balance_max_abs_smd",
                worst,
                SMD_THRESHOLD,
                bool(worst < SMD_THRESHOLD),
                f"max |SMD| < {SMD_THRESHOLD:g} after weighting",
            )
        )
    for arm, label in ARMS.items():
        share = w[s.t == arm].max() / w[s.t == arm].sum()
        if share > MAX_WEIGHT_SHARE:
            notes.append(f"one {label} person carries {share:.0%} of the arm's weight")
    return Diagnostics(checks=tuple(checks), tables=tables, warnings=tuple(notes))


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, repr=False)
class SurvivalCurves(DesignResult):
    """(Weighted) Kaplan-Meier curves per arm.

    Attributes
    ----------
    table : pandas.DataFrame
        ``arm, time, at_risk, events, survival`` from lifelines' ``KaplanMeierFitter``
        (weighted counts when weighted).
    weighting : str
        ``"none"`` or ``"ipw"``.
    n_treated, n_control, events_treated, events_control : int
    diagnostics : Diagnostics
        Gate ``balance_max_abs_smd`` when covariates were given.
    duration, event, treatment : str
    """

    table: pd.DataFrame
    weighting: str
    n_treated: int
    n_control: int
    events_treated: int
    events_control: int
    diagnostics: Diagnostics
    duration: str = "duration"
    event: str = "event"
    treatment: str = "treatment"
    weights: np.ndarray | None = field(default=None, compare=False)
    _decimals = 3

    def __repr__(self) -> str:
        return (
            f"<SurvivalCurves weighting={self.weighting} n={self.n_treated:,}/"
            f"{self.n_control:,} events={self.events_treated:,}/{self.events_control:,}>"
        )

    def survival_at(self, time: float) -> dict[str, float]:
        """Survival probability of each arm at ``time``."""
        out = {}
        for label in ARMS.values():
            arm = self.table[(self.table["arm"] == label) & (self.table["time"] <= time)]
            out[label] = float(arm["survival"].iloc[-1]) if len(arm) else 1.0
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _summary_header(self) -> list[tuple[str, str]]:
        return [("design", f"Kaplan-Meier ({self.weighting})"), ("outcome", self.duration)]

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        """People, events and median survival per arm."""
        rows = []
        for arm, label in ARMS.items():
            curve = self.table[self.table["arm"] == label]
            below = curve[curve["survival"] <= 0.5]
            rows.append(
                {
                    "arm": label,
                    "n": self.n_treated if arm else self.n_control,
                    "events": self.events_treated if arm else self.events_control,
                    "median_survival": float(below["time"].iloc[0]) if len(below) else np.inf,
                }
            )
        return pd.DataFrame(rows).round(decimals)

    def plot(self, ax=None, lang: str = "en", **labels):
        """Survival curves per arm (step functions); returns the Axes (``plot_survival``)."""
        return plot_survival(self, ax=ax, lang=lang, **labels)


def plot_survival(
    curves: SurvivalCurves,
    ax=None,
    lang: str = "en",
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    arms: tuple[str, str] | None = None,
):
    """Step plot of the (weighted) Kaplan-Meier curves of both arms; returns the Axes.

    Parameters
    ----------
    curves : SurvivalCurves
    ax : matplotlib Axes, optional
    lang : {"ja", "en"}
        Language of the labels.
    xlabel : str, optional
        The time axis label, e.g. "Years since index"; by default "time since start" in
        ``lang`` (never the duration's column name, whose unit the curves do not know).
    ylabel : str, optional
        By default "proportion free of the event", marked "(weighted)" for IPW curves.
    arms : (str, str), optional
        Legend labels of the treated and the control arm; by default "treated group" and
        "control group" in ``lang``.
    """
    import matplotlib.pyplot as plt

    lab = {**plot_labels(lang), **SURVIVAL_PLOT_LABELS[lang]}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    names = arms or (lab["treated"], lab["control"])
    for label, color, name in (("treated", "C1", names[0]), ("control", "C0", names[1])):
        arm = curves.table[curves.table["arm"] == label]
        t = np.concatenate([[0.0], arm["time"].to_numpy()])
        s = np.concatenate([[1.0], arm["survival"].to_numpy()])
        ax.step(t, s, where="post", color=color, label=name)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(lab["time"] if xlabel is None else xlabel)
    default = lab["survival_ipw" if curves.weighting == "ipw" else "survival"]
    ax.set_ylabel(default if ylabel is None else ylabel)
    ax.legend(loc="lower left")
    return ax


SURVIVAL_PLOT_LABELS = {
    "ja": {
        "time": "開始からの経過時間",
        "treated": "介入群",
        "control": "対照群",
        "survival": "イベントが起きていない人の割合",
        "survival_ipw": "イベントが起きていない人の割合（重み付け）",
    },
    "en": {
        "time": "Time since start",
        "treated": "Treated group",
        "control": "Control group",
        "survival": "Proportion free of the event",
        "survival_ipw": "Proportion free of the event (weighted)",
    },
}
"""Labels of the Kaplan-Meier plot (override the shared design-plot labels)."""


@dataclass(frozen=True, repr=False)
class SurvivalEffectResult(DesignEffect):
    """A survival effect (hazard ratio or RMST difference) with the curves it comes from.

    Attributes
    ----------
    estimand : {"hazard_ratio", "rmst_difference"}
    estimate, se, ci_low, ci_high, p_value : float
        For the hazard ratio the SE is that of log(HR) and the CI is on the HR scale.
    tau : float or None
        RMST horizon.
    curves : SurvivalCurves
    n_treated, n_control : int
    diagnostics : Diagnostics
    info : dict
        ``rmst_treated``, ``rmst_control``, ``n_bootstrap`` ...
    """

    estimand: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    curves: SurvivalCurves
    tau: float | None = None
    info: dict = field(default_factory=dict, compare=False)
    _decimals = 3

    @property
    def diagnostics(self) -> Diagnostics:
        return self.curves.diagnostics

    @property
    def n_treated(self) -> int:
        return self.curves.n_treated

    @property
    def n_control(self) -> int:
        return self.curves.n_control

    @property
    def method(self) -> str:
        return f"{self.estimand}_{self.curves.weighting}"

    def __repr__(self) -> str:
        return (
            f"<SurvivalEffectResult {self.estimand}={self.estimate:.4g} "
            f"[{self.ci_low:.4g}, {self.ci_high:.4g}] weighting={self.curves.weighting} "
            f"passed={self.diagnostics.passed}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One tidy row."""
        row = {
            "term": self.estimand,
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "tau": np.nan if self.tau is None else self.tau,
            "weighting": self.curves.weighting,
            "outcome": self.curves.duration,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "events_treated": self.curves.events_treated,
            "events_control": self.curves.events_control,
            "passed": self.diagnostics.passed,
        }
        return pd.DataFrame([row])

    def _summary_header(self) -> list[tuple[str, str]]:
        return [
            ("design", f"survival ({self.estimand}, {self.curves.weighting})"),
            ("outcome", f"{self.curves.duration} / {self.curves.event}"),
            ("n (treated / control)", f"{self.n_treated:,} / {self.n_control:,}"),
        ]

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        cols = ["term", "estimate", "se", "ci_low", "ci_high", "p_value", "tau"]
        return self.to_frame()[cols].round(decimals)

    def _effect_fields(self) -> dict:
        return {
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "method": self.method,
            "estimand": self.estimand,
            "outcome": self.curves.duration,
            "treatment": self.curves.treatment,
            "info": {"tau": self.tau, **self.info},
        }

    def plot(self, ax=None, lang: str = "en", **labels):
        """The survival curves the effect comes from (``plot_survival``)."""
        return plot_survival(self.curves, ax=ax, lang=lang, **labels)

    plot_survival = plot


# ----------------------------------------------------------------------------- estimators
def _curves(s: _Survival, w: np.ndarray, weighting: str, names: tuple[str, str, str]):
    from lifelines import KaplanMeierFitter

    parts = []
    for arm, label in ARMS.items():
        m = s.t == arm
        kmf = KaplanMeierFitter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lifelines warns on non-integer weights
            kmf.fit(s.time[m], s.event[m], weights=w[m])
        table = kmf.event_table
        surv = kmf.survival_function_.iloc[:, 0]
        frame = pd.DataFrame(
            {
                "arm": label,
                "time": table.index.to_numpy(float),
                "at_risk": table["at_risk"].to_numpy(float),
                "events": table["observed"].to_numpy(float),
                "survival": surv.reindex(table.index).to_numpy(float),
            }
        )
        parts.append(frame[(frame["time"] > 0) | (frame["events"] > 0)])
    return SurvivalCurves(
        table=pd.concat(parts, ignore_index=True),
        weighting=weighting,
        n_treated=int(s.t.sum()),
        n_control=int((1 - s.t).sum()),
        events_treated=int(s.event[s.t == 1].sum()),
        events_control=int(s.event[s.t == 0].sum()),
        diagnostics=_diagnostics(s, w),
        duration=names[0],
        event=names[1],
        treatment=names[2],
        weights=w,
    )


def weighted_km(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    treatment: str,
    weights: str | None = None,
    covariates: list[str] | None = None,
    seed: int = 0,
    propensity_model: str = "logistic",
) -> SurvivalCurves:
    """Kaplan-Meier curves per arm, unweighted or inverse-probability weighted.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person (not modified).
    duration : str
        Follow-up time (e.g. days from index to event or censoring), non-negative.
    event : str
        1 = severe event observed, 0 = censored.
    treatment : str
        Binary 0/1 column.
    weights : {None, "ipw"}
        ``"ipw"``: stabilised ATE weights from a propensity model on ``covariates``.
    covariates : list of str, optional
        Baseline covariates (propensity model and balance check).
    seed : int
        Run seed (flexible propensity models).
    propensity_model : str
        Passed to ``analysis.causal.propensity.fit_propensity``.

    Returns
    -------
    SurvivalCurves

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"days": range(1, 21), "event": [1, 0] * 10, "t": [0] * 10 + [1] * 10})
    >>> curves = weighted_km(df, duration="days", event="event", treatment="t")
    >>> round(curves.survival_at(3)["control"], 4)  # (1 - 1/10) * (1 - 1/8)
    0.7875
    """
    s = _prepare(data, duration, event, treatment, covariates)
    w = _weights(s, weights, seed, propensity_model)
    return _curves(s, w, "ipw" if weights else "none", (duration, event, treatment))


COX_BOOTSTRAP = 199
"""Bootstrap resamples of the IPTW Cox log hazard ratio."""


def cox_log_hr(time, event, z, weights, max_iter: int = 50, tol: float = 1e-10) -> float:
    """Weighted Cox partial-likelihood estimate of the log hazard ratio of a 0/1 ``z``.

    Newton-Raphson on ``l(b) = sum_i w_i d_i [b z_i - log S0(T_i)]`` with
    ``S0(t) = sum_{T_j >= t} w_j exp(b z_j)`` (Breslow's handling of ties; equal to
    Efron's when no two events share a time). Used for the bootstrap of
    :func:`weighted_cox`, where thousands of fits are needed; checked against lifelines.

    Raises
    ------
    ValueError
        When an arm has no event (the estimate does not exist).
    """
    order = np.argsort(-np.asarray(time, float), kind="stable")
    t, d = np.asarray(time, float)[order], np.asarray(event, float)[order]
    zz, w = np.asarray(z, float)[order], np.asarray(weights, float)[order]
    if not ((d * zz * w).sum() > 0 and (d * (1 - zz) * w).sum() > 0):
        raise ValueError("cox_log_hr: an arm has no event")
    # Everyone with the same time is at risk at that time: take the cumulative sums at
    # the last row of each block of tied times (times sorted in decreasing order).
    last = np.r_[t[1:] != t[:-1], True]
    block_end = np.flatnonzero(last)
    block_of = np.searchsorted(block_end, np.arange(len(t)))
    wd = w * d
    b = 0.0
    for _ in range(max_iter):
        r = w * np.exp(b * zz)
        s0 = np.cumsum(r)[block_end][block_of]
        s1 = np.cumsum(r * zz)[block_end][block_of]
        p = s1 / s0
        score = float(np.sum(wd * (zz - p)))
        info = float(np.sum(wd * p * (1 - p)))
        step = score / info
        b += step
        if abs(step) < tol:
            break
    return float(b)


def weighted_cox(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    treatment: str,
    weights: str | None = None,
    covariates: list[str] | None = None,
    cluster: str | None = None,
    seed: int = 0,
    propensity_model: str = "logistic",
    alpha: float = 0.05,
    n_bootstrap: int | None = None,
) -> SurvivalEffectResult:
    """Marginal hazard ratio of treatment from a (weighted) Cox model.

    The Cox model holds the treatment only (lifelines ``CoxPHFitter``); with
    ``weights="ipw"`` it is the marginal structural Cox model. Its standard error (of the
    log hazard ratio) is:

    - with ``weights="ipw"`` (default ``n_bootstrap=199``): the SD of bootstrap
      estimates that resample people within each arm (whole clusters when ``cluster`` is
      given) and re-fit the propensity model and the Cox model in each resample, so that
      the estimation of the weights is accounted for; the CI is ``log HR +- z SE``;
    - with ``n_bootstrap=0`` or without weights: lifelines' robust (sandwich) SE, which
      for IPTW ignores the estimation of the weights and is conservative.

    Parameters as in :func:`weighted_km`, plus ``cluster`` (e.g. household), ``alpha``
    and ``n_bootstrap``.

    Returns
    -------
    SurvivalEffectResult
        ``estimand="hazard_ratio"``; ``se`` is the SE of log(HR); ``info["se_type"]``.
    """
    from lifelines import CoxPHFitter

    check_alpha(alpha)
    if n_bootstrap is None:
        n_bootstrap = COX_BOOTSTRAP if weights is not None else 0
    if not isinstance(n_bootstrap, int | np.integer) or (n_bootstrap and n_bootstrap < 50):
        raise ValueError(f"n_bootstrap must be 0 or an integer >= 50, got {n_bootstrap!r}")
    s = _prepare(data, duration, event, treatment, covariates, cluster)
    w = _weights(s, weights, seed, propensity_model)
    frame = pd.DataFrame({"T": s.time, "E": s.event, "treated": s.t, "w": w})
    if s.cluster is not None:
        frame["cluster"] = s.cluster
    cph = CoxPHFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines notes robust=True for non-integer weights
        cph.fit(
            frame,
            "T",
            "E",
            weights_col="w",
            robust=not n_bootstrap,
            cluster_col="cluster" if s.cluster is not None and not n_bootstrap else None,
        )
    log_hr = float(cph.params_["treated"])
    se = float(cph.standard_errors_["treated"])
    se_type = "robust"
    if n_bootstrap:
        se = _bootstrap_log_hr_se(s, weights, seed, propensity_model, n_bootstrap)
        se_type = "cluster_bootstrap" if s.cluster is not None else "bootstrap"
    z = stats.norm.ppf(1 - alpha / 2)
    curves = _curves(s, w, "ipw" if weights else "none", (duration, event, treatment))
    return SurvivalEffectResult(
        estimand="hazard_ratio",
        estimate=float(np.exp(log_hr)),
        se=se,
        ci_low=float(np.exp(log_hr - z * se)),
        ci_high=float(np.exp(log_hr + z * se)),
        p_value=float(2 * stats.norm.sf(abs(log_hr) / se)),
        curves=curves,
        info={"se_type": se_type, "n_bootstrap": int(n_bootstrap)},
    )


def _resample(s: _Survival, gen: np.random.Generator) -> np.ndarray:
    """Bootstrap rows: whole clusters, or people (Austin 2016: resample subjects, so that
    the share treated varies as it does between samples)."""
    if s.cluster is not None:
        ids, codes = np.unique(s.cluster, return_inverse=True)
        pick = gen.integers(0, len(ids), len(ids))
        members = [np.flatnonzero(codes == k) for k in range(len(ids))]
        return np.concatenate([members[k] for k in pick])
    return gen.integers(0, len(s.t), len(s.t))


def _bootstrap_log_hr_se(s, weights, seed, propensity_model, n_bootstrap: int) -> float:
    gen = rng(seed, "survival", "cox-bootstrap")
    draws = []
    for _ in range(n_bootstrap):
        idx = _resample(s, gen)
        sb = _Survival(s.time[idx], s.event[idx], s.t[idx], s.X[idx], s.names, None)
        try:
            wb = _weights(sb, weights, seed, propensity_model)
            draws.append(cox_log_hr(sb.time, sb.event, sb.t, wb))
        except ValueError:
            continue
    if len(draws) < 0.9 * n_bootstrap:
        raise ValueError(
            f"{n_bootstrap - len(draws)} of {n_bootstrap} bootstrap resamples had an arm "
            "without events; too few events for a bootstrap"
        )
    return float(np.std(draws, ddof=1))


def _rmst_pair(s: _Survival, w: np.ndarray, tau: float) -> tuple[float, float]:
    return tuple(
        rmst(km_steps(s.time[s.t == arm], s.event[s.t == arm], w[s.t == arm]), tau)
        for arm in (1, 0)
    )


def rmst_difference(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    treatment: str,
    tau: float,
    weights: str | None = None,
    covariates: list[str] | None = None,
    seed: int = 0,
    n_bootstrap: int = 499,
    propensity_model: str = "logistic",
    alpha: float = 0.05,
) -> SurvivalEffectResult:
    """Difference (treated - control) in restricted mean event-free time up to ``tau``.

    The CI is a percentile bootstrap that resamples people within each arm and re-fits
    the propensity model in every resample; the SE is the bootstrap standard deviation.
    Parameters as in :func:`weighted_km`, plus:

    Parameters
    ----------
    tau : float
        Horizon, in the units of ``duration``; at most the last follow-up time of each arm.
    n_bootstrap : int
        Bootstrap resamples (at least 50).
    alpha : float
        1 - confidence level.

    Returns
    -------
    SurvivalEffectResult
        ``estimand="rmst_difference"``; ``info`` holds ``rmst_treated`` and ``rmst_control``.
    """
    check_alpha(alpha)
    if not isinstance(n_bootstrap, int | np.integer) or n_bootstrap < 50:
        raise ValueError(f"n_bootstrap must be an integer >= 50, got {n_bootstrap!r}")
    s = _prepare(data, duration, event, treatment, covariates)
    last = min(s.time[s.t == arm].max() for arm in (0, 1))
    if not (np.isfinite(tau) and 0 < tau <= last):
        raise ValueError(
            f"tau must be in (0, {last:g}] (the shorter arm's last follow-up time), got {tau!r}"
        )
    w = _weights(s, weights, seed, propensity_model)
    r1, r0 = _rmst_pair(s, w, tau)
    gen = rng(seed, "survival", "rmst-bootstrap")
    idx1, idx0 = np.flatnonzero(s.t == 1), np.flatnonzero(s.t == 0)
    diffs = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = np.concatenate([gen.choice(idx1, len(idx1)), gen.choice(idx0, len(idx0))])
        sb = _Survival(s.time[idx], s.event[idx], s.t[idx], s.X[idx], s.names, None)
        b1, b0 = _rmst_pair(sb, _weights(sb, weights, seed, propensity_model), tau)
        diffs[b] = b1 - b0
    se = float(diffs.std(ddof=1))
    lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    est = r1 - r0
    curves = _curves(s, w, "ipw" if weights else "none", (duration, event, treatment))
    return SurvivalEffectResult(
        estimand="rmst_difference",
        estimate=float(est),
        se=se,
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=float(2 * stats.norm.sf(abs(est) / se)) if se > 0 else float("nan"),
        curves=curves,
        tau=float(tau),
        info={"rmst_treated": r1, "rmst_control": r0, "n_bootstrap": n_bootstrap},
    )

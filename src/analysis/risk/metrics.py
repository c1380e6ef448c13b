"""Performance measures of a survival risk prediction, as plain functions of arrays.

Discrimination (Harrell's and Uno's C, time-dependent AUC), calibration (Kaplan-Meier
observed risk by predicted-risk group, calibration slope and log observed/expected),
overall accuracy (IPCW Brier score) and clinical usefulness (decision-curve net benefit).
The model classes only call these.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def _arrays(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event).astype(bool)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("time and event must be 1-D arrays of the same length")
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError("time must be non-negative and not missing")
    return t, e


def km_risk(time, event, horizon: float) -> tuple[float, float]:
    """Kaplan-Meier cumulative risk ``1 - S(horizon)`` and its Greenwood standard error.

    Parameters
    ----------
    time, event : array-like
        Follow-up time and event indicator (True = event, False = censored).
    horizon : float
        Time at which the risk is read.

    Returns
    -------
    (float, float)
        Risk and standard error; ``(nan, nan)`` for empty input.
    """
    t, e = _arrays(time, event)
    if len(t) == 0:
        return float("nan"), float("nan")
    event_times = np.unique(t[e & (t <= horizon)])
    if len(event_times) == 0:
        return 0.0, 0.0
    ts = np.sort(t)
    at_risk = len(t) - np.searchsorted(ts, event_times, side="left")
    te = np.sort(t[e])
    deaths = np.searchsorted(te, event_times, side="right") - np.searchsorted(
        te, event_times, side="left"
    )
    surv = float(np.prod(1.0 - deaths / at_risk))
    with np.errstate(divide="ignore", invalid="ignore"):
        gw = np.sum(deaths / (at_risk * (at_risk - deaths)))
    se = surv * np.sqrt(gw) if np.isfinite(gw) else float("nan")
    return 1.0 - surv, float(se)


def harrell_c(time, event, risk) -> float:
    """Harrell's concordance index (higher ``risk`` should mean an earlier event).

    References
    ----------
    Harrell FE, Lee KL, Mark DB. Stat Med 1996;15:361-387.
    """
    from lifelines.utils import concordance_index

    t, e = _arrays(time, event)
    if not e.any():
        raise ValueError("harrell_c: no events, the C-index is undefined")
    return float(concordance_index(t, -np.asarray(risk, dtype=float), e))


def _surv(time, event, horizon: float | None = None):
    """scikit-survival target; events after ``horizon`` are marked censored.

    Measures at ``horizon`` do not use those events, and the censoring distribution up to
    ``horizon`` is unchanged, but an event tied with the last censoring time can no longer
    meet a censoring survival of zero (which scikit-survival rejects).
    """
    from sksurv.util import Surv

    t, e = _arrays(time, event)
    if horizon is not None:
        e = e & (t <= horizon)
    return Surv.from_arrays(event=e, time=t)


def uno_c(time, event, risk, horizon: float) -> float:
    """Uno's IPCW concordance index truncated at ``horizon`` (censoring from the same data).

    References
    ----------
    Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. Stat Med 2011;30:1105-1117.
    """
    from sksurv.metrics import concordance_index_ipcw

    y = _surv(time, event, horizon)
    return float(concordance_index_ipcw(y, y, np.asarray(risk, float), tau=horizon)[0])


def time_dependent_auc(time, event, risk, horizon: float) -> float:
    """Cumulative/dynamic AUC at ``horizon`` (IPCW; censoring from the same data).

    References
    ----------
    Uno H, Cai T, Tian L, Wei LJ. J Am Stat Assoc 2007;102:527-537 (via scikit-survival
    ``cumulative_dynamic_auc``).
    """
    from sksurv.metrics import cumulative_dynamic_auc

    y = _surv(time, event, horizon)
    auc, _ = cumulative_dynamic_auc(y, y, np.asarray(risk, float), [horizon])
    return float(auc[0])


def brier(time, event, survival_at_horizon, horizon: float) -> float:
    """IPCW Brier score of predicted survival probabilities at ``horizon``.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M. Stat Med 1999;18:2529-2545.
    """
    from sksurv.metrics import brier_score

    y = _surv(time, event, horizon)
    est = np.asarray(survival_at_horizon, float)[:, None]
    return float(brier_score(y, y, est, [horizon])[1][0])


def calibration_slope(
    time, event, linear_predictor, horizon: float | None = None, *, where: str = ""
) -> float:
    """Slope of the model's linear predictor refitted in the validation data (ideal 1).

    Follow-up is administratively censored at ``horizon`` when given. Below 1 means the
    predictions are too extreme (overfitting), above 1 too modest. The one-covariate Cox
    refit is retried with smaller Newton-Raphson steps when lifelines' default step fails;
    if it still fails (e.g. a constant linear predictor in a small subgroup, where the
    slope is undefined) the result is NaN and a ``RuntimeWarning`` names ``where``.

    References
    ----------
    Van Houwelingen HC. Stat Med 2000;19:3401-3415; Royston P, Altman DG. BMC Med Res
    Methodol 2013;13:33.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    t, e = _censor_at(time, event, horizon)
    df = pd.DataFrame({"lp": np.asarray(linear_predictor, float), "t": t, "e": e})
    error = None
    for step in (None, 0.5, 0.2, 0.05):
        options = None if step is None else {"step_size": step, "max_steps": 500}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cph = CoxPHFitter().fit(df, "t", "e", fit_options=options)
            except ConvergenceError as exc:  # its warnings are dropped with it
                error = exc
                continue
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return float(cph.params_["lp"])
    place = f" in {where}" if where else ""
    warnings.warn(
        f"calibration slope{place} (n={len(df)}, events={int(e.sum())}): the Cox refit did "
        f"not converge ({str(error).splitlines()[0][:80]}); reported as NaN",
        RuntimeWarning,
        stacklevel=2,
    )
    return float("nan")


def calibration_in_the_large(time, event, expected_cumhaz) -> float:
    """log(observed / expected) events (ideal 0): the intercept of a Poisson calibration model.

    ``expected_cumhaz`` is each person's predicted cumulative hazard at their own
    (possibly horizon-truncated) follow-up time; the sum is the expected number of events.

    References
    ----------
    Crowson CS, Atkinson EJ, Therneau TM. Stat Methods Med Res 2016;25:1692-1706.
    """
    _, e = _arrays(time, event)
    expected = float(np.sum(expected_cumhaz))
    if expected <= 0 or not e.any():
        return float("nan")
    return float(np.log(e.sum() / expected))


def _censor_at(time, event, horizon):
    t, e = _arrays(time, event)
    if horizon is None:
        return t, e
    return np.minimum(t, horizon), e & (t <= horizon)


def calibration_table(
    time, event, predicted_risk, horizon: float, groups: int = 10
) -> pd.DataFrame:
    """Observed (Kaplan-Meier) versus mean predicted risk by group of predicted risk.

    People are sorted by predicted risk and cut into ``groups`` groups of (nearly) equal
    size; ties are broken by input order so that the grouping is deterministic.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``group`` (1 = lowest), ``n``, ``events`` (by the horizon),
        ``predicted`` (mean predicted risk), ``observed`` (KM risk), ``observed_lower``,
        ``observed_upper`` (95% Greenwood interval, clipped to [0, 1]).
    """
    t, e = _arrays(time, event)
    p = np.asarray(predicted_risk, float)
    n = len(p)
    if n < groups:
        raise ValueError(f"calibration_table: {n} rows cannot make {groups} groups")
    order = np.argsort(p, kind="stable")
    group = np.empty(n, dtype=int)
    group[order] = np.arange(n) * groups // n
    rows = []
    for g in range(groups):
        m = group == g
        risk, se = km_risk(t[m], e[m], horizon)
        rows.append(
            dict(
                group=g + 1, n=int(m.sum()), events=int((e[m] & (t[m] <= horizon)).sum()),
                predicted=float(p[m].mean()), observed=risk,
                observed_lower=max(0.0, risk - 1.96 * se), observed_upper=min(1.0, risk + 1.96 * se),
            )
        )  # fmt: skip
    return pd.DataFrame(rows)


def net_benefit(time, event, predicted_risk, horizon: float, thresholds=None) -> pd.DataFrame:
    """Decision curve: net benefit of treating people whose predicted risk ≥ threshold.

    For censored data the true-positive rate among those treated is the Kaplan-Meier risk
    among them (Vickers et al. 2008): ``NB = p_tp - p_fp * pt / (1 - pt)``, with
    ``p_tp = risk_treated * share_treated``. Treat-all uses everyone; treat-none is 0.

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``net_benefit_model``, ``net_benefit_all``, ``net_benefit_none``,
        ``share_treated``.

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. BMC Med Inform Decis Mak 2008;8:53.
    """
    t, e = _arrays(time, event)
    p = np.asarray(predicted_risk, float)
    if thresholds is None:
        thresholds = np.round(np.arange(0.01, 0.51, 0.01), 2)
    thresholds = np.asarray(thresholds, float)
    if ((thresholds <= 0) | (thresholds >= 1)).any():
        raise ValueError("net_benefit: thresholds must lie strictly between 0 and 1")
    risk_all, _ = km_risk(t, e, horizon)
    rows = []
    for pt in thresholds:
        odds = pt / (1 - pt)
        treat = p >= pt
        share = treat.mean()
        if share > 0:
            r, _ = km_risk(t[treat], e[treat], horizon)
            nb = r * share - (1 - r) * share * odds
        else:
            nb = 0.0
        rows.append(
            dict(threshold=pt, net_benefit_model=nb,
                 net_benefit_all=risk_all - (1 - risk_all) * odds, net_benefit_none=0.0,
                 share_treated=share)
        )  # fmt: skip
    return pd.DataFrame(rows)

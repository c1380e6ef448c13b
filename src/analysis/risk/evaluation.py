"""Validation of a survival risk model: discrimination, calibration, accuracy, usefulness.

:func:`evaluate_predictions` works on arrays (follow-up, event, linear predictor and
baseline cumulative hazard) so that any Cox-type model can be judged the same way;
:class:`RiskEvaluation` holds the tables and draws them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.risk import metrics
from analysis.risk.display import Summary

MIN_EVENTS = 5
"""Below this many events by a horizon (overall or in a subgroup) measures are not computed."""


def baseline_at(times: np.ndarray, baseline_times: np.ndarray, baseline_cumhaz: np.ndarray):
    """Breslow baseline cumulative hazard (right-continuous step function) at ``times``."""
    idx = np.searchsorted(baseline_times, np.asarray(times, float), side="right") - 1
    return np.where(idx >= 0, baseline_cumhaz[np.clip(idx, 0, None)], 0.0)


@dataclass(frozen=True)
class RiskEvaluation:
    """Validation results of a risk model on one data set.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per horizon: ``horizon``, ``n``, ``events`` (by the horizon),
        ``harrell_c`` and ``uno_c`` (follow-up truncated at the horizon), ``auc``
        (cumulative/dynamic), ``brier``, ``calibration_slope``, ``calibration_intercept``
        (log observed/expected events), ``observed_risk`` (Kaplan-Meier),
        ``mean_predicted_risk``.
    c_index : float
        Harrell's C over the whole follow-up.
    calibration : pandas.DataFrame
        Observed versus predicted risk by group of predicted risk, per horizon.
    decision_curve : pandas.DataFrame
        Net benefit of the model, treat-all and treat-none by threshold, per horizon.
    subgroups : pandas.DataFrame or None
        ``metrics`` by subgroup (``subgroup``, ``level`` columns first).
    label : str
    """

    metrics: pd.DataFrame
    c_index: float
    calibration: pd.DataFrame
    decision_curve: pd.DataFrame
    subgroups: pd.DataFrame | None = None
    label: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The per-horizon measures (one row per horizon)."""
        return self.metrics.copy()

    def summary(self, decimals: int = 3) -> Summary:
        """Measures, subgroup measures and notes, displayable in notebooks."""
        tables = [("Performance by horizon (years)", self.metrics.set_index("horizon"))]
        if self.subgroups is not None:
            tables.append(("By subgroup", self.subgroups))
        return Summary(
            title=f"Risk model validation{': ' + self.label if self.label else ''}",
            facts=[("Harrell's C (whole follow-up)", self.c_index)],
            tables=tables,
            notes=[
                "C, AUC, Brier and calibration use follow-up truncated at each horizon; "
                "observed risk is Kaplan-Meier; death and other competing events are censored.",
                "Calibration intercept = log(observed / expected events); slope from refitting "
                "the linear predictor (ideal 1).",
            ],
            decimals=decimals,
        )

    def _horizon(self, horizon):
        hs = self.metrics["horizon"].tolist()
        if horizon is None:
            return hs[-1]
        if horizon not in hs:
            raise ValueError(f"horizon {horizon} not evaluated; available: {hs}")
        return horizon

    def plot_calibration(self, ax=None, horizon: float | None = None, lang: str = "en"):
        """Observed (KM, 95% CI) versus mean predicted risk by group; returns the Axes.

        ``lang`` (``"ja"`` or ``"en"``) sets the axis labels (:data:`PLOT_LABELS`).
        """
        import matplotlib.pyplot as plt

        text = _labels(lang)
        h = self._horizon(horizon)
        ax = ax or plt.subplots(figsize=(4.5, 4.5))[1]
        cal = self.calibration[self.calibration["horizon"] == h]
        err = [cal["observed"] - cal["observed_lower"], cal["observed_upper"] - cal["observed"]]
        ax.errorbar(cal["predicted"], cal["observed"], yerr=err, fmt="o", capsize=2)
        top = float(max(cal["predicted"].max(), cal["observed_upper"].max(), 0.01)) * 1.05
        ax.plot([0, top], [0, top], linestyle="--", color="grey", linewidth=1)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel(text["predicted"].format(h=h))
        ax.set_ylabel(text["observed"].format(h=h))
        return ax

    def plot_decision_curve(self, ax=None, horizon: float | None = None, lang: str = "en"):
        """Net benefit of the model, treat-all and treat-none; returns the Axes.

        ``lang`` (``"ja"`` or ``"en"``) sets the labels (:data:`PLOT_LABELS`).
        """
        import matplotlib.pyplot as plt

        text = _labels(lang)
        h = self._horizon(horizon)
        ax = ax or plt.subplots(figsize=(5, 4))[1]
        dc = self.decision_curve[self.decision_curve["horizon"] == h]
        ax.plot(dc["threshold"], dc["net_benefit_model"], label=text["model"])
        ax.plot(dc["threshold"], dc["net_benefit_all"], label=text["treat_all"], linestyle=":")
        ax.axhline(0, color="grey", linewidth=1, label=text["treat_none"])
        lo = min(0.0, float(dc["net_benefit_model"].min()))
        ax.set_ylim(
            lo - 0.005,
            float(dc[["net_benefit_model", "net_benefit_all"]].max().max()) * 1.1 + 0.005,
        )
        ax.set_xlabel(text["threshold"].format(h=h))
        ax.set_ylabel(text["net_benefit"])
        ax.legend()
        return ax

    def __repr__(self) -> str:
        hs = ", ".join(f"{h:g}" for h in self.metrics["horizon"])
        n = int(self.metrics["n"].iloc[0]) if len(self.metrics) else 0
        return f"<RiskEvaluation {self.label!r} n={n:,} C={self.c_index:.3f} horizons=[{hs}]>"


PLOT_LABELS = {
    "ja": {
        "predicted": "予測{h:g}年リスク",
        "observed": "観察{h:g}年リスク（カプラン・マイヤー法）",
        "model": "モデル",
        "treat_all": "全員に介入",
        "treat_none": "介入なし",
        "threshold": "閾値確率（{h:g}年リスク）",
        "net_benefit": "正味の便益（net benefit）",
    },
    "en": {
        "predicted": "Predicted {h:g}-year risk",
        "observed": "Observed {h:g}-year risk (Kaplan-Meier)",
        "model": "model",
        "treat_all": "treat all",
        "treat_none": "treat none",
        "threshold": "Threshold probability ({h:g}-year risk)",
        "net_benefit": "Net benefit",
    },
}
"""Axis and legend labels of the calibration and decision-curve plots by language."""


def _labels(lang: str) -> dict[str, str]:
    """Labels for ``lang``; Japanese also registers the Japanese font with matplotlib."""
    from analysis.report.i18n import figure_labels

    return figure_labels(PLOT_LABELS, lang)


def _measures(time, event, lp, base_t, base_h, horizon, groups, thresholds, where=""):
    t_h = np.minimum(time, horizon)
    e_h = event & (time <= horizon)
    h0 = float(baseline_at([horizon], base_t, base_h)[0])
    risk = 1.0 - np.exp(-h0 * np.exp(lp))
    row = dict(horizon=horizon, n=len(time), events=int(e_h.sum()))
    nan = dict.fromkeys(
        ["harrell_c", "uno_c", "auc", "brier", "calibration_slope", "calibration_intercept",
         "observed_risk", "mean_predicted_risk"], float("nan"),
    )  # fmt: skip
    if e_h.sum() < MIN_EVENTS or horizon >= time.max():
        return {**row, **nan}, None, None
    expected = baseline_at(t_h, base_t, base_h) * np.exp(lp)
    row.update(
        harrell_c=metrics.harrell_c(t_h, e_h, lp),
        uno_c=metrics.uno_c(time, event, lp, horizon),
        auc=metrics.time_dependent_auc(time, event, lp, horizon),
        brier=metrics.brier(time, event, 1.0 - risk, horizon),
        calibration_slope=metrics.calibration_slope(
            time, event, lp, horizon, where=f"{where} at {horizon:g} years".strip()
        ),
        calibration_intercept=metrics.calibration_in_the_large(t_h, e_h, expected),
        observed_risk=metrics.km_risk(time, event, horizon)[0],
        mean_predicted_risk=float(risk.mean()),
    )
    cal = metrics.calibration_table(time, event, risk, horizon, groups=groups)
    dc = metrics.net_benefit(time, event, risk, horizon, thresholds)
    return row, cal.assign(horizon=horizon), dc.assign(horizon=horizon)


def evaluate_predictions(
    time,
    event,
    linear_predictor,
    baseline_times,
    baseline_cumhaz,
    *,
    horizons=(3, 5),
    groups: int = 10,
    thresholds=None,
    subgroups: pd.DataFrame | None = None,
    label: str = "",
) -> RiskEvaluation:
    """Evaluate Cox-type predictions ``H(t | x) = H0(t) exp(lp)`` against observed follow-up.

    Parameters
    ----------
    time, event : array-like
        Follow-up (years) and event indicator of the evaluation data.
    linear_predictor : array-like
        The model's log relative hazard for each row.
    baseline_times, baseline_cumhaz : array-like
        The model's baseline cumulative hazard (step function).
    horizons : tuple of float, default (3, 5)
        Years at which risk is evaluated. A horizon at or beyond the last follow-up time,
        or with fewer than :data:`MIN_EVENTS` events, gets missing measures and a warning.
    groups : int, default 10
        Number of predicted-risk groups of the calibration table (deciles).
    thresholds : array-like, optional
        Threshold probabilities of the decision curve (default 0.01 to 0.50).
    subgroups : pandas.DataFrame, optional
        One column per subgrouping (e.g. ``sex``, ``age_band``), aligned with ``time``;
        the measures are repeated within each level.
    label : str
        Shown in the summary.

    Returns
    -------
    RiskEvaluation
    """
    t = np.asarray(time, float)
    e = np.asarray(event).astype(bool)
    lp = np.asarray(linear_predictor, float)
    bt, bh = np.asarray(baseline_times, float), np.asarray(baseline_cumhaz, float)
    if not e.any():
        raise ValueError("evaluate: no events in the evaluation data; nothing to validate")
    rows, cals, dcs = [], [], []
    for h in horizons:
        row, cal, dc = _measures(t, e, lp, bt, bh, float(h), groups, thresholds)
        if cal is None:
            warnings.warn(
                f"evaluate: horizon {h} years has {row['events']} events or lies beyond the "
                f"last follow-up ({t.max():.2f} years); its measures are missing",
                stacklevel=3,
            )
        else:
            cals.append(cal)
            dcs.append(dc)
        rows.append(row)
    sub = None
    if subgroups is not None:
        sub = _subgroup_measures(t, e, lp, bt, bh, horizons, subgroups)
    return RiskEvaluation(
        metrics=pd.DataFrame(rows),
        c_index=metrics.harrell_c(t, e, lp),
        calibration=pd.concat(cals, ignore_index=True) if cals else pd.DataFrame(),
        decision_curve=pd.concat(dcs, ignore_index=True) if dcs else pd.DataFrame(),
        subgroups=sub,
        label=label,
    )


def _subgroup_measures(t, e, lp, bt, bh, horizons, subgroups: pd.DataFrame) -> pd.DataFrame:
    if len(subgroups) != len(t):
        raise ValueError("evaluate: subgroup columns must have one value per row")
    rows = []
    for col in subgroups.columns:
        values = subgroups[col].to_numpy()
        for level in sorted(pd.unique(values), key=str):
            m = values == level
            for h in horizons:
                where = f"subgroup {col}={level}"
                row, _, _ = _measures(t[m], e[m], lp[m], bt, bh, float(h), 2, [0.5], where)
                rows.append({"subgroup": col, "level": level, **row})
    return pd.DataFrame(rows)

"""Survival risk model of the first severe event: fit, predict, evaluate, summarise.

``fit_risk_model`` fits a penalised Cox model (lifelines) with optional restricted cubic
spline terms, or a gradient-boosted Cox model (scikit-survival) as the flexible
comparator. Death and other competing events are treated as censoring: the model is the
cause-specific hazard of the severe event, and its predicted "risk" is
``1 - S_cs(t)``, which overstates the cumulative incidence where competing mortality is
high (Fine-Gray subdistribution models are not available in lifelines).
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.risk.cox import SurvivalFit, cox_linear_predictor, fit_cox, ph_test
from analysis.risk.design import Design
from analysis.risk.display import Summary
from analysis.risk.evaluation import RiskEvaluation, baseline_at, evaluate_predictions
from analysis.risk.gbm import GBM_MAX_ROWS, fit_gbm, gbm_linear_predictor

MODELS = ("cox", "gbm")
MIN_EPV = 10
"""Events per design parameter below which a warning is issued (Peduzzi et al. 1995)."""
PH_ALPHA = 0.01
"""Terms with a proportional-hazards test p-value below this are listed as violations."""


class EPVWarning(UserWarning):
    """Too few events for the number of model parameters."""


@dataclass
class RiskModel:
    """A fitted survival risk model.

    Attributes
    ----------
    model : {"cox", "gbm"}
    features, spline_features : list of str
    duration, event : str
        Column names of follow-up (years) and the event indicator.
    design_ : Design
        Encoding learnt on the training data.
    fit_ : SurvivalFit
        Backend estimator and Breslow baseline cumulative hazard.
    params_ : pandas.DataFrame or None
        Cox coefficients per design column (per standard deviation).
    ph_test_ : pandas.DataFrame or None
        Proportional-hazards test per design column (Cox only).
    n_, n_events_, n_competing_ : int
    epv_ : float
        Events per design parameter.
    max_time_ : float
        Longest training follow-up; predictions beyond it are refused.
    fit_seconds_ : float
    evaluation_ : RiskEvaluation or None
        The latest result of :meth:`evaluate`.
    """

    model: str
    features: list[str]
    spline_features: list[str]
    duration: str
    event: str
    penalizer: float
    seed: int
    design_: Design
    fit_: SurvivalFit
    n_: int
    n_events_: int
    n_competing_: int
    epv_: float
    max_time_: float
    fit_seconds_: float
    params_: pd.DataFrame | None = None
    ph_test_: pd.DataFrame | None = None
    evaluation_: RiskEvaluation | None = field(default=None, repr=False)

    def linear_predictor(self, data: pd.DataFrame) -> np.ndarray:
        """Log relative hazard of each row of ``data`` (training scale)."""
        X = self.design_.transform(data)
        if self.model == "cox":
            return cox_linear_predictor(self.fit_, X)
        return gbm_linear_predictor(self.fit_, X)

    def predict_risk(self, data: pd.DataFrame, horizon_years: float) -> pd.Series:
        """Predicted probability of the severe event within ``horizon_years``.

        Raises
        ------
        ValueError
            If the horizon is not positive or lies beyond the training follow-up.
        """
        h = float(horizon_years)
        if not 0 < h <= self.max_time_:
            raise ValueError(
                f"horizon_years must be in (0, {self.max_time_:.2f}] (the training "
                f"follow-up), got {horizon_years}"
            )
        h0 = float(baseline_at([h], self.fit_.baseline_times, self.fit_.baseline_cumhaz)[0])
        risk = 1.0 - np.exp(-h0 * np.exp(self.linear_predictor(data)))
        return pd.Series(risk, index=data.index, name=f"risk_{h:g}y")

    def evaluate(
        self,
        data: pd.DataFrame,
        horizons=(3, 5),
        *,
        by: list[str] | None = None,
        groups: int = 10,
        thresholds=None,
        label: str = "",
    ) -> RiskEvaluation:
        """Validate on ``data`` (see :func:`~analysis.risk.evaluation.evaluate_predictions`).

        Parameters
        ----------
        data : pandas.DataFrame
            Rows with the features, ``duration`` and ``event`` columns.
        horizons : tuple of float, default (3, 5)
        by : list of str, optional
            Subgroup columns of ``data`` (e.g. ``["sex", "age_band"]``).
        groups : int, default 10
        thresholds : array-like, optional
        label : str

        Returns
        -------
        RiskEvaluation
            Also kept as ``evaluation_``.
        """
        t, e = _outcome(data, self.duration, self.event)
        sub = None
        if by:
            missing = [c for c in by if c not in data.columns]
            if missing:
                raise ValueError(f"evaluate: subgroup column(s) not in data: {', '.join(missing)}")
            sub = data[list(by)]
        self.evaluation_ = evaluate_predictions(
            t, e, self.linear_predictor(data), self.fit_.baseline_times,
            self.fit_.baseline_cumhaz, horizons=horizons, groups=groups,
            thresholds=thresholds, subgroups=sub, label=label,
        )  # fmt: skip
        return self.evaluation_

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table (Cox) or an empty frame (boosting has no coefficients)."""
        if self.params_ is None:
            return pd.DataFrame(columns=["coef", "se", "hazard_ratio", "ci_lower", "ci_upper", "p"])
        return self.params_.copy()

    def plot_calibration(self, ax=None, horizon: float | None = None, lang: str = "en"):
        """Calibration plot of the latest :meth:`evaluate`, labelled in ``lang``; returns the
        Axes."""
        if self.evaluation_ is None:
            raise ValueError("plot_calibration: call evaluate(data) first")
        return self.evaluation_.plot_calibration(ax=ax, horizon=horizon, lang=lang)

    def summary(self, decimals: int = 3) -> Summary:
        """Model facts, coefficients, PH tests and the latest validation."""
        facts = [
            ("model", self.model), ("n", self.n_), ("events", self.n_events_),
            ("competing events (censored)", self.n_competing_), ("events per parameter", self.epv_),
            ("penalizer", self.penalizer if self.model == "cox" else "n/a"),
            ("fit seconds", self.fit_seconds_),
        ]  # fmt: skip
        tables = []
        if self.params_ is not None:
            tables.append(("Coefficients (per SD of each design column)", self.params_))
        if self.ph_test_ is not None:
            tables.append(
                ("Proportional-hazards test (scaled Schoenfeld, rank time)", self.ph_test_)
            )
        notes = [
            "Death and other competing events are censored (cause-specific hazard).",
        ]
        if self.ph_violations:
            notes.append(f"PH test p < {PH_ALPHA}: {', '.join(self.ph_violations)}")
        if self.evaluation_ is not None:
            tables.append(("Latest validation", self.evaluation_.metrics.set_index("horizon")))
        return Summary(f"Risk model ({self.model})", facts, tables, notes, decimals)

    @property
    def ph_violations(self) -> list[str]:
        """Design columns whose proportional-hazards test has p < ``PH_ALPHA``."""
        if self.ph_test_ is None:
            return []
        return self.ph_test_.index[self.ph_test_["p"] < PH_ALPHA].tolist()

    def __repr__(self) -> str:
        return (
            f"<RiskModel model={self.model!r} features={len(self.features)} "
            f"n={self.n_:,} events={self.n_events_:,} epv={self.epv_:.1f}>"
        )


def _outcome(data: pd.DataFrame, duration: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    for col in (duration, event):
        if col not in data.columns:
            raise ValueError(f"column {col!r} not in data")
    t = pd.to_numeric(data[duration], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(t) | (t < 0)
    if bad.any():
        raise ValueError(
            f"duration column {duration!r} has {int(bad.sum())} missing or negative value(s)"
        )
    ev = data[event]
    if ev.isna().any():
        raise ValueError(f"event column {event!r} has {int(ev.isna().sum())} missing value(s)")
    if not ev.isin([0, 1, True, False]).all():
        raise ValueError(f"event column {event!r} must hold 0/1 or True/False")
    return t, ev.to_numpy().astype(bool)


def fit_risk_model(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    features: list[str],
    model: str = "cox",
    penalizer: float | None = None,
    l1_ratio: float = 0.0,
    spline_features: list[str] | None = None,
    n_knots: int = 4,
    competing_event: str | None = None,
    ph_check: bool = True,
    seed: int = 0,
    gbm_options: dict | None = None,
) -> RiskModel:
    """Fit a survival model of the time to the first severe event.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person: follow-up, event indicator and baseline features. Missing
        values in a used column are an error naming the column.
    duration : str
        Follow-up in years from the index date to the event or censoring.
    event : str
        1/True if the severe event ended follow-up, 0/False if censored (including death).
    features : list of str
        Predictors; strings and categories are one-hot encoded, booleans enter as 0/1.
    model : {"cox", "gbm"}, default "cox"
        Penalised Cox (lifelines ``CoxPHFitter``) or gradient-boosted Cox trees
        (scikit-survival ``GradientBoostingSurvivalAnalysis``).
    penalizer : float, optional
        lifelines penalty per row (the total penalty is ``n * penalizer * ...``) on
        standardised design columns. Default ``1 / n``: a total ridge penalty of
        ``||b||² / 2``, i.e. a standard-normal prior on each coefficient per standard
        deviation, which tames sparse data and vanishes against the likelihood as data
        grow. Cox only.
    l1_ratio : float, default 0.0
        Elastic-net mix (0 = ridge). Cox only.
    spline_features : list of str, optional
        Numeric features that also get restricted cubic spline terms (non-linear effects).
    n_knots : {3, 4, 5}, default 4
    competing_event : str, optional
        Column flagging a competing event (death). Such rows must be censored in ``event``;
        they are counted and reported. Fine-Gray is not fitted.
    ph_check : bool, default True
        Run the proportional-hazards test after a Cox fit.
    seed : int, default 0
        Seed of the boosting subsample stream.
    gbm_options : dict, optional
        Overrides of :data:`~analysis.risk.gbm.GBM_DEFAULTS`, plus ``max_rows`` (rows the
        trees are grown on, default :data:`~analysis.risk.gbm.GBM_MAX_ROWS`).

    Returns
    -------
    RiskModel

    Raises
    ------
    ValueError
        Missing or constant feature columns, missing values, bad durations or events, no
        events (all censored), an unknown ``model``, or a competing event marked as event.

    Warns
    -----
    EPVWarning
        When events per design parameter fall below :data:`MIN_EPV`.

    References
    ----------
    Cox DR. J R Stat Soc B 1972;34:187-220. Peduzzi P et al. J Clin Epidemiol
    1995;48:1503-1510. Collins GS et al. TRIPOD. BMJ 2015;350:g7594.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = np.random.default_rng(0)
    >>> x = g.normal(size=500)
    >>> df = pd.DataFrame({"x": x, "years": g.exponential(1 / np.exp(x)), "event": True})
    >>> m = fit_risk_model(df, duration="years", event="event", features=["x"])
    >>> 0.8 < float(m.params_.loc["x", "coef"]) < 1.2  # true log-HR 1 per unit (SD ~1)
    True
    >>> m.predict_risk(df.head(2), horizon_years=1).round(2).tolist()
    [0.71, 0.62]
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if penalizer is not None and (not isinstance(penalizer, (int, float)) or penalizer < 0):
        raise ValueError(f"penalizer must be a non-negative number, got {penalizer!r}")
    if penalizer is None:
        penalizer = 1.0 / max(len(data), 1)
    features = list(features)
    spline_features = list(spline_features or [])
    t, e = _outcome(data, duration, event)
    if not e.any():
        raise ValueError(f"event column {event!r} has no events (all {len(e)} rows censored)")
    n_competing = 0
    if competing_event is not None:
        _, comp = _outcome(data.assign(_d=t), "_d", competing_event)
        if (comp & e).any():
            raise ValueError(
                f"{int((comp & e).sum())} row(s) have both {event!r} and {competing_event!r}"
            )
        n_competing = int(comp.sum())
    design = Design(features, spline_features, n_knots).fit(data)
    X = design.transform(data)
    epv = e.sum() / X.shape[1]
    if epv < MIN_EPV:
        warnings.warn(
            f"events per variable (EPV) = {epv:.1f} < {MIN_EPV}: {int(e.sum())} events for "
            f"{X.shape[1]} design columns; expect overfitting (raise penalizer or drop features)",
            EPVWarning,
            stacklevel=2,
        )
    start = _time.perf_counter()
    if model == "cox":
        sfit = fit_cox(X, t, e, penalizer=float(penalizer), l1_ratio=l1_ratio)
    else:
        opts = dict(gbm_options or {})
        max_rows = int(opts.pop("max_rows", GBM_MAX_ROWS))
        sfit = fit_gbm(X, t, e, seed=seed, options=opts, max_rows=max_rows)
    seconds = _time.perf_counter() - start
    ph = ph_test(sfit, X, t, e) if (model == "cox" and ph_check) else None
    return RiskModel(
        model=model, features=features, spline_features=spline_features, duration=duration,
        event=event, penalizer=float(penalizer), seed=seed, design_=design, fit_=sfit,
        n_=len(t), n_events_=int(e.sum()), n_competing_=n_competing, epv_=float(epv),
        max_time_=float(t.max()), fit_seconds_=seconds, params_=sfit.params, ph_test_=ph,
    )  # fmt: skip

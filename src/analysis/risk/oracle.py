"""Temporal validation of the risk model on a synthetic city, against the true risk.

The synthetic generator writes ``truth_risk.parquet``: per person and fiscal year
enrolled, ``linear_predictor``, the true log *annual* hazard of a severe event in that
year (without program effects), and ``program_log_hr``, the planted program term. Two
oracles are reported:

- ``oracle_c_index``: Harrell's C of the true log hazard of the **index fiscal year**
  alone (the row of ``truth_risk.parquet`` with the cohort's ``fiscal_year``). The true
  hazard changes from year to year (people age, their checkup values drift), so this is
  the best ranking *from index-year information*, not an upper bound over follow-up.
- ``oracle_window_c_index`` (:func:`window_log_hazard`): Harrell's C of the log of the
  mean true annual hazard (``exp(linear_predictor + program_log_hr)``) over the index year
  and the following ``window_years`` years enrolled. It also uses the future path of the
  hazard and is the stricter benchmark; a mean rather than a sum, so that people who die
  or leave (fewer enrolled years) are not ranked lower for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.risk.metrics import calibration_slope, harrell_c
from analysis.risk.table import DEFAULT_FEATURES, DEFAULT_SPLINES, risk_table
from analysis.risk.validation import TemporalValidation, temporal_validation

TRUTH_FILE = "truth_risk.parquet"


@dataclass(frozen=True)
class OracleComparison:
    """The model's temporal validation next to the oracle's.

    Attributes
    ----------
    validation : TemporalValidation
    c_index : float
        Harrell's C of the model on the validation years (whole follow-up).
    oracle_c_index : float
        Harrell's C, on the same people, of the true log annual hazard of each person's
        index fiscal year (``truth_risk.parquet``'s ``linear_predictor``).
    calibration_slope : float
        Slope of the model's linear predictor refitted on the validation years.
    fit_seconds : float
        Time of the model fit itself (``RiskModel.fit_seconds_``).
    n_train, n_test, events_train, events_test : int
    oracle_window_c_index : float
        Harrell's C of :func:`window_log_hazard` (the follow-up-window oracle); NaN when
        not computed.
    long_horizon : dict
        The 3-year validation of :func:`long_horizon_validation` (empty when not run).
    """

    validation: TemporalValidation
    c_index: float
    oracle_c_index: float
    calibration_slope: float
    fit_seconds: float
    n_train: int
    n_test: int
    events_train: int
    events_test: int
    oracle_window_c_index: float = float("nan")
    long_horizon: dict = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain figures (for JSON); the 3-year validation's figures are prefixed ``h3_``."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("validation")
        d.pop("long_horizon")
        d["c_ratio"] = self.c_index / self.oracle_c_index
        d.update({f"h3_{k}": v for k, v in self.long_horizon.items()})
        return d


WINDOW_YEARS = 2
"""Years after the index year in the follow-up-window oracle (the validation follow-up of
the default bench is at most about 3 years)."""


def window_log_hazard(
    data: pd.DataFrame, truth: pd.DataFrame, window_years: int = WINDOW_YEARS
) -> pd.Series:
    """Log of the mean true annual hazard over the index year and ``window_years`` more.

    Parameters
    ----------
    data : pandas.DataFrame
        ``person_id`` and ``fiscal_year`` (the index year) per row.
    truth : pandas.DataFrame
        ``truth_risk.parquet``: ``person_id, fiscal_year, linear_predictor,
        program_log_hr``.
    window_years : int, default :data:`WINDOW_YEARS`

    Returns
    -------
    pandas.Series
        On the index of ``data``; NaN where the person has no truth row in the window.
    """
    keys = data[["person_id", "fiscal_year"]].reset_index(names="_row")
    t = truth[["person_id", "fiscal_year", "linear_predictor", "program_log_hr"]]
    rows = []
    for k in range(window_years + 1):
        shifted = keys.assign(fiscal_year=keys["fiscal_year"] + k)
        rows.append(shifted.merge(t, on=["person_id", "fiscal_year"], how="inner"))
    long = pd.concat(rows, ignore_index=True)
    hazard = np.exp(long["linear_predictor"] + long["program_log_hr"].fillna(0.0))
    mean = hazard.groupby(long["_row"]).mean()
    return (
        pd.Series(np.log(mean), name="window_log_hazard").reindex(keys["_row"]).set_axis(data.index)
    )


def long_horizon_validation(
    data: pd.DataFrame,
    *,
    train_years=(2020,),
    test_year: int = 2021,
    horizon: float = 3.0,
    features=None,
    spline_features=None,
    **fit_options,
) -> dict:
    """Fit on ``train_years``, validate on ``test_year`` at ``horizon`` years.

    The cohorts of recent years have less than 3 years of follow-up, so a 3-year
    validation needs an earlier validation year (and fewer training years). ``data`` is a
    :func:`cohort_tables` frame with ``linear_predictor`` (the index-year oracle).

    Returns
    -------
    dict
        ``horizon``, ``train_years``, ``test_year``, ``n_test``, ``events`` (by the
        horizon), ``harrell_c``, ``uno_c``, ``auc`` (time-dependent, cumulative/dynamic),
        ``calibration_slope``, ``brier`` and ``oracle_c_index`` (index-year oracle, follow-up
        truncated at the horizon). Measures are NaN when the validation year's follow-up
        does not reach ``horizon``.
    """
    part = data[data["fiscal_year"].isin([*train_years, test_year])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tv = temporal_validation(
            part, split_year=test_year, duration="time_years", event="event",
            features=list(features or DEFAULT_FEATURES),
            spline_features=list(DEFAULT_SPLINES if spline_features is None else spline_features),
            competing_event="death", horizons=(horizon,), **fit_options,
        )  # fmt: skip
    test = part[part["fiscal_year"] == test_year]
    m = tv.evaluation.metrics.iloc[0]
    t = np.minimum(test["time_years"].to_numpy(float), horizon)
    e = test["event"].to_numpy(bool) & (test["time_years"].to_numpy(float) <= horizon)
    return {
        "horizon": float(horizon),
        "train_years": [int(y) for y in train_years],
        "test_year": int(test_year),
        "n_test": int(len(test)),
        "events": int(m["events"]),
        **{k: float(m[k]) for k in ("harrell_c", "uno_c", "auc", "calibration_slope", "brier")},
        "oracle_c_index": harrell_c(t, e, test["linear_predictor"].to_numpy(float)),
    }


def cohort_tables(path: str | os.PathLike, years, *, index_month_day=(10, 1)) -> pd.DataFrame:
    """Risk-cohort modelling tables of several fiscal years, stacked.

    Each fiscal year's cohort (``analysis.cohort`` default ``risk`` spec) uses the index
    date ``index_month_day`` of that year for everyone; rows without a baseline checkup
    value in :data:`DEFAULT_FEATURES` are dropped.
    """
    from analysis.cohort import build_cohort, connect, default_specs

    con = connect(Path(path))
    frames = []
    for fy in years:
        month, day = index_month_day
        idx_year = fy if month >= 4 else fy + 1
        spec = dataclasses.replace(
            default_specs(fy)["risk"], nonoffered_index_date=dt.date(idx_year, month, day)
        )
        c = build_cohort(con, spec)
        frames.append(risk_table(c.baseline, c.outcomes).assign(fiscal_year=fy))
    out = pd.concat(frames, ignore_index=True)
    return out.dropna(subset=[f for f in DEFAULT_FEATURES if f in out.columns])


def oracle_comparison(
    path: str | os.PathLike,
    *,
    train_years=(2020, 2021),
    test_years=(2022, 2023),
    features=None,
    spline_features=None,
    horizons=(1, 2),
    long_horizon: float | None = None,
    **fit_options,
) -> OracleComparison:
    """Fit on the early years' risk cohorts of a synthetic dataset, validate on later ones.

    Parameters
    ----------
    path : path
        Synthetic dataset directory (with ``truth_risk.parquet``).
    train_years, test_years : tuple of int
        Index fiscal years of the training and validation cohorts.
    features, spline_features : list of str, optional
        Default :data:`~analysis.risk.table.DEFAULT_FEATURES` and ``DEFAULT_SPLINES``.
    horizons : tuple of float, default (1, 2)
        Horizons of the validation table (follow-up of the last years is short).
    long_horizon : float, optional
        Also validate at this horizon (e.g. 3 years) with :func:`long_horizon_validation`,
        fitting on all training years but the last and validating on the last (the only
        years whose follow-up reaches it); reported in ``long_horizon``.
    **fit_options
        Passed to :func:`~analysis.risk.model.fit_risk_model`.

    Returns
    -------
    OracleComparison
    """
    truth_path = Path(path) / TRUTH_FILE
    if not truth_path.exists():
        raise ValueError(f"{truth_path}: not found; the oracle needs a synthetic dataset")
    data = cohort_tables(path, sorted({*train_years, *test_years}))
    truth = pd.read_parquet(
        truth_path, columns=["person_id", "fiscal_year", "linear_predictor", "program_log_hr"]
    )
    data = data.merge(
        truth[["person_id", "fiscal_year", "linear_predictor"]],
        on=["person_id", "fiscal_year"], how="left", validate="many_to_one",
    )  # fmt: skip
    if data["linear_predictor"].isna().any():
        raise ValueError(
            f"{truth_path}: no true risk for {int(data.linear_predictor.isna().sum())} rows"
        )
    data = data[data.fiscal_year.isin([*train_years, *test_years])]
    split = min(test_years)
    if max(train_years) >= split:
        raise ValueError("oracle_comparison: every training year must precede the test years")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="evaluate: horizon")
        tv = temporal_validation(
            data, split_year=split, duration="time_years", event="event",
            features=list(features or DEFAULT_FEATURES),
            spline_features=list(DEFAULT_SPLINES if spline_features is None else spline_features),
            competing_event="death", horizons=horizons, **fit_options,
        )  # fmt: skip
    test = data[data.fiscal_year >= split]
    lp = tv.model.linear_predictor(test)
    window = window_log_hazard(test, truth)
    ok = window.notna().to_numpy()
    window_c = harrell_c(test.time_years[ok], test.event[ok], window[ok])
    extra = {}
    if long_horizon is not None:
        years = sorted(train_years)
        if len(years) < 2:
            raise ValueError("oracle_comparison: long_horizon needs at least two training years")
        extra = long_horizon_validation(
            data, train_years=tuple(years[:-1]), test_year=years[-1], horizon=long_horizon,
            features=features, spline_features=spline_features, **fit_options,
        )  # fmt: skip
    return OracleComparison(
        validation=tv,
        c_index=tv.evaluation.c_index,
        oracle_c_index=harrell_c(test.time_years, test.event, test.linear_predictor),
        calibration_slope=calibration_slope(test.time_years, test.event, lp),
        fit_seconds=tv.model.fit_seconds_,
        n_train=tv.model.n_,
        n_test=len(test),
        events_train=tv.model.n_events_,
        events_test=int(test.event.sum()),
        oracle_window_c_index=float(window_c),
        long_horizon=extra,
    )

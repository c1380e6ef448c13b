"""Temporal validation of the risk model on a synthetic city, against the true risk.

The synthetic generator writes ``truth_risk.parquet``: the true log hazard of a severe
event per person and fiscal year. Its C-index on the validation people is the best any
model could reach (the oracle); the fitted model is judged as a share of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

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
        Harrell's C of the true log hazard on the same people.
    calibration_slope : float
        Slope of the model's linear predictor refitted on the validation years.
    fit_seconds : float
        Time of the model fit itself (``RiskModel.fit_seconds_``).
    n_train, n_test, events_train, events_test : int
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

    def as_dict(self) -> dict:
        """Plain figures (for JSON)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("validation")
        d["c_ratio"] = self.c_index / self.oracle_c_index
        return d


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
    truth = pd.read_parquet(truth_path, columns=["person_id", "fiscal_year", "linear_predictor"])
    data = data.merge(truth, on=["person_id", "fiscal_year"], how="left", validate="many_to_one")
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
    )

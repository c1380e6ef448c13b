"""The person-level modelling table of the risk model, from a ``risk`` cohort.

One row per person: baseline features (checkup values, medications, comorbidities and
prior costs) and the time to the first severe event (dialysis start, stroke, myocardial
infarction, heart-failure admission), with death as the competing event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEVERE_EVENTS = ("dialysis", "stroke", "mi", "heart_failure")
"""Outcome components (``<name>_event`` / ``<name>_days`` columns of the cohort outcomes)."""
DAYS_PER_YEAR = 365.25

DEFAULT_FEATURES = [
    "age_years", "sex", "smoker", "bmi", "sbp", "bp_med", "hba1c", "glucose_med", "ldl",
    "lipid_med", "hdl", "tg", "egfr", "urine_protein", "exercise_habit", "cm_diabetes",
    "cm_hypertension", "cm_ckd", "cm_cardiovascular", "log_cost_total_prior",
]  # fmt: skip
"""Baseline predictors of the default model."""
DEFAULT_SPLINES = ["age_years", "hba1c", "sbp", "egfr"]
"""Predictors with restricted cubic spline terms in the default model."""


def risk_table(
    baseline: pd.DataFrame, outcomes: pd.DataFrame, *, events=SEVERE_EVENTS
) -> pd.DataFrame:
    """Join a cohort's baseline and outcomes into the modelling table.

    Parameters
    ----------
    baseline, outcomes : pandas.DataFrame
        The ``baseline`` and ``outcomes`` tables of an ``analysis.cohort`` risk cohort
        (one row per ``person_id``).
    events : tuple of str
        Severe-event components; the first of them ends follow-up.

    Returns
    -------
    pandas.DataFrame
        ``baseline`` plus ``time_years`` (to the first severe event or censoring),
        ``event`` (bool), ``death`` (death before any severe event: the competing event,
        censored in ``event``), ``fiscal_year`` (of the index date) and
        ``log_cost_total_prior`` (``log1p`` of prior 12-month cost). People without a
        baseline checkup (missing checkup values) are kept; drop them before fitting.

    Raises
    ------
    ValueError
        If columns are missing or the person ids do not match one to one.
    """
    need = [f"{e}_{k}" for e in (*events, "death") for k in ("event", "days")]
    missing = [c for c in ["person_id", *need] if c not in outcomes.columns]
    if missing:
        raise ValueError(f"risk_table: outcomes lacks column(s) {', '.join(missing)}")
    for name, df in (("baseline", baseline), ("outcomes", outcomes)):
        if "person_id" not in df.columns or df["person_id"].duplicated().any():
            raise ValueError(f"risk_table: {name} needs unique person_id values")
    o = outcomes.set_index("person_id")
    days = np.column_stack(
        [np.where(o[f"{e}_event"].to_numpy(bool), o[f"{e}_days"], np.inf) for e in events]
    )
    first = days.min(axis=1)
    event = np.isfinite(first)
    death = o["death_event"].to_numpy(bool) & ~event
    # death_days is the day of death, or of the end of follow-up when there is none
    time = np.where(event, first, o["death_days"].to_numpy(float)) / DAYS_PER_YEAR
    out_cols = pd.DataFrame(
        {"time_years": time, "event": event, "death": death}, index=o.index
    ).reset_index()
    if len(out_cols) != len(baseline) or set(out_cols.person_id) != set(baseline.person_id):
        raise ValueError("risk_table: baseline and outcomes hold different people")
    merged = baseline.merge(out_cols, on="person_id", how="left", validate="one_to_one")
    if "index_date" in merged.columns:
        idx = pd.to_datetime(merged["index_date"])
        merged["fiscal_year"] = (idx.dt.year - (idx.dt.month < 4)).astype("int64")
    if "cost_total_prior" in merged.columns:
        merged["log_cost_total_prior"] = np.log1p(merged["cost_total_prior"].astype(float))
    return merged

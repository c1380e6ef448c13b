"""The ``outcomes`` table: one row per person, everything observed from the index date on.

- next fiscal year's checkup values and questionnaire answers (``next_*``);
- costs in the first 12 and 24 months from the index month, by setting, with the
  number of observed months in each window;
- time to each severe event and to death, with the censoring date and reason;
- mean daily steps during the program where a wearable recorded them.

Claims carry a month, not a day: a claim-based event is dated to the middle (15th) of its
service month, clipped to the index date and the censoring date.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from analysis.cohort.baseline import CHECKUP_VALUES, as_datetime
from analysis.cohort.codes import EVENTS, INPATIENT_EVENTS
from analysis.cohort.engine import source
from analysis.cohort.expr import FAR_FUTURE, left_join_all, month_date, month_ord
from analysis.cohort.panel import COST_COLUMNS, KEYS

CLAIM_EVENTS = tuple(e for e in EVENTS if e != "death")


def next_checkup(con, cohort):
    """The checkup of the fiscal year after the cohort's (``_fy + 1``; ``next_`` prefixed)."""
    ck = source(con, "checkups").join(cohort.select("person_id", *KEYS, "_fy"), "person_id")
    ck = ck.filter(ck.fiscal_year == ck._fy + 1)
    return ck.select(
        *KEYS,
        next_checkup_date=ck.exam_date,
        **{f"next_{c}": ck[c] for c in CHECKUP_VALUES},
    )


def post_costs(panel, windows_months):
    """Costs summed over months ``[0, w)`` for each ``w`` in ``windows_months``."""
    aggs = {}
    for w in windows_months:
        inside = panel.rel_month.between(0, w - 1)
        for c in COST_COLUMNS:
            aggs[f"{c}_{w}m"] = panel[c].sum(where=inside)
        aggs[observed_months_column(w)] = panel.observed.cast("int64").sum(where=inside)
    return panel.group_by(list(KEYS)).aggregate(**aggs)


def observed_months_column(w: int) -> str:
    """Name of the column counting the observed months of the ``w``-month window."""
    return f"observed_months_{w}m"


def window_columns(w: int) -> list[str]:
    """The ``outcomes`` columns of the ``w``-month cost window, in table order."""
    return [*(f"{c}_{w}m" for c in COST_COLUMNS), observed_months_column(w)]


def event_months(events, cohort):
    """First service month at or after the index month of each claim-based severe event.

    ``events`` is ``claims.event_flags``.
    """
    idx = cohort.select("person_id", *KEYS, index_mo=month_ord(cohort.index_date))
    pm = events.join(idx, "person_id")
    pm = pm.filter(pm.mo >= pm.index_mo)
    aggs = {"dialysis_mo": pm.mo.min(where=pm.dialysis == 1)}
    for e in INPATIENT_EVENTS:
        aggs[f"{e}_mo"] = pm.mo.min(where=pm[f"ev_{e}"] == 1)
    ev = pm.group_by(list(KEYS)).aggregate(**aggs)
    return ev.select(*KEYS, **{f"{e}_month": month_date(ev[f"{e}_mo"]) for e in CLAIM_EVENTS})


def program_steps(con, cohort):
    """Mean steps per day over the weeks starting within the program dates."""
    act = source(con, "activity")
    prog = cohort.filter(cohort.program_start.notnull())
    prog = prog.select("person_id", *KEYS, "program_start", "program_end")
    a = act.join(prog, "person_id")
    a = a.filter(a.week_start.between(a.program_start, a.program_end))
    return a.group_by(list(KEYS)).aggregate(
        steps_mean=a.steps_per_day.cast("float64").mean(), steps_weeks=a.count()
    )


def outcomes_expr(con, cohort, panel, events, windows_months):
    """The outcomes table of a stack of cohorts (``build._select``) as an Ibis
    expression (before the pandas finishing steps); ``_cohort`` tells the cohorts apart.

    ``events`` is ``claims.event_flags`` of (at least) the cohorts; ``windows_months`` the
    cost windows of every cohort (each cohort keeps its own afterwards).
    """
    far = ibis.date(FAR_FUTURE.year, FAR_FUTURE.month, FAR_FUTURE.day)
    t = cohort.select(
        *KEYS, "person_id", "_cohort", "index_date", "treated", "death_date",
        enrollment_end=cohort.island_end.nullif(far),
    )  # fmt: skip
    rights = (
        next_checkup(con, cohort),
        post_costs(panel, windows_months),
        event_months(events, cohort),
        program_steps(con, cohort),
    )
    return left_join_all(t, rights, keys=KEYS).drop(*KEYS)


def finish_outcomes(df: pd.DataFrame, last_month: dt.date) -> pd.DataFrame:
    """Pandas finishing: censoring dates, event indicators, dates and durations in days.

    Parameters
    ----------
    df : pandas.DataFrame
        The executed ``outcomes_expr``.
    last_month : datetime.date
        The data's last claim month; follow-up ends at its last day at the latest.
    """
    out = df.copy()
    data_end = pd.Timestamp(last_month) + pd.offsets.MonthEnd(0)
    index = as_datetime(out["index_date"])
    death = as_datetime(out["death_date"])
    enr_end = as_datetime(out["enrollment_end"])
    obs_end = enr_end.fillna(data_end).clip(upper=data_end)
    censor = pd.concat([obs_end, death], axis=1).min(axis=1)
    reason = pd.Series("data_end", index=out.index, dtype="string")
    reason[enr_end.notna() & (enr_end <= data_end)] = "enrollment_end"
    reason[death.notna() & (death <= obs_end)] = "death"
    out["followup_end"] = censor
    out["followup_end_reason"] = reason
    for e in CLAIM_EVENTS:
        month = as_datetime(out.pop(f"{e}_month"))
        event = month.notna() & (month <= censor)
        mid = (month + pd.Timedelta(days=14)).clip(lower=index)
        when = mid.where(mid <= censor, censor).where(event)
        out[f"{e}_event"] = event
        out[f"{e}_date"] = when
        out[f"{e}_days"] = (when.where(event, censor) - index).dt.days.astype("int64")
    d_event = death.notna() & (death <= obs_end)
    out["death_event"] = d_event
    out["death_date"] = death.where(d_event)
    out["death_days"] = (death.where(d_event, obs_end) - index).dt.days.astype("int64")
    out["treated"] = out["treated"].astype(bool)
    out["steps_weeks"] = out["steps_weeks"].astype("Int64")
    out = out.drop(columns=["enrollment_end"])
    event_cols = [f"{e}_{k}" for e in EVENTS for k in ("event", "date", "days")]
    rest = [c for c in out.columns if c not in event_cols]
    return out[rest + event_cols]

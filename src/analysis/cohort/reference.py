"""The same cohort written plainly in pandas: the benchmark baseline and a test oracle.

Every table is read whole into memory and the rules of ``analysis.cohort`` are applied
with ordinary pandas merges and group-bys. The result has the same columns, rows and
values as ``build_cohort`` (the tests compare them); only the engine differs.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.cohort.attrition import Attrition
from analysis.cohort.baseline import CHECKUP_VALUES, PERSON_COLUMNS, finish_baseline
from analysis.cohort.build import Cohort, _first_step
from analysis.cohort.claims import COST_COLUMNS
from analysis.cohort.codes import (
    COMORBIDITIES,
    DIALYSIS_ICD10,
    DIALYSIS_LABEL,
    DIALYSIS_PROCEDURE_CODES,
    INPATIENT_EVENTS,
)
from analysis.cohort.criteria import criteria
from analysis.cohort.outcomes import finish_outcomes
from analysis.cohort.panel import PANEL_COLUMNS
from analysis.cohort.spec import CohortSpec
from analysis.data import load_dataset
from analysis.data.contract import PROGRAMS, SETTINGS, TABLES
from analysis.errors import UserError

_DATE_COLS = {t: [c.name for c in TABLES[t].columns if c.kind == "date"] for t in TABLES}


def read_tables(dataset_path) -> dict[str, pd.DataFrame]:
    """Every table of the dataset as pandas (dates as ``datetime64[ns]``); absent ones empty."""
    ds = load_dataset(dataset_path)
    out = {}
    for name in TABLES:
        if name in ds.tables:
            df = pd.read_parquet(ds.path / f"{name}.parquet")
        else:
            df = pd.DataFrame(columns=TABLES[name].column_names)
        for c in _DATE_COLS[name]:
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
        out[name] = df
    return out


def _mo(s: pd.Series) -> pd.Series:
    return (s.dt.year * 12 + s.dt.month - 1).astype("Int64")


def _matches(codes: pd.Series, prefixes) -> pd.Series:
    return codes.str.startswith(tuple(prefixes))


def _first(df: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    return df.sort_values(["person_id", *by], ascending=[True, *ascending]).drop_duplicates(
        "person_id"
    )


def _nonoffered_date(tabs, spec: CohortSpec) -> dt.date:
    if spec.nonoffered_index_date is not None:
        return spec.nonoffered_index_date
    dates = tabs["program_offers"].loc[
        tabs["program_offers"].fiscal_year == spec.fiscal_year, "offer_date"
    ]
    if dates.empty:
        raise UserError(
            f"cohort spec {spec.spec_id!r}: no program offers; set nonoffered_index_date"
        )
    s = dates.sort_values().reset_index(drop=True)
    return s.iloc[(len(s) + 1) // 2 - 1].date()


def _index(tabs, spec: CohortSpec, default: dt.date) -> pd.DataFrame:
    fy = spec.fiscal_year
    offers = tabs["program_offers"]
    offers = offers[offers.fiscal_year == fy]
    if spec.comparator == "offered":
        base = offers.loc[offers.program == spec.target, ["person_id"]].drop_duplicates()
    else:
        base = tabs["enrollment"][["person_id"]].drop_duplicates()
    o = _first(offers, ["offer_date", "program"], [True, True]).rename(
        columns={"program": "offer_program"}
    )[["person_id", "offer_program", "risk_tier", "risk_score", "offer_date", "letter_variant"]]
    pe = tabs["program_enrollments"]
    pe = pe[pe.fiscal_year == fy]
    if spec.target is not None:
        pe = pe[pe.program == spec.target]
    pe = _first(pe, ["start_date", "program"], [True, True]).rename(
        columns={"start_date": "program_start", "end_date": "program_end"}
    )[["person_id", "program", "program_start", "program_end", "completed", "sessions"]]
    t = base.merge(o, on="person_id", how="left").merge(pe, on="person_id", how="left")
    t["index_date"] = t.program_start.fillna(t.offer_date).fillna(pd.Timestamp(default))
    t["index_source"] = np.select(
        [t.program_start.notna(), t.offer_date.notna()], ["program_start", "offer"], "calendar"
    )
    t["offered"] = t.offer_date.notna()
    t["treated"] = t.program_start.notna()
    return t


def _islands(enr: pd.DataFrame) -> pd.DataFrame:
    far = pd.Timestamp("2262-04-11")
    e = enr[["person_id", "enroll_start", "enroll_end"]].copy()
    e["end"] = e.enroll_end.fillna(far)
    e = e.sort_values(["person_id", "enroll_start", "end"])
    e["reach"] = e.groupby("person_id")["end"].cummax()
    prev = e.groupby("person_id")["reach"].shift()
    e["island"] = (prev.isna() | (e.enroll_start > prev + pd.Timedelta(days=1))).cumsum()
    isl = e.groupby(["person_id", "island"]).agg(
        island_start=("enroll_start", "min"), island_end=("end", "max")
    )
    isl = isl.reset_index()
    isl["island_open"] = isl.island_end == far
    return isl


def _dialysis(tabs) -> pd.DataFrame:
    d, p = tabs["claim_diagnoses"], tabs["claim_procedures"]
    ids = set(d.loc[_matches(d.icd10, DIALYSIS_ICD10), "claim_id"])
    ids |= set(p.loc[p.code.isin(DIALYSIS_PROCEDURE_CODES) | (p.label.str.lower() == DIALYSIS_LABEL),
                     "claim_id"])  # fmt: skip
    c = tabs["claims"]
    return c.loc[c.claim_id.isin(ids), ["person_id", "service_month"]].drop_duplicates()


def _annotate(tabs, t: pd.DataFrame, spec: CohortSpec) -> pd.DataFrame:
    idx = t[["person_id", "index_date"]]
    ck_hi = t[["index_date"]].assign(o=t.offer_date.fillna(t.index_date)).min(axis=1)
    enr = tabs["enrollment"][tabs["enrollment"].person_id.isin(idx.person_id)]
    sp = enr.merge(idx, on="person_id")
    end = sp.enroll_end.fillna(pd.Timestamp.max)
    sp["_covers"] = ~((sp.enroll_start <= sp.index_date) & (end >= sp.index_date))
    sp["_started"] = ~(sp.enroll_start <= sp.index_date)
    demo = _first(sp, ["_covers", "_started", "enroll_start"], [True, True, False])
    demo = demo[["person_id", "sex", "birth_date", "household_id"]]
    deaths = enr.groupby("person_id", as_index=False)["death_date"].max()
    isl = _islands(enr).merge(idx, on="person_id")
    isl = isl[(isl.island_start <= isl.index_date) & (isl.island_end >= isl.index_date)]
    isl = isl[["person_id", "island_start", "island_end", "island_open"]]
    ck = tabs["checkups"].merge(idx.assign(ck_hi=ck_hi.to_numpy()), on="person_id")
    lo = ck.ck_hi - pd.Timedelta(days=spec.baseline_checkup_days)
    ck = ck[(ck.exam_date < ck.ck_hi) & (ck.exam_date >= lo)]
    ck = _first(ck, ["exam_date", "fiscal_year"], [False, False])
    ck = ck[["person_id", "exam_date"]].rename(columns={"exam_date": "baseline_exam_date"})
    dia = _dialysis(tabs).merge(idx, on="person_id")
    dia_ids = set(dia.loc[_mo(dia.service_month) < _mo(dia.index_date), "person_id"])
    pe = tabs["program_enrollments"]
    prior_ids = set(pe.loc[pe.fiscal_year < spec.fiscal_year, "person_id"])
    out = t.merge(demo, on="person_id", how="left").merge(deaths, on="person_id", how="left")
    out = out.merge(isl, on="person_id", how="left").merge(ck, on="person_id", how="left")
    out["dialysis_before_index"] = out.person_id.isin(dia_ids)
    out["prior_participation"] = out.person_id.isin(prior_ids)
    b, i = out.birth_date, out.index_date
    before = (i.dt.month * 100 + i.dt.day) < (b.dt.month * 100 + b.dt.day)
    out["age_years"] = i.dt.year - b.dt.year - before.astype("Int64")
    return out


def _keep(t: pd.DataFrame, name: str, spec: CohortSpec) -> pd.Series:
    s = spec
    if name == "in_offered_tiers":
        return t.risk_tier.isin(list(s.offered_tiers or ()))
    if name == "alive_at_index":
        return t.death_date.isna() | (t.death_date >= t.index_date)
    if name == "enrolled_at_index":
        return t.island_start.notna()
    if name == "age_in_range":
        return t.age_years.between(s.age_min_years, s.age_max_years).fillna(False).astype(bool)
    if name == "continuous_enrollment_before":
        return t.island_start <= t.index_date - pd.Timedelta(days=s.washout_days)
    if name == "continuous_enrollment_after":
        return t.island_end >= t.index_date + pd.Timedelta(days=s.min_followup_days)
    if name == "has_baseline_checkup":
        return t.baseline_exam_date.notna()
    if name == "no_dialysis_before_index":
        return ~t.dialysis_before_index
    if name == "no_prior_participation":
        return ~t.prior_participation
    raise ValueError(f"unknown criterion {name!r}")


def _panel(tabs, coh: pd.DataFrame, first: dt.date, last: dt.date, months: range) -> pd.DataFrame:
    rel = np.arange(months.start, months.stop)
    g = pd.DataFrame({
        "person_id": np.repeat(coh.person_id.to_numpy(), len(rel)),
        "index_mo": np.repeat(_mo(coh.index_date).to_numpy(), len(rel)),
        "death_mo": np.repeat(_mo(coh.death_date).to_numpy(), len(rel)),
        "rel_month": np.tile(rel, len(coh)),
    })  # fmt: skip
    g["mo"] = g.index_mo + g.rel_month
    c = tabs["claims"][tabs["claims"].person_id.isin(coh.person_id)].copy()
    c["mo"] = _mo(c.service_month)
    for s in SETTINGS:
        c[f"cost_{s}"] = c.cost_yen.where(c.setting == s, 0)
    c["inpatient_days"] = c.days.where(c.setting == "inpatient", 0)
    c["outpatient_days"] = c.days.where(c.setting == "outpatient", 0)
    c["inpatient_claims"] = (c.setting == "inpatient").astype("int64")
    c = c.rename(columns={"cost_yen": "cost_total"})
    cols = [*COST_COLUMNS, "inpatient_days", "outpatient_days", "inpatient_claims"]
    agg = c.groupby(["person_id", "mo"], as_index=False)[cols].sum()
    enr = tabs["enrollment"][tabs["enrollment"].person_id.isin(coh.person_id)]
    spells = pd.DataFrame({"person_id": enr.person_id, "s_mo": _mo(enr.enroll_start),
                           "e_mo": _mo(enr.enroll_end).fillna(10**9)})  # fmt: skip
    cov = g[["person_id", "mo"]].merge(spells, on="person_id")
    cov = cov[(cov.s_mo <= cov.mo) & (cov.e_mo >= cov.mo)][["person_id", "mo"]].drop_duplicates()
    cov["_enrolled"] = True
    g = g.merge(cov, on=["person_id", "mo"], how="left").merge(
        agg, on=["person_id", "mo"], how="left"
    )
    in_data = g.mo.between(first.year * 12 + first.month - 1, last.year * 12 + last.month - 1)
    alive = g.death_mo.isna() | (g.mo <= g.death_mo)
    g["observed"] = (g._enrolled.notna() & in_data & alive).astype(bool)
    fill = g.observed | g.cost_total.notna()
    for col in cols:
        g[col] = g[col].astype("Int64").where(~fill, g[col].fillna(0).astype("Int64"))
    g["month"] = pd.to_datetime({"year": g.mo // 12, "month": g.mo % 12 + 1, "day": 1}).astype(
        "datetime64[ns]"
    )
    return g


def _baseline(tabs, coh: pd.DataFrame, panel: pd.DataFrame, spec: CohortSpec) -> pd.DataFrame:
    ck = tabs["checkups"].merge(coh[["person_id", "baseline_exam_date"]], on="person_id")
    ck = ck[ck.exam_date == ck.baseline_exam_date]
    ck = ck.rename(columns={"exam_date": "checkup_date", "fiscal_year": "checkup_fiscal_year"})
    ck = ck[["person_id", "checkup_date", "checkup_fiscal_year", *CHECKUP_VALUES]]
    idx = coh[["person_id", "index_date"]].assign(index_mo=_mo(coh.index_date))
    cl = tabs["claims"].merge(idx, on="person_id")
    cl = cl[(_mo(cl.service_month) - cl.index_mo).between(-spec.lookback_months, -1)]
    d = cl[["claim_id", "person_id"]].merge(tabs["claim_diagnoses"], on="claim_id")
    cm = pd.DataFrame({"person_id": d.person_id})
    for k, v in COMORBIDITIES.items():
        cm[f"cm_{k}"] = _matches(d.icd10, v).astype("int64")
    cm = cm.groupby("person_id", as_index=False).max()
    p = panel.sort_values(["person_id", "rel_month"])
    has = p.inpatient_claims.fillna(0) > 0
    prev = has.groupby(p.person_id).shift().fillna(False).astype(bool)
    p = p.assign(_adm=(has & ~prev).astype("int64"))
    p = p[p.rel_month < 0]
    use = (
        p.groupby("person_id")
        .agg(
            **{f"{c}_prior": (c, "sum") for c in COST_COLUMNS},
            inpatient_days_prior=("inpatient_days", "sum"),
            outpatient_days_prior=("outpatient_days", "sum"),
            admissions_prior=("_adm", "sum"),
            observed_months_prior=("observed", "sum"),
        )
        .reset_index()
    )
    pe = tabs["program_enrollments"]
    pe = pe[pe.fiscal_year < spec.fiscal_year]
    prior = pd.DataFrame({"person_id": pe.person_id})
    for prog in PROGRAMS:
        prior[f"prior_{prog}"] = (pe.program == prog).astype("int64").to_numpy()
    prior = prior.groupby("person_id", as_index=False).max()
    t = coh[[*PERSON_COLUMNS, "birth_date"]]
    for right in (ck, cm, use, prior):
        t = t.merge(right, on="person_id", how="left")
    return t


def _outcomes(tabs, coh: pd.DataFrame, panel: pd.DataFrame, spec: CohortSpec) -> pd.DataFrame:
    t = coh[["person_id", "index_date", "treated", "death_date"]].copy()
    t["enrollment_end"] = coh.island_end.where(~coh.island_open.astype(bool))
    ck = tabs["checkups"]
    ck = ck[(ck.fiscal_year == spec.fiscal_year + 1) & ck.person_id.isin(coh.person_id)]
    nxt = ck[["person_id", "exam_date", *CHECKUP_VALUES]].rename(
        columns={"exam_date": "next_checkup_date", **{c: f"next_{c}" for c in CHECKUP_VALUES}}
    )
    costs = pd.DataFrame({"person_id": coh.person_id})
    for w in spec.cost_windows_months:
        p = panel[panel.rel_month.between(0, w - 1)]
        agg = p.groupby("person_id").agg(
            **{f"{c}_{w}m": (c, "sum") for c in COST_COLUMNS},
            **{f"observed_months_{w}m": ("observed", "sum")},
        )
        costs = costs.merge(agg.reset_index(), on="person_id", how="left")
    idx = coh[["person_id", "index_date"]]
    cl = tabs["claims"].merge(idx, on="person_id")
    cl = cl[(_mo(cl.service_month) >= _mo(cl.index_date)) & (cl.setting == "inpatient")]
    d = cl[["claim_id", "person_id", "service_month"]].merge(tabs["claim_diagnoses"], on="claim_id")
    ev = pd.DataFrame({"person_id": coh.person_id})
    dia = _dialysis(tabs).merge(idx, on="person_id")
    dia = dia[_mo(dia.service_month) >= _mo(dia.index_date)]
    ev = ev.merge(dia.groupby("person_id", as_index=False)["service_month"].min()
                  .rename(columns={"service_month": "dialysis_month"}), on="person_id", how="left")  # fmt: skip
    for e, codes in INPATIENT_EVENTS.items():
        m = d[_matches(d.icd10, codes)].groupby("person_id", as_index=False)["service_month"].min()
        ev = ev.merge(m.rename(columns={"service_month": f"{e}_month"}), on="person_id", how="left")
    act = tabs["activity"].merge(coh[["person_id", "program_start", "program_end"]].dropna(
        subset=["program_start"]), on="person_id")  # fmt: skip
    act = act[(act.week_start >= act.program_start) & (act.week_start <= act.program_end)]
    steps = act.groupby("person_id").agg(
        steps_mean=("steps_per_day", "mean"), steps_weeks=("steps_per_day", "size")
    )
    for right in (nxt, costs, ev, steps.reset_index()):
        t = t.merge(right, on="person_id", how="left")
    return t


def build_cohort_pandas(tabs: dict[str, pd.DataFrame], spec: CohortSpec) -> Cohort:
    """Build one cohort from in-memory tables (``read_tables``) with plain pandas."""
    cl = tabs["claims"].service_month
    first, last = cl.min().date(), cl.max().date()
    spec.check_data_window(first, last)
    default = _nonoffered_date(tabs, spec)
    t = _annotate(tabs, _index(tabs, spec, default), spec)
    attrition = _first_step(spec).add_to(Attrition(spec.spec_id), len(t))
    for c in criteria(spec):
        t = t[_keep(t, c.name, spec).to_numpy(dtype=bool)]
        attrition = attrition.add(c.name, c.ja, c.en, len(t))
    coh = t.reset_index(drop=True)
    months = range(-spec.lookback_months, spec.followup_months)
    panel = _panel(tabs, coh, first, last, months)
    base = _baseline(tabs, coh, panel, spec).sort_values("person_id").reset_index(drop=True)
    outc = _outcomes(tabs, coh, panel, spec).sort_values("person_id").reset_index(drop=True)
    pan = panel.sort_values(["person_id", "rel_month"]).reset_index(drop=True)
    return Cohort(
        spec=spec,
        baseline=finish_baseline(base),
        outcomes=finish_outcomes(outc, last),
        panel_monthly=pan[list(PANEL_COLUMNS)],
        attrition=attrition,
        engine="pandas",
        nonoffered_index_date=default,
    )

"""Known answers on the FY2023 micro-city (tests/cohort/conftest.py: fiscal_2023_micro).

Every person there is built to probe one rule; the expected values below follow from the
rows written for that person and the rules in the module docstrings.
"""

import datetime as dt
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.cohort import build_cohort, build_cohorts, connect, default_specs, load_spec
from analysis.data.contract import REQUIRED_TABLES
from analysis.errors import UserError, ValidationFailed

D = pd.Timestamp
FINAL_VITALITY = ["A", "B", "C", "E2", "F2", "G2", "L2", "M"]


@pytest.fixture(scope="module")
def con(micro_path):
    return connect(micro_path, validate=False)


@pytest.fixture(scope="module")
def vitality(con):
    return build_cohort(con, default_specs(2023)["vitality"])


@pytest.fixture(scope="module")
def risk(con):
    return build_cohort(con, default_specs(2023)["risk"])


def _rows(cohort):
    return cohort.attrition.to_frame()[["name", "remaining", "excluded"]].values.tolist()


def _by_person(df):
    return df.set_index("person_id")


def test_vitality_attrition(vitality):
    assert _rows(vitality) == [
        ["offered", 15, 0],
        ["in_offered_tiers", 14, 1],  # H: tier high
        ["alive_at_index", 13, 1],  # D: died 2023-06-15
        ["enrolled_at_index", 12, 1],  # I: left NHI 2023-05-31
        ["age_in_range", 11, 1],  # F: 75 on the index date
        ["continuous_enrollment_before", 10, 1],  # G: one-day gap on 2023-01-01
        ["has_baseline_checkup", 9, 1],  # L: checkups 366 days before the offer and after it
        ["no_dialysis_before_index", 8, 1],  # E: dialysis the month before
    ]
    assert list(vitality.baseline["person_id"]) == FINAL_VITALITY
    assert vitality.n == vitality.attrition.final == 8


def test_risk_attrition_and_variants(con, risk):
    assert _rows(risk) == [
        ["enrollees", 18, 0],
        ["alive_at_index", 17, 1],  # D
        ["enrolled_at_index", 16, 1],  # I
        ["age_in_range", 14, 2],  # Z (30) and F (75)
        ["continuous_enrollment_before", 13, 1],  # G
        ["has_baseline_checkup", 12, 1],  # L
        ["no_dialysis_before_index", 11, 1],  # E
    ]
    spec = default_specs(2023)["risk"]
    no_prior = build_cohort(con, spec.replace(exclude_prior_participants=True))
    assert _rows(no_prior)[-1] == ["no_prior_participation", 10, 1]  # J: Mystar in FY2022
    followed = build_cohort(con, spec.replace(min_followup_days=365))
    assert _rows(followed)[5] == ["continuous_enrollment_after", 12, 1]  # B died 2024-02-10
    assert "B" not in set(followed.baseline["person_id"])


def test_index_dates_and_treatment(vitality, risk):
    b = _by_person(vitality.baseline)
    assert b.loc["A", "index_date"] == D("2023-08-01")  # program start
    assert b.loc["A", "index_source"] == "program_start" and b.loc["A", "treated"]
    assert b.loc["B", "index_date"] == D("2023-07-01") and b.loc["B", "index_source"] == "offer"
    # L2 starts on the last day of FY2023; M takes part only in FY2024 -> not treated
    assert b.loc["L2", "index_date"] == D("2024-03-31") and b.loc["L2", "treated"]
    assert b.loc["M", "index_date"] == D("2023-07-01") and not b.loc["M", "treated"]
    assert b["treated"].sum() == 2
    r = _by_person(risk.baseline)
    assert r.loc["K", "index_source"] == "calendar" and not r.loc["K", "offered"]
    assert r.loc["K", "index_date"] == D("2023-07-01")  # median FY2023 offer date
    assert risk.nonoffered_index_date == dt.date(2023, 7, 1)
    assert r.loc["J", "offer_program"] == "mystar" and r.loc["J", "prior_mystar"]
    assert r.loc["J", "prior_participation"] and not r.loc["J", "prior_vitality"]


def test_baseline_checkup_window(vitality):
    b = _by_person(vitality.baseline)
    # the checkup on the index day does not count; one exactly 365 days before does
    assert b.loc["B", "checkup_date"] == D("2022-07-01")
    assert b.loc["C", "checkup_date"] == D("2023-06-30")  # the day before index
    # L2 starts in March 2024: its baseline is read as of the offer (1 July 2023): the
    # checkup exactly 365 days before the offer, not the one after the letter
    assert b.loc["L2", "checkup_date"] == D("2022-07-01") and b.loc["L2", "sbp"] != 150.0
    assert b.loc["A", "sbp"] == 150.0 and b.loc["A", "checkup_fiscal_year"] == 2023
    assert b.loc["F2", "age_years"] == 74 and b.loc["F2", "age_band"] == "70-74"
    assert b.loc["G2", "household_id"] == "h-new"  # the spell covering the index date
    assert b.loc["A", "sex"] == "F"


def test_comorbidities_costs_and_use(vitality):
    b = _by_person(vitality.baseline)
    assert b.loc["A", "cm_diabetes"] and b.loc["A", "cm_hypertension"]  # rel -1, rel -12
    assert not b.loc["A", "cm_dyslipidaemia"]  # rel -13: before the look-back
    assert not b.loc["A", "cm_cancer"] and not b.loc["A", "cm_cardiovascular"]  # index month
    assert b.loc["A", "cost_total_prior"] == 8000 and b.loc["A", "outpatient_days_prior"] == 3
    assert (
        b.loc["C", "cost_inpatient_prior"] == 230000 and b.loc["C", "cost_pharmacy_prior"] == 2000
    )
    assert b.loc["C", "inpatient_days_prior"] == 12
    assert b.loc["C", "admissions_prior"] == 2  # Jan+Feb are one stay, April another
    assert (b["observed_months_prior"] == 12).all()
    cm = [c for c in b.columns if c.startswith("cm_")]
    assert b.loc[["B", "C", "M"], cm].sum().sum() == 0


def test_outcomes(vitality):
    o = _by_person(vitality.outcomes)
    assert o.loc["A", "cost_total_12m"] == 200000 and o.loc["A", "cost_inpatient_24m"] == 200000
    assert o.loc["E2", "cost_outpatient_12m"] == 1000
    # months observed: A from 2023-08 to the last data month 2025-03; B died in 2024-02;
    # C moved out in 2024-09
    assert o.loc["A", "observed_months_24m"] == 20
    assert o.loc[["B", "C"], "observed_months_24m"].tolist() == [8, 15]
    assert o.loc["A", "next_checkup_date"] == D("2024-06-01") and o.loc["A", "next_exercise_habit"]
    assert o.loc["L2", "next_checkup_date"] == D("2024-04-01") and o.loc["L2", "next_sbp"] == 118
    assert pd.isna(o.loc["M", "next_checkup_date"])
    assert o.loc["A", "steps_mean"] == 8000.0 and o.loc["A", "steps_weeks"] == 3
    assert o["steps_mean"].drop("A").drop("L2").isna().all()


def test_events_and_censoring(vitality):
    o = _by_person(vitality.outcomes)
    assert o.loc["A", "stroke_event"] and o.loc["A", "stroke_date"] == D("2023-08-15")
    assert o.loc["A", "stroke_days"] == 14
    assert (
        not o.loc["A", "mi_event"]
        and o.loc["A", "mi_days"] == (D("2025-03-31") - D("2023-08-01")).days
    )
    assert o.loc["E2", "dialysis_event"] and o.loc["E2", "dialysis_days"] == 14
    assert (
        o.loc["B", "death_event"]
        and o.loc["B", "death_days"] == (D("2024-02-10") - D("2023-07-01")).days
    )
    assert o.loc["B", "followup_end_reason"] == "death"
    assert o.loc["B", "stroke_days"] == o.loc["B", "death_days"]  # censored at death
    assert o.loc["C", "followup_end"] == D("2024-09-30")
    assert o.loc["C", "followup_end_reason"] == "enrollment_end" and not o.loc["C", "death_event"]
    assert (o.drop(["B", "C"])["followup_end_reason"] == "data_end").all()
    events = [c for c in o.columns if c.endswith("_event")]
    assert o[events].sum().to_dict() == {"dialysis_event": 1, "stroke_event": 1, "mi_event": 0,
                                         "heart_failure_event": 0, "death_event": 1}  # fmt: skip


def test_panel_matches_claims_and_summaries(vitality, micro_city):
    p = vitality.panel_monthly
    assert len(p) == 36 * vitality.n
    assert not p.duplicated(["person_id", "rel_month"]).any()
    assert (p["rel_month"].min(), p["rel_month"].max()) == (-12, 23)
    a = p[p.person_id == "A"].set_index("rel_month")
    assert a.loc[0, "month"] == D("2023-08-01") and a.loc[0, "cost_inpatient"] == 200000
    assert a.loc[19, "observed"] and not a.loc[20, "observed"] and pd.isna(a.loc[20, "cost_total"])
    # the panel holds every yen the raw claims hold for these people and months
    claims = micro_city().frame("claims")
    idx = vitality.baseline.set_index("person_id")["index_date"]
    claims = claims[claims.person_id.isin(idx.index)]
    start = claims.person_id.map(idx).dt.to_period("M")
    rel = (claims.service_month.dt.to_period("M") - start).map(lambda x: x.n)
    inside = rel.between(-12, 23)
    assert p["cost_total"].sum() == claims.loc[inside, "cost_yen"].sum()
    # baseline and outcomes are sums over the panel
    prior = p[p.rel_month < 0].groupby("person_id")["cost_total"].sum()
    pd.testing.assert_series_equal(
        prior, vitality.baseline.set_index("person_id")["cost_total_prior"], check_names=False,
        check_dtype=False,
    )  # fmt: skip
    first12 = p[p.rel_month.between(0, 11)].groupby("person_id")["cost_total"].sum()
    pd.testing.assert_series_equal(
        first12, vitality.outcomes.set_index("person_id")["cost_total_12m"], check_names=False,
        check_dtype=False,
    )  # fmt: skip


def test_save_writes_tables_and_spec(vitality, tmp_path):
    out = vitality.save(tmp_path / "cohort")
    names = {p.name for p in out.iterdir()}
    assert names == {"baseline.parquet", "outcomes.parquet", "panel_monthly.parquet",
                     "attrition.parquet", "spec.json", "cohort.json"}  # fmt: skip
    assert load_spec(out / "spec.json") == vitality.spec
    meta = json.loads((out / "cohort.json").read_text(encoding="utf-8"))
    assert meta == {"spec_id": "vitality-fy2023", "engine": "duckdb",
                    "nonoffered_index_date": "2023-07-01", "persons": 8}  # fmt: skip
    back = pd.read_parquet(out / "baseline.parquet")
    assert list(back["person_id"]) == FINAL_VITALITY
    assert pd.read_parquet(out / "attrition.parquet")["remaining"].tolist()[-1] == 8


def test_validation_refuses_broken_data(micro_path, micro_city, tmp_path):
    connect(micro_path)  # the micro-city itself passes validation
    m = micro_city()
    m.claim("nobody", "2023-05")  # a claim of a person never enrolled
    m.write(tmp_path / "orphan")
    with pytest.raises(ValidationFailed) as err:
        connect(tmp_path / "orphan")
    assert err.value.report is not None
    connect(tmp_path / "orphan", validate=False)  # benchmarks may skip the check


def test_bad_inputs(con, micro_path, micro_builder, tmp_path):
    spec = default_specs(2023)["vitality"]
    with pytest.raises(UserError, match="fiscal_year 2026"):
        build_cohort(con, spec.replace(spec_id="late", fiscal_year=2026))
    with pytest.raises(UserError, match="lookback_months"):
        build_cohort(con, spec.replace(fiscal_year=2019))
    # a dataset without offers cannot date the non-offered unless the spec does
    m = micro_builder()
    m.person("P").checkup("P", "2023-05-01").claim("P", "2019-04").claim("P", "2025-03")
    m.write(tmp_path / "no_offers")
    risk = default_specs(2023)["risk"]
    with pytest.raises(UserError, match="nonoffered_index_date"):
        build_cohort(tmp_path / "no_offers", risk, validate=False)
    fixed = risk.replace(nonoffered_index_date=dt.date(2023, 10, 1))
    cohort = build_cohort(tmp_path / "no_offers", fixed, validate=False)
    assert cohort.baseline["index_date"].tolist() == [D("2023-10-01")]
    # a table without a contract column is refused, naming the file and the column
    broken = tmp_path / "broken"
    m.write(broken)
    table = pq.read_table(broken / "checkups.parquet").drop(["hba1c"])
    pq.write_table(table, broken / "checkups.parquet")
    with pytest.raises(UserError, match=r"checkups\.parquet: missing column\(s\) hba1c"):
        connect(broken, validate=False)
    with pytest.raises(UserError, match="engine"):
        connect(micro_path, engine="polars")
    with pytest.raises(UserError, match="dataset.json"):
        connect(tmp_path / "nowhere")


def test_optional_tables_may_be_absent(micro_builder, tmp_path):
    m = micro_builder()
    m.person("P", birth="1970-01-01").checkup("P", "2023-05-01")
    m.claim("P", "2019-04").claim("P", "2023-06", cost=4000).claim("P", "2025-03")
    path = m.write(tmp_path / "required", tables=REQUIRED_TABLES)
    spec = default_specs(2023)["risk"].replace(nonoffered_index_date=dt.date(2023, 10, 1))
    cohort = build_cohort(path, spec, validate=False)
    b = cohort.baseline.set_index("person_id")
    assert b.loc["P", "cost_total_prior"] == 4000 and not b.loc["P", "offered"]
    assert cohort.outcomes["steps_mean"].isna().all()


def test_build_cohorts_shares_claims_but_not_answers(con, vitality, risk):
    specs = default_specs(2023)
    both = build_cohorts(con, [specs["vitality"], specs["risk"]])
    assert list(both) == ["vitality-fy2023", "risk-fy2023"]
    for got, want in zip(both.values(), (vitality, risk), strict=True):
        pd.testing.assert_frame_equal(got.attrition.to_frame(), want.attrition.to_frame())
        for name in ("baseline", "outcomes", "panel_monthly"):
            pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))


def test_build_cohorts_with_different_windows_equals_each_built_alone(con):
    """Cohorts are built in stacked queries: specs with different look-back, follow-up and
    cost windows must still each get exactly what they get alone."""
    import dataclasses

    specs = default_specs(2023)
    short = dataclasses.replace(
        specs["vitality"], spec_id="short", lookback_months=6, followup_months=12,
        cost_windows_months=(12,),
    )  # fmt: skip
    reordered = dataclasses.replace(
        specs["risk"], spec_id="reordered", cost_windows_months=(24, 12)
    )
    together = build_cohorts(con, [short, reordered, specs["mystar"]])
    for spec in (short, reordered, specs["mystar"]):
        alone = build_cohort(con, spec)
        got = together[spec.spec_id]
        for name in ("baseline", "outcomes", "panel_monthly"):
            pd.testing.assert_frame_equal(getattr(got, name), getattr(alone, name))
    assert together["short"].panel_monthly["rel_month"].between(-6, 11).all()
    assert set(together["short"].panel_monthly["rel_month"]) == set(range(-6, 12))
    assert "cost_total_24m" not in together["short"].outcomes
    cols = list(together["reordered"].outcomes.columns)
    assert cols.index("cost_total_24m") < cols.index("cost_total_12m")


def test_stratification_uses_the_age_reached_by_the_end_of_the_fiscal_year():
    """特定保健指導: the 65-74 rule counts the age on 31 March of the checkup's fiscal year.

    Two men with the same checkup (waist 90 cm, three risks: active support below 65) on
    2023-06-01 (FY2023), both 64 on that day: one turns 65 on 2024-03-31 (inside FY2023,
    so motivational support), the other on 2024-04-01 (FY2024, so still active support).
    """
    from analysis.cohort.baseline import finish_baseline

    row = {
        "person_id": "X", "household_id": "H", "sex": "M", "age_years": 64,
        "treated": False, "offered": False, "checkup_date": D("2023-06-01"),
        "checkup_fiscal_year": 2023, "height_cm": 170.0, "weight_kg": 75.0, "bmi": 26.0,
        "waist_cm": 90.0, "sbp": 140.0, "dbp": 80.0, "hba1c": 5.9, "fasting_glucose": 110.0,
        "ldl": 120.0, "hdl": 50.0, "tg": 200.0, "egfr": 80.0, "urine_protein": "-",
        "smoker": False, "exercise_habit": False, "walking_habit": False,
        "bp_med": False, "glucose_med": False, "lipid_med": False,
    }  # fmt: skip
    df = pd.DataFrame(
        [
            {**row, "person_id": "turns65_31mar", "birth_date": D("1959-03-31")},
            {**row, "person_id": "turns65_1apr", "birth_date": D("1959-04-01")},
        ]
    )
    before = df.copy()
    out = finish_baseline(df).set_index("person_id")
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert (out["checkup_age_years"] == 64).all()
    assert out.loc["turns65_31mar", "mhlw_level"] == "motivational"
    assert out.loc["turns65_1apr", "mhlw_level"] == "active"


def test_panel_months_of_islands_sharing_a_month(micro_builder, tmp_path):
    """Two enrollment islands may touch the same month (a gap inside it): the month is
    one observed row, its claims counted once; months wholly inside a gap are not
    observed. The pandas reference (per-spell months, deduplicated) agrees."""
    from analysis.cohort.reference import build_cohort_pandas, read_tables

    m = micro_builder()
    m.person("Z", birth="1993-01-01").claim("Z", "2019-04").claim("Z", "2025-03")
    spells = (("2010-04-01", "2024-01-10"), ("2024-01-20", "2024-03-31"),
              ("2024-03-31", "2024-04-02"), ("2024-06-05", None))  # fmt: skip
    m.person("P", birth="1960-01-01", spells=spells).checkup("P", "2023-05-01")
    m.claim("P", "2024-01", cost=4000).claim("P", "2024-05", cost=900)
    path = m.write(tmp_path / "gaps")
    spec = default_specs(2023)["risk"].replace(nonoffered_index_date=dt.date(2023, 10, 1))
    cohort = build_cohort(path, spec, validate=False)
    p = cohort.panel_monthly
    assert not p.duplicated(["person_id", "rel_month"]).any() and len(p) == 36 * cohort.n
    a = p[p.person_id == "P"].set_index("month")
    assert a.loc[D("2024-01-01"), ["observed", "cost_total"]].tolist() == [True, 4000]
    assert a.loc[D("2024-04-01"), "observed"] and not a.loc[D("2024-05-01"), "observed"]
    assert a.loc[D("2024-05-01"), "cost_total"] == 900  # claimed though not enrolled
    assert a.loc[D("2024-06-01"), "observed"] and a.loc[D("2024-06-01"), "cost_total"] == 0
    assert a["observed"].sum() == 36 - 1 - 6  # and April-September 2025: after the data
    want = build_cohort_pandas(read_tables(path), spec).panel_monthly
    pd.testing.assert_frame_equal(p, want, check_dtype=False)

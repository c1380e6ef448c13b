"""The shared claims tables: exact flags inside each cohort's months, one pass for many.

A person may be in two cohorts with different index dates; ``windows`` of both are
unioned and every table must answer each cohort as if it were alone.
"""

import ibis
import pandas as pd
import pytest

from analysis.cohort import connect
from analysis.cohort.claims import (
    code_flags,
    diagnosis_months,
    dialysis_months,
    event_flags,
    person_months,
)
from analysis.cohort.expr import py_month_ord

D = pd.Timestamp


def mo(month: str) -> int:
    return py_month_ord(D(month + "-01").date())


@pytest.fixture
def con(micro_builder, tmp_path):
    m = micro_builder()
    m.person("P").person("Q")
    m.claim("P", "2022-12", icd=("E119",))  # look-back of the June 2023 index only
    m.claim("P", "2023-02", icd=("E785", "I10"))  # look-back of both indexes
    m.claim("P", "2023-07", icd=("I10",))  # after the first index: outpatient, not read
    m.claim("P", "2023-08", setting="inpatient", cost=50_000, days=4, icd=("I219",))
    m.claim("P", "2023-09", icd=("I219",))  # outpatient MI code: no event
    m.claim("P", "2023-10", icd=("N186",))  # dialysis by diagnosis
    m.claim("Q", "2021-01", procs=("J038",))  # dialysis by procedure, nobody's window
    m.claim("Q", "2023-05", cost=2000, icd=("K219",))  # in no code list
    path = m.write(tmp_path / "claims")
    return connect(path, validate=False)


def windows(con, rows):
    df = pd.DataFrame(rows, columns=["person_id", "index_mo", "lookback_months",
                                     "followup_months"])  # fmt: skip
    return ibis.memtable(df)


def test_code_flags_match_each_code_once(con):
    codes = con.execute(code_flags(con)).set_index("icd10")
    assert codes.loc["E119", "dx_diabetes"] == 1 and codes.loc["E119", "dx_ckd"] == 0
    assert codes.loc["I219", "ev_mi"] == 1 and codes.loc["I219", "dx_cardiovascular"] == 1
    assert codes.loc["N186", "dialysis"] == 1 and codes.loc["N186", "dx_ckd"] == 1
    assert codes.loc["K219"].drop("icd10", errors="ignore").sum() == 0
    assert codes.index.is_unique


def test_dialysis_months_cover_everyone(con):
    got = con.execute(dialysis_months(con)).sort_values("person_id")
    assert got.values.tolist() == [["P", mo("2023-10")], ["Q", mo("2021-01")]]


def test_two_windows_of_one_person_are_both_exact(con):
    # P is in a cohort indexed June 2023 (look-back 6) and one indexed March 2023 (2)
    w = windows(con, [("P", mo("2023-06"), 6, 3), ("P", mo("2023-03"), 2, 1),
                      ("Q", mo("2023-06"), 12, 2)])  # fmt: skip
    dx = con.execute(diagnosis_months(con, w)).set_index(["person_id", "mo"]).sort_index()
    assert dx.loc[("P", mo("2022-12")), "dx_diabetes"] == 1
    feb = dx.loc[("P", mo("2023-02"))]
    assert feb.dx_dyslipidaemia == 1 and feb.dx_hypertension == 1 and feb.dx_diabetes == 0
    aug = dx.loc[("P", mo("2023-08"))]
    assert aug.ev_mi == 1 and aug.ev_stroke == 0
    sep = dx.loc[("P", mo("2023-09"))] if ("P", mo("2023-09")) in dx.index else None
    assert sep is None or sep.ev_mi == 0  # an outpatient code is no event
    assert "Q" not in dx.index.get_level_values("person_id")  # K219 is in no list

    pm = con.execute(person_months(con, w))
    pm = pm.set_index(["person_id", "mo"]).sort_index()
    # panel months: Dec 2022 - Aug 2023 for P (union of both windows), Q Jun 2022 - Jul 2023
    assert pm.loc["P"].index.tolist() == [mo(m) for m in ("2022-12", "2023-02", "2023-07",
                                                          "2023-08")]  # fmt: skip
    assert pm.loc[("P", mo("2023-08")), "cost_inpatient"] == 50_000
    assert pm.loc[("P", mo("2023-08")), "inpatient_days"] == 4
    assert pm.loc[("Q", mo("2023-05")), "cost_total"] == 2000


def test_event_flags_join_events_and_dialysis(con):
    w = windows(con, [("P", mo("2023-06"), 6, 3), ("Q", mo("2023-06"), 12, 2)])
    ev = con.execute(event_flags(diagnosis_months(con, w), dialysis_months(con)))
    ev = ev.set_index(["person_id", "mo"]).sort_index()
    assert ev.loc[("P", mo("2023-08")), "ev_mi"] == 1
    assert ev.loc[("P", mo("2023-10")), "dialysis"] == 1
    assert ev.loc[("Q", mo("2021-01")), "dialysis"] == 1
    assert ev[["ev_mi", "ev_stroke", "ev_heart_failure", "dialysis"]].max(axis=1).eq(1).all()


def test_duckdb_spills_into_the_given_directory(tmp_path, micro_path):
    spill = tmp_path / "spill"
    c = connect(micro_path, validate=False, memory_limit="200MB", temp_directory=spill,
                threads=1)  # fmt: skip
    row = c.raw_sql("SELECT current_setting('temp_directory'), current_setting('threads')")
    assert row.fetchall() == [(str(spill), 1)]
    default = (
        connect(micro_path, validate=False)
        .raw_sql("SELECT current_setting('temp_directory')")
        .fetchall()[0][0]
    )
    assert default.startswith("/") and "mvm-eval-duckdb-" in default  # never the cwd

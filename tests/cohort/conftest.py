"""Hand-built micro-datasets for the cohort tests, and the Spark session fixture."""

from __future__ import annotations

import shutil
from collections import defaultdict

import pandas as pd
import pytest

from analysis.data import DatasetWriter
from analysis.data.contract import TABLES, arrow_schema


def pytest_configure(config):
    # ibis 12 calls DuckDB's deprecated fetch_arrow_table() when it reads a table schema
    config.addinivalue_line("filterwarnings", "ignore:fetch_arrow_table:DeprecationWarning")


CHECKUP_DEFAULTS = {
    "height_cm": 165.0, "weight_kg": 62.0, "bmi": 22.8, "waist_cm": 80.0, "sbp": 124.0,
    "dbp": 78.0, "hba1c": 5.4, "fasting_glucose": 92.0, "ldl": 110.0, "hdl": 60.0, "tg": 100.0,
    "egfr": 80.0, "urine_protein": 0, "smoker": False, "exercise_habit": False,
    "walking_habit": False, "bp_med": False, "glucose_med": False, "lipid_med": False,
}  # fmt: skip


def fy_of(date: str) -> int:
    d = pd.Timestamp(date)
    return d.year if d.month >= 4 else d.year - 1


class Micro:
    """Builder of a tiny dataset where every row is written by the test."""

    def __init__(self):
        self.rows = defaultdict(list)
        self._claims = 0

    def person(self, pid, *, birth="1960-06-15", sex="M", spells=(("2010-04-01", None),),
               death=None, household=None):  # fmt: skip
        for i, spell in enumerate(spells):
            start, end = spell[0], spell[1]
            hh = spell[2] if len(spell) > 2 else (household or f"h-{pid}")
            last = i == len(spells) - 1
            exit_reason = None if end is None else ("death" if death and last else "moved")
            self.rows["enrollment"].append({
                "person_id": pid, "household_id": hh, "sex": sex, "birth_date": birth,
                "enroll_start": start, "enroll_end": end, "death_date": death,
                "exit_reason": exit_reason,
            })  # fmt: skip
        return self

    def checkup(self, pid, exam_date, fiscal_year=None, **values):
        row = {"person_id": pid, "exam_date": exam_date,
               "fiscal_year": fiscal_year or fy_of(exam_date), **CHECKUP_DEFAULTS, **values}  # fmt: skip
        self.rows["checkups"].append(row)
        return self

    def claim(self, pid, month, setting="outpatient", cost=1000, days=1, icd=(), procs=()):
        self._claims += 1
        cid = f"c{self._claims:05d}"
        self.rows["claims"].append({
            "claim_id": cid, "person_id": pid, "service_month": month + "-01"
            if len(month) == 7 else month, "setting": setting, "points": cost // 10,
            "cost_yen": cost, "days": days,
        })  # fmt: skip
        for j, code in enumerate(icd):
            self.rows["claim_diagnoses"].append({"claim_id": cid, "icd10": code, "primary": j == 0})
        for code in procs:
            self.rows["claim_procedures"].append(
                {"claim_id": cid, "code": code, "label": "dialysis"}
            )
        return self

    def offer(self, pid, fy, program, date, tier="low", variant="plain", score=0.1):
        self.rows["program_offers"].append({
            "person_id": pid, "fiscal_year": fy, "program": program, "risk_tier": tier,
            "risk_score": score, "offer_date": date, "letter_variant": variant,
        })  # fmt: skip
        return self

    def participate(self, pid, fy, program, start, end, completed=True, sessions=3):
        self.rows["program_enrollments"].append({
            "person_id": pid, "fiscal_year": fy, "program": program, "start_date": start,
            "end_date": end, "completed": completed, "sessions": sessions,
        })  # fmt: skip
        return self

    def steps(self, pid, week_start, steps):
        self.rows["activity"].append({"person_id": pid, "week_start": week_start,
                                      "steps_per_day": steps})  # fmt: skip
        return self

    def frame(self, name):
        schema = arrow_schema(name)
        df = pd.DataFrame(self.rows.get(name, []), columns=schema.names)
        for f in schema:
            if str(f.type) == "date32[day]":
                df[f.name] = pd.to_datetime(df[f.name])
        return df

    def write(self, path, tables=None):
        names = tables or [t for t in TABLES if t not in ("events", "event_attendance")]
        with DatasetWriter(path, {"name": "micro", "source": "test"}) as w:
            for name in names:
                w.write(name, self.frame(name))
        return path


def fiscal_2023_micro() -> Micro:
    """The FY2023 micro-city the cohort tests share (answers worked out in test_build.py).

    Claim months span April 2019 to March 2025 through the filler person ``Z`` (age 30).
    Offers of FY2023 are dated 1 July 2023, so that is also the non-offered index date.
    """
    m = Micro()
    m.person("Z", birth="1993-01-01")
    for y in range(2019, 2025):
        m.claim("Z", f"{y}-04")
    m.claim("Z", "2025-03")
    off = "2023-07-01"
    # A: vitality participant (index = program start 2023-08-01)
    m.person("A", birth="1960-05-10", sex="F")
    m.offer("A", 2023, "vitality", off, tier="low", variant="nudge", score=0.12)
    m.participate("A", 2023, "vitality", "2023-08-01", "2023-10-31", sessions=5)
    m.checkup("A", "2022-06-01").checkup("A", "2023-06-01", sbp=150.0)
    m.checkup("A", "2024-06-01", exercise_habit=True, weight_kg=60.0)
    m.claim("A", "2022-07", cost=7000, icd=("E78",))  # rel -13: outside look-back
    m.claim("A", "2022-08", cost=3000, icd=("I10",))  # rel -12
    m.claim("A", "2023-07", cost=5000, days=2, icd=("E119",))  # rel -1
    m.claim("A", "2023-08", "inpatient", cost=200000, days=10, icd=("I639", "C18"))  # rel 0
    for week, s in (("2023-07-31", 3000), ("2023-08-07", 8000), ("2023-08-14", 10000),
                    ("2023-10-30", 6000), ("2023-11-06", 9000)):  # fmt: skip
        m.steps("A", week, s)
    # B: offered non-participant; checkup on the index day does not count; died 2024-02-10
    m.person("B", spells=(("2010-04-01", "2024-02-10"),), death="2024-02-10")
    m.offer("B", 2023, "vitality", off, tier="middle")
    m.checkup("B", "2022-07-01").checkup("B", "2023-07-01", fiscal_year=2023)
    # C: checkup the day before index; two consecutive admissions + one; moved 2024-09-30
    m.person("C", spells=(("2010-04-01", "2024-09-30"),))
    m.offer("C", 2023, "vitality", off)
    m.checkup("C", "2023-06-30")
    m.claim("C", "2023-01", "inpatient", cost=100000, days=5)
    m.claim("C", "2023-02", "inpatient", cost=50000, days=3)
    m.claim("C", "2023-04", "inpatient", cost=80000, days=4)
    m.claim("C", "2023-04", "pharmacy", cost=2000)
    # D: died before index
    m.person("D", spells=(("2010-04-01", "2023-06-15"),), death="2023-06-15")
    m.offer("D", 2023, "vitality", off)
    m.checkup("D", "2023-05-01")
    # E: dialysis the month before index (procedure code) -> excluded
    m.person("E").offer("E", 2023, "vitality", off).checkup("E", "2023-05-01")
    m.claim("E", "2023-06", procs=("J038",))
    # E2: dialysis first in the index month (diagnosis N186) -> outcome, not exclusion
    m.person("E2").offer("E2", 2023, "vitality", off).checkup("E2", "2023-05-01")
    m.claim("E2", "2023-07", icd=("N186",))
    # F turns 75 on the index date (excluded); F2 one day later (74, included)
    m.person("F", birth="1948-07-01").offer("F", 2023, "vitality", off)
    m.checkup("F", "2023-05-01")
    m.person("F2", birth="1948-07-02").offer("F2", 2023, "vitality", off)
    m.checkup("F2", "2023-05-01")
    # G: one-day enrollment gap inside the washout (excluded); G2: touching spells (kept)
    m.person("G", spells=(("2010-04-01", "2022-12-31"), ("2023-01-02", None)))
    m.offer("G", 2023, "vitality", off).checkup("G", "2023-05-01")
    m.person("G2", spells=(("2010-04-01", "2022-12-31", "h-old"), ("2023-01-01", None, "h-new")))
    m.offer("G2", 2023, "vitality", off).checkup("G2", "2023-05-01")
    # H: vitality offer with tier "high" -> excluded by the tier step
    m.person("H").offer("H", 2023, "vitality", off, tier="high").checkup("H", "2023-05-01")
    # I: left NHI before index
    m.person("I", spells=(("2010-04-01", "2023-05-31"),)).offer("I", 2023, "vitality", off)
    m.checkup("I", "2023-05-01")
    # Baseline checkups are read as of the offer (1 July 2023), not the later start.
    # L: starts on 31 March 2024; only checkups 2022-06-30 (366 days before the offer) and
    # 2023-08-01 (after the offer) -> excluded
    m.person("L").offer("L", 2023, "vitality", off)
    m.participate("L", 2023, "vitality", "2024-03-31", "2024-06-30")
    m.checkup("L", "2022-06-30").checkup("L", "2023-08-01")
    # L2: starts on 31 March 2024; checkup 1 July 2022 (365 days before the offer) -> kept;
    # its checkup of 1 September 2023, after the letter, is not its baseline
    m.person("L2").offer("L2", 2023, "vitality", off)
    m.participate("L2", 2023, "vitality", "2024-03-31", "2024-06-30")
    m.checkup("L2", "2022-07-01").checkup("L2", "2023-09-01", sbp=150.0)
    m.checkup("L2", "2024-04-01", sbp=118.0)
    # M: offered FY2023, takes part only in FY2024 (from 1 April 2024) -> not treated
    m.person("M").offer("M", 2023, "vitality", off).checkup("M", "2023-05-01")
    m.participate("M", 2024, "vitality", "2024-04-01", "2024-06-30")
    # J: Mystar offer; K: never offered (index = 2023-07-01); both in the risk cohort
    m.person("J").offer("J", 2023, "mystar", off, tier="high", score=0.7)
    m.checkup("J", "2023-05-01", hba1c=7.2)
    m.participate("J", 2022, "mystar", "2022-09-01", "2023-02-28")
    m.person("K", sex="F").checkup("K", "2023-06-20")
    return m


@pytest.fixture(scope="module")
def micro_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("micro") / "fy2023"
    fiscal_2023_micro().write(path)
    return path


@pytest.fixture
def micro_builder():
    return Micro


@pytest.fixture
def micro_city():
    return fiscal_2023_micro


def java_missing() -> bool:
    return shutil.which("java") is None


@pytest.fixture(scope="module")
def spark_con_factory():
    """Open datasets on one in-process Spark session per test module; stop it afterwards."""
    pytest.importorskip("pyspark", reason="Spark tests need the optional extra mvm-eval[spark]")
    if java_missing():
        pytest.skip("Spark tests need a Java runtime (java not on PATH)")
    from analysis.cohort import connect

    yield lambda path: connect(path, engine="spark", validate=False, shuffle_partitions=2)
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()

"""The default city against the published figures of the calibration notes.

Tolerances are named per target in ``analysis.data.synthetic.calibration.TARGETS``
(with the reason for each); this test fails if any simulated figure falls outside.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.data import load_dataset
from analysis.data.synthetic import simulate
from analysis.data.synthetic.calibration import TARGETS, compare

pytestmark = pytest.mark.slow

FY2023_VITALITY = (64, 24)
"""Kashima FY2023 Vitality participants (calibration.md §0) and the allowed deviation:
a binomial count of about 64 has SD about 8; three SDs."""
FY2023_MYSTAR = (15, 11)
"""Kashima FY2023 Mystar participants and the allowed deviation (about three SDs)."""
PERSISTENCE_MIN = 0.70
"""Share of last year's examinees (still eligible) who attend again: strong persistence."""


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city") / "synthetic"
    return load_dataset(simulate(out=out))


def test_default_city_matches_every_calibration_target(city):
    result = compare(city)
    assert len(result) == len(TARGETS)
    bad = result[~result["ok"]]
    assert bad.empty, "outside tolerance:\n" + bad.to_string()


def test_default_uptake_matches_kashima_fy2023_and_grows(city):
    e = city.program_enrollments
    n = e.groupby(["fiscal_year", "program"]).size()
    assert abs(n.loc[(2023, "vitality")] - FY2023_VITALITY[0]) <= FY2023_VITALITY[1]
    assert abs(n.loc[(2023, "mystar")] - FY2023_MYSTAR[0]) <= FY2023_MYSTAR[1]
    assert n.loc[2024].sum() > n.loc[2023].sum()
    assert n.loc[[2021, 2022]].sum() < n.loc[2023].sum() / 2


def test_checkup_attendance_is_persistent(city):
    en = city.enrollment
    spells = en["person_id"].map(en["person_id"].value_counts())
    stayers = en[(spells == 1) & en["enroll_end"].isna()]
    birth = pd.to_datetime(stayers.set_index("person_id")["birth_date"])
    ck = city.checkups[["person_id", "fiscal_year"]]
    ck = ck[ck["person_id"].isin(stayers["person_id"])]
    prev = ck.assign(fiscal_year=ck["fiscal_year"] + 1)
    prev = prev[
        (prev["fiscal_year"] <= 2024)
        & (prev["fiscal_year"] - birth.loc[prev["person_id"]].dt.year.to_numpy() <= 73)
    ]
    again = prev.merge(ck, on=["person_id", "fiscal_year"])
    assert len(again) / len(prev) >= PERSISTENCE_MIN


CKD_BEFORE_DIALYSIS_MIN = (15, 0.65)
"""Incident dialysis starts checked, and the least share with a kidney-disease claim before.

Dialysis can start only in people with diagnosed CKD (a record from the year before) or,
without a record, at end-stage kidney function (eGFR < 15): unplanned starts of people
whose kidney disease was never treated, so not every start has a CKD claim before it.
Measured: 22 of 25 in the default city; 6/8, 7/8, 7/8 and 8/11 in towns of 30,000
residents (seeds 1-4): 50 of 60 in all (83%). The bound sits about three binomial SDs
(0.07 at n = 25) below that, and far above what a generator that started dialysis
regardless of kidney disease would give (about 9% of enrollees have a CKD claim)."""


def test_dialysis_starts_after_a_kidney_disease_claim(city):
    cl = city.read("claims", columns=["claim_id", "person_id", "service_month"])
    dx = city.read("claim_diagnoses", columns=["claim_id", "icd10"]).merge(cl, on="claim_id")
    px = city.read("claim_procedures", columns=["claim_id", "code"]).merge(cl, on="claim_id")
    kidney = dx["icd10"].str.startswith("N18") | (dx["icd10"] == "E112")
    first_ckd = dx[kidney].groupby("person_id")["service_month"].min()
    start = px[px["code"] == "J038"].groupby("person_id")["service_month"].min()
    # Incident starts (a year or more into the window, so not prevalent patients) among
    # people enrolled in one spell since at least a year before the start.
    year = pd.DateOffset(months=12)
    start = start[start >= cl["service_month"].min() + year]
    en = city.enrollment
    one = en[en["person_id"].map(en["person_id"].value_counts()) == 1].set_index("person_id")
    enrolled = one["enroll_start"].reindex(start.index)
    start = start[enrolled.notna() & (enrolled <= start - year)]
    n_min, share_min = CKD_BEFORE_DIALYSIS_MIN
    assert len(start) >= n_min
    before = first_ckd.reindex(start.index) < start  # strictly: the month before or earlier
    assert before.mean() >= share_min, f"{before.sum()} of {len(start)}"

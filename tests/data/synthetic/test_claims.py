"""Claims: codes, settings, events after their causes, dialysis costs, the cost tail."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.data.synthetic.claims import CODES, PROCEDURES


@pytest.fixture(scope="module")
def claims(small_dataset):
    cl = small_dataset.claims.assign(service_month=lambda d: pd.to_datetime(d["service_month"]))
    dx = small_dataset.claim_diagnoses.merge(
        cl[["claim_id", "person_id", "service_month", "setting"]], on="claim_id"
    )
    px = small_dataset.claim_procedures.merge(
        cl[["claim_id", "person_id", "service_month", "setting", "cost_yen"]], on="claim_id"
    )
    return cl, dx, px


def test_vocabularies(claims):
    cl, dx, px = claims
    assert set(dx["icd10"]) <= set(CODES)
    for prefix in ("E11", "I10", "E78", "N18", "C", "F"):
        assert dx["icd10"].str.startswith(prefix).any(), prefix
    assert set(px["code"]) <= set(PROCEDURES)
    assert set(cl["setting"]) == {"inpatient", "outpatient", "pharmacy", "dental"}
    # 調剤レセプト carry no diagnoses; dental claims only dental codes.
    assert (dx["setting"] != "pharmacy").all()
    assert dx.loc[dx["setting"] == "dental", "icd10"].str.match(r"K0[2-8]").all()


def _first(df, mask):
    return df[mask].groupby("person_id")["service_month"].min()


def test_events_come_after_their_causes(small_dataset, claims):
    """Stroke and MI before their sequelae. (Kidney disease before dialysis needs more
    dialysis starts than this town has: test_calibration checks it on the default city.)"""
    _, dx, _ = claims
    # People observed since the window start in one spell whose sequela code (I693 after
    # a stroke, I252 after an MI) first appears late in the window: the event itself must
    # have been admitted earlier. (A sequela present from the start is an event before
    # the window; entrants may bring one from before they joined NHI.)
    en = small_dataset.enrollment
    spells = en["person_id"].map(en["person_id"].value_counts())
    stock = set(
        en.loc[(spells == 1) & (pd.to_datetime(en["enroll_start"]) < "2019-04-01"), "person_id"]
    )
    # A stroke is an infarction (I63) or a haemorrhage (I61, I60); both leave I69.
    for events, sequela in ((("I639", "I619", "I609"), "I693"), (("I219",), "I252")):
        ev = _first(dx, dx["icd10"].isin(events) & (dx["setting"] == "inpatient"))
        seq = _first(dx, dx["icd10"] == sequela)
        assert (seq < "2019-06-01").any(), sequela  # history before the window exists
        late = seq[seq.index.isin(stock) & (seq >= "2020-04-01")]
        assert len(late) > 0
        assert ev.reindex(late.index).notna().all(), sequela
        assert (ev.reindex(late.index) < late).all(), sequela


def test_dialysis_is_monthly_and_expensive(claims):
    _, _, px = claims
    d = px[px["code"] == "J038"]
    assert (d["setting"] == "outpatient").all()
    assert d["cost_yen"].between(250_000, 600_000).all()
    months = d.groupby("person_id")["service_month"].agg(["min", "max", "nunique"])
    span = (
        months["max"].dt.year * 12
        + months["max"].dt.month
        - months["min"].dt.year * 12
        - months["min"].dt.month
        + 1
    )
    assert (months["nunique"] >= 0.9 * span).all()  # continuous once started


def test_severe_events_raise_the_death_rate(small_dataset, claims):
    _, dx, _ = claims
    en = small_dataset.enrollment
    event_people = set(
        dx.loc[
            dx["icd10"].isin(["I639", "I219", "I500"]) & (dx["setting"] == "inpatient"), "person_id"
        ]
    )
    dead = set(en.loc[en["death_date"].notna(), "person_id"])
    everyone = set(en["person_id"])
    rate_event = len(dead & event_people) / len(event_people)
    rate_other = len(dead - event_people) / len(everyone - event_people)
    assert rate_event > 3 * rate_other


def test_some_enrollees_have_no_claim_and_about_half_see_a_dentist(small_dataset):
    from analysis.data.synthetic.calibration import _care_use, person_years

    use = _care_use(small_dataset, person_years(small_dataset))
    adults = use[use["age"].between(40, 74)]
    assert len(adults) > 2_000
    # Real 市町村国保 40-74: about 10-15% without any claim in a year, dental about half.
    assert 0.06 < adults["no_claim"].mean() < 0.20
    assert 0.38 < adults["dental"].mean() < 0.62
    young_men = adults[(adults["sex"] == "M") & (adults["age"] < 55)]
    old = adults[adults["age"] >= 65]
    assert young_men["no_claim"].mean() > old["no_claim"].mean() + 0.03


def test_admission_diagnoses_are_plausible(claims):
    _, dx, _ = claims
    inp = dx[(dx["setting"] == "inpatient") & dx["primary"]]
    top5 = inp["icd10"].value_counts().index[:5]
    assert not any(c.startswith("F41") for c in top5), list(top5)
    # Neoplasms: about a fifth of the inpatient claims of 40-74 (Patient Survey: 15-30%).
    cancer = inp["icd10"].str.startswith("C").mean()
    assert 0.10 < cancer < 0.35, cancer
    # Anxiety is treated as an outpatient (long stays: see test_chunk.py).
    assert (inp["icd10"].str.startswith("F41")).mean() < 0.01
    # No single non-psychiatric reason dominates, and short-stay cataract surgery is common.
    other = inp[~inp["icd10"].str.startswith("F")]["icd10"].value_counts(normalize=True)
    assert other.iloc[0] < 0.25
    assert "H251" in other.index[:5]

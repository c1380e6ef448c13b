"""糖尿病性腎症重症化予防プログラム targets: criteria edges and treatment status from claims."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.risk.nephropathy import diabetes_treatment_status, dkd_targets

BASE = dict(person_id="p1", hba1c=5.4, fasting_glucose=95.0, glucose_med=False, egfr=75.0,
            urine_protein=0)  # fmt: skip


def one(treatment=None, **changes):
    return dkd_targets(pd.DataFrame([{**BASE, **changes}]), treatment).iloc[0]


@pytest.mark.parametrize(
    ("changes", "diabetes"),
    [(dict(hba1c=6.4), False), (dict(hba1c=6.5), True), (dict(fasting_glucose=125.0), False),
     (dict(fasting_glucose=126.0), True), (dict(glucose_med=True), True)],
)  # fmt: skip
def test_diabetes_edges(changes, diabetes):
    r = one(urine_protein=2, **changes)
    assert (r.diabetes, r.target) == (diabetes, diabetes)


@pytest.mark.parametrize(
    ("changes", "kidney"),
    [(dict(egfr=30.0), False), (dict(egfr=29.9), True), (dict(urine_protein=1), False),
     (dict(urine_protein=2), True)],
)  # fmt: skip
def test_kidney_edges(changes, kidney):
    assert one(hba1c=7.0, **changes).kidney == kidney


def test_insurer_variant_widens_kidney_criterion():
    df = pd.DataFrame([{**BASE, "hba1c": 7.0, "urine_protein": 1}])
    assert not dkd_targets(df).target.iloc[0]
    assert dkd_targets(df, egfr_below=45, urine_protein_min=1).target.iloc[0]


def test_intervention_from_questionnaire():
    assert one(hba1c=7.0, egfr=25.0).intervention == "referral"
    r = one(hba1c=7.0, egfr=25.0, glucose_med=True)
    assert (r.intervention, r.intervention_ja) == ("guidance", "保健指導")
    assert one(hba1c=5.0, egfr=25.0).intervention is None


def _claims():
    claims = pd.DataFrame(
        dict(claim_id=["c1", "c2", "c3", "c4"], person_id=["p1", "p2", "p3", "p2"],
             service_month=pd.to_datetime(["2023-01-01", "2022-06-01", "2023-02-01",
                                           "2024-06-01"]))
    )  # fmt: skip
    dx = pd.DataFrame(dict(claim_id=["c1", "c2", "c3", "c4"],
                           icd10=["E119", "E112", "N184", "E119"]))  # fmt: skip
    return claims, dx


def test_treatment_status_from_claims():
    claims, dx = _claims()
    t = diabetes_treatment_status(claims, dx, as_of="2023-04-01", interruption_months=6)
    assert t.loc["p1", "treatment_status"] == "treated"  # 3 months ago
    assert t.loc["p2", "treatment_status"] == "interrupted"  # 10 months ago; c4 is after as_of
    assert t.loc["p3", "treatment_status"] == "untreated"  # kidney diagnosis only
    assert t.kidney_diagnosis.to_dict() == {"p1": False, "p2": True, "p3": True}
    later = diabetes_treatment_status(claims, dx, as_of="2023-10-01", interruption_months=6)
    assert later.loc["p1", "treatment_status"] == "interrupted"


def test_targets_with_claims():
    claims, dx = _claims()
    t = diabetes_treatment_status(claims, dx, as_of="2023-04-01")
    df = pd.DataFrame(
        [{**BASE, "person_id": "p1", "hba1c": 7.2, "urine_protein": 2},
         {**BASE, "person_id": "p2", "hba1c": 6.8},  # kidney from claims, interrupted
         {**BASE, "person_id": "p3", "hba1c": 6.0},  # kidney dx but no diabetes
         {**BASE, "person_id": "p4", "hba1c": 6.9, "egfr": 20.0}]  # no claims at all
    )  # fmt: skip
    out = dkd_targets(df, t)
    assert out.target.tolist() == [True, True, False, True]
    assert out.treatment_status.tolist() == ["treated", "interrupted", "untreated", "untreated"]
    assert out.intervention.tolist() == ["guidance", "referral", None, "referral"]


def test_history_does_not_count_when_checkup_normal():
    claims, dx = _claims()
    t = diabetes_treatment_status(claims, dx, as_of="2023-04-01")
    assert t.loc["p2", "treatment_status"] == "interrupted"
    df = pd.DataFrame(
        [{**BASE, "person_id": "p2"},
         {**BASE, "person_id": "p2", "hba1c": None},  # the measured fasting glucose is below
         {**BASE, "person_id": "p2", "fasting_glucose": None},  # the measured HbA1c is below
         {**BASE, "person_id": "p2", "hba1c": None, "fasting_glucose": None},
         {**BASE, "person_id": "p2", "hba1c": 6.0, "fasting_glucose": 130.0}]
    )  # fmt: skip
    out = dkd_targets(df, t)
    # ③ interrupted: history counts only when the checkup is not below the diabetic level
    assert out.diabetes.tolist() == [False, False, False, True, True]


def _status(status: str) -> pd.DataFrame:
    index = pd.Index(["p1"], name="person_id")
    return pd.DataFrame({"treatment_status": [status], "kidney_diagnosis": [False]}, index=index)


@pytest.mark.parametrize(
    ("status", "diabetes"), [("treated", True), ("interrupted", False), ("untreated", False)]
)
def test_current_treatment_counts_without_condition(status, diabetes):
    # ② 現在、糖尿病で医療機関を受診している: a normal checkup does not remove it
    r = one(_status(status), hba1c=5.4, fasting_glucose=95.0, urine_protein=2)
    assert (r.diabetes, r.target) == (diabetes, diabetes)
    if diabetes:
        assert r.intervention == "guidance"
        assert "treatment history" in r.reasons_en


def test_bad_input():
    with pytest.raises(ValueError, match="egfr"):
        dkd_targets(pd.DataFrame([BASE]).drop(columns="egfr"))
    claims, dx = _claims()
    with pytest.raises(ValueError, match="interruption_months"):
        diabetes_treatment_status(claims, dx, as_of="2023-04-01", interruption_months=0)

"""特定保健指導 stratification: every threshold edge, exclusions, and a row-by-row reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.risk import stratify

HEALTHY = dict(
    sex="M", age=50, waist_cm=80.0, bmi=22.0, fasting_glucose=90.0, hba1c=5.2, tg=100.0,
    hdl=60.0, sbp=115.0, dbp=70.0, smoker=False, bp_med=False, glucose_med=False,
    lipid_med=False,
)  # fmt: skip


def one(**changes) -> pd.Series:
    return stratify(pd.DataFrame([{**HEALTHY, **changes}])).iloc[0]


@pytest.mark.parametrize(
    ("sex", "waist", "step1"),
    [("M", 84.9, None), ("M", 85.0, "A"), ("F", 89.9, None), ("F", 90.0, "A"),
     ("F", 85.0, None)],
)  # fmt: skip
def test_step1_waist_edges(sex, waist, step1):
    r = one(sex=sex, waist_cm=waist, sbp=135.0)
    assert r.step1 == step1
    assert r.level == ("motivational" if step1 else "information")


@pytest.mark.parametrize(("bmi", "step1"), [(24.9, None), (25.0, "B")])
def test_step1_bmi_edge_when_waist_below(bmi, step1):
    assert one(bmi=bmi).step1 == step1
    assert one(bmi=bmi, waist_cm=85.0).step1 == "A"  # waist decides first


@pytest.mark.parametrize(
    ("changes", "n"),
    [
        (dict(hba1c=5.5, fasting_glucose=None), 0), (dict(hba1c=5.6, fasting_glucose=None), 1),
        (dict(hba1c=6.5, fasting_glucose=None), 1),
        (dict(fasting_glucose=99.9), 0), (dict(fasting_glucose=100.0), 1),
        (dict(tg=149.9), 0), (dict(tg=150.0), 1), (dict(hdl=40.0), 0), (dict(hdl=39.9), 1),
        (dict(sbp=129.9), 0), (dict(sbp=130.0), 1), (dict(dbp=84.9), 0), (dict(dbp=85.0), 1),
        (dict(hba1c=5.6, fasting_glucose=120.0), 1),  # one risk per item, not per test
        (dict(fasting_glucose=110.0, tg=200.0, sbp=140.0), 3),
    ],
)  # fmt: skip
def test_step2_risk_edges(changes, n):
    r = one(waist_cm=90.0, **changes)
    assert r.n_risks == n
    assert r.level == {0: "information", 1: "motivational"}.get(n, "active")


@pytest.mark.parametrize(
    ("fpg", "hba1c", "risk"),
    [(95.0, 5.8, False),  # fasting glucose measured and normal: HbA1c is not read
     (None, 5.6, True),  # no fasting glucose: HbA1c decides
     (None, 5.5, False),
     (100.0, 5.5, True),  # fasting glucose decides even with a normal HbA1c
     (99.9, 6.5, False),
     (None, None, False)],
)  # fmt: skip
def test_glucose_priority_fasting_then_hba1c(fpg, hba1c, risk):
    r = one(waist_cm=90.0, fasting_glucose=fpg, hba1c=hba1c)
    assert r.n_risks == int(risk)
    assert ("血糖" in r.reasons) == risk


def test_reviewer_case_fpg_95_hba1c_58_is_information():
    r = one(sex="M", waist_cm=90.0, fasting_glucose=95.0, hba1c=5.8)
    assert (r.level, r.n_risks) == ("information", 0)


def test_smoking_counts_only_with_another_risk():
    assert one(waist_cm=90.0, smoker=True).n_risks == 0
    assert one(waist_cm=90.0, smoker=True).level == "information"
    assert "不算入" in one(waist_cm=90.0, smoker=True).reasons
    r = one(waist_cm=90.0, smoker=True, sbp=130.0)
    assert (r.n_risks, r.level) == (2, "active")  # (A) 1 + smoking


@pytest.mark.parametrize(
    ("risks", "smoker", "level"),
    [(1, False, "motivational"), (2, False, "motivational"), (2, True, "active"),
     (3, False, "active"), (1, True, "motivational")],
)  # fmt: skip
def test_group_b_table(risks, smoker, level):
    labs = [dict(fasting_glucose=110.0), dict(tg=200.0), dict(sbp=140.0)][:risks]
    r = one(bmi=26.0, smoker=smoker, **{k: v for d in labs for k, v in d.items()})
    assert (r.step1, r.level) == ("B", level)


@pytest.mark.parametrize(("age", "level"), [(64, "active"), (64.9, "active"), (65, "motivational"),
                                            (74, "motivational")])  # fmt: skip
def test_65_74_rule_on_active_boundary(age, level):
    r = one(age=age, waist_cm=90.0, fasting_glucose=110.0, tg=200.0)
    assert r.level == level
    assert ("65歳以上" in r.reasons) == (level == "motivational")


def test_65_rule_leaves_motivational_alone():
    assert one(age=70, waist_cm=90.0, fasting_glucose=110.0).level == "motivational"
    assert "65歳以上" not in one(age=70, waist_cm=90.0, fasting_glucose=110.0).reasons


@pytest.mark.parametrize("med", ["bp_med", "glucose_med", "lipid_med"])
def test_medication_excludes(med):
    r = one(waist_cm=95.0, fasting_glucose=110.0, tg=200.0, sbp=150.0, **{med: True})
    assert (r.level, r.level_ja, r.step1, r.n_risks) == ("information", "情報提供", "A", 3)
    assert r.on_medication and "対象外" in r.reasons


def test_missing_values_are_not_risks_and_are_reported():
    r = one(waist_cm=np.nan, bmi=26.0, hba1c=None, fasting_glucose=110.0, smoker=None,
            bp_med=None)  # fmt: skip
    assert (r.step1, r.n_risks, r.level) == ("B", 1, "motivational")
    assert "欠測: waist_cm, hba1c, smoker, bp_med" in r.reasons
    assert "missing: waist_cm" in r.reasons_en
    all_missing = {k: None for k in HEALTHY if k not in ("sex", "age")}
    r = one(**all_missing)
    assert (r.step1, r.n_risks, r.level) == (None, 0, "information")


def test_output_shape_index_and_input_untouched():
    df = pd.DataFrame([HEALTHY, {**HEALTHY, "waist_cm": 99.0, "sbp": 150.0}], index=[10, 3])
    before = df.copy()
    out = stratify(df)
    pd.testing.assert_frame_equal(df, before)
    assert list(out.index) == [10, 3]
    assert list(out.columns) == ["level", "level_ja", "step1", "n_risks", "on_medication",
                                 "reasons", "reasons_en"]  # fmt: skip
    assert out.level.tolist() == ["information", "motivational"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [(dict(sex="X"), "'sex'"), (dict(age=None), "'age'"), (dict(sbp="high"), "'sbp'"),
     (dict(smoker="yes"), "'smoker'")],
)  # fmt: skip
def test_bad_values_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        stratify(pd.DataFrame([{**HEALTHY, **changes}]))


def test_missing_column_named():
    with pytest.raises(ValueError, match="hdl"):
        stratify(pd.DataFrame([HEALTHY]).drop(columns="hdl"))


def _reference_level(r: dict) -> str:
    """The MHLW table read literally, one person at a time."""
    if r["bp_med"] or r["glucose_med"] or r["lipid_med"]:
        return "information"
    cut = 85 if r["sex"] == "M" else 90
    group = "A" if r["waist_cm"] >= cut else ("B" if r["bmi"] >= 25 else None)
    fpg = r["fasting_glucose"]
    glucose = fpg >= 100 if fpg == fpg else r["hba1c"] >= 5.6  # fasting glucose first
    risks = sum([glucose,
                 r["tg"] >= 150 or r["hdl"] < 40, r["sbp"] >= 130 or r["dbp"] >= 85])  # fmt: skip
    smoke = bool(r["smoker"])
    if group is None or risks == 0:
        return "information"
    if group == "A":
        table = "active" if risks >= 2 or smoke else "motivational"
    else:
        table = "active" if risks == 3 or (risks == 2 and smoke) else "motivational"
    return "motivational" if table == "active" and r["age"] >= 65 else table


def test_matches_literal_table_on_random_population():
    g = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame(
        dict(
            sex=g.choice(["M", "F"], n), age=g.integers(40, 75, n),
            waist_cm=g.normal(86, 8, n).round(1), bmi=g.normal(24, 3, n).round(1),
            fasting_glucose=g.normal(98, 12, n).round(), hba1c=g.normal(5.6, 0.4, n).round(1),
            tg=g.normal(130, 50, n).round(), hdl=g.normal(58, 14, n).round(),
            sbp=g.normal(128, 15, n).round(), dbp=g.normal(78, 10, n).round(),
            smoker=g.random(n) < 0.25, bp_med=g.random(n) < 0.15, glucose_med=g.random(n) < 0.05,
            lipid_med=g.random(n) < 0.1,
        )
    )  # fmt: skip
    df.loc[g.random(n) < 0.3, "fasting_glucose"] = np.nan  # HbA1c decides for these
    expected = [_reference_level(r) for r in df.to_dict("records")]
    got = stratify(df).level.tolist()
    assert got == expected
    assert {"active", "motivational", "information"} <= set(got)

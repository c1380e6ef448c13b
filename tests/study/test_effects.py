"""Effect attempts: planted effects are recovered, failures become withheld rows."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.report.contract import artifact_spec
from analysis.seeds import rng
from analysis.study.effects import (
    COVARIATES,
    Outcome,
    analysis_frame,
    effects_table,
    run_methods,
)

TRUE_EFFECT = 2.0
TOLERANCE = 0.6
"""About four standard errors of AIPW at n = 800 with unit noise."""
Y = Outcome("y", "結果", "Outcome", "点", "points")


def _frame(n: int, n_treated: int | None = None, seed: int = 3) -> pd.DataFrame:
    g = rng(seed, "test", "effects")
    df = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n)],
            "age_years": g.integers(40, 75, n),
            "sex": g.choice(["F", "M"], n),
            "bmi": g.normal(23, 3, n),
            "sbp": g.normal(128, 15, n),
            "hba1c": g.normal(5.7, 0.5, n),
            "ldl": g.normal(120, 25, n),
            "smoker": g.random(n) < 0.2,
            "exercise_habit": g.random(n) < 0.3,
            "walking_habit": g.random(n) < 0.5,
            "bp_med": g.random(n) < 0.3,
            "glucose_med": g.random(n) < 0.1,
            "cm_cancer": g.random(n) < 0.05,
            "cm_mental": g.random(n) < 0.05,
            "cm_cardiovascular": g.random(n) < 0.05,
            "cm_ckd": g.random(n) < 0.08,
            "log_cost_total_prior": g.normal(11, 1, n),
        }
    )
    logit = -1 + 0.03 * (df["age_years"] - 57) + 0.5 * df["exercise_habit"]
    treat = g.random(n) < 1 / (1 + np.exp(-logit))
    if n_treated is not None:
        treat = np.zeros(n, bool)
        treat[:n_treated] = True
    df["treat"] = treat.astype(int)
    df["y"] = 0.05 * df["age_years"] + TRUE_EFFECT * df["treat"] + g.normal(0, 1, n)
    return df


def test_planted_effect_recovered_by_every_method():
    attempts = run_methods(_frame(800), program="vitality", outcome=Y, seed=1,
                           methods=("aipw", "regression", "ipw"))  # fmt: skip
    assert [a.method for a in attempts] == ["aipw", "regression", "ipw"]
    for a in attempts:
        assert a.result is not None, a.error
        assert abs(a.result.estimate - TRUE_EFFECT) < TOLERANCE, a.method
    assert [a.headline for a in attempts] == [True, False, False]


def test_too_few_treated_is_a_withheld_row_not_an_exception():
    attempts = run_methods(_frame(200, n_treated=4), program="mystar", outcome=Y, seed=1,
                           methods=("aipw", "regression"))  # fmt: skip
    table = effects_table(attempts)
    assert not table["passed"].any()
    assert (table["reason"].str.len() > 0).all()
    assert table["n_treated"].eq("<10").all()
    assert table["estimate"].isna().all()


def test_effects_table_meets_the_report_contract():
    table = effects_table(run_methods(_frame(300), program="vitality", outcome=Y, seed=2,
                                      methods=("regression",)))  # fmt: skip
    assert set(artifact_spec("03_effect_exercise", "effects").fields) <= set(table.columns)
    assert table.loc[0, "outcome"] == "vitality:y"
    assert table.loc[0, "label_ja"].endswith("結果")


def test_people_without_outcome_are_left_out_and_input_kept():
    df = _frame(300)
    df.loc[:49, "y"] = np.nan
    before = df.copy()
    (a,) = run_methods(df, program="vitality", outcome=Y, seed=2, methods=("regression",))
    assert a.result.n_treated + a.result.n_control == 250
    pd.testing.assert_frame_equal(df, before)


def test_analysis_frame_adds_treatment_and_log_cost():
    base = pd.DataFrame({"person_id": ["a", "b"], "treated": [True, False],
                         "cost_total_prior": [0, 99]})  # fmt: skip
    outc = pd.DataFrame({"person_id": ["b", "a"],
                         "next_exercise_habit": pd.array([True, pd.NA], dtype="boolean")})  # fmt: skip
    cohort = SimpleNamespace(baseline=base, outcomes=outc, spec=SimpleNamespace(spec_id="t"))
    df = analysis_frame(cohort, ["next_exercise_habit"])
    assert df["treat"].tolist() == [1, 0]
    assert df["log_cost_total_prior"].tolist() == pytest.approx([0.0, np.log(100)])
    assert np.isnan(df["next_exercise_habit"][0]) and df["next_exercise_habit"][1] == 1.0
    with pytest.raises(ValueError, match="nope"):
        analysis_frame(cohort, ["nope"])


def test_covariates_are_declared_once():
    assert len(set(COVARIATES)) == len(COVARIATES)


@dataclasses.dataclass(frozen=True)
class _Result:
    """The fields of an effect result the effects table reads."""

    diagnostics: object
    estimate: float = 1.0
    ci_low: float = 0.5
    ci_high: float = 1.5
    p_value: float = 0.01
    n_treated: int = 50
    n_control: int = 500
    estimand: str = "ATT"


def _result(passed: bool) -> _Result:
    from analysis.causal.diagnostics import Check, Diagnostics

    check = Check("balance_max_abs_smd", 0.05 if passed else 0.3, 0.1, passed,
                  "max |SMD| < 0.1 after adjustment")  # fmt: skip
    return _Result(Diagnostics((check,)))


def test_sensitivity_rows_are_withheld_with_their_primary():
    # The primary fails its balance check; a sensitivity estimate whose own checks pass
    # is still withheld, with the primary's reason, in both languages.
    from analysis.study.effects import Attempt, with_primary

    primary, sens = with_primary([Attempt("vitality", Y, "aipw", _result(False)),
                                  Attempt("vitality", Y, "ipw", _result(True))])  # fmt: skip
    assert (primary.role, sens.role) == ("primary", "sensitivity")
    assert sens.own_passed and not sens.passed and not primary.passed
    assert sens.reason == f"primary estimate (aipw) withheld: {primary.reason}"
    assert "max |SMD| < 0.1" in sens.reason
    assert sens.reason_ja.startswith("主解析（AIPW）が判定保留: ")
    table = effects_table([primary, sens])
    assert list(table["role"]) == ["primary", "sensitivity"]
    assert not table["passed"].any()
    shown = with_primary([Attempt("vitality", Y, "aipw", _result(True)),
                          Attempt("vitality", Y, "ipw", _result(True))])  # fmt: skip
    assert all(a.passed for a in shown) and shown[1].reason == ""


def test_sensitivity_row_shown_when_primary_passes():
    attempts = run_methods(_frame(800), program="vitality", outcome=Y, seed=1,
                           methods=("aipw", "regression"))  # fmt: skip
    assert all(a.passed for a in attempts), [a.reason for a in attempts]


def test_too_few_participants_withhold_the_estimate():
    from analysis.study.effects import size_gate

    few = Outcome("y", "結果", "Outcome", "点", "points", min_participants=1000)
    attempts = run_methods(_frame(800), program="vitality", outcome=few, seed=1,
                           methods=("aipw", "regression"))  # fmt: skip
    primary = attempts[0]
    assert not primary.passed
    assert "participants in the analysis >= 1000" in primary.reason
    assert "1000 人以上" in primary.reason_ja
    checks = primary.result.diagnostics.to_frame().set_index("name")
    assert checks.loc["min_participants", "value"] == primary.result.n_treated
    assert primary.result.n_treated < 1000
    base = dataclasses.replace(primary, result=_result(True))  # n_treated = 50
    assert size_gate(base, 50).passed and not size_gate(base, 51).passed


def test_cost_negative_controls_need_as_many_participants_as_the_cost_effects():
    from analysis.study.effects import MIN_PARTICIPANTS_COSTS
    from analysis.study.exercise import negative_controls

    def frame(n_treated):
        df = _frame(1500, n_treated=n_treated)
        g = rng(5, "test", "negative-controls")
        df["cost_dental_prior"] = g.gamma(0.5, 40_000, len(df))
        df["cost_total_prior"] = np.exp(df["log_cost_total_prior"])
        return df

    few = negative_controls(frame(MIN_PARTICIPANTS_COSTS - 40), seed=1)
    assert few["estimate"].isna().all() and not few["passed"].any()
    assert few["reason"].str.contains(f">= {MIN_PARTICIPANTS_COSTS}").all()
    enough = negative_controls(frame(MIN_PARTICIPANTS_COSTS + 100), seed=1)
    assert enough["estimate"].notna().all()
    assert enough["passed"].all()  # treatment is random here: no effect on earlier costs

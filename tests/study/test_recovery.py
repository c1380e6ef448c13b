"""The evaluation recovers the effects planted in the synthetic city.

A city of 50,000 residents with the odds of program uptake raised 25-fold (so that both
programs have enough participants for a precise check) is simulated with participation
ignorable given the record (``hidden_confounding=0``), and the fiscal-year evaluation runs
exactly as notebooks 03 to 05 run it (``analysis.study.recovery.evaluate_city``). Every
pre-declared estimate must be there (an estimator that fails is a withheld row, never a
missing one), and every estimate must be consistent with its own truth (the planted
effect terms of exactly the participants it used): within the Bonferroni-adjusted
family-wise 95% interval for the whole set (about forty intervals are checked, so a
plain 95% interval would miss one by chance). The naive participant/non-participant
comparison must not recover the effect: participation depends on the recorded exercise
habit, which persists. Many cities, at the real program's size too, are the job of
``mvm-eval bench recovery``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

POPULATION, UPTAKE, SEED, FY = 50_000, 25.0, 42, 2023

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("recovery")]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from analysis.data.synthetic import simulate

    return simulate(population=POPULATION, seed=SEED, uptake=UPTAKE, hidden_confounding=0.0,
                    out=tmp_path_factory.mktemp("recovery") / "city")  # fmt: skip


@pytest.fixture(scope="module")
def rows(city):
    from analysis.study.recovery import evaluate_city

    return evaluate_city(city, seed=SEED, fiscal_year=FY)


def _expected() -> set[tuple[str, str, str]]:
    from analysis.study import costs, exercise
    from analysis.study.effects import SENSITIVITY_METHODS

    keys = {("vitality", o.name, m) for o in exercise.EXERCISE_OUTCOMES
            for m in ("aipw", *SENSITIVITY_METHODS)}  # fmt: skip
    keys.add(("vitality", "next_exercise_habit", "iv_letter"))
    for program in ("mystar", "vitality"):
        keys |= {(program, o.name, m) for o in costs.HEALTH_OUTCOMES for m in costs.HEALTH_METHODS}
        keys |= {(program, o.name, m) for o in costs.COST_OUTCOMES for m in costs.COST_METHODS}
    keys.add(("vitality", "cost_total_monthly", "did"))
    keys.add(("mystar", "severe_event_free_years", "rmst_ipw"))
    return keys


def test_truth_says_participation_is_ignorable_given_the_record(city):
    truth = json.loads((city / "truth.json").read_text(encoding="utf-8"))
    assert truth["selection"]["ignorable_given_recorded"] is True
    assert truth["realised"]["vitality"][str(FY)]["participants"] >= 150
    assert truth["realised"]["mystar"][str(FY)]["participants"] >= 40


def test_every_pre_declared_estimate_is_reported(rows):
    effects = rows[~rows["role"].isin(["subgroup", "negative_control"])]
    got = set(zip(effects["program"], effects["outcome"], effects["method"], strict=True))
    assert got == _expected()
    assert len(effects) == len(got)  # each exactly once
    failed = effects[effects["estimate"].isna()]
    assert (failed["reason"].str.len() > 0).all()  # a missing number always says why


def test_primary_estimate_recovers_the_planted_exercise_effect(rows):
    r = rows.set_index(["program", "outcome", "method"]).loc[
        ("vitality", "next_exercise_habit", "aipw")
    ]
    assert r["passed"]
    assert r["ci_low"] <= r["truth"] <= r["ci_high"]
    assert r["ci_low"] > 0  # and the effect is detected


def test_every_estimate_is_consistent_with_its_truth(rows):
    done = rows[rows["estimate"].notna() & rows["se"].notna() & rows["truth"].notna()]
    done = done[~done["role"].isin(["subgroup", "negative_control"])]
    methods = set(done["method"])
    assert {"aipw", "regression", "ipw", "matching", "dml", "iv_letter", "did"} <= methods
    assert {"next_exercise_habit", "next_hba1c", "cost_total_12m", "cost_pmpm_12m"} <= set(
        done["outcome"]
    )
    z_family = stats.norm.ppf(1 - 0.025 / len(done))
    z = (done["estimate"] - done["truth"]) / done["se"]
    misses = done[~np.isfinite(z) | (z.abs() > z_family)]
    assert misses.empty, (
        f"{len(done)} estimates, limit |z| <= {z_family:.2f}:\n"
        + misses[["program", "outcome", "method", "estimate", "truth", "se"]].to_string()
    )


def test_naive_comparison_does_not_recover_the_effect(city):
    from analysis.cohort import build_cohorts, connect, default_specs
    from analysis.study import exercise
    from analysis.study.effects import analysis_frame

    cohorts = build_cohorts(connect(str(city), "duckdb", validate=False), default_specs(FY),
                            engine="duckdb")  # fmt: skip
    df = analysis_frame(cohorts["vitality"], exercise.OUTCOME_COLUMNS)
    d = df.dropna(subset=["next_exercise_habit"])
    y = d["next_exercise_habit"].astype(float)
    t = d["treat"] == 1
    diff = y[t].mean() - y[~t].mean()
    se = np.sqrt(y[t].var() / t.sum() + y[~t].var() / (~t).sum())
    truth = json.loads((city / "truth.json").read_text(encoding="utf-8"))
    planted = truth["realised"]["vitality"][str(FY)]["exercise_habit_att"]
    assert diff - 1.96 * se > planted  # biased upwards: the truth lies below its interval


def test_hidden_confounding_biases_the_adjusted_estimate(tmp_path):
    """The identifying assumption matters: when the unobserved motivation also drives
    uptake (``hidden_confounding``), adjusting for the record no longer recovers the
    planted effect, and the estimate is pushed up (motivation raises exercise)."""
    from analysis.cohort import build_cohorts, connect, default_specs
    from analysis.data.synthetic import simulate
    from analysis.study import exercise
    from analysis.study.effects import analysis_frame

    path = simulate(population=POPULATION, seed=SEED, uptake=UPTAKE, out=tmp_path / "city",
                    hidden_confounding=1.5)  # fmt: skip
    truth = json.loads((path / "truth.json").read_text(encoding="utf-8"))
    assert truth["selection"]["ignorable_given_recorded"] is False
    cohorts = build_cohorts(connect(str(path), "duckdb", validate=False), default_specs(FY),
                            engine="duckdb")  # fmt: skip
    df = analysis_frame(cohorts["vitality"], exercise.OUTCOME_COLUMNS)
    attempts = exercise.estimate_effects(df, seed=SEED)
    aipw = next(a.result for a in attempts
                if a.method == "aipw" and a.outcome.name == "next_exercise_habit")  # fmt: skip
    assert aipw.ci_low > truth["realised"]["vitality"][str(FY)]["exercise_habit_att"]

"""Pooled evaluation of several fiscal years (``analysis.study.pooled``) on a small town.

A town of 8,000 residents with program uptake raised 25-fold, so that every pooled year
has participants. The stacked frame must hold one row per offer with the year as a
category and a household cluster that keeps each person's offers together; every
pre-declared pooled estimate must be there (a failure is a withheld row with a reason);
the side-by-side table must hide a pooled count that differs from the single year's by
1 to 9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.study import pooled

YEARS = [2021, 2022, 2023]
pytestmark = pytest.mark.xdist_group("pooled")


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    from analysis.cohort import connect
    from analysis.data.synthetic import simulate

    path = simulate(population=8_000, years=(2019, 2024), seed=11, uptake=25.0,
                    out=tmp_path_factory.mktemp("pooled") / "town")  # fmt: skip
    return pooled.build_pooled_frames(connect(str(path), "duckdb", validate=False), YEARS)


def test_one_row_per_offer_with_its_year_and_a_cluster_per_person(frames):
    for program, df in frames.items():
        assert set(df[pooled.YEAR_COLUMN]) == {f"FY{y}" for y in YEARS}, program
        assert df["person_id"].is_unique  # the offer: person and year
        key = df[pooled.PERSON_COLUMN] + "@" + df[pooled.YEAR_COLUMN].str[2:]
        assert (key == df["person_id"]).all()
        assert not df[[pooled.PERSON_COLUMN, pooled.YEAR_COLUMN]].duplicated().any()
        # each person's offers share one cluster; a cluster is one household
        assert (df.groupby(pooled.PERSON_COLUMN)[pooled.CLUSTER_COLUMN].nunique() == 1).all()
        first = df.drop_duplicates(pooled.PERSON_COLUMN)
        assert (first[pooled.CLUSTER_COLUMN] == first["household_id"].astype(str)).all()
        assert {"log_cost_prior_rcs1", "cost_total_12m", "next_exercise_habit", "treat"} <= set(
            df.columns
        )
    repeat = frames["vitality"][pooled.PERSON_COLUMN].duplicated().sum()
    assert repeat > 0  # people offered in several years: the reason for the cluster


def test_every_pre_declared_pooled_estimate_is_reported(frames):
    attempts = pooled.pooled_effects(frames, seed=3)
    got = [(a.program, a.outcome.name, a.method) for a in attempts]
    want = [(p.program, p.outcome.name, m) for p in pooled.pooled_outcomes() for m in p.methods]
    assert got == want
    for a in attempts:
        if a.result is None:
            assert a.reason  # a missing number always says why
        else:
            assert a.result.info["se_type"] == "cluster_robust"
            assert a.result.info["n_clusters"] < a.result.n_treated + a.result.n_control
    assert sum(a.result is not None for a in attempts) >= 3


def test_pooled_truth_keys_recover_the_offers(frames):
    attempts = pooled.pooled_effects(frames, seed=3)
    a = next(x for x in attempts if x.result is not None and x.program == "vitality")
    offers = pooled.treated_offers(a)
    df = frames["vitality"]
    treated = df[df["treat"] == 1]
    assert len(offers) == a.result.n_treated
    assert set(offers["fiscal_year"]) <= set(YEARS)
    assert set(offers["person_id"]) <= set(treated[pooled.PERSON_COLUMN])


def test_fewer_than_two_years_and_a_late_start_are_refused():
    with pytest.raises(ValueError, match="pool_from must be an earlier fiscal year than 2023"):
        pooled.pooled_years(2023, 2023)
    with pytest.raises(ValueError, match="two or more years"):
        pooled.pooled_frame({2023: None}, [])
    assert pooled.pooled_years(2023, 2021) == YEARS


def _effects(n_treated, passed=True):
    return pd.DataFrame({
        "outcome": ["vitality:next_exercise_habit"], "label_ja": ["運動"], "label_en": ["Exercise"],
        "unit_ja": ["点"], "unit_en": ["points"], "method": ["aipw"], "role": ["primary"],
        "headline": [True], "estimate": [0.1], "ci_low": [0.0], "ci_high": [0.2],
        "p_value": [0.04], "passed": [passed], "reason": ["" if passed else "balance"],
        "reason_ja": ["" if passed else "バランス"], "n_treated": [n_treated],
        "n_control": ["2000"],
    })  # fmt: skip


def _years(*treated, control=2000):
    """Per-year counts of the one outcome of :func:`_effects`."""
    return pd.DataFrame({"outcome": "vitality:next_exercise_habit",
                         "offer_year": [f"FY{2021 + i}" for i in range(len(treated))],
                         "n_treated": list(treated), "n_control": control})  # fmt: skip


LARGE_YEARS = _years(12, 15, 40)


@pytest.mark.parametrize(("single", "pool", "shown"),
                         [("40", "45", "x"), ("40", "49", "x"), ("40", "50", "50"),
                          ("40", "40", "40"), ("<10", "45", "45"), ("40", "<10", "<10"),
                          ("1,234", "1,240", "x"), ("1,234", "1,300", "1,300")])  # fmt: skip
def test_a_pooled_count_that_tells_the_earlier_years_count_is_hidden(single, pool, shown):
    t = pooled.side_by_side(_effects(single), _effects(pool, passed=False), fiscal_year=2023,
                            pool_from=2021, year_counts=LARGE_YEARS)  # fmt: skip
    assert t.loc[0, "pooled_n_treated"] == shown
    assert t.loc[0, "single_n_treated"] == single
    assert t.loc[0, "pooled_n_control"] == "2000"
    assert (t.loc[0, "single_years"], t.loc[0, "pooled_years"]) == ("FY2023", "FY2021-FY2023")
    assert not t.loc[0, "pooled_passed"] and t.loc[0, "pooled_reason"] == "balance"
    assert list(t.columns) == pooled.SIDE_BY_SIDE_COLUMNS


def test_side_by_side_needs_the_single_years_row():
    other = _effects("40").assign(method="ipw")
    with pytest.raises(ValueError, match="no single-year row"):
        pooled.side_by_side(other, _effects("50"), fiscal_year=2023, pool_from=2021)


def test_offer_counts_suppress_small_cells(frames):
    counts = pooled.offer_counts(frames)
    assert set(counts["program"]) == {"vitality", "mystar"}
    for v in counts["n_participants"]:
        assert v in ("<10", "x") or int(v) == 0 or int(v) >= 10
    assert np.all([isinstance(v, str) for v in counts["n_offered"]])


def test_a_hidden_pooled_count_is_not_quoted_by_its_withheld_reason():
    pool = _effects("34", passed=False).assign(
        reason="max |SMD| < 0.1 after adjustment (observed 0.267); participants in the "
        "analysis >= 100 (observed 34)",
        reason_ja="分析対象の参加者が 100 人以上(観測値 34)",
    )
    t = pooled.side_by_side(_effects("30"), pool, fiscal_year=2023, pool_from=2021,
                            year_counts=LARGE_YEARS)  # fmt: skip
    assert t.loc[0, "pooled_n_treated"] == "x"
    assert "34" not in t.loc[0, "pooled_reason"] + t.loc[0, "pooled_reason_ja"]
    assert t.loc[0, "pooled_reason"].endswith("(observed x)")
    assert "(observed 0.267)" in t.loc[0, "pooled_reason"]  # other values stay
    assert t.loc[0, "pooled_reason_ja"] == "分析対象の参加者が 100 人以上(観測値 x)"
    shown = pooled.side_by_side(_effects("20"), pool, fiscal_year=2023, pool_from=2021,
                                year_counts=LARGE_YEARS)  # fmt: skip
    assert shown.loc[0, "pooled_n_treated"] == "34"  # 14 more: nothing to hide
    assert shown.loc[0, "pooled_reason"].endswith("(observed 34)")


@pytest.mark.parametrize(("years", "hidden"),
                         [(_years(4, 15, 40), True), (_years(12, 15, 40), False),
                          (_years(12, 15, 40, control=7), True), (None, True)])  # fmt: skip
def test_a_pooled_count_is_hidden_when_any_pooled_year_is_small(years, hidden):
    # FY2021 with 4 participants: the FY2022 report shows FY2022's 15 and the pooled 59
    # minus this year's 40 would be 19, so 19 - 15 = 4 would be told across reports
    pool = _effects("59", passed=False).assign(reason="participants in the analysis >= 100 "
                                               "(observed 59)")  # fmt: skip
    t = pooled.side_by_side(_effects("40"), pool, fiscal_year=2023, pool_from=2021,
                            year_counts=years)  # fmt: skip
    assert (t.loc[0, "pooled_n_treated"] == "x") is hidden
    assert (t.loc[0, "pooled_n_control"] == "x") is hidden
    assert ("59" in t.loc[0, "pooled_reason"]) is not hidden
    assert t.loc[0, "single_n_treated"] == "40"  # the single year's own counts stay


def test_year_counts_add_up_to_each_outcomes_analysis(frames):
    counts = pooled.year_counts(frames)
    attempts = {(f"{a.program}:{a.outcome.name}", a.method): a
                for a in pooled.pooled_effects(frames, seed=3)}  # fmt: skip
    for outcome, g in counts.groupby("outcome"):
        a = attempts[(outcome, "aipw")]
        assert int(g["n_treated"].sum()) == a.n_treated
        assert int(g["n_control"].sum()) == a.n_control
        assert set(g["offer_year"]) <= {f"FY{y}" for y in YEARS}


def test_single_year_effects_are_steps_03_and_04_together(tmp_path):
    from analysis.runs import artifacts as art

    for step, outcome in zip(pooled.SINGLE_YEAR_STEPS, ("vitality:a", "vitality:b"), strict=True):
        art.save_table(_effects("40").assign(outcome=outcome), tmp_path, step, "effects")
    got = pooled.single_year_effects(tmp_path)
    assert list(got["outcome"]) == ["vitality:a", "vitality:b"]
    assert list(got.index) == [0, 1]

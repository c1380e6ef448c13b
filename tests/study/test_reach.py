"""Reach and equity on a small synthetic town: counts, Wilson intervals, suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.config import MIN_CELL_COUNT
from analysis.study import exercise
from analysis.study.reach import DIMENSIONS, REACH_COLUMNS, plot_reach, reach_table, wilson_interval

TOWN_POPULATION = 6_000
TOWN_UPTAKE = 10.0
"""Uptake ten times the real program's, so that some groups have 10 or more participants."""
YEAR = 2023


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    from analysis.data import load_dataset
    from analysis.data.synthetic import simulate

    out = tmp_path_factory.mktemp("reach") / "town"
    simulate(population=TOWN_POPULATION, years=(2019, 2024), seed=7, uptake=TOWN_UPTAKE, out=out)
    d = load_dataset(out)
    return d.read("program_offers"), d.read("program_enrollments"), d.read("enrollment")


@pytest.fixture(scope="module")
def table(town):
    return reach_table(*town, YEAR)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.replace(",", ""), errors="coerce")


def test_wilson_matches_statsmodels():
    k = np.array([0, 1, 3, 10, 17, 40, 50])
    n = np.array([10, 12, 40, 10, 120, 41, 50])
    lo, hi = wilson_interval(k, n)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)
    assert np.isnan(wilson_interval([0], [0])[0][0])
    with pytest.raises(ValueError, match="between 0 and n"):
        wilson_interval([5], [4])


def test_every_block_covers_all_offers_of_its_program(town, table):
    offers = town[0][town[0]["fiscal_year"] == YEAR]
    assert list(table.columns) == REACH_COLUMNS
    for (program, dimension), block in table.groupby(["program", "dimension"]):
        offered = _num(block["n_offered"])
        assert offered.notna().all(), (program, dimension)  # offers are never small here
        assert offered.sum() == (offers["program"] == program).sum()
    assert set(table["dimension"]) == set(DIMENSIONS)


def test_letter_rows_agree_with_the_letter_experiment(town, table):
    letter = exercise.letter_experiment(*town[:2], YEAR).set_index("variant")
    rows = table[(table["program"] == "vitality") & (table["dimension"] == "letter_variant")]
    for _, r in rows.iterrows():
        assert str(r["n_offered"]) == str(letter.loc[r["group"], "n_offered"])
        if str(r["n_enrolled"]) not in ("<10", "x"):
            assert int(r["n_enrolled"]) == int(letter.loc[r["group"], "n_enrolled"])


def test_shown_rates_and_intervals_follow_from_shown_counts(table):
    shown = 0
    for rate, den, num in (("uptake", "n_offered", "n_enrolled"),
                           ("completion", "n_enrolled", "n_completed")):  # fmt: skip
        n, k = _num(table[den]), _num(table[num])
        visible = n.notna() & k.notna() & (n > 0)
        # a rate is published exactly where both of its counts are
        assert table.loc[visible, f"{rate}_pct"].notna().all()
        assert table.loc[~visible, f"{rate}_pct"].isna().all()
        lo, hi = proportion_confint(k[visible], n[visible], method="wilson")
        np.testing.assert_allclose(table.loc[visible, f"{rate}_pct"], 100 * k[visible] / n[visible])
        np.testing.assert_allclose(table.loc[visible, f"{rate}_ci_low"], 100 * lo, atol=1e-9)
        np.testing.assert_allclose(table.loc[visible, f"{rate}_ci_high"], 100 * hi, atol=1e-9)
        shown += int(visible.sum())
    assert shown >= 5  # the town is large enough for the check to mean something


def test_small_counts_are_hidden_and_no_person_is_named(table, town, small_differences):
    counts = table[["n_offered", "n_enrolled", "n_completed"]].astype(str)
    values = _num(counts.stack())
    assert ((values == 0) | (values >= MIN_CELL_COUNT) | values.isna()).all()
    assert (counts == "<10").any().any()  # the town has small groups to hide
    ids = set(town[0]["person_id"])
    assert not any(str(v) in ids for v in table.to_numpy().ravel())
    # nested counts: no shown difference (declined, did not complete) of 1 to 9 people
    assert not small_differences(table, ["n_offered", "n_enrolled", "n_completed"])


def test_deterministic_and_a_missing_enrollment_record_is_a_clear_error(town, table):
    pd.testing.assert_frame_equal(reach_table(*town, YEAR), table)
    offers, enrollments, enrollment = town
    first = offers.loc[offers["fiscal_year"] == YEAR, "person_id"].iloc[0]
    with pytest.raises(ValueError, match=r"1 offer\(s\) of FY2023 have no enrollment record"):
        reach_table(offers, enrollments, enrollment[enrollment["person_id"] != first], YEAR)


def test_figure_draws_each_group_and_redraws_in_english(table):
    import matplotlib.pyplot as plt

    ax = plot_reach(table, lang="ja")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(set(table["dimension_ja"] + ": " + table["group_ja"]))
    assert labels[0].startswith("年齢階級")
    en = ax.figure.redraw_in("en")
    assert [t.get_text() for t in en.get_yticklabels()][0].startswith("Age band")
    plt.close("all")


def test_age_band_counts_completed_years_at_the_offer():
    from analysis.study.reach import offer_frame

    offers = pd.DataFrame({"person_id": ["a", "b", "c"], "fiscal_year": YEAR,
                           "program": "vitality", "risk_tier": "low", "letter_variant": "plain",
                           "offer_date": pd.to_datetime(["2023-06-01"] * 3)})  # fmt: skip
    enrollment = pd.DataFrame({"person_id": ["a", "b", "c"], "sex": ["F", "M", "F"],
                               "birth_date": pd.to_datetime(["1973-06-01", "1973-06-02",
                                                             "1953-06-01"])})  # fmt: skip
    enrollments = pd.DataFrame(columns=["person_id", "fiscal_year", "program", "completed"])
    bands = offer_frame(offers, enrollments, enrollment, YEAR).set_index("person_id")["age_band"]
    # a turns 50 on the offer date, b the day after; c turns 70 on it
    assert bands.to_dict() == {"a": "50-59", "b": "40-49", "c": "70-74"}

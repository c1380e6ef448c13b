"""Tiers, next year's offers and the published tier table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.contract import PROGRAM_OFFERS
from analysis.risk import (
    age_band,
    assign_tiers,
    next_year_offers,
    tier_counts,
)


def test_threshold_edges():
    r = pd.Series([0.0, 0.0499, 0.05, 0.1499, 0.15, 1.0], index=list("abcdef"))
    t = assign_tiers(r, thresholds=(0.05, 0.15))
    assert t.tolist() == ["low", "low", "middle", "middle", "high", "high"]
    assert t.index.tolist() == list("abcdef")
    assert list(t.cat.categories) == ["low", "middle", "high"]


def test_capacity_fills_exactly_with_deterministic_ties():
    r = pd.Series([0.2, 0.5, 0.5, 0.5, 0.01, 0.3])
    t = assign_tiers(r, capacity=2)
    assert (t == "high").sum() == 2
    assert t.tolist() == ["middle", "high", "high", "middle", "low", "middle"]
    assert (assign_tiers(r, capacity=0) == "high").sum() == 0
    assert (assign_tiers(r, capacity=100) == "high").all()


@pytest.mark.parametrize(
    ("kw", "risk", "message"),
    [({"thresholds": (0.2, 0.1)}, [0.1], "thresholds"), ({"capacity": -1}, [0.1], "capacity"),
     ({}, [0.1, np.nan], "risk"), ({}, [1.2], "risk")],
)  # fmt: skip
def test_bad_tier_input(kw, risk, message):
    with pytest.raises(ValueError, match=message):
        assign_tiers(pd.Series(risk), **kw)


def test_offers_follow_contract_and_are_reproducible():
    n = 400
    g = np.random.default_rng(1)
    people = pd.DataFrame({"person_id": [f"P{i:04d}" for i in range(n)]}, index=range(100, 100 + n))
    risk = pd.Series(g.uniform(0, 0.4, n), index=people.index)
    tiers = assign_tiers(risk, capacity=30)
    a = next_year_offers(people, risk, tiers, fiscal_year=2024, seed=5)
    b = next_year_offers(people, risk, tiers, fiscal_year=2024, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:7]) == PROGRAM_OFFERS.column_names
    assert (a.program == "mystar").sum() == 30
    assert set(a.loc[a.risk_tier == "high", "program"]) == {"mystar"}
    assert a.risk_score.is_monotonic_decreasing
    assert 0.4 < (a.letter_variant == "nudge").mean() < 0.6
    assert a.offer_date.iloc[0].isoformat() == "2024-04-01"
    assert a.reason.str.startswith("予測5年リスク").all()
    c = next_year_offers(people, risk, tiers, fiscal_year=2024, seed=6)
    assert not c.letter_variant.equals(a.letter_variant.reindex(c.index))
    with pytest.raises(ValueError, match="person_id"):
        next_year_offers(people.rename(columns={"person_id": "id"}), risk, tiers, fiscal_year=2024)


def test_age_band_labels():
    assert age_band([39, 40, 44, 45, 74, 75]).tolist() == ["<40", "40-44", "40-44", "45-49",
                                                          "70-74", "75+"]  # fmt: skip


def test_tier_counts_suppresses_small_cells():
    tiers = ["high"] * 3 + ["low"] * 12 + ["middle"] * 10
    sex = ["M"] * 25
    age = [50] * 25
    out = tier_counts(pd.Series(tiers), pd.Series(sex), age)
    row = out.loc[("50-54", "M")]
    assert row["high"] == "<10"
    # the row total (25) is known, so one more cell is hidden and 3 cannot be derived
    assert sorted(row.tolist()) == ["12", "<10", "x"]
    assert list(out.columns) == ["low", "middle", "high"]

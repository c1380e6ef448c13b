import math

import numpy as np
import pytest

from analysis import economics as E


def test_budget_is_shared_exactly_and_mystar_costs_more_per_person():
    df = E.allocate_budget(4_730_000, {"vitality": 64, "mystar": 15})
    assert df["cost_yen"].sum() == pytest.approx(4_730_000)
    per = dict(zip(df["program"], df["cost_per_participant"], strict=True))
    # weights 64*3*1 = 192 and 15*6*3 = 270 participant-month units
    assert per["vitality"] == pytest.approx(4_730_000 * 192 / 462 / 64)
    assert per["mystar"] == pytest.approx(4_730_000 * 270 / 462 / 15)
    equal = E.allocate_budget(
        1000, {"vitality": 1, "mystar": 1}, intensity={"vitality": 2, "mystar": 1}
    )
    assert equal["cost_yen"].tolist() == pytest.approx([500, 500])


def test_present_value_closed_form():
    # geometric series: s * sum_{k<n} (p/(1+r))^k
    s, n, r, p = 1000.0, 5, 0.03, 0.8
    q = p / (1 + r)
    assert E.present_value_of_savings(s, n, discount_rate=r, persistence=p) == pytest.approx(
        s * (1 - q**n) / (1 - q)
    )
    assert E.present_value_of_savings(s, 4, discount_rate=0) == pytest.approx(4000)


def test_break_even_known_cases():
    assert E.break_even_years(100, 250, discount_rate=0) == pytest.approx(2.5)
    assert E.break_even_years(0, 10) == math.inf
    assert E.break_even_years(-5, 10) == math.inf
    assert (
        E.break_even_years(100, 1000, persistence=0.5, discount_rate=0) == math.inf
    )  # series < 200


def test_roi_interval_is_the_transform_of_the_effect_interval():
    ev = E.evaluate_roi(
        -30_000,
        -50_000,
        -10_000,
        program="mystar",
        participants=15,
        cost_per_participant=60_000,
        horizon_years=3,
        discount_rate=0.0,
    )
    assert ev.saving == (30_000, 10_000, 50_000)
    assert ev.roi == pytest.approx(
        ((90_000 - 60_000) / 60_000, (30_000 - 60_000) / 60_000, (150_000 - 60_000) / 60_000)
    )
    assert ev.roi[1] <= ev.roi[0] <= ev.roi[2]
    assert ev.net_cost[0] == pytest.approx(60_000 - 90_000)
    assert ev.break_even_years[0] == pytest.approx(2.0)
    frame = ev.to_frame()
    assert list(frame.columns) == ["program", "quantity", "estimate", "ci_low", "ci_high"]
    with pytest.raises(ValueError, match="interval"):
        E.evaluate_roi(0, 1, 2, program="vitality", participants=1, cost_per_participant=1)
    with pytest.raises(ValueError, match="cost_per_participant"):
        E.evaluate_roi(0, -1, 1, program="vitality", participants=1, cost_per_participant=0)


def test_budget_impact_scales_with_population_and_accumulates_cohorts():
    kw = dict(
        nhi_share=0.2,
        eligible_share=0.5,
        uptake=0.02,
        cost_per_participant=50_000,
        saving_per_participant_year=20_000,
        years=3,
        persistence=1.0,
    )
    small = E.budget_impact(population=70_000, **kw)
    big = E.budget_impact(population=700_000, **kw)
    np.testing.assert_allclose(big["net_cost"], 10 * small["net_cost"])
    n = 70_000 * 0.2 * 0.5 * 0.02
    # year 3: three cohorts each saving 20,000
    assert small.loc[2, "savings"] == pytest.approx(3 * n * 20_000)
    assert small["cumulative_net_cost"].iloc[-1] == pytest.approx(small["net_cost"].sum())
    with pytest.raises(ValueError, match="uptake"):
        E.budget_impact(population=1, **{**kw, "uptake": 2})

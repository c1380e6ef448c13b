"""What an effects row could detect: MDE and participants needed, against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestIndPower

from analysis.study.detectable import (
    ALPHA,
    POWER,
    ReferenceEffect,
    detectable,
    outcome_scale,
    reference_effects,
)
from analysis.study.effects import EFFECT_COLUMNS, Attempt, Outcome, effects_table, with_primary

# statsmodels solves the same noncentral-t equations with another root finder
REL_TOL = 1e-5


@pytest.mark.parametrize("n1,n0", [(13, 640), (61, 3900), (412, 3810), (50, 50)])
def test_mde_matches_statsmodels_t_test_power(n1, n0):
    sd = 2.7
    ref = TTestIndPower().solve_power(nobs1=n1, ratio=n0 / n1, alpha=ALPHA, power=POWER)
    assert detectable(n1, n0, sd).mde == pytest.approx(ref * sd, rel=REL_TOL)


@pytest.mark.parametrize("n1,n0,effect", [(13, 640, -0.3), (61, 3900, 0.12), (200, 200, 1.0)])
def test_participants_needed_match_statsmodels(n1, n0, effect):
    sd = 1.1
    exact = TTestIndPower().solve_power(
        effect_size=abs(effect) / sd, ratio=n0 / n1, alpha=ALPHA, power=POWER
    )
    d = detectable(n1, n0, sd, reference=ReferenceEffect(effect))
    assert d.reference_effect == effect
    assert d.n_required == math.ceil(exact - 1e-6)
    assert d.years_required == pytest.approx(d.n_required / n1)
    # the MDE at the needed size is at most the reference effect (it is detectable there)
    assert detectable(d.n_required, d.n_required * n0 / n1, sd).mde <= abs(effect) + 1e-9


def test_relative_reference_is_scaled_by_the_comparison_mean():
    d = detectable(100, 900, 300_000.0, 250_000.0, ReferenceEffect(-0.04, "relative"))
    assert d.reference_effect == pytest.approx(-10_000.0)
    direct = detectable(100, 900, 300_000.0, reference=ReferenceEffect(-10_000.0))
    assert d.n_required == direct.n_required


@pytest.mark.parametrize(
    "n1,n0,sd",
    [(9, 500, 1.0), (500, 9, 1.0), ("<10", 500, 1.0), (50, 500, 0.0), (50, 500, np.nan)],
)
def test_no_numbers_for_small_groups_or_without_a_spread(n1, n0, sd):
    d = detectable(n1, n0, sd, 0.0, ReferenceEffect(0.5))
    assert all(math.isnan(v) for v in d.to_dict().values())


def test_outcome_scale_is_the_comparison_groups_sd_and_mean():
    g = np.random.default_rng(3)
    df = pd.DataFrame({"treat": g.integers(0, 2, 200), "y": g.normal(5, 2, 200)})
    df.loc[3, "y"] = np.nan
    sd, mean = outcome_scale(df, "y")
    y0 = df.loc[df["treat"] == 0, "y"].dropna()
    assert sd == pytest.approx(y0.std(ddof=1)) and mean == pytest.approx(y0.mean())
    assert all(math.isnan(v) for v in outcome_scale(df.head(0), "y"))


def test_every_headline_outcome_has_a_reference_effect_in_the_planted_direction():
    from analysis.data.synthetic.effects import Effects

    refs = reference_effects()
    e = Effects()
    for key in [("vitality", "next_exercise_habit"), ("vitality", "cost_total_12m"),
                ("mystar", "cost_total_12m"), ("mystar", "next_hba1c")]:  # fmt: skip
        assert key in refs
    assert refs[("mystar", "next_hba1c")].value == e.mystar_hba1c
    assert refs[("vitality", "cost_total_12m")].kind == "relative"
    assert np.sign(refs[("mystar", "cost_total_12m")].value) == np.sign(e.mystar_cost)


def test_effects_table_carries_the_numbers_on_primary_rows_only():
    o = Outcome("next_hba1c", "HbA1c", "HbA1c", "%", "%")
    made = with_primary([Attempt("mystar", o, m, None, "too few", 40, 800, outcome_sd=0.8,
                                 control_mean=6.0) for m in ("aipw", "regression")])  # fmt: skip
    table = effects_table(made)
    assert list(table.columns) == EFFECT_COLUMNS
    primary, sensitivity = table.iloc[0], table.iloc[1]
    expected = detectable(40, 800, 0.8, 6.0, reference_effects()[("mystar", "next_hba1c")])
    assert primary["mde"] == pytest.approx(expected.mde)
    assert primary["n_required"] == expected.n_required > 40
    assert sensitivity[["mde", "n_required"]].isna().all()
    with pytest.raises(ValueError, match="non-zero"):
        ReferenceEffect(0.0)


def test_ratio_scale_of_a_constant_exposure_is_the_mean_scale_divided_by_it():
    from analysis.study.detectable import outcome_scale, ratio_scale

    g = np.random.default_rng(5)
    df = pd.DataFrame({"treat": g.integers(0, 2, 400), "cost": g.gamma(2.0, 1e4, 400),
                       "months": 12.0})  # fmt: skip
    sd, mean = outcome_scale(df, "cost")
    sd_r, mean_r = ratio_scale(df, "cost", "months")
    assert mean_r == pytest.approx(mean / 12)
    assert sd_r == pytest.approx(sd / 12)


def test_ratio_scale_is_the_ratio_of_totals_and_the_delta_method_sd():
    from analysis.study.detectable import ratio_scale

    df = pd.DataFrame({"treat": [0, 0, 0, 1], "cost": [10.0, 0.0, 30.0, 99.0],
                       "months": [2.0, 1.0, 3.0, 12.0]})  # fmt: skip
    sd, mean = ratio_scale(df, "cost", "months")
    assert mean == pytest.approx(40 / 6)
    z = (np.array([10.0, 0.0, 30.0]) - 40 / 6 * np.array([2.0, 1.0, 3.0])) / 2.0
    assert sd == pytest.approx(z.std(ddof=1))

"""Plasmode simulation and the synthetic generator behind the benchmark."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.plasmode import plasmode, simulate_confounded


def test_simulate_confounded_plants_confounding_and_is_seeded():
    a = simulate_confounded(3000, 4, effect=2.0, seed=1)
    pd.testing.assert_frame_equal(a, simulate_confounded(3000, 4, effect=2.0, seed=1))
    assert list(a.columns) == ["t", "y", "x0", "x1", "x2", "x3", "region"]
    assert 0.2 < a.t.mean() < 0.45
    naive = a.y[a.t == 1].mean() - a.y[a.t == 0].mean()
    assert naive > 2.3  # treated people have higher baseline outcomes
    with pytest.raises(ValueError, match="n_covariates"):
        simulate_confounded(100, 2)


def test_plasmode_reports_small_bias_and_nominal_coverage_for_a_correct_model():
    df = simulate_confounded(800, 3, seed=3).rename(columns={"y": "cost"})
    covs = ["x0", "x1", "x2", "region"]
    table = plasmode(
        df,
        treatment="t",
        covariates=covs,
        effect=-0.5,
        outcome="cost",
        methods=["regression", "aipw"],
        n_rep=40,
        seed=2,
    ).set_index("method")
    assert (table.n_rep == 40).all() and (table.n_failed == 0).all()
    for method in ("regression", "aipw"):
        row = table.loc[method]
        # bias within 4 Monte Carlo standard errors; coverage of 40 replications >= 80%
        assert abs(row.bias) < 4 * row.empirical_sd / np.sqrt(40)
        assert row.coverage >= 0.8
        assert row.rmse == pytest.approx(np.sqrt(row.bias**2 + row.empirical_sd**2 * 39 / 40))


def test_plasmode_exposes_a_misspecified_method():
    # The constant propensity model ignores confounding: IPW is then the naive comparison.
    df = simulate_confounded(800, 3, seed=3)
    covs = ["x0", "x1", "x2", "region"]
    table = plasmode(
        df,
        treatment="t",
        covariates=covs,
        effect=0.0,
        outcome="y",
        methods=["ipw"],
        n_rep=10,
        seed=2,
        propensity_model="constant",
    )
    assert table.coverage.iloc[0] < 0.2 and table.bias.iloc[0] > 0.3


def test_plasmode_without_outcome_and_input_untouched():
    df = simulate_confounded(500, 3, seed=5)
    before = df.copy()
    table = plasmode(
        df,
        treatment="t",
        covariates=["x0", "x1", "x2", "region"],
        effect=1.0,
        methods=["regression"],
        n_rep=5,
        seed=0,
    )
    assert table.true_effect.iloc[0] == 1.0
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ValueError, match="n_rep"):
        plasmode(df, treatment="t", covariates=["x0"], effect=1.0, n_rep=1)

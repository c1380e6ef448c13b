"""Outcome models against statsmodels GLMs and known cell means."""

import numpy as np
import pytest
import statsmodels.api as sm

from analysis.causal.outcome_models import fit_outcome_model


def test_linear_is_least_squares():
    g = np.random.default_rng(0)
    X = g.normal(size=(100, 3))
    y = X @ [1, 2, 3] + g.normal(size=100)
    ref = sm.OLS(y, sm.add_constant(X)).fit().predict(sm.add_constant(X))
    np.testing.assert_allclose(fit_outcome_model(X, y).predict(X), ref, atol=1e-10)


def test_loglink_is_the_poisson_glm_mean():
    g = np.random.default_rng(1)
    X = g.normal(size=(500, 2))
    y = g.gamma(2.0, np.exp(8 + 0.3 * X[:, 0]) / 2)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit()
    pred = fit_outcome_model(X, y, model="loglink").predict(X)
    np.testing.assert_allclose(pred, ref.predict(sm.add_constant(X)), rtol=1e-5)


def test_two_part_on_cells_is_share_positive_times_positive_mean():
    g = np.random.default_rng(2)
    cell = g.integers(0, 3, size=900)
    X = np.column_stack([cell == 1, cell == 2]).astype(float)
    y = np.where(g.random(900) < 0.3 + 0.2 * cell, g.gamma(2, 1000 * (1 + cell)), 0.0)
    pred = fit_outcome_model(X, y, model="two_part").predict(X)
    for c in range(3):
        assert pred[cell == c][0] == pytest.approx(y[cell == c].mean(), rel=1e-5)


def test_constant_outcome_in_an_arm_is_handled():
    X = np.arange(20.0)[:, None]
    assert fit_outcome_model(X, np.zeros(20), model="logistic").predict(X).max() == 0
    assert fit_outcome_model(X, np.zeros(20), model="two_part").predict(X).max() == 0


@pytest.mark.parametrize(
    ("model", "y", "message"),
    [
        ("logistic", [0, 2], "0/1"),
        ("loglink", [-1, 2], "non-negative"),
        ("tobit", [0, 1], "one of"),
    ],
)
def test_bad_outcomes(model, y, message):
    with pytest.raises(ValueError, match=message):
        fit_outcome_model(np.zeros((2, 1)), np.array(y, float), model=model)

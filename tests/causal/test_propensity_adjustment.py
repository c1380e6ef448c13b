"""Matching on an estimated propensity score: local moments, sign and calibration."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.design import make_design
from analysis.causal.matching import fit_matching
from analysis.causal.propensity_adjustment import local_moments, propensity_adjustment

N_REP = 60
SE_RATIO_RANGE = (0.8, 1.25)
"""Mean SE over the Monte Carlo SD of 60 estimates (the SD alone has ~9% relative error)."""
INDEX = np.array([0.8, -0.6, 0.5])
"""Logistic propensity index of the simulated people (intercept -0.8)."""


def _people(n: int, seed: int) -> pd.DataFrame:
    """Outcome depends on the covariates beyond the propensity, so the adjustment matters."""
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 3))
    p = 1 / (1 + np.exp(0.8 - X @ INDEX))
    t = (g.random(n) < p).astype(int)
    y = 2 * X[:, 1] + X[:, 2] + 0.5 * X[:, 0] ** 2 + g.normal(size=n) + t
    return pd.DataFrame({"t": t, "y": y, "a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})


def test_local_covariance_recovers_the_gaussian_conditional_covariance():
    # X ~ N(0, I), score = b'X: cov(X, c'X | score) = (I - bb'/b'b) c for every score value.
    g = np.random.default_rng(0)
    X = g.normal(size=(20_000, 3))
    c = np.array([0.0, 2.0, 1.0])
    y = X @ c + g.normal(size=len(X))
    cov, mean = local_moments(X @ INDEX, np.arange(len(X)), X, y, 4)
    expected = (np.eye(3) - np.outer(INDEX, INDEX) / (INDEX @ INDEX)) @ c
    np.testing.assert_allclose(cov.mean(axis=0), expected, atol=0.05)
    # the local mean follows E[y | score] = (b'c / b'b) score
    slope = np.polyfit(X @ INDEX, mean, 1)[0]
    assert slope == pytest.approx(INDEX @ c / (INDEX @ INDEX), abs=0.05)


def test_ate_adjustment_is_never_positive():
    for seed in range(5):
        design = make_design(_people(600, seed), treatment="t", outcome="y", covariates=["a", "b"])
        fit = fit_matching(design, estimand="ATE", caliper=None, bias_correction=False)
        assert fit.info["propensity_variance_adjustment"] <= 0


def test_adjustment_is_zero_when_the_outcome_depends_on_the_score_only():
    # cov(X, mu(w, X) | p) = 0 and a constant effect: nothing to adjust.
    g = np.random.default_rng(3)
    n = 4000
    X = g.normal(size=(n, 3))
    Z = np.column_stack([np.ones(n), X])
    e = 1 / (1 + np.exp(0.8 - X @ INDEX))
    t = (g.random(n) < e).astype(int)
    y = 3 * (X @ INDEX) + t + g.normal(size=n)
    score = np.log(e / (1 - e))
    for estimand in ("ATT", "ATE"):
        adj = propensity_adjustment(Z, t, e, score, y, y, estimand=estimand, tau=1.0)
        # about -25 / n in _people's design, where the outcome depends on more than the score
        assert abs(adj) < 0.25 / n


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_adjusted_se_is_calibrated_where_the_known_score_se_is_not(estimand):
    est, se_adj, se_known = [], [], []
    for s in range(N_REP):
        design = make_design(
            _people(1000, 100 + s), treatment="t", outcome="y", covariates=["a", "b", "c"]
        )
        kw = dict(estimand=estimand, caliper=None, bias_correction=False)
        fit = fit_matching(design, **kw)
        known = fit_matching(design, propensity_adjustment=False, **kw)
        est.append(fit.estimate), se_adj.append(fit.se), se_known.append(known.se)
    sd = np.std(est, ddof=1)
    assert SE_RATIO_RANGE[0] < np.mean(se_adj) / sd < SE_RATIO_RANGE[1]
    assert np.mean(se_known) / sd > 1.1  # the known-score variance overstates it here


def test_gbm_propensity_keeps_the_known_score_variance():
    design = make_design(_people(600, 1), treatment="t", outcome="y", covariates=["a", "b"])
    fit = fit_matching(design, estimand="ATT", propensity_model="gbm")
    assert fit.info["analytic_se_type"] == "abadie_imbens"
    assert fit.info["propensity_variance_adjustment"] == 0.0

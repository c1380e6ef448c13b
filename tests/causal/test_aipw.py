"""AIPW: double robustness with a planted effect, cluster-robust SEs, ATT."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.aipw import aipw_scores
from analysis.causal.estimate import estimate_effect
from analysis.causal.plasmode import simulate_confounded

Z_TOL = 4.0
"""A consistent estimator must land within 4 standard errors of the planted effect (a
fixed-seed miss has probability 6e-5); the misspecified single-robust estimator in the
same data must miss by more, which shows that the check can fail."""
TAU = 1.0


def wrong_outcome_model_data(n=20_000, seed=0):
    """Outcome cubic in x (the linear outcome model is wrong); logistic propensity (right)."""
    g = np.random.default_rng(seed)
    x = g.normal(size=n)
    t = (g.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    return pd.DataFrame({"t": t, "x": x, "y": x**3 + TAU * t + g.normal(size=n)})


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_unbiased_with_wrong_outcome_model_and_right_propensity(estimand):
    df = wrong_outcome_model_data()
    kw = dict(treatment="t", outcome="y", covariates=["x"], estimand=estimand)
    aipw = estimate_effect(df, method="aipw", **kw)
    reg = estimate_effect(df, method="regression", **kw)
    assert abs(aipw.estimate - TAU) < Z_TOL * aipw.se
    assert abs(reg.estimate - TAU) > Z_TOL * reg.se


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_unbiased_with_wrong_propensity_model_and_right_outcome_model(estimand):
    # The "constant" propensity model ignores the confounder entirely.
    df = simulate_confounded(20_000, 3, effect=TAU, seed=2, confounding=1.5)
    kw = dict(
        treatment="t",
        outcome="y",
        covariates=["x0", "x1", "x2", "region"],
        estimand=estimand,
        propensity_model="constant",
    )
    aipw = estimate_effect(df, method="aipw", **kw)
    ipw = estimate_effect(df, method="ipw", **kw)
    assert abs(aipw.estimate - TAU) < Z_TOL * aipw.se
    assert abs(ipw.estimate - TAU) > Z_TOL * ipw.se


def test_scores_with_known_nuisances_are_textbook_formulas():
    t = np.array([1, 0, 1, 0])
    y = np.array([3.0, 1.0, 2.0, 0.0])
    e = np.array([0.5, 0.5, 0.25, 0.75])
    m1 = np.array([2.0, 2.0, 2.0, 2.0])
    m0 = np.array([1.0, 1.0, 1.0, 1.0])
    est, psi = aipw_scores(t, y, e, m1, m0, "ATE")
    phi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
    assert est == pytest.approx(phi.mean())
    np.testing.assert_allclose(psi, phi - phi.mean())
    att, _ = aipw_scores(t, y, e, m1, m0, "ATT")
    num = np.sum(t * (y - m0) - (1 - t) * e / (1 - e) * (y - m0))
    assert att == pytest.approx(num / t.sum())


def test_cluster_se_exceeds_iid_se_with_household_correlation():
    g = np.random.default_rng(4)
    n_hh, size = 400, 5
    hh = np.repeat(np.arange(n_hh), size)
    x = g.normal(size=n_hh * size)
    t = np.repeat((g.random(n_hh) < 0.4).astype(int), size)  # whole households take part
    y = TAU * t + x + np.repeat(g.normal(0, 3, n_hh), size) + g.normal(size=n_hh * size)
    df = pd.DataFrame({"t": t, "x": x, "y": y, "household": hh})
    iid = estimate_effect(df, treatment="t", outcome="y", covariates=["x"])
    clu = estimate_effect(df, treatment="t", outcome="y", covariates=["x"], cluster="household")
    assert clu.estimate == iid.estimate
    assert clu.se > 1.5 * iid.se
    assert clu.info["se_type"] == "cluster_robust" and clu.info["n_clusters"] == n_hh


def test_trim_and_gbm_propensity_run_and_report():
    df = simulate_confounded(800, 4, effect=TAU, seed=9, confounding=2.0)
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["x0", "x1", "x2", "region"],
        trim=0.05,
        propensity_model="gbm",
    )
    assert r.info["n_trimmed"] > 0
    assert r.n_treated + r.n_control == len(df) - r.info["n_trimmed"]
    assert abs(r.estimate - TAU) < Z_TOL * r.se


def test_same_seed_same_answer_other_seed_other_folds():
    df = simulate_confounded(800, 3, seed=1)
    kw = dict(treatment="t", outcome="y", covariates=["x0", "x1", "x2"])
    a, b = estimate_effect(df, seed=5, **kw), estimate_effect(df, seed=5, **kw)
    c = estimate_effect(df, seed=6, **kw)
    assert a.estimate == b.estimate and a.se == b.se
    assert a.estimate != c.estimate


def test_binary_outcome_with_logistic_outcome_model():
    g = np.random.default_rng(3)
    n = 6000
    x = g.normal(size=n)
    t = (g.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    p0 = 1 / (1 + np.exp(-(-1 + x)))
    p1 = 1 / (1 + np.exp(-(-1 + x - 0.7)))
    y = (g.random(n) < np.where(t == 1, p1, p0)).astype(int)
    truth = float(np.mean(p1 - p0))
    r = estimate_effect(
        pd.DataFrame({"t": t, "x": x, "y": y}),
        treatment="t",
        outcome="y",
        covariates=["x"],
        outcome_model="logistic",
    )
    assert r.info["outcome_binary"]
    assert abs(r.estimate - truth) < Z_TOL * r.se

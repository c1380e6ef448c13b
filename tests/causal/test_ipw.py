"""Inverse-probability weighting: identities and the sandwich standard error."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.design import make_design
from analysis.causal.estimate import estimate_effect, influence_se
from analysis.causal.ipw import fit_ipw, ipw_weights
from analysis.causal.plasmode import simulate_confounded

SE_REL_TOL = 0.08
"""Sandwich vs 400-replicate bootstrap SE: the bootstrap SE has ~3.5% Monte Carlo error, and
an SE that ignores the estimation of the propensity is ~15% too large in this design."""


def discrete_frame(n=600, seed=0):
    """Six strata (3 levels x sex) with stratum-specific treatment shares and effects."""
    g = np.random.default_rng(seed)
    stratum = g.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    sex = g.choice(["M", "F"], size=n)
    base = {"a": 0.2, "b": 0.5, "c": 0.7}
    p = np.array([base[s] for s in stratum]) + np.where(sex == "M", 0.1, -0.1)
    t = (g.random(n) < p).astype(int)
    y = 3 * t * (stratum == "a") + t + np.where(sex == "M", 2.0, 0.0) + g.normal(size=n)
    return pd.DataFrame({"t": t, "y": y, "stratum": stratum, "sex": sex})


def stratified_effect(df, estimand):
    """The exact standardised difference over the strata (weights: everyone or treated)."""
    cells = df.groupby(["stratum", "sex"])
    diff = cells.apply(lambda c: c.y[c.t == 1].mean() - c.y[c.t == 0].mean(), include_groups=False)
    size = cells.size() if estimand == "ATE" else cells.t.sum()
    return float((diff * size).sum() / size.sum())


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_constant_propensity_gives_difference_in_means(estimand):
    df = discrete_frame(300, seed=4)
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["stratum", "sex"],
        method="ipw",
        estimand=estimand,
        propensity_model="constant",
    )
    assert r.estimate == pytest.approx(df.y[df.t == 1].mean() - df.y[df.t == 0].mean(), abs=1e-12)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_saturated_propensity_gives_exact_stratified_effect(estimand):
    # The logistic MLE on cell dummies reproduces the cell treated shares, and weighting by
    # them is exactly the stratified (standardised) estimator.
    df = discrete_frame(800, seed=1)
    df["cell"] = df.stratum + df.sex
    r = estimate_effect(
        df, treatment="t", outcome="y", covariates=["cell"], method="ipw", estimand=estimand
    )
    assert r.estimate == pytest.approx(stratified_effect(df, estimand), abs=1e-6)


def test_weights_are_stabilised():
    t = np.array([1, 1, 0, 0, 0])
    e = np.array([0.5, 0.25, 0.5, 0.25, 0.2])
    w = ipw_weights(t, e, "ATE")
    np.testing.assert_allclose(w, [0.4 / 0.5, 0.4 / 0.25, 0.6 / 0.5, 0.6 / 0.75, 0.6 / 0.8])
    w_att = ipw_weights(t, e, "ATT")
    np.testing.assert_allclose(w_att[:2], 1.0)
    np.testing.assert_allclose(w_att[2:], np.array([1.0, 1 / 3, 0.25]) * 0.6 / 0.4)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_sandwich_se_agrees_with_bootstrap(estimand):
    df = simulate_confounded(1500, 3, effect=1.0, seed=3, confounding=1.5)
    covs = ["x0", "x1", "x2"]
    a = estimate_effect(
        df, treatment="t", outcome="y", covariates=covs, method="ipw", estimand=estimand
    )
    b = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=covs,
        method="ipw",
        estimand=estimand,
        n_bootstrap=400,
        n_jobs=1,
    )
    assert a.info["propensity_estimated_in_se"]
    assert a.se == pytest.approx(b.se, rel=SE_REL_TOL)
    design = make_design(df, treatment="t", outcome="y", covariates=covs)
    as_known = fit_ipw(design, estimand=estimand, propensity=a.info["propensity"])
    assert not as_known.info["propensity_estimated_in_se"]
    assert influence_se(as_known.influence) > (1 + SE_REL_TOL) * b.se


def test_trimming_drops_extreme_propensities_and_says_so():
    df = simulate_confounded(2000, 3, effect=1.0, seed=6, confounding=2.5)
    r = estimate_effect(
        df, treatment="t", outcome="y", covariates=["x0", "x1", "x2"], method="ipw", trim=0.05
    )
    e = r.info["propensity"]
    dropped = int(((e < 0.05) | (e > 0.95)).sum())
    assert dropped > 0 and r.info["n_trimmed"] == dropped
    assert r.n_treated + r.n_control == len(df) - dropped


@pytest.mark.parametrize("trim", [0, 0.5, -0.1])
def test_bad_trim_rejected(trim):
    df = discrete_frame()
    with pytest.raises(ValueError, match="trim"):
        estimate_effect(df, treatment="t", outcome="y", covariates=["sex"], method="ipw", trim=trim)


def test_naive_biased_ipw_recovers_effect():
    df = simulate_confounded(3000, 5, effect=1.0, seed=21)
    naive = df.y[df.t == 1].mean() - df.y[df.t == 0].mean()
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["x0", "x1", "x2", "x3", "x4", "region"],
        method="ipw",
    )
    assert r.ci_low < 1.0 < r.ci_high
    assert naive > r.ci_high

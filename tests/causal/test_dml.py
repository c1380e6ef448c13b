"""econml LinearDML and CausalForestDML behind estimate_effect."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.estimate import estimate_effect
from analysis.causal.plasmode import simulate_confounded

Z_TOL = 4.0
"""Planted effect within 4 standard errors (fixed seeds)."""
COVS = ["x0", "x1", "x2", "region"]


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_linear_dml_recovers_planted_effect(estimand):
    df = simulate_confounded(1500, 3, effect=1.0, seed=5)
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=COVS,
        method="dml",
        estimand=estimand,
        nuisance="linear",
        n_folds=3,
    )
    assert abs(r.estimate - 1.0) < Z_TOL * r.se
    assert r.cate.shape == (len(df),)
    naive = df.y[df.t == 1].mean() - df.y[df.t == 0].mean()
    assert abs(naive - 1.0) > Z_TOL * r.se


def heterogeneous(n=2000, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 2))
    t = (g.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    tau = 1.0 + 1.0 * (x[:, 1] > 0)
    y = x[:, 0] + tau * t + g.normal(size=n)
    return pd.DataFrame({"t": t, "y": y, "a": x[:, 0], "b": x[:, 1]}), tau


def test_forest_returns_cates_that_track_the_planted_heterogeneity():
    df, tau = heterogeneous()
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["a", "b"],
        method="forest",
        nuisance="linear",
        n_folds=3,
        n_estimators=100,
        n_jobs=1,
        seed=3,
    )
    assert abs(r.estimate - tau.mean()) < Z_TOL * r.se
    hi, lo = r.cate[df.b > 0].mean(), r.cate[df.b <= 0].mean()
    assert hi - lo == pytest.approx(1.0, abs=0.4)
    again = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["a", "b"],
        method="forest",
        nuisance="linear",
        n_folds=3,
        n_estimators=100,
        n_jobs=1,
        seed=3,
    )
    assert again.estimate == r.estimate


def test_forest_needs_covariates_and_dml_rejects_clusters():
    df, _ = heterogeneous(200)
    with pytest.raises(ValueError, match="at least one"):
        estimate_effect(df, treatment="t", outcome="y", covariates=[], method="forest")
    with pytest.raises(ValueError, match="cluster bootstrap"):
        estimate_effect(
            df.assign(h=0), treatment="t", outcome="y", covariates=["a"], method="dml", cluster="h"
        )


def test_unknown_nuisance_rejected():
    df, _ = heterogeneous(200)
    with pytest.raises(ValueError, match="nuisance"):
        estimate_effect(
            df, treatment="t", outcome="y", covariates=["a"], method="dml", nuisance="deep"
        )

"""estimate_effect: every method recovers a planted effect where the naive comparison fails;
argument checking; bootstrap determinism."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.estimate import METHODS, estimate_effect, influence_se
from analysis.causal.plasmode import simulate_confounded
from analysis.causal.result import FRAME_COLUMNS

Z_TOL = 4.0
"""Planted effect within 4 standard errors of each estimate (fixed seeds)."""
COVS = ["x0", "x1", "x2", "x3", "region"]
FAST = {
    "dml": {"nuisance": "linear", "n_folds": 3},
    "forest": {"nuisance": "linear", "n_folds": 3, "n_estimators": 100, "n_jobs": 1},
}


@pytest.fixture(scope="module")
def confounded():
    return simulate_confounded(2000, 4, effect=1.0, seed=12)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("method", METHODS)
def test_adjusted_methods_recover_planted_effect_naive_does_not(confounded, method, estimand):
    df = confounded
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=COVS,
        method=method,
        estimand=estimand,
        **FAST.get(method, {}),
    )
    assert abs(r.estimate - 1.0) < Z_TOL * r.se
    naive = df.y[df.t == 1].mean() - df.y[df.t == 0].mean()
    assert abs(naive - 1.0) > Z_TOL * r.se
    assert r.method == method and r.estimand == estimand
    assert r.ci_low < r.estimate < r.ci_high and 0 <= r.p_value <= 1
    assert r.passed, r.diagnostics.reason()
    assert list(r.to_frame().columns) == list(FRAME_COLUMNS)


def test_gates_fail_under_severe_confounding_without_overlap():
    df = simulate_confounded(2000, 3, seed=1, confounding=6.0)
    r = estimate_effect(
        df, treatment="t", outcome="y", covariates=["x0", "x1", "x2", "region"], method="ipw"
    )
    assert not r.passed
    names = {c.name for c in r.diagnostics.failed}
    assert names & {"propensity_extreme_share", "effective_sample_size_ratio"}
    assert "判定保留" in str(r.summary())


def test_influence_se_cluster_formula():
    psi = np.array([1.0, -1.0, 2.0, 0.0])
    assert influence_se(psi) == pytest.approx(np.sqrt(6) / 4)
    cl = np.array([0, 0, 1, 1])
    assert influence_se(psi, cl) == pytest.approx(np.sqrt(2 / 1 * (0 + 4)) / 4)


def test_bootstrap_is_deterministic_and_independent_of_n_jobs(confounded):
    from joblib import parallel_config

    kw = dict(treatment="t", outcome="y", covariates=COVS, method="ipw", n_bootstrap=40, seed=3)
    a = estimate_effect(confounded, n_jobs=1, **kw)
    with parallel_config(backend="threading"):  # worker processes take long to start
        b = estimate_effect(confounded, n_jobs=2, **kw)
    np.testing.assert_array_equal(a.info["bootstrap"], b.info["bootstrap"])
    assert a.se == b.se and a.info["se_type"] == "bootstrap"
    c = estimate_effect(confounded, n_jobs=1, **{**kw, "seed": 4})
    assert c.se != a.se


def test_cluster_bootstrap_resamples_households(confounded):
    df = confounded.assign(hh=np.arange(len(confounded)) // 4)
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=COVS,
        method="matching",
        estimand="ATT",
        cluster="hh",
        n_bootstrap=30,
        n_jobs=1,
    )
    assert r.info["se_type"] == "cluster_bootstrap"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "svm"}, "method must be one of"),
        ({"estimand": "ATC"}, "estimand must be one of"),
        ({"n_bootstrap": 5}, "n_bootstrap"),
        ({"n_bootstrap": -1}, "n_bootstrap"),
        ({"method": "ipw", "n_folds": 3}, r"unknown option\(s\) for method='ipw': n_folds"),
        ({"method": "ipw", "outcome_model": "logistic"}, "outcome_model applies"),
        ({"method": "matching", "trim": 0.1}, "trim applies"),
        ({"outcome_model": "poisson"}, "outcome_model must be one of"),
        ({"outcome_model": "logistic"}, "needs a 0/1 outcome; 'y'"),
        ({"method": "ipw", "propensity_model": "svm"}, "propensity model must be one of"),
    ],
)
def test_bad_arguments_get_clear_errors(confounded, kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimate_effect(confounded, treatment="t", outcome="y", covariates=COVS, **kwargs)


def test_result_carries_what_sensitivity_needs(confounded):
    r = estimate_effect(
        confounded, treatment="t", outcome="y", covariates=COVS, method="regression"
    )
    df = confounded
    assert r.info["control_mean"] == pytest.approx(df.y[df.t == 0].mean())
    assert r.info["outcome_sd"] == pytest.approx(df.y.std())
    assert r.info["t_stat"] == pytest.approx(r.estimate / r.se)
    assert r.info["df"] == len(df) - 2 * (len(COVS) + 1 + 1)  # region adds a second dummy


def test_trimming_that_empties_a_group_is_an_error():
    # 12 treated people, most with propensities above 0.9: trimming leaves fewer than 10.
    g = np.random.default_rng(0)
    x = np.r_[g.normal(size=388), g.normal(2.5, 0.7, size=12)]
    t = np.r_[np.zeros(388, int), np.ones(12, int)]
    df = pd.DataFrame({"t": t, "x": x, "y": g.normal(size=400)})
    with pytest.raises(ValueError, match="after trimming only 9 treated"):
        estimate_effect(df, treatment="t", outcome="y", covariates=["x"], method="ipw", trim=0.1)

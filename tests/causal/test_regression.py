"""Outcome regression: exact known answers on discrete designs, and Lin's standard error."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.estimate import estimate_effect
from analysis.causal.plasmode import simulate_confounded

EXACT = 1e-9
"""Identities that hold algebraically are checked to floating-point precision."""


def discrete_frame(n=600, seed=0, binary_outcome=False):
    g = np.random.default_rng(seed)
    stratum = g.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    sex = g.choice(["M", "F"], size=n)
    base = {"a": 0.2, "b": 0.5, "c": 0.7}
    p = np.array([base[s] for s in stratum]) + np.where(sex == "M", 0.1, -0.1)
    t = (g.random(n) < p).astype(int)
    if binary_outcome:
        y = (g.random(n) < 0.2 + 0.3 * t * (stratum == "a") + 0.2 * (sex == "M")).astype(int)
    else:
        y = 3 * t * (stratum == "a") + t + np.where(sex == "M", 2.0, 0.0) + g.normal(size=n)
    return pd.DataFrame({"t": t, "y": y, "stratum": stratum, "sex": sex})


def stratified_effect(df, estimand):
    """The exact standardised difference over the strata (weights: everyone or treated)."""
    cells = df.groupby(["stratum", "sex"])
    diff = cells.apply(lambda c: c.y[c.t == 1].mean() - c.y[c.t == 0].mean(), include_groups=False)
    size = cells.size() if estimand == "ATE" else cells.t.sum()
    return float((diff * size).sum() / size.sum())


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize(
    ("outcome_model", "binary"), [("linear", False), ("linear", True), ("logistic", True)]
)
def test_saturated_design_gives_exact_stratified_effect(estimand, outcome_model, binary):
    df = discrete_frame(binary_outcome=binary)
    df["cell"] = df.stratum + df.sex
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["cell"],
        method="regression",
        estimand=estimand,
        outcome_model=outcome_model,
        n_bootstrap=20,
        n_jobs=1,
    )
    assert r.estimate == pytest.approx(stratified_effect(df, estimand), abs=1e-6)


def test_no_covariates_is_difference_in_means_with_robust_se():
    df = discrete_frame(300, seed=2)
    r = estimate_effect(df, treatment="t", outcome="y", covariates=[], method="regression")
    y1, y0 = df.y[df.t == 1], df.y[df.t == 0]
    assert r.estimate == pytest.approx(y1.mean() - y0.mean(), abs=EXACT)
    hc1 = np.sqrt((y1.var(ddof=0) / len(y1) + y0.var(ddof=0) / len(y0)) * len(df) / (len(df) - 2))
    assert r.se == pytest.approx(hc1, rel=1e-9)


def test_lin_se_matches_statsmodels_hc1_when_covariates_are_fixed():
    # The influence SE is statsmodels' HC1 on the t coefficient plus the variance of the
    # centring at the sample mean, gamma^2 var(x) / n (their cross term is near zero).
    import statsmodels.api as sm

    g = np.random.default_rng(5)
    n = 400
    x = g.normal(size=n)
    x -= x.mean()
    t = (g.random(n) < 0.4).astype(int)
    y = 1 + 0.5 * t + 2 * x + g.normal(size=n)
    df = pd.DataFrame({"t": t, "x": x, "y": y})
    r = estimate_effect(df, treatment="t", outcome="y", covariates=["x"], method="regression")
    Z = np.column_stack([np.ones(n), t, x, t * x])
    ols = sm.OLS(y, Z).fit(cov_type="HC1")
    assert r.estimate == pytest.approx(ols.params[1], abs=EXACT)
    gamma = ols.params[3]
    extra = gamma**2 * x.var() / n * n / (n - 4)
    assert r.se == pytest.approx(np.sqrt(ols.bse[1] ** 2 + extra), rel=0.01)
    assert r.se > ols.bse[1]


def test_recovers_planted_effect_under_confounding_where_naive_fails():
    df = simulate_confounded(3000, 5, effect=1.0, seed=11)
    covs = ["x0", "x1", "x2", "x3", "x4", "region"]
    naive = df.y[df.t == 1].mean() - df.y[df.t == 0].mean()
    r = estimate_effect(df, treatment="t", outcome="y", covariates=covs, method="regression")
    assert r.ci_low < 1.0 < r.ci_high
    assert not (naive - 3 * r.se < 1.0 < naive + 3 * r.se)


@pytest.mark.parametrize("outcome_model", ["two_part", "loglink"])
def test_cost_models_recover_a_multiplicative_effect(outcome_model):
    # Costs with 40% zeros; the program cuts positive costs by 20% in everyone.
    g = np.random.default_rng(8)
    n = 4000
    x = g.normal(size=n)
    t = (g.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    any_cost = g.random(n) < 1 / (1 + np.exp(-(0.4 + 0.5 * x)))
    mean_pos = np.exp(10 + 0.4 * x) * np.where(t == 1, 0.8, 1.0)
    cost = np.where(any_cost, g.gamma(2.0, mean_pos / 2.0), 0.0)
    df = pd.DataFrame({"t": t, "x": x, "cost": cost})
    truth = float(np.mean(1 / (1 + np.exp(-(0.4 + 0.5 * x))) * np.exp(10 + 0.4 * x) * -0.2))
    r = estimate_effect(
        df,
        treatment="t",
        outcome="cost",
        covariates=["x"],
        method="regression",
        outcome_model=outcome_model,
        n_bootstrap=50,
        n_jobs=1,
    )
    assert r.info["se_type"] == "bootstrap"
    assert r.ci_low < truth < r.ci_high
    assert abs(r.estimate - truth) < 3 * r.se


def test_negative_costs_rejected_for_cost_models():
    df = discrete_frame()
    with pytest.raises(ValueError, match=r"non-negative outcome; 'y'"):
        estimate_effect(
            df,
            treatment="t",
            outcome="y",
            covariates=["sex"],
            method="regression",
            outcome_model="loglink",
        )

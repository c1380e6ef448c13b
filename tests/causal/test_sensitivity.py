"""E-values (VanderWeele & Ding's worked examples), robustness values (Cinelli & Hazlett's
Darfur example, as printed by sensemakr) and placebo outcomes."""

import math

import numpy as np
import pytest

from analysis.causal.estimate import estimate_effect
from analysis.causal.plasmode import simulate_confounded
from analysis.causal.result import EffectResult
from analysis.causal.sensitivity import (
    e_value,
    e_value_rr,
    placebo_outcomes,
    robustness_value,
)


def test_e_value_known_values_from_the_paper():
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8-8.7) -> E-values 7.26 and 3.0.
    ev = e_value_rr(3.9, 1.8, 8.7)
    assert ev.point == pytest.approx(7.26, abs=0.005)
    assert ev.ci == pytest.approx(3.0, abs=1e-9)


def test_e_value_protective_and_null_including():
    ev = e_value_rr(0.5, 0.3, 0.8)
    assert ev.point == pytest.approx(2 + math.sqrt(2))
    assert ev.ci == pytest.approx(e_value_rr(1 / 0.8).point)
    assert e_value_rr(1.3, 0.9, 1.8).ci == 1.0
    with pytest.raises(ValueError, match="positive"):
        e_value_rr(0.0)


def result(estimate, se, binary, control_mean, sd):
    return EffectResult(
        estimate=estimate,
        se=se,
        ci_low=estimate - 1.96 * se,
        ci_high=estimate + 1.96 * se,
        p_value=0.01,
        n_treated=50,
        n_control=500,
        method="aipw",
        estimand="ATE",
        outcome="y",
        treatment="t",
        info={"outcome_binary": binary, "control_mean": control_mean, "outcome_sd": sd},
    )


def test_e_value_of_risk_difference_uses_baseline_risk():
    ev = e_value(result(0.1, 0.02, True, 0.2, 0.5))
    assert ev.risk_ratio == pytest.approx(1.5)
    assert ev.point == pytest.approx(1.5 + math.sqrt(1.5 * 0.5))
    assert ev.scale == "risk_difference"


def test_e_value_of_continuous_outcome_uses_standardised_difference():
    ev = e_value(result(-3.0, 1.0, False, 120.0, 10.0))
    assert ev.risk_ratio == pytest.approx(math.exp(-0.273))
    assert ev.point == pytest.approx(e_value_rr(math.exp(0.273)).point)
    assert ev.ci == pytest.approx(e_value_rr(1 / math.exp(-0.273 + 0.178)).point)
    with pytest.raises(ValueError, match="outcome_sd"):
        e_value(result(-3.0, 1.0, False, 120.0, None))


def test_robustness_value_darfur_example():
    r = robustness_value(t_stat=4.1844, df=783)
    assert r.partial_r2 == pytest.approx(0.0219, abs=5e-5)
    assert r.rv == pytest.approx(0.1388, abs=5e-5)
    assert r.rv_alpha == pytest.approx(0.0763, abs=5e-5)


def test_robustness_value_from_a_regression_result_and_misuse():
    df = simulate_confounded(500, 3, seed=1)
    covs = ["x0", "x1", "x2", "region"]
    reg = estimate_effect(df, treatment="t", outcome="y", covariates=covs, method="regression")
    rv = robustness_value(reg)
    assert rv.rv == pytest.approx(robustness_value(t_stat=reg.info["t_stat"], df=reg.info["df"]).rv)
    assert 0 < rv.rv_alpha < rv.rv < 1
    aipw = estimate_effect(df, treatment="t", outcome="y", covariates=covs)
    with pytest.raises(ValueError, match="method='regression'"):
        robustness_value(aipw)


def test_placebo_outcomes_detect_a_leak_but_not_a_true_null():
    df = simulate_confounded(1500, 3, seed=4)
    g = np.random.default_rng(0)
    df["dental_cost"] = df.x0 + g.normal(size=len(df))  # confounded but unaffected
    df["leaky"] = df.x0 + 0.5 * df.t + g.normal(size=len(df))
    covs = ["x0", "x1", "x2", "region"]
    ok = placebo_outcomes(df, treatment="t", outcomes=["dental_cost"], covariates=covs)
    assert ok.attrs["check"].passed and ok.ci_covers_zero.all()
    bad = placebo_outcomes(df, treatment="t", outcomes=["dental_cost", "leaky"], covariates=covs)
    assert not bad.attrs["check"].passed
    assert bad.p_value_holm.iloc[1] < 0.05

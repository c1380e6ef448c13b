"""Power and sample size: closed-form values, inverse relations and a simulation check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from analysis.causal.power import (
    design_effect,
    minimum_detectable_cost_reduction,
    minimum_detectable_effect,
    power_of_test,
    required_sample_size,
    required_sample_size_for_cost,
)
from analysis.seeds import rng

# The simulated power of 2,000 replications has a binomial SE of about 0.009 at 0.8;
# 0.03 is more than three SEs.
SIM_POWER_TOL = 0.03


def test_cohen_table_d_half():
    # Cohen (1988) / G*Power: d = 0.5, two-sided alpha 0.05, power 0.8 -> 63.77 per arm.
    n = required_sample_size(0.5, 1.0)
    assert n.n_treated_exact == pytest.approx(63.77, abs=0.01)
    assert (n.n_treated, n.n_control, n.n_total) == (64, 64, 128)


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("alpha,power", [(0.05, 0.8), (0.01, 0.9)])
def test_matches_statsmodels(ratio, alpha, power):
    ref = TTestIndPower().solve_power(effect_size=0.3, alpha=alpha, power=power, ratio=ratio)
    ours = required_sample_size(3.0, 10.0, ratio=ratio, alpha=alpha, power=power)
    assert ours.n_treated_exact == pytest.approx(ref, rel=1e-4)


def test_large_sample_matches_normal_formula():
    # For large n the t-test is the z-test: MDE = (z_{1-a/2} + z_{power}) * sd * sqrt(2/n).
    n, sd = 50_000, 300_000.0
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert minimum_detectable_effect(n, n, sd) == pytest.approx(z * sd * math.sqrt(2 / n), rel=1e-4)


@pytest.mark.parametrize("deff,r2,ratio", [(1.0, 0.0, 1.0), (1.4, 0.3, 3.0), (2.0, 0.5, 0.5)])
def test_mde_and_sample_size_are_inverses(deff, r2, ratio):
    opts = dict(design_effect=deff, r2=r2)
    n = required_sample_size(1200.0, 8000.0, ratio=ratio, **opts)
    mde = minimum_detectable_effect(n.n_treated_exact, ratio * n.n_treated_exact, 8000.0, **opts)
    assert mde == pytest.approx(1200.0, rel=1e-6)
    assert power_of_test(1200.0, n.n_treated, n.n_control, 8000.0, **opts) >= 0.8


def test_design_effect_and_r2_scale_as_expected():
    base = required_sample_size(1.0, 5.0).n_treated_exact
    clustered = required_sample_size(1.0, 5.0, design_effect=design_effect(3, 0.1)).n_treated_exact
    adjusted = required_sample_size(1.0, 5.0, r2=0.36).n_treated_exact
    assert design_effect(3, 0.1) == pytest.approx(1.2)
    assert clustered == pytest.approx(1.2 * base, rel=0.01)  # n scales with the design effect
    assert adjusted == pytest.approx(0.64 * base, rel=0.01)  # and with 1 - R^2


def test_cost_helpers_are_relative_versions():
    mean, sd = 350_000.0, 900_000.0
    n = required_sample_size_for_cost(0.05, mean, sd)
    assert n == required_sample_size(0.05 * mean, sd)
    rel = minimum_detectable_cost_reduction(n.n_treated_exact, n.n_treated_exact, mean, sd)
    assert rel == pytest.approx(0.05, rel=1e-6)


def test_simulated_power_matches():
    n, sd, effect = 40, 2.0, 1.0
    expected = power_of_test(effect, n, n, sd)
    g = rng(3, "power-sim")
    a = g.normal(effect, sd, size=(2000, n))
    b = g.normal(0.0, sd, size=(2000, n))
    p = stats.ttest_ind(a, b, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(expected, abs=SIM_POWER_TOL)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: minimum_detectable_effect(50, 50, 0.0), "sd"),
        (lambda: minimum_detectable_effect(50, 50, 1.0, alpha=1.5), "alpha"),
        (lambda: minimum_detectable_effect(1, 1, 1.0), "too few"),
        (lambda: required_sample_size(0.0, 1.0), "effect"),
        (lambda: required_sample_size(1.0, 1.0, r2=1.0), "r2"),
        (lambda: required_sample_size(1.0, 1.0, power=1.0), "power"),
        (lambda: required_sample_size_for_cost(5.0, 1.0, 1.0), "relative_reduction"),
        (lambda: design_effect(2, 1.5), "icc"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()

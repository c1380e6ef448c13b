"""Effective sample size, extreme propensities and the gates."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from analysis.causal.estimate import estimate_effect
from analysis.causal.overlap import (
    effective_sample_size,
    ess_ratio,
    extreme_share,
    plot_overlap,
    weighting_diagnostics,
)
from analysis.causal.plasmode import simulate_confounded


def test_effective_sample_size_known_values():
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size([1, 0, 0, 0]) == pytest.approx(1)
    assert effective_sample_size([2, 1, 1]) == pytest.approx(16 / 6)


def test_extreme_share_by_estimand():
    e = np.array([0.005, 0.5, 0.995, 0.5, 0.999])
    t = np.array([0, 0, 1, 1, 0])
    assert extreme_share(e, t, "ATE") == pytest.approx(3 / 5)
    assert extreme_share(e, t, "ATT") == pytest.approx(1 / 2)


def test_ess_ratio_for_att_uses_the_treated_count():
    t = np.array([1, 1, 0, 0, 0, 0])
    w = np.array([1, 1, 1, 1, 1, 1.0])
    assert ess_ratio(w, t, "ATT") == 1.0
    assert ess_ratio(np.array([1, 1, 4, 0.01, 0.01, 0.01]), t, "ATE") < 0.3


def test_gates_pass_and_fail():
    g = np.random.default_rng(0)
    X = g.normal(size=(400, 1))
    t = (g.random(400) < 0.5).astype(int)
    e = np.full(400, 0.5)
    ok = weighting_diagnostics(X, t, ["x"], e, np.ones(400), "ATE")
    assert ok.passed and {c.name for c in ok.checks} == {
        "balance_max_abs_smd",
        "propensity_extreme_share",
        "effective_sample_size_ratio",
    }
    bad_e = np.where(np.arange(400) < 40, 0.001, 0.5)
    bad = weighting_diagnostics(X, t, ["x"], bad_e, np.ones(400), "ATE")
    assert [c.name for c in bad.failed] == ["propensity_extreme_share"]


def test_plot_overlap_from_result():
    df = simulate_confounded(500, 3, seed=2)
    r = estimate_effect(df, treatment="t", outcome="y", covariates=["x0"], method="ipw")
    ax = plot_overlap(r)
    assert ax.get_xlabel().startswith("propensity")
    with pytest.raises(ValueError, match="treatment array"):
        plot_overlap(np.array([0.2, 0.4]))

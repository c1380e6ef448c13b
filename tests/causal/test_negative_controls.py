"""Empirical null: recovers a planted systematic error and restores nominal p-values."""

import numpy as np
import pytest

from analysis.causal.negative_controls import (
    EmpiricalNull,
    calibrate,
    calibrate_ci,
    calibrate_p_value,
    fit_empirical_null,
)
from analysis.causal.result import EffectResult

BIAS_MEAN, BIAS_SD = 0.2, 0.1


def controls(n, seed):
    g = np.random.default_rng(seed)
    se = g.uniform(0.05, 0.15, size=n)
    est = g.normal(BIAS_MEAN, BIAS_SD, size=n) + g.normal(0, se)
    return est, se


def test_recovers_planted_systematic_error():
    est, se = controls(400, 0)
    null = fit_empirical_null(est, se)
    # ML standard errors at n = 400 are about 0.007 for the mean and 0.007 for the sd.
    assert null.mean == pytest.approx(BIAS_MEAN, abs=0.03)
    assert null.sd == pytest.approx(BIAS_SD, abs=0.03)


def test_calibrated_p_values_are_nominal_for_new_negative_controls():
    null = fit_empirical_null(*controls(1000, 1))  # a precise null; 200 leaves sd +-25%
    est, se = controls(2000, 2)
    raw = 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(est / se)))
    cal = np.array([calibrate_p_value(null, e, s) for e, s in zip(est, se, strict=True)])
    assert np.mean(raw < 0.05) > 0.5
    assert np.mean(cal < 0.05) == pytest.approx(0.05, abs=0.02)


def test_no_systematic_error_leaves_estimates_unchanged():
    g = np.random.default_rng(3)
    se = np.full(50, 0.1)
    null = fit_empirical_null(g.normal(0, se), se)
    assert abs(null.mean) < 0.05 and null.sd < 0.05
    lo, hi = calibrate_ci(EmpiricalNull(0.0, 0.0, 50), 1.0, 0.1)
    assert (lo, hi) == pytest.approx((1 - 0.196, 1 + 0.196), abs=1e-3)


def test_calibrate_result():
    est, se = controls(30, 4)
    nc = [
        EffectResult(e, s, e - 2 * s, e + 2 * s, 0.5, 20, 200, "aipw", "ATE", f"nc{i}", "t")
        for i, (e, s) in enumerate(zip(est, se, strict=True))
    ]
    r = EffectResult(1.0, 0.1, 0.8, 1.2, 1e-6, 20, 200, "aipw", "ATE", "y", "t")
    c = calibrate(r, nc)
    null = c.info["empirical_null"]
    assert c.estimate == pytest.approx(1.0 - null.mean)
    assert c.se > r.se and c.method == "aipw+calibrated"
    assert c.diagnostics.checks[-1].name == "systematic_error_sd"


def test_too_few_controls():
    with pytest.raises(ValueError, match="at least 3"):
        fit_empirical_null([0.1, 0.2], [0.1, 0.1])

"""Performance measures against independent implementations and planted truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.risk import metrics

from .conftest import BASE_RATE, simulate_cox


def test_km_risk_matches_lifelines():
    from lifelines import KaplanMeierFitter

    g = np.random.default_rng(5)
    t = np.round(g.exponential(3, 400), 1)  # ties
    e = g.random(400) < 0.6
    for h in (0.5, 2.0, 4.3):
        risk, se = metrics.km_risk(t, e, h)
        kmf = KaplanMeierFitter().fit(t, e)
        surv = float(kmf.survival_function_at_times(h).iloc[0])
        assert risk == pytest.approx(1 - surv, abs=1e-12)
        assert se > 0 and np.isfinite(se)
    assert metrics.km_risk(t, np.zeros(400, bool), 2.0) == (0.0, 0.0)


def test_km_greenwood_by_hand():
    # at risk 4, 1 event at t=1; censored at 2; at risk 2, 1 event at t=3
    risk, se = metrics.km_risk([1, 2, 3, 4], [1, 0, 1, 1], 3.5)
    s = 0.75 * 0.5
    assert risk == pytest.approx(1 - s)
    assert se == pytest.approx(s * np.sqrt(1 / (4 * 3) + 1 / (2 * 1)))


def test_harrell_c_matches_sksurv():
    from sksurv.metrics import concordance_index_censored

    g = np.random.default_rng(6)
    t = g.exponential(size=300)
    e = g.random(300) < 0.5
    r = g.normal(size=300) - 0.5 * t
    ref = concordance_index_censored(e, t, r)[0]
    assert metrics.harrell_c(t, e, r) == pytest.approx(ref, abs=1e-9)
    with pytest.raises(ValueError, match="no events"):
        metrics.harrell_c(t, np.zeros(300, bool), r)


def test_calibration_slope_and_intercept_recover_planted_miscalibration():
    df = simulate_cox(20000, seed=3)
    t, e, lp = df.time.to_numpy(), df.event.to_numpy(), df.true_lp.to_numpy()
    assert metrics.calibration_slope(t, e, lp) == pytest.approx(1.0, abs=0.05)
    assert metrics.calibration_slope(t, e, 2 * lp) == pytest.approx(0.5, abs=0.03)
    true_h = BASE_RATE * t * np.exp(lp)
    assert metrics.calibration_in_the_large(t, e, true_h) == pytest.approx(0.0, abs=0.05)
    assert metrics.calibration_in_the_large(t, e, 2 * true_h) == pytest.approx(-np.log(2), abs=0.05)


def test_net_benefit_without_censoring_matches_counting():
    g = np.random.default_rng(8)
    n = 500
    p = g.uniform(0, 0.6, n)
    y = g.random(n) < p
    t = np.where(y, 1.0, 5.0)  # events at 1 year, everyone else followed to 5
    dc = metrics.net_benefit(t, y, p, horizon=3, thresholds=[0.1, 0.3])
    for _, row in dc.iterrows():
        pt = row.threshold
        treat = p >= pt
        tp, fp = (treat & y).sum() / n, (treat & ~y).sum() / n
        assert row.net_benefit_model == pytest.approx(tp - fp * pt / (1 - pt), abs=1e-12)
        assert row.net_benefit_all == pytest.approx(y.mean() - (1 - y.mean()) * pt / (1 - pt))
    with pytest.raises(ValueError, match="thresholds"):
        metrics.net_benefit(t, y, p, 3, thresholds=[0.0])


def test_calibration_table_groups_and_truth_inside_ci():
    df = simulate_cox(20000, seed=4)
    h = 3.0
    risk = 1 - np.exp(-BASE_RATE * h * np.exp(df.true_lp))
    cal = metrics.calibration_table(df.time, df.event, risk, h)
    assert cal.n.tolist() == [2000] * 10
    assert cal.predicted.is_monotonic_increasing
    inside = (cal.observed_lower <= cal.predicted) & (cal.predicted <= cal.observed_upper)
    assert inside.sum() >= 8  # 95% intervals
    with pytest.raises(ValueError, match="groups"):
        metrics.calibration_table([1.0], [True], [0.1], 1.0)


def test_auc_uno_brier_sane():
    df = simulate_cox(5000, seed=9)
    t, e, lp = df.time, df.event, df.true_lp
    auc = metrics.time_dependent_auc(t, e, lp, 3)
    uno = metrics.uno_c(t, e, lp, 3)
    assert 0.65 < auc < 0.85 and 0.65 < uno < 0.85
    assert metrics.time_dependent_auc(t, e, -lp, 3) == pytest.approx(1 - auc, abs=1e-9)
    risk = 1 - np.exp(-BASE_RATE * 3 * np.exp(lp))
    good = metrics.brier(t, e, 1 - risk, 3)
    flat = metrics.brier(t, e, np.full(len(t), 1 - risk.mean()), 3)
    assert good < flat


def test_bad_time_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        metrics.km_risk(pd.Series([1.0, -1.0]), [True, False], 1.0)

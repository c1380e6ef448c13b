"""Survival effects: KM by hand, weighted = unweighted at unit weights, planted HR, RMST."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from analysis.causal.benchmark import SURV_HR, SURV_RATE, simulate_event_times
from analysis.causal.survival import (
    km_steps,
    rmst,
    rmst_difference,
    weighted_cox,
    weighted_km,
)

LAMBDA_CONTROL, HAZARD_RATIO = SURV_RATE, SURV_HR
# With 4,000 people and about 2,000 events, log(HR) has an SE of about 0.05.
LOG_HR_TOL = 0.12
# RMST(tau=8) per arm from 4,000 people has an SE of about 0.1.
RMST_TOL = 0.35

# Hand-computed product-limit table for the 10 treated people of the fixture below:
# time 1: 10 at risk, 1 event -> 0.9; time 2: 9 at risk, 1 event (1 censored) -> 0.8;
# time 3: 7 at risk -> 0.8 * 6/7; time 4: 6 at risk, 1 event (1 censored) -> * 5/6;
# time 5: 4 at risk -> * 3/4; time 6: censored; time 7: 2 at risk -> * 1/2; 8: censored.
HAND_SURVIVAL = {
    1: 0.9,
    2: 0.8,
    3: 0.8 * 6 / 7,
    4: 0.8 * 6 / 7 * 5 / 6,
    5: 0.8 * 6 / 7 * 5 / 6 * 3 / 4,
    6: 0.8 * 6 / 7 * 5 / 6 * 3 / 4,
    7: 0.8 * 6 / 7 * 5 / 6 * 3 / 4 / 2,
    8: 0.8 * 6 / 7 * 5 / 6 * 3 / 4 / 2,
}
HAND_AT_RISK = {1: 10, 2: 9, 3: 7, 4: 6, 5: 4, 6: 3, 7: 2, 8: 1}


def _ten_people() -> pd.DataFrame:
    treated = pd.DataFrame(
        {"days": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8], "event": [1, 1, 0, 1, 0, 1, 1, 0, 1, 0]}
    )
    control = pd.DataFrame({"days": np.arange(1, 11) * 1.5, "event": [1, 0] * 5})
    out = pd.concat([treated.assign(t=1), control.assign(t=0)], ignore_index=True)
    return out.assign(age=np.arange(20) % 7 + 50)


def _confounded(n: int, seed: int, hr: float = HAZARD_RATIO) -> pd.DataFrame:
    """Frailty-confounded event times with a known marginal hazard ratio (the bench design)."""
    return simulate_event_times(n, seed, hr=hr)


def test_unweighted_km_equals_hand_table():
    curves = weighted_km(_ten_people(), duration="days", event="event", treatment="t")
    arm = curves.table[curves.table.arm == "treated"].set_index("time")
    for time, s in HAND_SURVIVAL.items():
        assert arm.loc[time, "survival"] == pytest.approx(s, abs=1e-12)
        assert arm.loc[time, "at_risk"] == HAND_AT_RISK[time]
    assert curves.events_treated == 6 and curves.n_treated == 10


def test_unit_weights_equal_unweighted_and_numpy_km_matches_lifelines():
    df = _confounded(500, 1)
    plain = weighted_km(df, duration="days", event="event", treatment="t")
    arm = df[df.t == 1]
    kmf = KaplanMeierFitter().fit(arm.days, arm.event)
    ours = km_steps(arm.days.to_numpy(), arm.event.to_numpy(), np.ones(len(arm)))
    ref = kmf.survival_function_.iloc[:, 0].reindex(ours.time).to_numpy()
    np.testing.assert_allclose(ours.survival, ref, rtol=1e-12)
    lifelines_table = plain.table[plain.table.arm == "treated"]
    np.testing.assert_allclose(lifelines_table.survival, ours.survival, rtol=1e-12)
    # doubling every weight changes the counts but not the curve
    doubled = km_steps(arm.days.to_numpy(), arm.event.to_numpy(), np.full(len(arm), 2.0))
    np.testing.assert_allclose(doubled.survival, ours.survival, rtol=1e-12)
    np.testing.assert_allclose(doubled.at_risk, 2 * ours.at_risk)


def test_rmst_matches_lifelines_and_exponential_closed_form():
    df = _confounded(4000, 2, hr=1.0)
    steps = km_steps(df.days.to_numpy(), df.event.to_numpy(), np.ones(len(df)))
    kmf = KaplanMeierFitter().fit(df.days, df.event)
    assert rmst(steps, 8.0) == pytest.approx(restricted_mean_survival_time(kmf, t=8.0), rel=1e-9)
    closed = (1 - np.exp(-LAMBDA_CONTROL * 8.0)) / LAMBDA_CONTROL
    assert rmst(steps, 8.0) == pytest.approx(closed, abs=RMST_TOL)


def test_planted_hazard_ratio_recovered_with_ipw_while_naive_is_biased():
    df = _confounded(4000, 3)
    naive = weighted_cox(df, duration="days", event="event", treatment="t")
    ipw = weighted_cox(
        df, duration="days", event="event", treatment="t", weights="ipw", covariates=["risk"]
    )
    assert abs(np.log(ipw.estimate) - np.log(HAZARD_RATIO)) < LOG_HR_TOL
    assert ipw.ci_low < HAZARD_RATIO < ipw.ci_high
    assert abs(np.log(naive.estimate) - np.log(HAZARD_RATIO)) > 3 * LOG_HR_TOL
    assert ipw.diagnostics.passed
    assert not naive.curves.diagnostics.checks  # no covariates given: nothing to check


def test_rmst_difference_ipw_covers_closed_form():
    df = _confounded(4000, 4)
    tau = 8.0
    truth = (1 - np.exp(-LAMBDA_CONTROL * HAZARD_RATIO * tau)) / (LAMBDA_CONTROL * HAZARD_RATIO)
    truth -= (1 - np.exp(-LAMBDA_CONTROL * tau)) / LAMBDA_CONTROL
    res = rmst_difference(
        df,
        duration="days",
        event="event",
        treatment="t",
        tau=tau,
        weights="ipw",
        covariates=["risk"],
        n_bootstrap=100,
        seed=1,
    )
    assert res.ci_low < truth < res.ci_high
    assert abs(res.estimate - truth) < RMST_TOL
    assert res.estimate == pytest.approx(res.info["rmst_treated"] - res.info["rmst_control"])
    naive = rmst_difference(
        df, duration="days", event="event", treatment="t", tau=tau, n_bootstrap=100, seed=1
    )
    assert not naive.ci_low < truth < naive.ci_high


def test_outputs_and_input_not_modified():
    df = _confounded(300, 5)
    before = df.copy()
    res = weighted_cox(
        df, duration="days", event="event", treatment="t", weights="ipw", covariates=["risk"]
    )
    pd.testing.assert_frame_equal(df, before)
    frame = res.to_frame()
    assert frame.loc[0, "term"] == "hazard_ratio" and frame.loc[0, "weighting"] == "ipw"
    assert frame.loc[0, "ci_low"] < frame.loc[0, "estimate"] < frame.loc[0, "ci_high"]
    effect = res.as_effect_result()
    assert (effect.estimate, effect.ci_low, effect.passed) == (
        res.estimate,
        res.ci_low,
        res.diagnostics.passed,
    )
    assert repr(res).startswith("<SurvivalEffectResult") and "\n" not in repr(res)
    assert "<table" in res.summary()._repr_html_()
    assert "median_survival" in str(res.curves.summary(lang="en"))
    ax = res.plot_survival()
    assert len(ax.get_lines()) == 2
    assert "balance" in res.diagnostics.tables


@pytest.mark.parametrize(
    "change,kwargs,match",
    [
        (lambda d: d.assign(days=d.days.where(d.index > 0)), {}, "'days' has 1 missing"),
        (lambda d: d.assign(event=d.event * 2), {}, "event column 'event'"),
        (lambda d: d.assign(days=-d.days), {}, "negative"),
        (lambda d: d.assign(t=d.t + 1), {}, "treatment column 't'"),
        (lambda d: d, {"weights": "ipw"}, "needs covariates"),
        (lambda d: d, {"weights": "iptw"}, "weights must be"),
        (lambda d: d, {"tau": 1e6}, "tau must be"),
    ],
)
def test_bad_input(change, kwargs, match):
    df = change(_confounded(200, 6))
    kwargs = {"tau": 5.0, "n_bootstrap": 50, **kwargs}
    with pytest.raises(ValueError, match=match):
        rmst_difference(df, duration="days", event="event", treatment="t", **kwargs)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_plot_labels_name_no_column(lang):
    import matplotlib.pyplot as plt

    df = _ten_people().rename(columns={"days": "time_days", "event": "had_event", "t": "arm_t"})
    kw = dict(duration="time_days", event="had_event", treatment="arm_t")
    curves = weighted_km(df, **kw)
    ax = curves.plot(lang=lang)
    texts = [ax.get_xlabel(), ax.get_ylabel()]
    texts += [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("_" in t for t in texts), texts  # no column name
    assert len(set(texts)) == 4 and all(texts)
    weighted = weighted_km(df, weights="ipw", covariates=["age"], **kw)
    assert weighted.plot(lang=lang).get_ylabel() != ax.get_ylabel()  # says it is weighted
    ax = curves.plot(lang=lang, xlabel="基準日からの年数")
    assert ax.get_xlabel() == "基準日からの年数"
    plt.close("all")

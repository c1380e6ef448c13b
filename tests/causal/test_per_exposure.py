"""Effects per unit of exposure (``estimate_effect(per=...)``): costs per enrolled month.

The estimand is a difference of ratios of means, ``E[Y(1)] / E[P(1)] - E[Y(0)] / E[P(0)]``
in the target population. A simulated NHI cohort has confounded participation, months
enrolled cut short by exits that depend on the same confounder as costs, heavy-tailed
costs and a planted 20% cost reduction; the truth of each data set is the participants'
total cost change over their total months.
"""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.estimate import estimate_effect

REDUCTION = 0.2


def cohort(seed: int, n: int = 3_000) -> tuple[pd.DataFrame, float, float]:
    """A cohort with its ATT and ATE per enrolled month (truths of this sample)."""
    g = np.random.default_rng(seed)
    x1, x2 = g.normal(size=n), g.binomial(1, 0.4, n)
    t = (g.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.6 * x1 + 0.5 * x2)))).astype(int)
    exits = g.random(n) < 1 / (1 + np.exp(-(-2.0 + 0.7 * x1)))
    months = np.where(exits, g.integers(1, 12, n), 12).astype(float)
    rate = np.exp(9 + 0.5 * x1 + 0.3 * x2)
    y0 = months * rate * g.gamma(3.0, 1 / 3.0, n) * (g.random(n) > 0.1)
    y1 = (1 - REDUCTION) * y0
    y = np.where(t == 1, y1, y0)
    tr = t == 1
    att = (y1[tr].sum() - y0[tr].sum()) / months[tr].sum()
    ate = (y1.sum() - y0.sum()) / months.sum()
    df = pd.DataFrame({"t": t, "x1": x1, "x2": x2, "months": months, "cost": y})
    return df, att, ate


def _fit(df, method, estimand="ATT", **kw):
    extra = {"outcome_model": "two_part"} if method == "aipw" else {}
    return estimate_effect(df, treatment="t", outcome="cost", covariates=["x1", "x2"],
                           method=method, estimand=estimand, per="months", seed=3,
                           **extra, **kw)  # fmt: skip


@pytest.mark.parametrize("method", ["aipw", "ipw"])
@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_exposure_of_one_gives_the_mean_effect(method, estimand):
    df, _, _ = cohort(1)
    df = df.assign(one=1.0)
    kw = dict(treatment="t", outcome="cost", covariates=["x1", "x2"], method=method,
              estimand=estimand, seed=3)  # fmt: skip
    if method == "aipw":
        kw["outcome_model"] = "two_part"
    plain = estimate_effect(df, **kw)
    ratio = estimate_effect(df, per="one", **kw)
    assert ratio.estimate == pytest.approx(plain.estimate, rel=1e-9)
    assert ratio.se == pytest.approx(plain.se, rel=1e-6)


@pytest.mark.parametrize("method", ["aipw", "ipw"])
def test_doubling_the_exposure_halves_the_effect(method):
    df, _, _ = cohort(2)
    a = _fit(df, method)
    b = _fit(df.assign(months=2 * df["months"]), method)
    assert b.estimate == pytest.approx(a.estimate / 2, rel=1e-6)
    assert b.se == pytest.approx(a.se / 2, rel=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["aipw", "ipw"])
@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_recovers_the_planted_cost_per_month(method, estimand):
    """Over 40 cohorts: mean bias within 3 Monte Carlo SEs and under 10% of the effect,
    coverage of the 95% intervals 85-100%, mean SE within 0.75-1.3 of the SD of the
    estimates (heavy-tailed costs make the SE itself noisy at 40 draws)."""
    est, se, truth = [], [], []
    for seed in range(40):
        df, att, ate = cohort(100 + seed)
        r = _fit(df, method, estimand)
        est.append(r.estimate)
        se.append(r.se)
        truth.append(att if estimand == "ATT" else ate)
    est, se, truth = map(np.asarray, (est, se, truth))
    err = est - truth
    mcse = err.std(ddof=1) / np.sqrt(len(err))
    assert abs(err.mean()) < 3 * mcse
    assert abs(err.mean()) < 0.1 * abs(truth.mean())
    cover = np.mean(np.abs(err) <= 1.96 * se)
    assert 0.85 <= cover <= 1.0
    assert 0.75 <= se.mean() / err.std(ddof=1) <= 1.3


@pytest.mark.parametrize("method", ["aipw", "ipw"])
def test_influence_se_agrees_with_the_bootstrap(method):
    df, _, _ = cohort(7)
    analytic = _fit(df, method)
    boot = _fit(df, method, n_bootstrap=200, n_jobs=1)
    assert analytic.se == pytest.approx(boot.se, rel=0.25)


def test_info_is_on_the_per_month_scale():
    df, _, _ = cohort(3)
    r = _fit(df, "ipw")
    c = df[df["t"] == 0]
    assert r.info["control_mean"] == pytest.approx(c["cost"].sum() / c["months"].sum())
    assert r.info["per_mean_treated"] == pytest.approx(df.loc[df["t"] == 1, "months"].mean())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(months=-d["months"]), "per column 'months' must be finite and non-negative"),
        (lambda d: d.assign(months=np.where(d["t"] == 1, 0.0, d["months"])),
         "per column 'months' sums to 0 in the treated group"),
        (lambda d: d.assign(months=d["months"].astype(str)), "per column 'months' must be numeric"),
        (lambda d: d.drop(columns="months"), "'months'"),
    ],
)  # fmt: skip
def test_bad_exposure_is_refused_with_the_column_named(change, message):
    df, _, _ = cohort(4, n=600)
    with pytest.raises(ValueError, match=message):
        _fit(change(df), "ipw")


def test_per_is_refused_for_estimators_without_it():
    df, _, _ = cohort(5, n=600)
    with pytest.raises(ValueError, match="per= applies to method='aipw' and 'ipw' only"):
        estimate_effect(df, treatment="t", outcome="cost", covariates=["x1", "x2"],
                        method="regression", per="months")  # fmt: skip


def test_input_frame_is_not_modified():
    df, _, _ = cohort(6, n=600)
    before = df.copy()
    _fit(df, "aipw")
    pd.testing.assert_frame_equal(df, before)

"""Callaway & Sant'Anna DiD: 2x2 by hand, planted dynamic effects, pre-trend gate, inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.did import _decimals, did_effect, format_plain
from analysis.seeds import rng

# Simulated panels below have event-study SEs of about 0.1; the effect at each event
# time must be within 4 SEs of the truth, and the uniform band must cover all of them.
EFFECT_TOL_SE = 4.0
N_BOOT = 499


def _panel(
    n: int = 600,
    periods: int = 8,
    seed: int = 0,
    effect: float = 1.0,
    confounded_trend: float = 0.0,
    pre_trend: float = 0.0,
) -> pd.DataFrame:
    """Staggered adoption in months 3 and 5 (plus never treated), effect ``effect*(e+1)``.

    ``confounded_trend``: the covariate x raises both early adoption and the outcome
    trend (parallel trends hold only conditional on x). ``pre_trend``: cohorts drift
    apart from controls before they start (parallel trends violated).
    """
    g = rng(seed, "did-test")
    x = g.normal(size=n)
    early = g.uniform(size=n) < 0.5 / (1 + np.exp(-x))
    later = g.uniform(size=n) < 0.4
    start = np.where(early, 3.0, np.where(later, 5.0, np.nan))
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), periods),
            "month": np.tile(np.arange(periods), n),
            "start": np.repeat(start, periods),
            "x": np.repeat(x, periods),
            "sex": np.repeat(np.where(g.uniform(size=n) < 0.5, "F", "M"), periods),
        }
    )
    e = (df.month - df.start).to_numpy()
    treated = np.isfinite(df.start.to_numpy())
    y = (
        np.repeat(g.normal(size=n), periods)
        + 0.3 * df.month * (1 + confounded_trend * df.x)
        + pre_trend * treated * df.month
        + g.normal(size=len(df))
        + np.where(e >= 0, effect * (e + 1), 0.0)
    )
    return df.assign(cost=y)


def test_one_cohort_no_covariates_equals_2x2_by_hand():
    df = _panel(seed=1)
    df = df[df.start.isna() | (df.start == 3)]
    res = did_effect(
        df, unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0
    )
    wide = df.pivot(index="id", columns="month", values="cost")
    treated = df.groupby("id").start.first().notna()
    for t in range(8):
        if t == 2:
            continue
        change = wide[t] - wide[2]
        by_hand = change[treated].mean() - change[~treated].mean()
        row = res.group_time[res.group_time.time == t].iloc[0]
        assert row.estimate == pytest.approx(by_hand, rel=1e-9, abs=1e-12)
        # the influence-function SE of a 2x2 DiD is the two-sample SE (1/n variances)
        se_hand = np.sqrt(
            change[treated].var(ddof=0) / treated.sum()
            + change[~treated].var(ddof=0) / (~treated).sum()
        )
        assert row.se == pytest.approx(se_hand, rel=1e-9)
    post = res.group_time[res.group_time.time >= 3]
    assert res.estimate == pytest.approx(post.estimate.mean(), rel=1e-12)


def test_pre_mean_base_one_cohort_equals_2x2_of_means_by_hand():
    df = _panel(seed=1)
    df = df[df.start.isna() | (df.start == 3)]
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0)
    res = did_effect(df, base="pre_mean", **kw)
    wide = df.pivot(index="id", columns="month", values="cost")
    treated = df.groupby("id").start.first().notna()
    pre_mean = wide[[0, 1, 2]].mean(axis=1)
    for t in range(8):  # every period has a cell, the pre-start ones included
        change = wide[t] - pre_mean
        row = res.group_time[res.group_time.time == t].iloc[0]
        assert row.estimate == pytest.approx(
            change[treated].mean() - change[~treated].mean(), rel=1e-9, abs=1e-12
        )
    # overall: (post mean - pre mean) of participants minus that of the controls
    change = wide[list(range(3, 8))].mean(axis=1) - pre_mean
    assert res.estimate == pytest.approx(change[treated].mean() - change[~treated].mean())
    se_hand = np.sqrt(
        change[treated].var(ddof=0) / treated.sum()
        + change[~treated].var(ddof=0) / (~treated).sum()
    )
    assert res.se == pytest.approx(se_hand, rel=1e-9)
    assert res.base == "pre_mean" and res.as_effect_result().info["base"] == "pre_mean"


def test_pre_mean_base_placebos_average_to_zero_and_have_no_reference_row():
    df = _panel(seed=1)
    df = df[df.start.isna() | (df.start == 3)]
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=99)
    mean_base = did_effect(df, base="pre_mean", **kw).event_study.set_index("event_time")
    last = did_effect(df, **kw).event_study.set_index("event_time")
    assert list(mean_base.index) == list(last.index) == list(range(-3, 5))
    assert last.loc[-1, "se"] == 0 and (mean_base.loc[[-3, -2, -1], "se"] > 0).all()
    assert mean_base.loc[[-3, -2, -1], "estimate"].sum() == pytest.approx(0, abs=1e-9)
    # the post-start effects differ from the last base's by one constant: the placebo at
    # -1, the gap between the month before the start and the pre-start mean
    shift = (mean_base.estimate - last.estimate).loc[0:]
    assert np.allclose(shift, mean_base.loc[-1, "estimate"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("covariates", [[], ["x"]])
def test_pre_mean_pretrend_test_is_the_last_base_test(covariates):
    # both bases test that the pre-start differences are all equal: the same hypothesis,
    # the same Wald statistic (the pre-mean placebos have a singular variance matrix)
    df = _panel(seed=6, pre_trend=0.05)
    df = df[df.start.isna() | (df.start == 5)]
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0,
              covariates=covariates)  # fmt: skip
    last, mean_base = did_effect(df, **kw), did_effect(df, base="pre_mean", **kw)
    assert last.pretrend_df == mean_base.pretrend_df == 4
    assert mean_base.pretrend_chi2 == pytest.approx(last.pretrend_chi2, rel=1e-7)
    assert mean_base.pretrend_p == pytest.approx(last.pretrend_p, rel=1e-6)


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("starts", [(3.0, 5.0), (1.0, 4.0)])
def test_pre_mean_pretrend_degrees_of_freedom_with_staggered_cohorts(control_group, starts):
    # Across cohorts the pre-mean placebos satisfy one exact linear constraint, so the
    # test leaves out e = -1 as the last base does: the same degrees of freedom. A cohort
    # with a single pre-start period has no placebo of its own (it would be identically 0).
    df = _panel(seed=7)
    df["start"] = df["start"].map({3.0: starts[0], 5.0: starts[1]})
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0,
              control_group=control_group, covariates=["x"])  # fmt: skip
    last, mean_base = did_effect(df, **kw), did_effect(df, base="pre_mean", **kw)
    assert mean_base.pretrend_df == last.pretrend_df == int(max(starts)) - 1
    gt = mean_base.group_time
    with_placebos = sorted(gt[gt.time < gt.group].group.unique())
    assert with_placebos == [s for s in starts if s > 1]
    if starts[0] == 1.0:
        assert not ((gt.group == 1.0) & (gt.time < 1.0)).any()
        single = gt[(gt.group == starts[1]) & (gt.event_time == -1)].estimate.iloc[0]
        es = mean_base.event_study.set_index("event_time")
        assert es.loc[-1, "estimate"] == pytest.approx(single)  # not diluted by a zero


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_pre_mean_base_recovers_staggered_dynamic_effects(control_group):
    df = _panel(seed=2, confounded_trend=1.0)
    res = did_effect(df, unit="id", time="month", outcome="cost", first_treated="start",
                     covariates=["x"], control_group=control_group, n_bootstrap=N_BOOT,
                     seed=3, base="pre_mean")  # fmt: skip
    es = res.event_study.set_index("event_time")
    truth = pd.Series({e: (e + 1.0 if e >= 0 else 0.0) for e in es.index})
    assert (np.abs(es.estimate - truth) <= EFFECT_TOL_SE * es.se).all()
    assert ((es.band_low <= truth) & (truth <= es.band_high)).all()
    assert res.diagnostics.passed


@pytest.mark.slow
def test_pre_mean_base_halves_the_error_with_hospital_stays_and_covers():
    # Monthly costs with rare hospital stays (analysis.causal.benchmark): one stay in the
    # month before the start moves every post-start cell, so the single base month gives
    # a noisier estimate whose symmetric interval under-covers.
    from analysis.causal.benchmark import simulate_monthly_costs

    err = {"last": [], "pre_mean": []}
    covered = []
    for b in range(80):
        df, truth = simulate_monthly_costs(2700, 500 + b)
        for base in err:
            r = did_effect(df, unit="id", time="month", outcome="cost",
                           first_treated="start", n_bootstrap=0, base=base)  # fmt: skip
            err[base].append(r.estimate - truth)
            if base == "pre_mean":
                covered.append(r.ci_low <= truth <= r.ci_high)
    rmse = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
    assert rmse["pre_mean"] < 0.6 * rmse["last"], rmse
    assert np.mean(covered) >= 0.9


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_dynamic_effect_recovered_under_conditional_parallel_trends(method, control_group):
    df = _panel(seed=2, confounded_trend=1.0)
    res = did_effect(
        df,
        unit="id",
        time="month",
        outcome="cost",
        first_treated="start",
        covariates=["x", "sex"],
        method=method,
        control_group=control_group,
        n_bootstrap=N_BOOT,
        seed=3,
    )
    es = res.event_study.set_index("event_time")
    truth = pd.Series({e: (e + 1.0 if e >= 0 else 0.0) for e in es.index})
    assert (np.abs(es.estimate - truth) <= EFFECT_TOL_SE * es.se.clip(lower=1e-12)).all()
    assert ((es.band_low <= truth) & (truth <= es.band_high)).all()
    assert res.diagnostics.passed


def test_ignoring_the_confounder_biases_the_estimate():
    df = _panel(seed=4, confounded_trend=1.5)
    adjusted = did_effect(
        df,
        unit="id",
        time="month",
        outcome="cost",
        first_treated="start",
        covariates=["x"],
        n_bootstrap=0,
    )
    naive = did_effect(
        df, unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0
    )
    # five periods after the base period the trends have drifted apart (truth: 5.0)
    e4_adj = adjusted.event_study.set_index("event_time").loc[4]
    e4_naive = naive.event_study.set_index("event_time").loc[4]
    assert abs(e4_adj.estimate - 5.0) < 3 * e4_adj.se
    assert abs(e4_naive.estimate - 5.0) > 3 * e4_naive.se


def test_parallel_trends_violation_flagged():
    df = _panel(seed=5, pre_trend=0.3)
    res = did_effect(
        df, unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0
    )
    assert res.pretrend_p < 0.01
    assert not res.diagnostics.passed
    assert [c.name for c in res.diagnostics.failed] == ["pretrend_p"]
    assert "判定保留" in str(res.summary())


def test_no_effect_interval_covers_zero():
    # 20 independent panels without an effect: the 95% CI of the overall ATT and the
    # uniform band must cover 0 in (nearly) all of them; fewer than 16 of 20 has
    # probability below 0.3% when coverage is 95%.
    covered, band_covers, estimates = [], [], []
    for rep in range(20):
        df = _panel(n=300, seed=100 + rep, effect=0.0)
        res = did_effect(
            df,
            unit="id",
            time="month",
            outcome="cost",
            first_treated="start",
            n_bootstrap=199,
            seed=rep,
        )
        covered.append(res.ci_low < 0 < res.ci_high)
        es = res.event_study
        band_covers.append(bool(((es.band_low <= 0) & (0 <= es.band_high)).all()))
        estimates.append(res.estimate)
    assert sum(covered) >= 16 and sum(band_covers) >= 16
    assert abs(np.mean(estimates)) < 3 * np.std(estimates) / np.sqrt(20)


def test_bootstrap_agrees_with_analytic_and_band_is_wider():
    df = _panel(seed=7)
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start")
    boot = did_effect(df, n_bootstrap=999, seed=2, **kw)
    analytic = did_effect(df, n_bootstrap=0, **kw)
    assert boot.estimate == analytic.estimate
    assert boot.se == pytest.approx(analytic.se, rel=0.15)
    es = boot.event_study[boot.event_study.event_time != -1]
    assert (es.band_high - es.band_low > es.ci_high - es.ci_low).all()
    again = did_effect(df, n_bootstrap=999, seed=2, **kw)
    pd.testing.assert_frame_equal(boot.event_study, again.event_study)


def test_unit_clusters_equal_default_and_dates_work():
    df = _panel(n=300, seed=8)
    kw = dict(unit="id", outcome="cost", first_treated="start", n_bootstrap=199, seed=4)
    plain = did_effect(df, time="month", **kw)
    by_unit = did_effect(df, time="month", cluster="id", **kw)
    pd.testing.assert_frame_equal(plain.event_study, by_unit.event_study)
    months = pd.date_range("2023-04-01", periods=8, freq="MS")
    dated = df.assign(
        month=months[df.month.to_numpy()],
        start=pd.Series(months[df.start.fillna(0).astype(int)]).where(df.start.notna()).values,
    )
    res = did_effect(dated, time="month", **kw)
    assert res.estimate == pytest.approx(plain.estimate, rel=1e-12)
    assert res.group_time.group.iloc[0] == pd.Timestamp("2023-07-01")


def test_incomplete_units_dropped_only_when_asked():
    df = _panel(n=300, seed=11)
    gappy = df.assign(cost=df.cost.where(~((df.id < 7) & (df.month == 4))))
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0)
    with pytest.raises(ValueError, match="'cost' has 7 missing"):
        did_effect(gappy, **kw)
    with pytest.warns(UserWarning, match="7 'id' value"):
        dropped = did_effect(gappy, incomplete="drop", **kw)
    subset = did_effect(df[df.id >= 7], **kw)
    assert dropped.n_units == 293
    assert dropped.estimate == pytest.approx(subset.estimate, rel=1e-12)
    assert any("7 unit(s)" in w for w in dropped.diagnostics.warnings)


def _household_panel(seed: int, n: int = 600) -> pd.DataFrame:
    """Households of four join together and share monthly shocks (outcomes correlated
    within household)."""
    df = _panel(n=n, seed=seed)
    household = (df.id // 4).to_numpy()
    first_member = df.groupby(household).start.transform("first")
    g = rng(seed, "household-shocks")
    shocks = g.normal(0, 1.5, size=(n // 4, 8))
    return df.assign(
        household=household,
        start=first_member,
        cost=df.cost + shocks[household, df.month.to_numpy()],
    )


@pytest.mark.parametrize("n_bootstrap", [499, 0])
def test_household_clusters_widen_se_with_shared_shocks(n_bootstrap):
    # Household-clustered SEs must exceed the per-person ones, with the multiplier
    # bootstrap and with the analytic (influence-function) standard errors alike.
    df = _household_panel(13)
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start",
              n_bootstrap=n_bootstrap)  # fmt: skip
    plain = did_effect(df, **kw)
    clustered = did_effect(df, cluster="household", **kw)
    assert clustered.estimate == plain.estimate
    assert clustered.se > 1.3 * plain.se


def test_clustered_analytic_se_is_the_liang_zeger_formula():
    from analysis.causal.did import influence_vcov

    g = rng(3, "vcov")
    psi = g.normal(size=(40, 2))
    cluster = np.repeat(np.arange(10), 4)
    sums = psi.reshape(10, 4, 2).sum(axis=1)
    expected = 10 / 9 * sums.T @ sums / 40**2
    np.testing.assert_allclose(influence_vcov(psi, cluster), expected)
    np.testing.assert_allclose(influence_vcov(psi, None), psi.T @ psi / 40**2)


def test_pretrend_test_is_cluster_robust():
    # Shared household shocks before the start make per-person pre-trend tests reject
    # too often; the clustered Wald test accounts for them (a larger variance, a smaller
    # chi-square on the same coefficients).
    df = _household_panel(21)
    kw = dict(unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0)
    plain = did_effect(df, **kw)
    clustered = did_effect(df, cluster="household", **kw)
    assert clustered.pretrend_df == plain.pretrend_df > 0
    assert clustered.pretrend_chi2 < plain.pretrend_chi2
    assert clustered.pretrend_p > plain.pretrend_p


def test_small_cohort_left_out_with_warning():
    df = _panel(n=300, seed=12)
    late = df.start.eq(5) & (df.id < df[df.start.eq(5)].id.unique()[5])
    df = df.assign(start=df.start.where(~df.start.eq(5) | late))  # 5 people start in month 5
    with pytest.warns(UserWarning, match="cohorts under 10"):
        res = did_effect(
            df, unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=0
        )
    assert set(res.group_time.group) == {3}
    assert any("left out" in w for w in res.diagnostics.warnings)


def test_outputs_and_input_not_modified():
    df = _panel(n=200, seed=9)
    before = df.copy()
    res = did_effect(
        df, unit="id", time="month", outcome="cost", first_treated="start", n_bootstrap=99
    )
    pd.testing.assert_frame_equal(df, before)
    frame = res.to_frame()
    assert frame.term.iloc[-1] == "overall" and frame.estimate.iloc[-1] == res.estimate
    assert {"event_time", "estimate", "se", "ci_low", "ci_high", "p_value"} <= set(frame.columns)
    effect = res.as_effect_result()
    assert (effect.estimate, effect.ci_low, effect.passed) == (
        res.estimate,
        res.ci_low,
        res.diagnostics.passed,
    )
    assert repr(res).startswith("<DidResult") and "\n" not in repr(res)
    assert "<table" in res.summary()._repr_html_()
    ax = res.plot()
    assert ax.get_xlabel() == "Periods since program start"


@pytest.mark.parametrize(
    "change,kwargs,match",
    [
        (lambda d: d.assign(cost=d.cost.where(d.index > 2)), {}, "'cost' has 3 missing"),
        (lambda d: d.iloc[1:], {}, "unbalanced"),
        (lambda d: pd.concat([d, d.iloc[:1]]), {}, "duplicated"),
        (lambda d: d.assign(start=np.where(d.index == 0, 5.0, d.start)), {}, "constant within"),
        (lambda d: d.assign(start=np.nan), {}, "no unit is treated"),
        (lambda d: d.assign(start=d.start.fillna(4.5)), {}, "not one of the panel's time"),
        (lambda d: d, {"control_group": "everyone"}, "control_group"),
        (lambda d: d, {"method": "twfe"}, "method"),
        (lambda d: d, {"base": "first"}, "base must be one of"),
        (lambda d: d, {"covariates": ["month"]}, "constant within"),
        (lambda d: d.assign(start=d.start.fillna(3.0)), {}, "never-treated"),
    ],
)
def test_bad_input(change, kwargs, match):
    df = change(_panel(n=100, seed=10))
    with pytest.raises(ValueError, match=match):
        did_effect(
            df,
            unit="id",
            time="month",
            outcome="cost",
            first_treated="start",
            n_bootstrap=0,
            **kwargs,
        )


def _tick_texts(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_text()]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_plot_labels_name_no_column_and_costs_read_plainly(lang):
    """Yen-sized effects: no column name, no title, ticks with separators, no 'e+'."""
    import matplotlib.pyplot as plt

    df = _panel(n=200, seed=11, effect=30_000.0)
    df = df.assign(cost=df.cost * 30_000.0)
    res = did_effect(df, unit="id", time="month", outcome="cost", first_treated="start")
    ax = res.plot(lang=lang)
    texts = [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    texts += [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("cost" in t or "ATT" in t or "e+" in t for t in texts), texts
    assert ax.get_title() == ""
    ticks = _tick_texts(ax)
    assert ticks and not any("e" in t.lower() for t in ticks), ticks
    assert any("," in t for t in ticks), ticks  # tens of thousands get separators
    assert ax.yaxis.get_offset_text().get_text() == ""
    if lang == "ja":
        assert "開始" in ax.get_xlabel()
    ax = res.plot(lang=lang, xlabel="開始月からの月数", ylabel="月間医療費の差（円）", title="T")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "開始月からの月数",
        "月間医療費の差（円）",
        "T",
    )
    plt.close("all")


def test_plain_number_format():
    assert format_plain(-150_000) == "\u2212150,000"
    assert format_plain(1234.5, 1) == "1,234.5"
    assert format_plain(-0.0001, 2) == "0.00"  # no "-0"
    assert _decimals([0, 50_000, 100_000]) == 0
    assert _decimals([0.0, 0.25, 0.5]) == 2
    assert _decimals([0.0, 0.5, 1.0]) == 1
    assert _decimals([3.0]) == 0

"""IV / 2SLS: Wald identity, hand-computed sandwich, planted LATE, weak-instrument gate."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.iv import iv_effect
from analysis.causal.result import EffectResult, combine_results
from analysis.seeds import rng

# With n = 6,000 and a 0.5 first stage the LATE's SE is about 25; 4 SEs.
LATE_TOL = 100.0


def _letter_data(n: int, seed: int, first_stage: float = 0.5) -> pd.DataFrame:
    """Randomised letter z; participation driven by motivation u, which also lowers costs.

    Compliers gain 500 steps, always-takers 200: the LATE (compliers) is 500.
    """
    g = rng(seed, "iv-test")
    z = g.integers(0, 2, n)
    kind = g.uniform(size=n)
    always = kind < 0.1
    u = g.normal(size=n) + 4.0 * always  # the motivated join anyway and walk more
    complier = (kind >= 0.1) & (kind < 0.1 + first_stage)
    d = (always | (complier & (z == 1))).astype(int)
    age = g.integers(40, 75, n)
    effect = np.where(complier, 500.0, 200.0)
    y = 3000 + 400 * u - 10 * (age - 60) + effect * d + g.normal(0, 300, n)
    sex = np.where(g.uniform(size=n) < 0.5, "F", "M")
    return pd.DataFrame({"letter": z, "joined": d, "steps": y, "age": age, "sex": sex})


def test_wald_ratio_and_hand_sandwich_without_covariates():
    df = _letter_data(3000, 1)
    res = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    z, d, y = df.letter.to_numpy(), df.joined.to_numpy(), df.steps.to_numpy()
    itt = y[z == 1].mean() - y[z == 0].mean()
    fs = d[z == 1].mean() - d[z == 0].mean()
    assert res.itt == pytest.approx(itt, rel=1e-10)
    assert res.first_stage == pytest.approx(fs, rel=1e-10)
    assert res.estimate == pytest.approx(itt / fs, rel=1e-10)
    # Influence function of the Wald ratio: (y - a - b d)(z - zbar) / cov(d, z).
    n = len(y)
    b = itt / fs
    a = y.mean() - b * d.mean()
    psi = (y - a - b * d) * (z - z.mean()) / np.mean((d - d.mean()) * (z - z.mean()))
    se_hand = np.sqrt(np.sum(psi**2) / n**2 * n / (n - 2))  # HC1 small-sample factor
    assert res.se == pytest.approx(se_hand, rel=1e-8)


def test_planted_late_recovered_while_naive_is_biased():
    df = _letter_data(6000, 2)
    res = iv_effect(
        df, instrument="letter", treatment="joined", outcome="steps", covariates=["age", "sex"]
    )
    assert abs(res.estimate - 500) < LATE_TOL
    assert res.ci_low < 500 < res.ci_high
    naive = df.steps[df.joined == 1].mean() - df.steps[df.joined == 0].mean()
    assert abs(naive - 500) > 3 * LATE_TOL  # motivation confounds the naive comparison
    assert res.diagnostics.passed
    assert res.first_stage_f > 100


def test_covariates_match_manual_two_stage_point_estimate():
    df = _letter_data(2000, 3)
    res = iv_effect(
        df, instrument="letter", treatment="joined", outcome="steps", covariates=["age"]
    )
    W = np.column_stack([np.ones(len(df)), df.age])
    Z = np.column_stack([df.letter, W])
    d_hat = Z @ np.linalg.lstsq(Z, df.joined.to_numpy(float), rcond=None)[0]
    second = np.linalg.lstsq(np.column_stack([d_hat, W]), df.steps.to_numpy(), rcond=None)[0]
    assert res.estimate == pytest.approx(second[0], rel=1e-9)


def test_singleton_clusters_equal_hc1():
    df = _letter_data(1500, 4).assign(person=np.arange(1500))
    hc1 = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    cr1 = iv_effect(df, instrument="letter", treatment="joined", outcome="steps", cluster="person")
    assert cr1.se == pytest.approx(hc1.se, rel=1e-10)


def test_household_clusters_widen_se_when_outcomes_correlate():
    df = _letter_data(3000, 5)
    hh = np.repeat(np.arange(1000), 3)
    g = rng(5, "hh")
    shock = g.normal(0, 800, 1000)[hh]
    z_hh = g.integers(0, 2, 1000)[hh]  # the letter goes to the household
    df = df.assign(household=hh, letter=z_hh, steps=df.steps + shock)
    plain = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    clustered = iv_effect(
        df, instrument="letter", treatment="joined", outcome="steps", cluster="household"
    )
    assert clustered.se > 1.2 * plain.se


def test_weak_instrument_flagged():
    df = _letter_data(400, 6, first_stage=0.02)
    res = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    assert res.first_stage_f < 10
    assert not res.diagnostics.passed
    assert res.diagnostics.failed[0].name == "first_stage_f"
    assert "判定保留" in str(res.summary())


def test_first_stage_gate_is_a_parameter():
    from analysis.causal.iv import MIN_FIRST_STAGE_F

    df = _letter_data(400, 6, first_stage=0.2)
    res = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    assert MIN_FIRST_STAGE_F < res.first_stage_f < 104.7  # a moderate instrument
    assert res.diagnostics.passed
    strict = iv_effect(df, instrument="letter", treatment="joined", outcome="steps",
                       min_first_stage_f=104.7)  # fmt: skip
    assert not strict.diagnostics.passed
    assert strict.diagnostics.failed[0].threshold == 104.7
    assert strict.estimate == res.estimate and strict.se == res.se


def test_outputs():
    df = _letter_data(800, 7)
    before = df.copy()
    res = iv_effect(df, instrument="letter", treatment="joined", outcome="steps")
    pd.testing.assert_frame_equal(df, before)
    frame = res.to_frame()
    assert list(frame.term) == ["itt", "first_stage", "late"]
    assert {"estimate", "se", "ci_low", "ci_high", "p_value"} <= set(frame.columns)
    assert (frame.ci_low < frame.estimate).all() and (frame.estimate < frame.ci_high).all()
    assert repr(res).startswith("<IVResult") and "\n" not in repr(res)
    s = res.summary()
    assert "<table" in s._repr_html_() and "| term |" in s._repr_markdown_()
    assert "first-stage F" in str(res.summary(lang="en"))
    ax = res.plot()
    assert len(ax.get_yticklabels()) == 2
    assert res.plot(lang="ja").get_yticklabels()[1].get_text() == "LATE（参加）"
    assert "対象者数" in res.summary(lang="ja")._repr_markdown_()
    effect = res.as_effect_result()
    assert isinstance(effect, EffectResult) and effect.estimate == res.estimate
    table = combine_results([effect, effect], adjust="holm")
    assert (table.p_value_adjusted >= table.p_value).all()


@pytest.mark.parametrize(
    "change,kwargs,match",
    [
        (lambda d: d.assign(letter=d.letter * 2), {}, "instrument column 'letter'"),
        (lambda d: d.assign(joined=d.joined + 0.5), {}, "treatment column 'joined'"),
        (lambda d: d.assign(steps=d.steps.where(d.index > 3)), {}, "'steps' has 4 missing"),
        (lambda d: d, {"covariates": ["nope"]}, "'nope'"),
        (lambda d: d.assign(c=1.0), {"covariates": ["c"]}, "'c' is constant"),
        (lambda d: d.assign(letter=0), {}, "only the value 0"),
        (lambda d: d.assign(letter=(d.index < 5).astype(int)), {}, "5 people with 1"),
    ],
)
def test_bad_input(change, kwargs, match):
    df = change(_letter_data(200, 8))
    with pytest.raises(ValueError, match=match):
        iv_effect(df, instrument="letter", treatment="joined", outcome="steps", **kwargs)

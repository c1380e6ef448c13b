"""Regression discontinuity: planted jumps, fuzzy LATE, McCrary density test, inputs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.rd import density_test, rd_effect
from analysis.seeds import rng

# The density estimate at the cutoff from 20,000 draws has an SE of about 0.01-0.02.
DENSITY_TOL = 0.06


def _scores(n: int, seed: int, jump: float = 0.0, fuzzy: bool = False) -> pd.DataFrame:
    """Risk score in [-1, 1) around a cutoff at 0.3 with a smooth, curved outcome.

    Sharp: the outcome jumps by ``jump`` at the cutoff. Fuzzy: 20% below and 80% above
    take part; participation raises the outcome by ``jump`` (LATE = jump).
    """
    g = rng(seed, "rd-test")
    x = g.uniform(-1, 1, n)
    above = x >= 0.3
    if fuzzy:
        t = np.where(above, g.uniform(size=n) < 0.8, g.uniform(size=n) < 0.2).astype(int)
    else:
        t = above.astype(int)
    y = 2 + 1.5 * x - 0.8 * x**2 + jump * t + g.normal(0, 1, n)
    age = g.integers(40, 75, n)
    return pd.DataFrame({"score": x, "joined": t, "cost": y, "age": age})


@pytest.mark.parametrize("jump", [0.0, 1.0])
def test_sharp_jump_recovered(jump):
    df = _scores(4000, 1, jump=jump)
    res = rd_effect(df, running="score", outcome="cost", cutoff=0.3)
    assert res.ci_low < jump < res.ci_high
    assert res.design == "sharp" and res.first_stage is None
    assert res.diagnostics.passed
    assert res.n_left + res.n_right == 4000
    assert 0 < res.n_effective_left <= res.n_left and 0 < res.n_effective_right <= res.n_right
    if jump:
        assert res.ci_low > 0


def test_fuzzy_recovers_late():
    df = _scores(6000, 2, jump=1.0, fuzzy=True)
    res = rd_effect(
        df, running="score", outcome="cost", cutoff=0.3, treatment="joined", covariates=["age"]
    )
    assert res.ci_low < 1.0 < res.ci_high
    assert res.first_stage == pytest.approx(0.6, abs=0.12)
    assert res.first_stage_f > 10
    sharp = rd_effect(df, running="score", outcome="cost", cutoff=0.3)
    # the sharp (intention-to-treat) jump is the LATE times the first stage
    assert sharp.estimate == pytest.approx(res.estimate * res.first_stage, rel=0.35)


@pytest.mark.parametrize(
    "draw,density",
    [(lambda g, n: g.uniform(-1, 1, n), 0.5), (lambda g, n: g.normal(0, 1, n), 0.3989)],
)
def test_density_test_without_sorting(draw, density):
    x = draw(rng(3, "density"), 20_000)
    test = density_test(x, 0.0)
    assert test.density_left == pytest.approx(density, abs=DENSITY_TOL)
    assert test.density_right == pytest.approx(density, abs=DENSITY_TOL)
    assert test.p_value > 0.05
    assert 0 < test.n_effective_left < (x < 0).sum() and 0 < test.n_effective_right


def test_bunching_above_cutoff_flagged():
    df = _scores(4000, 4, jump=1.0)
    g = rng(4, "bunching")
    x = df.score.to_numpy().copy()
    nudged = (x > 0.2) & (x < 0.3) & (g.uniform(size=len(x)) < 0.6)
    x[nudged] = 0.3 + (0.3 - x[nudged]) * 0.5  # scores pushed just over the cutoff
    res = rd_effect(df.assign(score=x), running="score", outcome="cost", cutoff=0.3)
    assert res.density.log_difference > 0
    assert res.density.p_value < 0.01
    assert [c.name for c in res.diagnostics.failed] == ["density_p"]


def test_outputs_and_input_not_modified():
    df = _scores(1500, 5, jump=0.5)
    before = df.copy()
    res = rd_effect(df, running="score", outcome="cost", cutoff=0.3, n_bins=10)
    pd.testing.assert_frame_equal(df, before)
    frame = res.to_frame()
    assert len(frame) == 1 and frame.loc[0, "bandwidth"] == res.bandwidth
    assert {"estimate", "se", "ci_low", "ci_high", "p_value", "density_p"} <= set(frame.columns)
    assert set(res.bins.side) == {"left", "right"} and res.bins.n.sum() == 1500
    effect = res.as_effect_result()
    assert (effect.estimate, effect.ci_low, effect.passed) == (
        res.estimate,
        res.ci_low,
        res.diagnostics.passed,
    )
    assert repr(res).startswith("<RDResult") and "\n" not in repr(res)
    assert "<table" in res.summary(lang="en")._repr_html_()
    ax = res.plot()
    assert ax.get_xlabel() == "score" and len(ax.lines) >= 2


@pytest.mark.parametrize(
    "change,kwargs,match",
    [
        (lambda d: d, {"cutoff": 5.0}, "outside the range"),
        (lambda d: d.assign(cost=d.cost.where(d.index > 0)), {}, "'cost' has 1 missing"),
        (lambda d: d.assign(score=d.score.astype(str)), {}, "running column 'score'"),
        (
            lambda d: d.assign(joined=d.joined * 3),
            {"treatment": "joined"},
            "'joined' must be binary",
        ),
        (lambda d: d, {"cutoff": 0.99}, "at least 20"),
        (lambda d: d, {"kernel": "gaussian"}, "kernel"),
    ],
)
def test_bad_input(change, kwargs, match):
    df = change(_scores(500, 6))
    kwargs = {"cutoff": 0.3, **kwargs}
    with pytest.raises(ValueError, match=match):
        rd_effect(df, running="score", outcome="cost", **kwargs)

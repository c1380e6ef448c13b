"""Propensity matching: exact answers, caliper behaviour, Abadie-Imbens SE calibration."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.design import make_design
from analysis.causal.estimate import estimate_effect
from analysis.causal.matching import fit_matching
from analysis.causal.plasmode import simulate_confounded

SE_RATIO_RANGE = (0.75, 1.35)
"""Mean Abadie-Imbens SE over the Monte Carlo SD of 60 estimates; the SD estimate alone has
~9% relative error."""


def cell_frame(seed=0):
    """Three cells; comparison outcomes constant within a cell, so any in-cell match is exact."""
    g = np.random.default_rng(seed)
    n = 300
    cell = g.choice(["a", "b", "c"], size=n, p=[0.4, 0.35, 0.25])
    share = {"a": 0.2, "b": 0.5, "c": 0.7}
    t = (g.random(n) < np.array([share[c] for c in cell])).astype(int)
    base = {"a": 1.0, "b": 5.0, "c": 10.0}
    y0 = np.array([base[c] for c in cell])
    y = np.where(t == 1, y0 + 2.0 + g.normal(size=n), y0)
    return pd.DataFrame({"t": t, "y": y, "cell": cell})


def test_exact_att_when_matches_fall_in_the_same_cell():
    df = cell_frame()
    r = estimate_effect(
        df, treatment="t", outcome="y", covariates=["cell"], method="matching", estimand="ATT"
    )
    base = df[df.t == 0].groupby("cell").y.first()
    exact = (df.y[df.t == 1] - df.cell[df.t == 1].map(base)).mean()
    assert r.estimate == pytest.approx(exact, abs=1e-12)
    assert r.n_treated == int(df.t.sum())
    # n_control counts the distinct comparison people used (here one per cell, because
    # the tied propensities always pick the same person); under 10 is flagged for suppression.
    assert r.n_control == 3
    assert any("suppress" in w for w in r.diagnostics.warnings)


def test_tight_caliper_drops_people_and_fails_the_gate():
    df = simulate_confounded(600, 3, seed=2, confounding=2.0)
    d = make_design(df, treatment="t", outcome="y", covariates=["x0", "x1", "x2"])
    loose = fit_matching(d, caliper=None)
    tight = fit_matching(d, caliper=0.001)
    assert loose.info["n_unmatched"] == 0
    assert tight.info["n_unmatched"] > 0
    r = estimate_effect(
        df,
        treatment="t",
        outcome="y",
        covariates=["x0", "x1", "x2"],
        method="matching",
        estimand="ATT",
        caliper=0.001,
    )
    assert "matched_share" in r.to_frame().failed_checks[0]
    assert r.n_treated == int(df.t.sum()) - tight.info["n_unmatched"]


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_abadie_imbens_se_is_calibrated(estimand):
    estimates, ses = [], []
    for s in range(60):
        df = simulate_confounded(500, 3, effect=1.0, seed=100 + s)
        r = estimate_effect(
            df,
            treatment="t",
            outcome="y",
            method="matching",
            covariates=["x0", "x1", "x2", "region"],
            estimand=estimand,
        )
        estimates.append(r.estimate), ses.append(r.se)
    ratio = np.mean(ses) / np.std(estimates, ddof=1)
    assert SE_RATIO_RANGE[0] < ratio < SE_RATIO_RANGE[1]
    assert abs(np.mean(estimates) - 1.0) < 3 * np.std(estimates) / np.sqrt(60)


def test_bias_correction_leaves_exact_cell_matches_unchanged():
    # Within a cell the covariates are equal, so the linear correction adds nothing.
    df = cell_frame(seed=3)
    kw = dict(treatment="t", outcome="y", covariates=["cell"], method="matching")
    a = estimate_effect(df, bias_correction=True, **kw)
    b = estimate_effect(df, bias_correction=False, **kw)
    assert a.estimate == pytest.approx(b.estimate, abs=1e-9)


def test_more_neighbours_lower_the_variance_estimate():
    df = simulate_confounded(1000, 3, seed=4)
    kw = dict(
        treatment="t", outcome="y", covariates=["x0", "x1", "x2"], method="matching", estimand="ATT"
    )
    one = estimate_effect(df, **kw)
    four = estimate_effect(df, n_neighbors=4, **kw)
    assert four.se < one.se


def test_cluster_needs_bootstrap_for_matching():
    df = simulate_confounded(300, 3, seed=4).assign(hh=lambda d: np.arange(len(d)) // 2)
    with pytest.raises(ValueError, match="n_bootstrap"):
        estimate_effect(
            df, treatment="t", outcome="y", covariates=["x0"], method="matching", cluster="hh"
        )

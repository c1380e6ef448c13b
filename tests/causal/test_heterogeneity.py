"""Subgroup effects, uplift curves and targeting on data with planted heterogeneity."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.heterogeneity import (
    dr_scores,
    out_of_fold_cate,
    plot_uplift,
    subgroup_effects,
    targeting_gain,
    uplift_curve,
)

Z_TOL = 4.0
"""Planted subgroup effects within 4 standard errors (fixed seeds)."""


def planted(n=4000, seed=0):
    """Effect 1 + 2 x1 (so 'high' = x1 > 0 has a larger effect); risk x2 is unrelated."""
    g = np.random.default_rng(seed)
    x1, x2 = g.normal(size=n), g.normal(size=n)
    t = (g.random(n) < 1 / (1 + np.exp(-(0.5 * x1 + 0.5 * x2)))).astype(int)
    tau = 1 + 2 * x1
    y = x1 + 2 * x2 + tau * t + g.normal(size=n)
    df = pd.DataFrame(
        {
            "t": t,
            "y": y,
            "x1": x1,
            "x2": x2,
            "group": np.where(x1 > 0, "high", "low"),
            "hh": np.arange(n) // 2,
        }
    )
    return df, tau


def test_dr_scores_average_to_the_aipw_estimate():
    from analysis.causal.estimate import estimate_effect

    df, _ = planted(1000)
    phi = dr_scores(df, treatment="t", outcome="y", covariates=["x1", "x2"], seed=1)
    r = estimate_effect(df, treatment="t", outcome="y", covariates=["x1", "x2"], seed=1)
    assert phi.mean() == pytest.approx(r.estimate, abs=1e-12)


def test_subgroup_effects_recover_planted_values():
    df, tau = planted()
    table = subgroup_effects(
        df, treatment="t", outcome="y", covariates=["x1", "x2"], subgroups=["group"], cluster="hh"
    )
    for _, row in table.iterrows():
        truth = tau[df.group == row.level].mean()
        assert abs(row.estimate - truth) < Z_TOL * row.se
    assert table.p_heterogeneity.iloc[0] < 1e-6
    assert not table.suppressed.any()


def test_small_subgroups_are_suppressed():
    df, _ = planted(600)
    df["site"] = "main"
    df.loc[df.index[df.t == 1][:5], "site"] = "pilot"  # 5 treated at the pilot site
    table = subgroup_effects(
        df, treatment="t", outcome="y", covariates=["x1", "x2"], subgroups="site"
    ).set_index("level")
    assert table.loc["pilot", "suppressed"] and np.isnan(table.loc["pilot", "estimate"])
    assert np.isnan(table.loc["pilot", "n_treated"])
    assert not table.loc["main", "suppressed"]


def test_uplift_curve_of_a_good_ranking_beats_random():
    df, _ = planted()
    phi = dr_scores(df, treatment="t", outcome="y", covariates=["x1", "x2"])
    cate = out_of_fold_cate(df, treatment="t", outcome="y", covariates=["x1", "x2"])
    curve = uplift_curve(phi, cate, n_bootstrap=100)
    assert curve.attrs["qini"] > 0
    mid = curve.iloc[10]
    assert mid.ci_low > mid.random
    assert curve.gain.iloc[-1] == pytest.approx(phi.mean())
    noise = uplift_curve(phi, np.random.default_rng(1).normal(size=len(phi)), n_bootstrap=50)
    assert abs(noise.attrs["qini"]) < curve.attrs["qini"] / 4
    assert plot_uplift(curve).get_xlabel().startswith("share")


def test_targeting_gain_known_answer():
    phi = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    table = targeting_gain(phi, cate=phi, risk=-phi, capacity=2).set_index("rule")
    assert table.loc["cate", "expected_gain"] == 9
    assert table.loc["risk", "expected_gain"] == 3
    assert table.loc["cate_minus_risk", "expected_gain"] == 6
    cost = targeting_gain(-phi, cate=-phi, risk=-phi, capacity=2, benefit="decrease")
    assert cost.set_index("rule").loc["cate", "expected_gain"] == 9


def test_cate_rule_beats_risk_rule_when_risk_does_not_predict_benefit():
    df, _ = planted(seed=2)
    phi = dr_scores(df, treatment="t", outcome="y", covariates=["x1", "x2"])
    cate = out_of_fold_cate(df, treatment="t", outcome="y", covariates=["x1", "x2"])
    table = targeting_gain(phi, cate, df.x2.to_numpy(), capacity=800).set_index("rule")
    assert table.loc["cate_minus_risk", "ci_low"] > 0


def test_forest_learner_ranks_out_of_fold():
    df, tau = planted(1200)
    cate = out_of_fold_cate(
        df, treatment="t", outcome="y", covariates=["x1", "x2"], learner="forest", n_folds=2
    )
    assert np.corrcoef(cate, tau)[0, 1] > 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 2, "benefit": "more"}, "benefit"),
    ],
)
def test_bad_targeting_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        targeting_gain(np.ones(3), np.ones(3), np.ones(3), **kwargs)

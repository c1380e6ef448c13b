"""Balance tables: hand-computed SMDs and variance ratios; weighting removes imbalance."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.balance import balance, balance_table, plot_balance
from analysis.causal.estimate import estimate_effect
from analysis.causal.plasmode import simulate_confounded


def test_hand_computed_smd_and_variance_ratio():
    x = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 8.0])
    t = np.array([0, 0, 0, 1, 1, 1])
    row = balance_table(x[:, None], t, ["x"]).iloc[0]
    m1, m0 = 6.0, 2.0
    v1, v0 = np.var([4, 6, 8]), np.var([1, 2, 3])
    assert row.smd_before == pytest.approx((m1 - m0) / np.sqrt((v1 + v0) / 2))
    assert row.variance_ratio_before == pytest.approx(v1 / v0)
    assert row.smd_after == row.smd_before  # no weights


def test_weights_that_equalise_means_give_zero_smd():
    x = np.array([1.0, 3.0, 2.0, 4.0])
    t = np.array([1, 1, 0, 0])
    # treated mean 2; control weights (1, 0) put the control mean at 2 as well
    row = balance_table(x[:, None], t, ["x"], weights=np.array([1, 1, 1, 0])).iloc[0]
    assert row.smd_after == pytest.approx(0.0)


def test_balance_accepts_column_weights_and_categoricals():
    df = simulate_confounded(1000, 3, seed=2)
    r = estimate_effect(
        df, treatment="t", outcome="y", covariates=["x0", "x1", "x2", "region"], method="ipw"
    )
    by_array = balance(
        df, treatment="t", covariates=["x0", "x1", "x2", "region"], weights=r.info["weights"]
    )
    by_column = balance(
        df.assign(w=r.info["weights"]),
        treatment="t",
        covariates=["x0", "x1", "x2", "region"],
        weights="w",
    )
    pd.testing.assert_frame_equal(by_array, by_column)
    assert set(by_array.covariate) == {"x0", "x1", "x2", "region[north]", "region[south]"}
    assert by_array.smd_before.abs().max() > 0.2
    assert by_array.smd_after.abs().max() < 0.1
    pd.testing.assert_frame_equal(by_array, r.diagnostics.tables["balance"])


def test_balance_reports_separating_covariates_instead_of_raising():
    df = pd.DataFrame({"t": [0, 1] * 10, "z": [0, 1] * 10, "age": range(20)})
    table = balance(df, treatment="t", covariates=["z", "age"])
    assert table.set_index("covariate").loc["z", "smd_before"] == np.inf


def test_bad_weights():
    df = pd.DataFrame({"t": [0, 1] * 10, "age": range(20)})
    with pytest.raises(ValueError, match="weights"):
        balance(df, treatment="t", covariates=["age"], weights=-np.ones(20))
    with pytest.raises(ValueError, match="'w'"):
        balance(df, treatment="t", covariates=["age"], weights="w")


def test_love_plot():
    df = simulate_confounded(500, 3, seed=2)
    r = estimate_effect(df, treatment="t", outcome="y", covariates=["x0", "x1", "x2"], method="ipw")
    ax = plot_balance(r)
    assert len(ax.get_yticklabels()) == 3

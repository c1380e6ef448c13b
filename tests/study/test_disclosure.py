"""Suppression of published step tables keeps derived rates numeric and hides small cells."""

import numpy as np
import pandas as pd

from analysis.study.disclosure import suppress


def test_small_counts_hidden_and_their_rates_missing():
    df = pd.DataFrame({"g": ["a", "b", "c"], "n": [120, 40, 50], "k": [30, 4, 20]})
    df["rate"] = 100 * df["k"] / df["n"]
    out = suppress(df, ["n", "k"], known_totals="columns", derived={"rate": ["n", "k"]})
    assert out.loc[1, "k"] == "<10"
    assert np.isnan(out.loc[1, "rate"])
    assert out["rate"].dtype == float
    hidden = out["k"].isin(["<10", "x"])
    assert hidden.sum() >= 2  # a lone hidden cell would be recoverable from the total
    assert df["k"].tolist() == [30, 4, 20]  # input untouched


def test_roundtrips_through_parquet(tmp_path):
    df = pd.DataFrame({"n": [3, 50, 60], "rate": [0.1, 0.2, 0.3]})
    out = suppress(df, ["n"], complementary=False, derived={"rate": ["n"]})
    out.to_parquet(tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back["n"].tolist() == ["<10", "50", "60"]
    assert np.isnan(back["rate"][0]) and back["rate"][1] == 0.2

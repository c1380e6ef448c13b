"""Input checks and encoding: every bad input gets a clear error naming the column."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal.design import encode_covariates, make_design, make_folds
from analysis.causal.estimate import estimate_effect


def frame(n=60, seed=0):
    g = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "t": np.tile([0, 1], n // 2),
            "y": g.normal(size=n),
            "age": g.normal(60, 8, size=n),
            "sex": g.choice(["M", "F"], size=n),
            "tier": pd.Categorical(g.choice(["low", "mid", "high"], size=n)),
            "hh": np.arange(n) // 2,
        }
    )


def test_non_binary_treatment_names_column():
    df = frame().assign(t=lambda d: np.arange(len(d)) % 3)
    with pytest.raises(ValueError, match=r"treatment column 't' must be binary"):
        make_design(df, treatment="t", outcome="y", covariates=["age"])


def test_string_treatment_rejected():
    df = frame().assign(t=lambda d: np.where(d.t == 1, "yes", "no"))
    with pytest.raises(ValueError, match="binary"):
        make_design(df, treatment="t", outcome="y", covariates=["age"])


def test_boolean_treatment_accepted():
    df = frame().assign(t=lambda d: d.t.astype(bool))
    assert make_design(df, treatment="t", outcome="y", covariates=["age"]).n_treated == 30


def test_small_group_rejected():
    df = frame()
    df.loc[df.index[1::2][9:], "t"] = 0  # leaves 9 treated
    with pytest.raises(ValueError, match=r"treated group has 9 people, fewer than 10"):
        make_design(df, treatment="t", outcome="y", covariates=["age"])


@pytest.mark.parametrize("column", ["y", "age", "sex", "t", "hh"])
def test_missing_values_named_with_count(column):
    df = frame()
    df[column] = df[column].astype(object)
    df.loc[[3, 7, 8], column] = None
    with pytest.raises(ValueError, match=rf"column '{column}' has 3 missing value"):
        make_design(df, treatment="t", outcome="y", covariates=["age", "sex"], cluster="hh")


def test_missing_column_named():
    with pytest.raises(ValueError, match="'bmi'"):
        make_design(frame(), treatment="t", outcome="y", covariates=["age", "bmi"])


def test_constant_covariate_warns_and_is_named():
    df = frame().assign(region="Kashima")
    with pytest.warns(UserWarning, match=r"'region' is constant"):
        design = make_design(df, treatment="t", outcome="y", covariates=["age", "region"])
    assert design.columns == ("age",)
    assert any("region" in w for w in design.warnings)


def test_perfect_separation_names_covariate():
    df = frame().assign(score=lambda d: d.t * 10 + np.arange(len(d)) / 100)
    with pytest.raises(ValueError, match=r"covariate 'score' perfectly separates"):
        make_design(df, treatment="t", outcome="y", covariates=["age", "score"])


def test_perfect_separation_by_category_level():
    df = frame().assign(site=lambda d: np.where(d.t == 1, "clinic", "home"))
    with pytest.raises(ValueError, match=r"site\[home\]"):
        estimate_effect(df, treatment="t", outcome="y", covariates=["site"], method="ipw")


def test_non_numeric_outcome_named():
    df = frame().assign(y="high")
    with pytest.raises(ValueError, match=r"outcome column 'y' must be numeric"):
        make_design(df, treatment="t", outcome="y", covariates=["age"])


def test_strings_and_categories_are_one_hot_encoded():
    df = frame()
    X, names, notes = encode_covariates(df, ["age", "sex", "tier"])
    assert names == ["age", "sex[M]", "tier[low]", "tier[mid]"]
    assert X.shape == (len(df), 4)
    np.testing.assert_array_equal(X[:, 1], (df["sex"] == "M").to_numpy(float))
    assert notes == []


def test_encoded_strings_give_the_same_estimate_as_manual_dummies():
    df = frame(200, seed=3)
    manual = df.assign(male=(df.sex == "M").astype(int))
    a = estimate_effect(
        df, treatment="t", outcome="y", covariates=["age", "sex"], method="regression"
    )
    b = estimate_effect(
        manual, treatment="t", outcome="y", covariates=["age", "male"], method="regression"
    )
    assert a.estimate == pytest.approx(b.estimate, abs=1e-10)


def test_input_is_not_mutated():
    df = frame(200)
    before = df.copy(deep=True)
    estimate_effect(df, treatment="t", outcome="y", covariates=["age", "sex", "tier"])
    pd.testing.assert_frame_equal(df, before)


def test_outcome_among_covariates_rejected():
    with pytest.raises(ValueError, match="must not include"):
        make_design(frame(), treatment="t", outcome="y", covariates=["age", "y"])


def test_folds_are_stratified_and_deterministic():
    t = np.r_[np.zeros(50, int), np.ones(23, int)]
    a, b = make_folds(t, 5, 7), make_folds(t, 5, 7)
    np.testing.assert_array_equal(a, b)
    for k in range(5):
        assert abs((t[a == k] == 1).sum() - 23 / 5) < 1
    assert not np.array_equal(a, make_folds(t, 5, 8))

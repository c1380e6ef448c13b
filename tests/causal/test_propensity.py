"""Propensity models: the logistic fit is the maximum-likelihood estimate."""

import inspect

import numpy as np
import pytest
import statsmodels.api as sm

from analysis.causal.propensity import cross_fit_propensity, fit_propensity, preference_score


def data(n=800, seed=0):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 3)) * [1, 10, 100]
    t = (g.random(n) < 1 / (1 + np.exp(-(0.5 * X[:, 0] + 0.05 * X[:, 1])))).astype(int)
    return X, t


def test_signature_is_the_published_one():
    sig = inspect.signature(fit_propensity)
    assert list(sig.parameters) == ["X", "t", "seed", "model"]
    assert sig.parameters["seed"].default == 0 and sig.parameters["model"].default == "logistic"


def test_logistic_is_the_unpenalised_mle():
    X, t = data()
    ref = sm.Logit(t, sm.add_constant(X)).fit(disp=0).predict(sm.add_constant(X))
    np.testing.assert_allclose(fit_propensity(X, t), ref, atol=1e-6)


def test_constant_model_is_the_treated_share():
    X, t = data()
    np.testing.assert_allclose(fit_propensity(X, t, model="constant"), t.mean())


def test_gbm_is_seeded():
    X, t = data()
    a = fit_propensity(X, t, model="gbm", seed=1)
    np.testing.assert_array_equal(a, fit_propensity(X, t, model="gbm", seed=1))
    assert ((a > 0) & (a < 1)).all()


def test_cross_fit_predicts_each_fold_out_of_sample():
    X, t = data()
    folds = np.arange(len(t)) % 4
    e = cross_fit_propensity(X, t, folds)
    train = folds != 0
    from analysis.causal.propensity import fit_predict_propensity

    np.testing.assert_allclose(
        e[~train], fit_predict_propensity(X[train], t[train], X[~train], seed=0), atol=1e-12
    )


@pytest.mark.parametrize(
    ("X", "t", "message"),
    [
        (np.zeros((4, 1)), np.array([0, 1, 2, 1]), "binary"),
        (np.zeros((4, 1)), np.array([1, 1, 1, 1]), "both"),
        (np.zeros((3, 1)), np.array([0, 1, 1, 0]), r"\(n, p\)"),
    ],
)
def test_bad_input(X, t, message):
    with pytest.raises(ValueError, match=message):
        fit_propensity(X, t)


def test_unknown_model():
    X, t = data(50)
    with pytest.raises(ValueError, match="propensity model must be one of"):
        fit_propensity(X, t, model="svm")


def test_preference_score_is_half_at_the_treated_share():
    assert preference_score(np.array([0.2]), 0.2)[0] == pytest.approx(0.5)
    assert preference_score(np.array([0.9]), 0.2)[0] > 0.9

"""Double machine learning with econml: ``LinearDML`` and ``CausalForestDML``.

Both residualise the outcome and the treatment on the covariates with cross-fitted
nuisance models, then fit the effect. ``LinearDML`` models the conditional effect as
linear in the covariates and averages it over the target population (everyone for the
ATE, the treated for the ATT). ``CausalForestDML`` fits a generalised random forest of
conditional effects; its ATE and ATT are the means of doubly robust scores, and the
individual effects are returned in ``cate``.

For the forest, the ATE and ATT are the means of the efficient (AIPW) scores built from
econml's cross-fitted nuisances and the forest's effects (as grf's
``average_treatment_effect`` does): with ``m(X) = E[Y | X]``, ``e(X)`` and ``tau(X)``,
``m0 = m - e tau`` and ``m1 = m0 + tau``. This gives influence values, hence
cluster-robust standard errors, and a much more stable ATT than averaging the ATE scores
over the treated.

Every econml estimator and nuisance model receives an integer ``random_state`` derived
from the run seed (econml otherwise draws on NumPy's global state).

References
----------
Chernozhukov, V. et al. (2018). Double/debiased machine learning. Econometrics Journal 21.
Athey, S., Tibshirani, J. & Wager, S. (2019). Generalized random forests. Annals of
Statistics 47(2), 1148-1178.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.causal.aipw import PROPENSITY_CLIP, aipw_scores
from analysis.causal.design import Design
from analysis.causal.result import Fit
from analysis.seeds import int_seed

NUISANCE_MODELS = ("linear", "gbm")
FOREST_SUBSAMPLE_MAX = 2500
"""Largest subsample per tree; keeps the forest under a minute on 20,000 people."""


def nuisance_models(kind: str, seed: int):
    """(model_y, model_t) for econml: linear/logistic or histogram gradient boosting."""
    if kind == "linear":
        return (
            LinearRegression(),
            make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, max_iter=2000)),
        )
    if kind == "gbm":
        return (
            HistGradientBoostingRegressor(
                max_iter=150, learning_rate=0.05, random_state=int_seed(seed, "dml", "model_y")
            ),
            HistGradientBoostingClassifier(
                max_iter=150, learning_rate=0.05, random_state=int_seed(seed, "dml", "model_t")
            ),
        )
    raise ValueError(f"nuisance must be one of {NUISANCE_MODELS}, got {kind!r}")


def fit_dml(
    design: Design,
    *,
    estimand: str = "ATE",
    seed: int = 0,
    nuisance: str = "linear",
    n_folds: int = 5,
) -> Fit:
    """LinearDML effect averaged over the target population.

    Returns
    -------
    Fit
        ``se`` from econml's inference on the mean effect, ``cate`` per person.
    """
    from econml.dml import LinearDML

    model_y, model_t = nuisance_models(nuisance, seed)
    est = LinearDML(
        model_y=model_y,
        model_t=model_t,
        discrete_treatment=True,
        cv=n_folds,
        random_state=int_seed(seed, "dml", "linear"),
    )
    X = design.X if design.X.shape[1] else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(design.y, design.t, X=X)
    if X is None:
        inf = est.const_marginal_ate_inference()
        cate = np.full(design.n, float(np.ravel(inf.mean_point)[0]))
    else:
        target = X[design.t == 1] if estimand == "ATT" else X
        inf = est.ate_inference(target)
        cate = np.ravel(est.effect(X))
    return Fit(
        estimate=float(np.ravel(inf.mean_point)[0]),
        se=float(np.ravel(inf.stderr_mean)[0]),
        cate=cate,
        info={"nuisance": nuisance},
    )


def fit_forest(
    design: Design,
    *,
    estimand: str = "ATE",
    seed: int = 0,
    nuisance: str = "linear",
    n_folds: int = 5,
    n_estimators: int = 200,
    min_samples_leaf: int = 10,
    max_samples: float | None = None,
    n_jobs: int | None = -1,
) -> Fit:
    """CausalForestDML effect (doubly robust mean of the forest's scores) and CATEs.

    Each tree is grown on a subsample of ``max_samples`` (default ``min(0.45, 2500 / n)``:
    econml's 45%, capped at 2,500 people so that large cohorts stay fast; half of each
    subsample builds the splits and half estimates the leaves, as honesty requires).

    Returns
    -------
    Fit
        Influence values from the AIPW scores, ``cate`` from the forest; the fitted econml
        estimator is ``info["forest"]`` (``.effect(X)`` predicts for new people).
    """
    from econml.dml import CausalForestDML

    if design.X.shape[1] == 0:
        raise ValueError("method='forest' needs at least one (non-constant) covariate")
    model_y, model_t = nuisance_models(nuisance, seed)
    est = CausalForestDML(
        model_y=model_y,
        model_t=model_t,
        discrete_treatment=True,
        cv=n_folds,
        n_estimators=n_estimators,
        min_samples_leaf=min_samples_leaf,
        max_samples=max_samples
        if max_samples is not None
        else min(0.45, FOREST_SUBSAMPLE_MAX / design.n),
        n_jobs=n_jobs,
        random_state=int_seed(seed, "dml", "forest"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(design.y, design.t, X=design.X, cache_values=True)
    y_res, t_res, x_cached, _ = est.residuals_
    if not np.array_equal(x_cached, design.X):
        raise RuntimeError("econml returned its cached residuals in a different row order")
    tau = np.ravel(est.effect(design.X))
    e = np.clip(design.t - np.ravel(t_res), PROPENSITY_CLIP, 1 - PROPENSITY_CLIP)
    m0 = design.y - np.ravel(y_res) - e * tau
    point, psi = aipw_scores(design.t, design.y, e, m0 + tau, m0, estimand)
    return Fit(
        estimate=point,
        influence=psi,
        propensity=e,
        cate=tau,
        info={"nuisance": nuisance, "n_estimators": n_estimators, "forest": est},
    )

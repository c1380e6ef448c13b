"""Outcome regression (g-computation) estimates of the ATE and ATT.

With the linear outcome model the estimate is Lin's (2013) fully interacted regression
``y ~ t + (X - c) + t (X - c)`` where ``c`` is the covariate mean of the target population
(everyone for the ATE, the treated for the ATT). The coefficient of ``t`` is then the
g-computation estimate, and on a saturated discrete design it equals the exact
stratified (standardised) difference. Its influence function adds the sampling variation
of ``c``, so that the standard error is valid for the population estimand.

With the non-linear models (``logistic``, ``loglink``, ``two_part``) each arm gets its own
model and the predictions are averaged (standardisation); the standard error then comes
from the bootstrap.

References
----------
Lin, W. (2013). Agnostic notes on regression adjustments to experimental data.
Annals of Applied Statistics 7(1), 295-318.
"""

from __future__ import annotations

import numpy as np

from analysis.causal.design import Design
from analysis.causal.outcome_models import predict_potential_outcomes
from analysis.causal.result import Fit


def _lin_regression(design: Design, estimand: str) -> Fit:
    X, t, y = design.X, design.t.astype(float), design.y
    n = len(y)
    target = t == 1 if estimand == "ATT" else np.ones(n, bool)
    centre = X[target].mean(axis=0)
    Xc = X - centre
    Z = np.column_stack([np.ones(n), t, Xc, t[:, None] * Xc])
    bread = np.linalg.pinv(Z.T @ Z)
    beta = bread @ (Z.T @ y)
    resid = y - Z @ beta
    rank = np.linalg.matrix_rank(Z.T @ Z)
    gamma = beta[2 + X.shape[1] :]
    psi = n * (Z @ bread[1]) * resid
    if estimand == "ATT":
        psi = psi + (t / t.mean()) * (Xc @ gamma)
    else:
        psi = psi + Xc @ gamma
    return Fit(
        estimate=float(beta[1]),
        influence=psi,
        info={"df": float(n - rank), "n_parameters": int(rank), "small_sample": n / (n - rank)},
    )


def _standardisation(design: Design, estimand: str, outcome_model: str) -> Fit:
    X, t, y = design.X, design.t, design.y
    mu1, mu0 = predict_potential_outcomes(X, t, y, X, model=outcome_model)
    if estimand == "ATT":
        est = float(np.mean(y[t == 1] - mu0[t == 1]))
    else:
        est = float(np.mean(mu1 - mu0))
    return Fit(estimate=est, cate=mu1 - mu0, info={"needs_bootstrap": True})


def fit_regression(design: Design, *, estimand: str = "ATE", outcome_model: str = "linear") -> Fit:
    """Regression-adjusted effect (see the module docstring).

    Parameters
    ----------
    design : Design
    estimand : {"ATE", "ATT"}
    outcome_model : {"linear", "logistic", "loglink", "two_part"}

    Returns
    -------
    Fit
        With influence values for the linear model; without them (bootstrap needed)
        for the non-linear ones.
    """
    if outcome_model == "linear":
        return _lin_regression(design, estimand)
    return _standardisation(design, estimand, outcome_model)

"""Outcome models E[Y | X] used by regression (g-computation) and AIPW.

``"linear"`` is ordinary least squares; ``"logistic"`` is for 0/1 outcomes;
``"loglink"`` is a quasi-Poisson GLM with a log link, which fits the mean of skewed
non-negative costs without transforming them; ``"two_part"`` models P(Y > 0) by logistic
regression and E[Y | Y > 0] by a Gamma GLM with a log link (the usual model for medical
costs with many zeros; Deb & Norton 2018, Annu Rev Public Health 39:489-505).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor

from analysis.causal.propensity import _Logistic

OUTCOME_MODELS = ("linear", "logistic", "loglink", "two_part")


def _standardiser(X: np.ndarray):
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return lambda Z: (Z - mu) / sd


class _Constant:
    def __init__(self, value: float):
        self.value = float(value)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(X.shape[0], self.value)


class _Linear:
    def __init__(self, X: np.ndarray, y: np.ndarray):
        Z = np.column_stack([np.ones(len(y)), X])
        self.coef = np.linalg.lstsq(Z, y, rcond=None)[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.coef[0] + X @ self.coef[1:]


class _Sklearn:
    def __init__(self, estimator, X: np.ndarray, y: np.ndarray, proba: bool):
        self.scale = _standardiser(X)
        self.proba = proba
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.est = estimator.fit(self.scale(X), y)

    def predict(self, X: np.ndarray) -> np.ndarray:
        Z = self.scale(X)
        return self.est.predict_proba(Z)[:, 1] if self.proba else self.est.predict(Z)


class _TwoPart:
    def __init__(self, X: np.ndarray, y: np.ndarray):
        positive = y > 0
        self.any = _fit_binary(X, positive.astype(float))
        if positive.sum() >= 2:
            self.size = _Sklearn(
                GammaRegressor(alpha=0.0, solver="newton-cholesky", max_iter=500),
                X[positive],
                y[positive],
                proba=False,
            )
        else:
            self.size = _Constant(y[positive].mean() if positive.any() else 0.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.any.predict(X) * self.size.predict(X)


def _fit_binary(X: np.ndarray, y: np.ndarray):
    if y.min() == y.max() or X.shape[1] == 0:
        return _Constant(y.mean())
    return _Sklearn(_Logistic(), X, y, proba=True)


def fit_outcome_model(X, y, *, model: str = "linear"):
    """Fit E[Y | X] and return an object with ``predict(X) -> ndarray``.

    Parameters
    ----------
    X : array-like, shape (n, p)
    y : array-like, shape (n,)
    model : {"linear", "logistic", "loglink", "two_part"}

    Raises
    ------
    ValueError
        Unknown model, a non-binary outcome for ``"logistic"`` or a negative outcome for
        ``"loglink"`` and ``"two_part"``.
    """
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    y = np.asarray(y, dtype=float)
    if model not in OUTCOME_MODELS:
        raise ValueError(f"outcome_model must be one of {OUTCOME_MODELS}, got {model!r}")
    if model == "linear":
        return _Linear(X, y)
    if model == "logistic":
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("outcome_model='logistic' needs a 0/1 outcome")
        return _fit_binary(X, y)
    if (y < 0).any():
        raise ValueError(f"outcome_model={model!r} needs a non-negative outcome (e.g. costs)")
    if model == "two_part":
        return _TwoPart(X, y)
    if y.max() == 0 or X.shape[1] == 0:
        return _Constant(y.mean())
    return _Sklearn(
        PoissonRegressor(alpha=0.0, solver="newton-cholesky", max_iter=500), X, y, proba=False
    )


def check_outcome_model(model: str, y: np.ndarray, outcome: str) -> None:
    """Raise early, naming the outcome column, when ``model`` cannot fit ``y``."""
    if model not in OUTCOME_MODELS:
        raise ValueError(f"outcome_model must be one of {OUTCOME_MODELS}, got {model!r}")
    if model == "logistic" and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(f"outcome_model='logistic' needs a 0/1 outcome; {outcome!r} is not")
    if model in ("loglink", "two_part") and (y < 0).any():
        raise ValueError(
            f"outcome_model={model!r} needs a non-negative outcome; {outcome!r} is not"
        )


def predict_potential_outcomes(
    X: np.ndarray, t: np.ndarray, y: np.ndarray, X_pred: np.ndarray, *, model: str
) -> tuple[np.ndarray, np.ndarray]:
    """Fit one model per arm and predict both potential outcomes at ``X_pred``."""
    m1 = fit_outcome_model(X[t == 1], y[t == 1], model=model)
    m0 = fit_outcome_model(X[t == 0], y[t == 0], model=model)
    return m1.predict(X_pred), m0.predict(X_pred)

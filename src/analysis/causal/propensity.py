"""Propensity-score models: P(treated | covariates).

``fit_propensity`` is the one entry point every weighting estimator uses (including the
survival and difference-in-differences estimators), so that all of them share the same
models and seeds.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning

from analysis.seeds import int_seed

PROPENSITY_MODELS = ("logistic", "gbm", "constant")


def _check_xt(X, t) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    t = np.asarray(t)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or t.ndim != 1 or X.shape[0] != t.shape[0]:
        raise ValueError(f"X must be (n, p) and t (n,); got {X.shape} and {t.shape}")
    if not np.isin(t, (0, 1)).all():
        raise ValueError("t must be binary 0/1")
    if t.min() == t.max():
        raise ValueError("t must contain both treated (1) and comparison (0) units")
    return X, t.astype(np.int8)


def _standardise(X: np.ndarray, X_ref: np.ndarray) -> np.ndarray:
    mu, sd = X_ref.mean(axis=0), X_ref.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X - mu) / sd


def logistic_mle(Z: np.ndarray, y: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Unpenalised logistic-regression coefficients by Newton-Raphson with step halving.

    ``Z`` must already hold the intercept column. Under (quasi-)separation the
    likelihood has no maximum; the iterations then stop at ``max_iter`` with large
    coefficients and fitted probabilities near 0 or 1, which the overlap gates report.
    """
    beta = np.zeros(Z.shape[1])
    eta = Z @ beta
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    ridge = 1e-10 * np.eye(Z.shape[1])
    for _ in range(max_iter):
        p = expit(eta)
        grad = Z.T @ (y - p)
        hess = (Z * (p * (1 - p))[:, None]).T @ Z
        step = np.linalg.lstsq(hess + ridge, grad, rcond=None)[0]
        for _ in range(30):
            new_eta = Z @ (beta + step)
            new_loglik = float(np.sum(y * new_eta - np.logaddexp(0.0, new_eta)))
            if new_loglik >= loglik - 1e-12:
                break
            step /= 2
        beta, eta = beta + step, new_eta
        done = new_loglik - loglik < 1e-12 * (1 + abs(loglik)) or np.max(np.abs(step)) < 1e-9
        loglik = new_loglik
        if done:
            break
    return beta


class _Logistic:
    """Logistic regression by ``logistic_mle`` on standardised covariates."""

    def fit(self, X: np.ndarray, t: np.ndarray) -> _Logistic:
        self.coef_ = logistic_mle(np.column_stack([np.ones(len(t)), X]), t.astype(float))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = expit(self.coef_[0] + X @ self.coef_[1:])
        return np.column_stack([1 - p, p])


def propensity_model(model: str, seed: int):
    """An unfitted scikit-learn classifier for ``model`` (``"logistic"`` or ``"gbm"``)."""
    if model == "logistic":
        return _Logistic()
    if model == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, random_state=int_seed(seed, "propensity", "gbm")
        )
    raise ValueError(f"propensity model must be one of {PROPENSITY_MODELS}, got {model!r}")


def fit_predict_propensity(
    X_train, t_train, X_pred, *, seed: int = 0, model: str = "logistic"
) -> np.ndarray:
    """Fit a propensity model on one sample and predict on another (cross-fitting)."""
    X_train, t_train = _check_xt(X_train, t_train)
    X_pred = np.asarray(X_pred, dtype=float).reshape(len(X_pred), -1)
    if model == "constant" or X_train.shape[1] == 0:
        if model not in PROPENSITY_MODELS:
            raise ValueError(f"propensity model must be one of {PROPENSITY_MODELS}, got {model!r}")
        return np.full(X_pred.shape[0], t_train.mean())
    clf = propensity_model(model, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(_standardise(X_train, X_train), t_train)
    return clf.predict_proba(_standardise(X_pred, X_train))[:, 1]


def fit_propensity(X, t, *, seed: int = 0, model: str = "logistic") -> np.ndarray:
    """Estimated propensity scores P(t = 1 | X) for the rows of ``X``.

    Parameters
    ----------
    X : array-like, shape (n, p)
        Numeric covariates (encode categoricals first, e.g. with
        ``analysis.causal.design.encode_covariates``).
    t : array-like, shape (n,)
        Treatment indicator 0/1.
    seed : int
        Run seed; flexible models get ``random_state=int_seed(seed, "propensity", model)``.
    model : {"logistic", "gbm", "constant"}
        Unpenalised logistic regression (maximum likelihood by Newton-Raphson on
        standardised covariates),
        histogram gradient boosting, or the treated share for everyone.

    Returns
    -------
    numpy.ndarray, shape (n,)
        In-sample fitted probabilities (not clipped).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(40.0)[:, None]; t = np.tile([0, 1], 20)
    >>> e = fit_propensity(X, t)
    >>> e.shape
    (40,)
    """
    return fit_predict_propensity(X, t, X, seed=seed, model=model)


def cross_fit_propensity(
    X, t, folds: np.ndarray, *, seed: int = 0, model: str = "logistic"
) -> np.ndarray:
    """Out-of-fold propensity scores: each fold predicted by a model fitted on the others."""
    X, t = _check_xt(X, t)
    e = np.empty(len(t))
    for k in np.unique(folds):
        test = folds == k
        e[test] = fit_predict_propensity(
            X[~test], t[~test], X[test], seed=int_seed(seed, "fold", int(k)), model=model
        )
    return e


def preference_score(e: np.ndarray, treated_share: float) -> np.ndarray:
    """Walker et al. (2013) preference score: the propensity with prevalence removed.

    ``logit(F) = logit(e) - logit(P)`` where ``P`` is the share treated, so that a
    preference of 0.5 means "as likely as the average person to be treated".
    """
    e = np.clip(e, 1e-12, 1 - 1e-12)
    logit = np.log(e / (1 - e)) - np.log(treated_share / (1 - treated_share))
    return 1.0 / (1.0 + np.exp(-logit))

"""The variance of propensity-score matching when the score is estimated (Abadie & Imbens 2016).

Matching on a propensity score that was itself estimated by logistic maximum likelihood
changes the large-sample variance of the matching estimator. Writing the matching
estimator with the true score as ``tau_hat(theta) - tau = A``, with ``theta_hat - theta``
``~ I^-1 S / N`` (``S`` the logistic score, ``I`` the information per person), the
estimator with the estimated score is ``A + G' I^-1 S / N`` to first order, so that

``N var(tau_hat(theta_hat)) = N var(A) + 2 G' I^-1 C + G' I^-1 G``

with ``C = N cov(A, S / N)`` and ``G`` the derivative of the matching estimator's limit with
respect to ``theta``. Both depend on the data through ``cov(X, mu(w, X) | p(X))``, the
covariance between the covariates and the conditional mean outcome of group ``w`` among
people with the same propensity, and, for the ATT, through the conditional effect
``mu(1, p) - mu(0, p)``. With ``f = p (1 - p)`` and ``P1`` the treated share:

- ATE: ``C = -G = E[(1 - p) cov1 + p cov0]``, so the adjustment ``-C' I^-1 C`` is never
  positive (Abadie & Imbens 2016, Theorem 1).
- ATT: ``C = E[f X (mu1(p) - mu0(p) - tau)] / P1 + E[f cov1 + p^2 cov0] / P1`` and
  ``G = -E[p cov0] / P1``; the adjustment ``2 G' I^-1 C + G' I^-1 G`` can take either sign
  (their Theorem 2 and its discussion).

The conditional covariances and means are estimated, as Abadie & Imbens propose, from the
``n_neighbors`` people of each group nearest on the score. With the bias-corrected matching
of ``analysis.causal.matching``, the outcome is replaced by its residual from the
regression adjustment, whose covariance with ``X`` is what matching has left to remove.

References
----------
Abadie, A. & Imbens, G. W. (2016). Matching on the estimated propensity score.
Econometrica 84(2), 781-807.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

COVARIANCE_NEIGHBORS = 4
"""People per group used for each local covariance and mean (Abadie & Imbens use a few)."""


def local_moments(
    score: np.ndarray, members: np.ndarray, Z: np.ndarray, y: np.ndarray, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Local ``cov(Z, y | score)`` and ``E[y | score]`` at every person, from one group.

    Parameters
    ----------
    score : numpy.ndarray, shape (n,)
        Matching score of everyone (e.g. the logit propensity).
    members : numpy.ndarray
        Positions of the group's people; the moments come from them only.
    Z : numpy.ndarray, shape (n, k)
        Covariates of the propensity model.
    y : numpy.ndarray, shape (n,)
        Outcome (or residual outcome).
    n_neighbors : int
        Nearest group members on the score used for each person (at least 2).

    Returns
    -------
    cov : numpy.ndarray, shape (n, k)
    mean : numpy.ndarray, shape (n,)
    """
    k = min(n_neighbors, len(members))
    if k < 2:
        return np.zeros(Z.shape), np.full(len(score), y[members].mean())
    nn = NearestNeighbors(n_neighbors=k).fit(score[members][:, None])
    idx = members[nn.kneighbors(score[:, None], return_distance=False)]
    zn, yn = Z[idx], y[idx]
    yc = yn - yn.mean(axis=1, keepdims=True)
    zc = zn - zn.mean(axis=1, keepdims=True)
    cov = np.einsum("nlk,nl->nk", zc, yc) / (k - 1)
    return cov, yn.mean(axis=1)


def propensity_adjustment(
    Z: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    score: np.ndarray,
    y_treated: np.ndarray,
    y_control: np.ndarray,
    *,
    estimand: str,
    tau: float,
    target: np.ndarray | None = None,
    n_neighbors: int = COVARIANCE_NEIGHBORS,
) -> float:
    """Change in ``var(tau_hat)`` from estimating the logistic propensity score.

    Parameters
    ----------
    Z : numpy.ndarray, shape (n, k)
        Regressors of the logistic propensity model, intercept included.
    t : numpy.ndarray, shape (n,)
        Treatment 0/1.
    e : numpy.ndarray, shape (n,)
        Fitted propensity scores.
    score : numpy.ndarray, shape (n,)
        The score matched on (logit of ``e``).
    y_treated, y_control : numpy.ndarray, shape (n,)
        The outcome as it enters the estimator for treated and for comparison people
        (residuals of the regression adjustment under bias correction).
    estimand : {"ATT", "ATE"}
    tau : float
        The matching estimate.
    target : numpy.ndarray of bool, optional
        ATT: the treated people who found a match (default: all treated).
    n_neighbors : int
        Neighbours per group for the local moments.

    Returns
    -------
    float
        The term to add to the matching variance (``var(tau_hat)``, not ``N var``).
    """
    n = len(t)
    treated, control = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    cov1, mu1 = local_moments(score, treated, Z, y_treated, n_neighbors)
    cov0, mu0 = local_moments(score, control, Z, y_control, n_neighbors)
    f = e * (1 - e)
    info = (Z * f[:, None]).T @ Z / n
    info_inv = np.linalg.pinv(info)
    if estimand == "ATE":
        c = ((1 - e)[:, None] * cov1 + e[:, None] * cov0).mean(axis=0)
        return float(-(c @ info_inv @ c) / n)
    if estimand != "ATT":
        raise ValueError(f"estimand must be 'ATT' or 'ATE', got {estimand!r}")
    n1 = int(target.sum()) if target is not None else len(treated)
    d = (f * (mu1 - mu0 - tau)) @ Z / n1
    c = (f[:, None] * cov1 + (e**2)[:, None] * cov0).sum(axis=0) / n1 + d
    g = -(e[:, None] * cov0).sum(axis=0) / n1
    return float((2 * g @ info_inv @ c + g @ info_inv @ g) / n)

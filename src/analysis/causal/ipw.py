"""Inverse-probability weighting with stabilised (normalised, Hajek) weights.

ATE weights are ``P/e`` for the treated and ``(1-P)/(1-e)`` for the comparison group
(``P`` the treated share); ATT weights are 1 for the treated and ``e/(1-e)`` for the
comparison group. The estimate is the difference of weighted means. When the propensity
model is the logistic regression, the standard error is the M-estimation sandwich that
accounts for estimating the propensity (Lunceford & Davidian 2004); for other propensity
models the propensity is treated as known, which is conservative for the ATE.

With an exposure ``per`` (e.g. enrolled months) the effect is on the outcome per unit
of exposure, the difference of weighted ratios of means ``sum(w y) / sum(w per)``; its
influence values follow from the same estimating equations with ``y - r per`` in place of
``y - mu`` (the mean is the ratio with ``per = 1``).

Optional trimming keeps people with ``trim <= e <= 1 - trim`` (Crump et al. 2009); the
estimate then refers to the trimmed population, and the result says how many were left out.

References
----------
Lunceford, J. K. & Davidian, M. (2004). Stratification and weighting via the propensity
score in estimation of causal treatment effects. Statistics in Medicine 23, 2937-2960.
Crump, R. K. et al. (2009). Dealing with limited overlap in estimation of average
treatment effects. Biometrika 96(1), 187-199.
"""

from __future__ import annotations

import numpy as np

from analysis.causal.design import Design
from analysis.causal.propensity import fit_propensity
from analysis.causal.result import Fit


def ipw_weights(t: np.ndarray, e: np.ndarray, estimand: str) -> np.ndarray:
    """Stabilised inverse-probability weights for the ATE or the ATT."""
    p = t.mean()
    if estimand == "ATT":
        return np.where(t == 1, 1.0, e / (1 - e) * (1 - p) / p)
    return np.where(t == 1, p / e, (1 - p) / (1 - e))


def check_trim(trim: float | None) -> None:
    if trim is not None and not 0 < trim < 0.5:
        raise ValueError(f"trim must lie strictly between 0 and 0.5, got {trim!r}")


def trim_mask(e: np.ndarray, trim: float | None) -> np.ndarray:
    """People kept by symmetric propensity trimming (all when ``trim`` is None)."""
    check_trim(trim)
    if trim is None:
        return np.ones(len(e), bool)
    return (e >= trim) & (e <= 1 - trim)


def _influence(Z, t, y, e, keep, mu1, mu0, estimand, account_for_ps, per=None) -> np.ndarray:
    """Influence values of ``mu1 - mu0`` from the stacked estimating equations
    (``mu`` a ratio ``sum(w y) / sum(w per)`` when ``per`` is given)."""
    n = len(t)
    per = np.ones(n) if per is None else per
    k = keep.astype(float)
    if estimand == "ATT":
        w1, w0 = t * k, (1 - t) * k * e / (1 - e)
        dw1 = np.zeros(n)
        dw0 = (1 - t) * k * e / (1 - e)
    else:
        w1, w0 = t * k / e, (1 - t) * k / (1 - e)
        dw1 = -t * k * (1 - e) / e
        dw0 = (1 - t) * k * e / (1 - e)
    g1, g0 = w1 * (y - mu1 * per), w0 * (y - mu0 * per)
    a11, a00 = (w1 * per).mean(), (w0 * per).mean()
    psi = g1 / a11 - g0 / a00
    if not account_for_ps:
        return psi
    # Stacked M-estimator (beta, mu1, mu0): correct psi for the estimated logistic beta.
    score = Z * (t - e)[:, None]
    info = (Z * (e * (1 - e))[:, None]).T @ Z / n
    d1 = (dw1 * (y - mu1 * per)) @ Z / n
    d0 = (dw0 * (y - mu0 * per)) @ Z / n
    beta_if = score @ np.linalg.pinv(info)
    return psi + beta_if @ (d1 / a11 - d0 / a00)


def fit_ipw(
    design: Design,
    *,
    estimand: str = "ATE",
    seed: int = 0,
    propensity_model: str = "logistic",
    trim: float | None = None,
    propensity: np.ndarray | None = None,
) -> Fit:
    """Inverse-probability-weighted effect (see the module docstring).

    Parameters
    ----------
    design : Design
    estimand : {"ATE", "ATT"}
    seed : int
    propensity_model : {"logistic", "gbm", "constant"}
    trim : float or None
        Keep ``trim <= e <= 1 - trim``.
    propensity : numpy.ndarray or None
        Known propensity scores (skips the model; the propensity is then treated as known).

    Returns
    -------
    Fit
    """
    t, y = design.t.astype(float), design.y
    if propensity is None:
        e = fit_propensity(design.X, design.t, seed=seed, model=propensity_model)
        account = propensity_model == "logistic" and design.X.shape[1] > 0
    else:
        e = np.asarray(propensity, dtype=float)
        account = False
    e = np.clip(e, 1e-6, 1 - 1e-6)
    keep = trim_mask(e, trim)
    if t[keep].min() == t[keep].max():
        raise ValueError(f"trim={trim} leaves only one treatment group")
    w = ipw_weights(design.t, e, estimand) * keep
    per = np.ones(len(t)) if design.per is None else design.per
    if design.per is not None and min(np.sum(w * t * per), np.sum(w * (1 - t) * per)) <= 0:
        raise ValueError(
            f"trim={trim} leaves a group whose per column {design.per_name!r} sums to 0"
        )
    mu1 = np.sum(w * t * y) / np.sum(w * t * per)
    mu0 = np.sum(w * (1 - t) * y) / np.sum(w * (1 - t) * per)
    Z = np.column_stack([np.ones(len(t)), design.X])
    psi = _influence(Z, t, y, e, keep, mu1, mu0, estimand, account, per)
    return Fit(
        estimate=float(mu1 - mu0),
        influence=psi,
        weights=w,
        propensity=e,
        keep=keep,
        info={"n_trimmed": int((~keep).sum()), "propensity_estimated_in_se": account},
    )

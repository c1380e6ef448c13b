"""Gradient-boosted Cox model (scikit-survival), the flexible comparator of the Cox model."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.risk.cox import SurvivalFit, breslow
from analysis.seeds import int_seed, rng

GBM_DEFAULTS = dict(n_estimators=200, learning_rate=0.1, max_depth=3, subsample=0.8)
"""Default boosting settings (override through ``fit_risk_model(..., gbm_options=...)``)."""
GBM_MAX_ROWS = 5000
"""Rows the trees are grown on. scikit-survival's Cox loss costs O(n²) per iteration
(about 7 s for 20 trees on 4,000 rows), so larger data are subsampled (seeded); the
baseline hazard is then estimated on all rows."""


def fit_gbm(
    X: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    seed: int,
    options: dict | None = None,
    max_rows: int = GBM_MAX_ROWS,
) -> SurvivalFit:
    """Fit ``GradientBoostingSurvivalAnalysis`` (Cox partial-likelihood loss, trees).

    Trees are grown on at most ``max_rows`` rows (a seeded random subsample, with a
    warning); the Breslow baseline cumulative hazard is then computed on all rows, so
    predictions have a Cox model's form: ``H(t | x) = H0(t) * exp(f(x))``.
    """
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis
    from sksurv.util import Surv

    opts = {**GBM_DEFAULTS, **(options or {})}
    Xa = X.to_numpy(dtype=float)
    rows = np.arange(len(Xa))
    if len(Xa) > max_rows:
        warnings.warn(
            f"gbm: growing trees on a random {max_rows:,} of {len(Xa):,} rows "
            "(scikit-survival's Cox loss is quadratic in rows)",
            stacklevel=3,
        )
        rows = np.sort(rng(seed, "risk", "gbm_rows").choice(len(Xa), max_rows, replace=False))
    est = GradientBoostingSurvivalAnalysis(
        loss="coxph", random_state=int_seed(seed, "risk", "gbm"), **opts
    )
    est.fit(Xa[rows], Surv.from_arrays(event=event[rows].astype(bool), time=time[rows]))
    lp = np.asarray(est.predict(Xa), dtype=float)
    base_t, base_h = breslow(time, event, lp)
    return SurvivalFit(estimator=est, baseline_times=base_t, baseline_cumhaz=base_h, params=None)


def gbm_linear_predictor(fit: SurvivalFit, X: pd.DataFrame) -> np.ndarray:
    """The boosted log relative hazard ``f(x)``."""
    return np.asarray(fit.estimator.predict(X.to_numpy(dtype=float)), dtype=float)

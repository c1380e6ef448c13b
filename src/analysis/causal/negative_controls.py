"""Empirical calibration with negative-control outcomes (Schuemie et al.).

Estimates for negative-control outcomes (true effect zero) show the systematic error of a
design. Their distribution, the empirical null ``N(mu, tau^2)``, is fitted by maximum
likelihood allowing for each estimate's own standard error
(``estimate_i ~ N(mu, tau^2 + se_i^2)``). A new estimate is then calibrated by
subtracting ``mu`` and widening its variance by ``tau^2``. Estimates are on the scale
they were made on (here the additive scale of ``estimate_effect``), so the negative
controls should share the outcome's units, e.g. costs in yen of other periods or of
dental care.

References
----------
Schuemie, M. J. et al. (2014). Interpreting observational studies: why empirical
calibration is needed to correct p-values. Statistics in Medicine 33(2), 209-218.
Schuemie, M. J. et al. (2018). Empirical confidence interval calibration for
population-level effect estimation studies in observational healthcare data. PNAS
115(11), 2571-2577.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

from analysis.causal.diagnostics import Check

MIN_NEGATIVE_CONTROLS = 3


@dataclass(frozen=True)
class EmpiricalNull:
    """The fitted systematic-error distribution ``N(mean, sd^2)``."""

    mean: float
    sd: float
    n_controls: int


def fit_empirical_null(estimates, ses) -> EmpiricalNull:
    """Maximum-likelihood empirical null from negative-control estimates and their SEs.

    Raises
    ------
    ValueError
        Fewer than three controls, mismatched lengths, or non-positive standard errors.
    """
    est = np.asarray(estimates, float)
    se = np.asarray(ses, float)
    if est.shape != se.shape or est.ndim != 1:
        raise ValueError("estimates and ses must be one-dimensional and of equal length")
    if len(est) < MIN_NEGATIVE_CONTROLS:
        raise ValueError(f"need at least {MIN_NEGATIVE_CONTROLS} negative controls, got {len(est)}")
    if not (np.isfinite(est).all() and np.isfinite(se).all() and (se > 0).all()):
        raise ValueError("negative-control estimates must be finite with positive SEs")

    def nll(theta):
        mu, log_tau = theta
        var = math.exp(2 * log_tau) + se**2
        return 0.5 * np.sum(np.log(var) + (est - mu) ** 2 / var)

    start = [float(np.mean(est)), math.log(max(float(np.std(est)), 1e-3 * float(se.mean())))]
    fit = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000}
    )
    mu, log_tau = fit.x
    tau = math.exp(log_tau)
    if tau < 1e-6 * float(se.mean()):
        tau = 0.0
    return EmpiricalNull(float(mu), float(tau), len(est))


def calibrate_p_value(null: EmpiricalNull, estimate: float, se: float) -> float:
    """Two-sided p-value of ``estimate`` against the empirical null."""
    z = (estimate - null.mean) / math.sqrt(null.sd**2 + se**2)
    return float(2 * stats.norm.sf(abs(z)))


def calibrate_ci(null: EmpiricalNull, estimate: float, se: float, level: float = 0.95):
    """Calibrated interval: shifted by the systematic error and widened by its spread."""
    z = stats.norm.ppf(0.5 + level / 2)
    half = z * math.sqrt(null.sd**2 + se**2)
    return (estimate - null.mean - half, estimate - null.mean + half)


def calibrate(result, negative_controls):
    """An ``EffectResult`` calibrated with negative-control results.

    Parameters
    ----------
    result : EffectResult
    negative_controls : sequence of EffectResult
        The same design applied to outcomes with no true effect.

    Returns
    -------
    EffectResult
        Estimate shifted by the null's mean, SE widened, calibrated CI and p-value;
        ``info["empirical_null"]`` holds the null and the diagnostics gain a check that
        the systematic error is small relative to the estimate's SE (sd <= se).
    """
    controls = list(negative_controls)
    null = fit_empirical_null([r.estimate for r in controls], [r.se for r in controls])
    lo, hi = calibrate_ci(null, result.estimate, result.se)
    se = math.sqrt(null.sd**2 + result.se**2)
    check = Check(
        "systematic_error_sd",
        null.sd,
        result.se,
        null.sd <= result.se,
        "spread of negative-control estimates <= the estimate's SE",
    )
    return replace(
        result,
        estimate=result.estimate - null.mean,
        se=se,
        ci_low=lo,
        ci_high=hi,
        p_value=calibrate_p_value(null, result.estimate, result.se),
        method=f"{result.method}+calibrated",
        diagnostics=result.diagnostics.with_checks(check),
        info={**result.info, "empirical_null": null, "uncalibrated_estimate": result.estimate},
    )

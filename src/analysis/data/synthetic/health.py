"""The natural course of each person's health, fiscal year by fiscal year.

Risk factors are age- and sex-specific means plus a standardised latent vector that is
jointly correlated across factors (BMI, blood pressure, glycaemia, lipids, kidney
function, proteinuria) and persistent from year to year (a stationary AR(1) process), so
that the marginal distribution in every age band follows the calibration targets while
each person keeps a plausible trajectory. Diagnoses and medication are absorbing states
entered when the factors cross clinical thresholds. Program effects are *not* in here:
they are added on top by the program module, so that this natural course is the same
whatever effects are planted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

# Latent factors, their year-to-year autocorrelation and their correlation matrix.
FACTORS = ("bmi", "sbp", "glyc", "ldl", "hdl", "tg", "egfr", "uprot")
_RHO = np.array([0.95, 0.75, 0.92, 0.8, 0.85, 0.65, 0.96, 0.75])
_CORR = np.array(
    [
        # bmi   sbp   glyc  ldl   hdl   tg    egfr  uprot
        [1.00, 0.30, 0.30, 0.15, -0.35, 0.35, -0.05, 0.15],
        [0.30, 1.00, 0.15, 0.08, -0.05, 0.15, -0.10, 0.20],
        [0.30, 0.15, 1.00, 0.05, -0.15, 0.20, -0.05, 0.25],
        [0.15, 0.08, 0.05, 1.00, -0.10, 0.20, 0.00, 0.00],
        [-0.35, -0.05, -0.15, -0.10, 1.00, -0.45, 0.05, -0.05],
        [0.35, 0.15, 0.20, 0.20, -0.45, 1.00, -0.05, 0.10],
        [-0.05, -0.10, -0.05, 0.00, 0.05, -0.05, 1.00, -0.25],
        [0.15, 0.20, 0.25, 0.00, -0.05, 0.10, -0.25, 1.00],
    ]
)


PROG_SHARE = 0.005
"""Share of people with progressive kidney disease (more among those with high glycaemia,
blood pressure and proteinuria when the course starts)."""

SEVERE_BASE_HAZARD = 0.00125
"""Annual cardiovascular-event hazard at 60 for a non-smoking woman with reference risk
factors: at 40-74 about 2.2 strokes, 0.85 myocardial infarctions and 1.25 heart-failure
admissions per 1,000 person-years (calibration: ``admission_rate``)."""

MOTIVATION_LOG_HR = 0.15
"""Severe-event log hazard per SD of the latent motivation (protective)."""

TREATMENT_RHO = 0.65
"""Year-to-year correlation of the latent that decides whether a diagnosed person takes
the drug (persistence of about 0.9 a year; calibration: ``med_persistence``)."""


@dataclass
class Health:
    """Natural health course, arrays of shape (persons, fiscal years).

    Values are the *true* levels at the fiscal-year midpoint (checkup measurements add
    noise and program effects). Diagnosis and medication flags are absorbing.
    """

    age: np.ndarray
    height: np.ndarray  # (n,) cm
    bmi: np.ndarray
    waist: np.ndarray
    sbp: np.ndarray
    dbp: np.ndarray
    hba1c: np.ndarray
    fpg: np.ndarray
    ldl: np.ndarray
    hdl: np.ndarray
    tg: np.ndarray
    egfr: np.ndarray
    uprot: np.ndarray  # int 0..4
    smoker: np.ndarray
    exercise_p: np.ndarray  # probability of an exercise habit (before any program)
    exercise_u: np.ndarray  # persistent uniform draw the habit is decided by
    walking: np.ndarray
    diabetes: np.ndarray  # diagnosed
    hypertension: np.ndarray
    dyslipidaemia: np.ndarray
    ckd: np.ndarray  # diagnosed CKD
    glucose_med: np.ndarray
    bp_med: np.ndarray
    lipid_med: np.ndarray
    cancer: np.ndarray  # in treatment this year
    mental: np.ndarray  # mental disorder under care
    frailty: np.ndarray  # (n,) persistent cost multiplier (log scale)


def from_year(h: Health, k: int) -> Health:
    """The course from fiscal-year index ``k`` on (drops burn-in years; person arrays kept)."""
    return Health(
        **{
            name: (v[:, k:] if v.ndim == 2 else v)
            for name, v in ((f, getattr(h, f)) for f in h.__dataclass_fields__)
        }
    )


def _ar1(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    """Correlated standardised AR(1) latent factors, shape (n, t, k)."""
    k = len(FACTORS)
    chol = np.linalg.cholesky(_CORR)
    z = np.empty((n, t, k))
    z[:, 0] = rng.standard_normal((n, k)) @ chol.T
    s = np.sqrt(1 - _RHO**2)
    for j in range(1, t):
        z[:, j] = _RHO * z[:, j - 1] + s * (rng.standard_normal((n, k)) @ chol.T)
    return z


def _absorbing(
    rng: np.random.Generator,
    cond: np.ndarray,
    p_per_year: float | np.ndarray,
    p_first: float | np.ndarray | None = None,
    burn_in: int = 0,
) -> np.ndarray:
    """Flag that switches on (for good) with probability ``p_per_year`` in years ``cond`` holds.

    People for whom ``cond`` already holds in the first window year get ``p_first``
    (prevalent cases diagnosed before the window). The first ``burn_in`` years carry the
    first window year's flag (diagnoses are calibrated as prevalences at the window start).
    Probabilities are scalars or arrays of the shape of ``cond`` (e.g. rising with age).
    """
    k = burn_in
    cond = cond[:, k:]
    n, t = cond.shape
    r = rng.random((n, t))
    p = np.broadcast_to(p_per_year, (n, t + k))[:, k:].copy()
    if p_first is not None:
        p[:, 0] = np.broadcast_to(p_first, (n, t + k))[:, k]
    onset = cond & (r < p)
    flag = np.maximum.accumulate(onset, axis=1)
    return np.concatenate([np.repeat(flag[:, :1], k, axis=1), flag], axis=1)


def _treated(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """Whether a diagnosed person takes the drug each year: share ``p`` (n, t), persistent.

    A standardised AR(1) latent with year-to-year correlation :data:`TREATMENT_RHO` is
    cut at ``p``: people stop and restart, and of those on the drug one year about 90%
    are on it the next.
    """
    n, t = p.shape
    z = np.empty((n, t))
    z[:, 0] = rng.standard_normal(n)
    s = np.sqrt(1 - TREATMENT_RHO**2)
    for j in range(1, t):
        z[:, j] = TREATMENT_RHO * z[:, j - 1] + s * rng.standard_normal(n)
    return ndtr(z) < p


def natural_course(
    rng: np.random.Generator,
    male: np.ndarray,
    birth: np.ndarray,
    u: np.ndarray,
    mid_days: np.ndarray,
    burn_in: int = 0,
) -> Health:
    """Simulate every person's natural health course over the fiscal years.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's health stream.
    male, birth, u : arrays (n,)
        Sex, birth day number and latent motivation.
    mid_days : int array (t,)
        Day number of each fiscal year's midpoint (October 1).
    burn_in : int
        Leading years that precede the output window: the latent factors, kidney decline
        and cancers run through them; diagnoses start at the window (see ``_absorbing``).
    """
    n, t = len(male), len(mid_days)
    age = (mid_days[None, :] - birth[:, None]) / 365.25
    a = np.clip(age, 18, 80)
    m = male[:, None]
    z = _ar1(rng, n, t)
    uu = u[:, None]

    # Birth cohorts: NHNS 2018-19 medians at 30-49, 50-64 and 65-74 (calibration.md §1d),
    # placed at the window-start ages of people examined in the middle of our comparison bands.
    height = np.where(
        male,
        np.interp(age[:, burn_in], [43, 57, 69], [171.8, 169.7, 165.3]),
        np.interp(age[:, burn_in], [43, 57, 69], [158.5, 156.4, 152.2]),
    )
    height = height + rng.normal(0, 1, n) * np.where(male, 6.0, 5.5)

    bmi_mean = np.where(
        m, np.interp(a, [40, 50, 60, 70], [23.95, 23.3, 23.95, 23.6]), 21.7 + 0.045 * (a - 40)
    )
    bmi = bmi_mean * np.exp(0.14 * z[..., 0] - 0.10 * 0.14 * uu)
    waist_noise = rng.normal(0, 1, n)[:, None] * np.where(m, 3.0, 3.5)
    waist = np.where(m, 85.0 + 2.7 * (bmi - 24.0), 80.5 + 2.4 * (bmi - 22.5)) + waist_noise

    sbp_mean = np.where(m, 125.0 + 0.47 * (a - 40), 114.0 + 0.70 * (a - 40)) + 0.9 * (
        bmi - bmi_mean
    )
    sbp_u = sbp_mean + 16.0 * z[..., 1]
    adult30 = age >= 30  # no hypertension or dyslipidaemia treatment in the young
    # Diagnosis (a code on the claims) is more likely, and treatment more common, with
    # age: in their 40s few hypertensive people know it and fewer take drugs (NHNS).
    hypertension = _absorbing(
        rng,
        (sbp_u >= 143) & adult30,
        np.interp(a, [40, 55, 70], [0.12, 0.25, 0.45]),
        np.interp(a, [40, 55, 70], [0.55, 0.80, 0.97]),
        burn_in,
    )
    bp_med = hypertension & _treated(rng, np.interp(a, [40, 55, 70], [0.65, 0.8, 0.9]))
    sbp = sbp_u - 10.0 * bp_med
    dbp = 0.42 * sbp + np.where(m, 25.0, 21.0) + 0.3 * (bmi - 22.0) + 5.0 * rng.normal(0, 1, (n, t))

    glyc_mu = np.where(m, 0.14 + 0.006 * (a - 40), 0.09 + 0.006 * (a - 40))
    glyc_sd = np.where(m, 0.33 + 0.0030 * (a - 40), 0.29 + 0.0027 * (a - 40))
    hba1c = 4.4 + np.exp(glyc_mu + glyc_sd * z[..., 2])
    diabetes = _absorbing(rng, hba1c >= 6.5, 0.5, 0.75, burn_in)
    glucose_med = diabetes & _treated(rng, np.broadcast_to(np.where(m, 0.85, 0.7), (n, t)))
    fpg = 88.0 + 28.0 * (hba1c - 5.4) + rng.normal(0, 6, (n, t))

    ldl_mean = np.where(
        m,
        np.interp(a, [18, 40, 70], [105.0, 130.0, 127.0]),
        np.interp(a, [18, 40, 60], [100.0, 118.0, 138.0]),
    )
    ldl_u = ldl_mean + 30.0 * z[..., 3]
    dyslipidaemia = _absorbing(
        rng,
        (ldl_u >= 145) & adult30,
        np.interp(a, [40, 55, 70], [0.06, 0.18, 0.38]),
        np.interp(a, [40, 55, 70], [0.28, 0.68, 0.93]),
        burn_in,
    )
    lipid_med = dyslipidaemia & _treated(
        rng, np.interp(a, [40, 55, 70], [0.43, 0.62, 0.77]) + 0.03 * ~m
    )
    ldl = ldl_u - 35.0 * lipid_med
    hdl = np.where(m, 55.0, 67.0) * np.exp(0.22 * z[..., 4])
    tg = np.where(m, 115.0, 85.0) * np.exp(0.50 * z[..., 5] + 0.02 * (bmi - bmi_mean))

    egfr_mean = np.where(m, 85.0 - 0.6 * (a - 42), 90.0 - 0.68 * (a - 42))
    # A small group with progressive kidney disease (mostly diabetes or hypertension). The
    # loss already accumulated when the course starts is spread widely (0-70), so that
    # people cross into end-stage disease at a steady rate year after year.
    glyc_bp = (z[:, 0, 2] + z[:, 0, 1] + z[:, 0, 7]) / np.sqrt(3.0)
    p_prog = PROG_SHARE * np.exp(0.6 * glyc_bp - 0.18)
    prog = np.broadcast_to((rng.random(n) < p_prog)[:, None], (n, t))
    years_prog = np.cumsum(prog, axis=1)
    deficit = prog * (rng.uniform(0, 70, n)[:, None] + 3.5 * years_prog)
    egfr = np.clip(egfr_mean + 13.0 * z[..., 6] - deficit, 3, 160)

    upl = z[..., 7] + 0.5 * diabetes + 0.3 * hypertension + 0.04 * np.clip(60 - egfr, 0, 60)
    uprot = np.searchsorted(np.array([1.42, 1.95, 2.55, 3.1]), upl)

    smoke_p = np.where(
        m,
        np.interp(a, [40, 50, 60, 70], [0.33, 0.31, 0.28, 0.19]),
        np.interp(a, [40, 50, 60, 70], [0.11, 0.09, 0.05, 0.03]),
    )
    smoke_z = 0.97 * rng.normal(0, 1, n)[:, None] + 0.243 * rng.normal(0, 1, (n, t))
    smoker = ndtr((smoke_z - 0.25 * uu) / np.sqrt(1.0 + 0.25**2)) < smoke_p

    ex_p = np.where(
        m,
        np.interp(a, [40, 50, 60, 70], [0.20, 0.22, 0.34, 0.41]),
        np.interp(a, [40, 50, 60, 70], [0.15, 0.18, 0.28, 0.36]),
    )
    ex_latent = 0.55 * uu + 0.6 * rng.normal(0, 1, n)[:, None] + 0.58 * rng.normal(0, 1, (n, t))
    exercise_u = ndtr(-ex_latent / np.sqrt(0.55**2 + 0.6**2 + 0.58**2))
    # Walking: a persistent personal habit too (answers agree from year to year about as
    # often as the exercise answers do; calibration: ``walking_persistence``).
    walk_latent = (
        0.5 * ex_latent + 0.65 * rng.normal(0, 1, n)[:, None] + 0.45 * rng.normal(0, 1, (n, t))
    )
    walking = ndtr(-walk_latent / np.sqrt(0.875)) < np.interp(a, [40, 65, 74], [0.37, 0.42, 0.45])

    ckd = _absorbing(rng, (egfr < 45) | (uprot >= 2), 0.4, 0.6, burn_in)
    cancer_onset = rng.random((n, t)) < 0.002 * np.exp(0.085 * (a - 50)) * np.where(m, 1.3, 0.8)
    since = np.maximum.accumulate(np.where(cancer_onset, np.arange(t)[None, :], -99), axis=1)
    cancer = (np.arange(t)[None, :] - since) < 2
    mental = np.broadcast_to(((rng.random(n) < 0.035) & (age[:, 0] >= 15))[:, None], (n, t)).copy()
    frailty = rng.normal(0, 0.75, n) - 0.15 * u
    return Health(
        age=age,
        height=height,
        bmi=bmi,
        waist=waist,
        sbp=sbp,
        dbp=dbp,
        hba1c=hba1c,
        fpg=fpg,
        ldl=ldl,
        hdl=hdl,
        tg=tg,
        egfr=egfr,
        uprot=uprot,
        smoker=smoker,
        exercise_p=ex_p,
        exercise_u=exercise_u,
        walking=walking,
        diabetes=diabetes,
        hypertension=hypertension,
        dyslipidaemia=dyslipidaemia,
        ckd=ckd,
        glucose_med=glucose_med,
        bp_med=bp_med,
        lipid_med=lipid_med,
        cancer=cancer,
        mental=mental,
        frailty=frailty,
    )


def severe_lp(
    h: Health, t: int, male: np.ndarray, u: np.ndarray, prior_event: np.ndarray
) -> np.ndarray:
    """Log annual hazard of a cardiovascular severe event (stroke, MI, heart failure).

    Parameters
    ----------
    t : int
        Fiscal-year index.
    prior_event : bool array (n,)
        An earlier stroke, MI or heart-failure admission.
    """
    a = np.clip(h.age[:, t], 18, 90)
    return (
        np.log(SEVERE_BASE_HAZARD)
        + 0.075 * (a - 60)
        + 0.35 * male
        + 0.45 * h.smoker[:, t]
        + 0.45 * (h.hba1c[:, t] >= 6.5)
        + 0.20 * np.clip(h.hba1c[:, t] - 6.5, 0, 5)
        + 0.018 * (h.sbp[:, t] + 10 * h.bp_med[:, t] - 130)
        + 0.005 * (h.ldl[:, t] + 35 * h.lipid_med[:, t] - 120)
        - 0.010 * (h.hdl[:, t] - 55)
        + 0.50 * (h.egfr[:, t] < 45)
        + 0.35 * (h.uprot[:, t] >= 2)
        + 0.80 * prior_event
        - MOTIVATION_LOG_HR * u
    )


def dialysis_lp(h: Health, t: int) -> np.ndarray:
    """Log annual hazard of starting dialysis, driven by kidney function and diabetes."""
    return np.log(0.015) + 0.22 * np.clip(22 - h.egfr[:, t], -20, 25) + 0.4 * h.diabetes[:, t]

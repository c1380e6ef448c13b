"""特定健診: who attends each fiscal year, when, and what is measured.

Attendance is strongly persistent (a person effect and last year's attendance), higher
in women and at older ages, and higher with the latent motivation; about 35-40% of the
eligible attend (calibration.md §2). Measured values are the natural course plus the
program effect terms plus measurement noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data.synthetic.calendar import day

ATTEND_BASE = -1.6
ATTEND_LAST_YEAR = 2.6
ATTEND_PERSON_SD = 1.3
FASTING_SHARE = 0.6
"""Share of checkups with a fasting glucose (the rest have HbA1c only)."""


@dataclass
class CheckupDraws:
    """Per-person and per-year random numbers of the checkup stage (fixed-size draws)."""

    person: np.ndarray  # (n,) attendance person effect
    month: np.ndarray  # (n,) preferred month offset 0..8 (June..February)
    attend: np.ndarray  # (n, t) uniforms
    day: np.ndarray  # (n, t) day within the month
    noise: np.ndarray  # (n, t, 10) measurement noise
    fasting: np.ndarray  # (n, t) uniforms


def draws(rng: np.random.Generator, n: int, t: int) -> CheckupDraws:
    """Draw every random number the checkup stage needs."""
    return CheckupDraws(
        person=rng.normal(0, ATTEND_PERSON_SD, n),
        month=np.minimum(np.floor(rng.beta(1.4, 2.2, n) * 9), 8).astype(np.int64),
        attend=rng.random((n, t)),
        day=rng.integers(0, 28, (n, t)),
        noise=rng.standard_normal((n, t, 10)),
        fasting=rng.random((n, t)),
    )


def exam_days(d: CheckupDraws, fy: int, t: int) -> np.ndarray:
    """Exam day of every person in fiscal year ``fy`` (June 1 to February 28)."""
    months = np.array([day(fy, 6 + k, 1) if k < 7 else day(fy + 1, k - 6, 1) for k in range(9)])
    return months[d.month] + d.day[:, t]


def attend_prob(
    d: CheckupDraws, age: np.ndarray, male: np.ndarray, u: np.ndarray, attended_last: np.ndarray
) -> np.ndarray:
    """Probability of attending this fiscal year."""
    logit = (
        ATTEND_BASE
        + d.person
        + 0.45 * u
        + ATTEND_LAST_YEAR * attended_last
        + 0.025 * (age - 60)
        - 0.3 * male
    )
    return 1.0 / (1.0 + np.exp(-logit))


def measure(
    d: CheckupDraws, h, ps, t: int, exam_day: np.ndarray, on_dialysis: np.ndarray
) -> dict[str, np.ndarray]:
    """Measured checkup values of everybody in fiscal year ``t`` (the caller selects rows).

    Natural course + program effect terms (``ps``) + measurement noise, rounded as on a
    checkup form.
    """
    e = d.noise[:, t, :]
    h2 = (h.height / 100.0) ** 2
    weight = h.bmi[:, t] * h2 + ps.weight[:, t] + 0.7 * e[:, 0]
    bmi = weight / h2
    waist = h.waist[:, t] + 0.8 * ps.weight[:, t] + 1.5 * e[:, 1]
    sbp = h.sbp[:, t] + ps.sbp[:, t] + 6.0 * e[:, 2]
    dbp = h.dbp[:, t] + 0.5 * ps.sbp[:, t] + 4.0 * e[:, 3]
    hba1c = h.hba1c[:, t] + ps.hba1c[:, t] + 0.08 * e[:, 4]
    fpg = h.fpg[:, t] + 25.0 * ps.hba1c[:, t] + 5.0 * e[:, 5]
    egfr = np.where(on_dialysis, 4.0 + 3.0 * np.abs(e[:, 9]), h.egfr[:, t] + 3.0 * e[:, 9])
    ex_p = np.clip(h.exercise_p[:, t] + ps.exercise[:, t], 0.0, 1.0)
    return {
        "exam_day": exam_day,
        "height_cm": np.round(h.height + 0.3 * e[:, 6], 1),
        "weight_kg": np.round(np.clip(weight, 30, 190), 1),
        "bmi": np.round(np.clip(bmi, 12, 65), 1),
        "waist_cm": np.round(np.clip(waist, 50, 170), 1),
        "sbp": np.round(np.clip(sbp, 75, 250)),
        "dbp": np.round(np.clip(np.minimum(dbp, sbp - 15), 35, 150)),
        "hba1c": np.round(np.clip(hba1c, 4.0, 16.0), 1),
        "fasting_glucose": np.where(
            d.fasting[:, t] < FASTING_SHARE, np.round(np.clip(fpg, 55, 550)), np.nan
        ),
        "ldl": np.round(np.clip(h.ldl[:, t] + 8.0 * e[:, 7], 20, 450)),
        "hdl": np.round(np.clip(h.hdl[:, t] * np.exp(0.05 * e[:, 8]), 15, 180)),
        "tg": np.round(np.clip(h.tg[:, t] * np.exp(0.15 * e[:, 7] * 0.5), 20, 2500)),
        "egfr": np.round(np.clip(egfr, 2.5, 150), 1),
        "urine_protein": h.uprot[:, t].astype(np.int64),
        "smoker": h.smoker[:, t],
        "exercise_habit": h.exercise_u[:, t] < ex_p,
        "walking_habit": h.walking[:, t],
        "bp_med": h.bp_med[:, t],
        "glucose_med": h.glucose_med[:, t],
        "lipid_med": h.lipid_med[:, t],
    }

"""特定健診: who attends each fiscal year, when, and what is measured.

Attendance is strongly persistent (a person effect and last year's attendance), higher
in women and at older ages, and higher with the latent motivation; about 35-40% of the
eligible attend (calibration.md §2). It is lower among the sick: people in cancer
treatment, with a mental disorder or after a cardiovascular event, with a high personal
cost level, or under regular care for a lifestyle disease (who see their own doctor)
attend less often, so that non-attenders cost more than attenders, as in KDB data.
FY2020 (COVID-19) has fewer checkups, held later in the year.

Measured values are the natural course plus the program effect terms plus measurement
noise. Items are sometimes missing (item non-response, a few percent each; LDL is not
reported when triglycerides are 400 mg/dL or more, as the Friedewald formula does not
apply; see :data:`MISSING`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data.synthetic.calendar import day

ATTEND_BASE = -1.5
ATTEND_LAST_YEAR = 2.6
ATTEND_PERSON_SD = 1.3
ATTEND_YEAR = {2020: -0.45}
"""Attendance log-odds shift by fiscal year: FY2020 (COVID-19), when the 市町村国保 rate
fell from 38.0% to 33.7% (calibration.md §2, S20/S21)."""
ATTEND_SICK = {
    "cancer": -1.5,
    "mental": -0.8,
    "prior_cv": -1.0,
    "dialysis": -2.0,
    "in_care": -0.3,
    "frailty": -1.4,
}
"""Attendance log-odds of health states: cancer in treatment, a mental disorder, an earlier
cardiovascular event, dialysis, regular care for hypertension, diabetes or dyslipidaemia
(on drugs), and per unit of the personal cost level."""
FASTING_SHARE = 0.6
"""Share of checkups with a fasting glucose (the rest have HbA1c only)."""
MISSING = {
    "height_cm": 0.003,
    "weight_kg": 0.003,
    "waist_cm": 0.012,
    "sbp": 0.003,
    "hba1c": 0.015,
    "ldl": 0.012,
    "hdl": 0.006,
    "tg": 0.006,
    "egfr": 0.02,
    "urine_protein": 0.025,
    "smoker": 0.008,
    "exercise_habit": 0.012,
    "walking_habit": 0.012,
    "bp_med": 0.006,
    "glucose_med": 0.006,
    "lipid_med": 0.006,
}
"""Item non-response: probability that an item is missing from a checkup record ([E],
after the per-item counts of NDB Open Data, 1-5% below the number of examinees). BMI
follows height and weight, DBP the SBP; HbA1c is missing only when a fasting glucose was
measured. Questionnaire items are also missing together when the questionnaire was not
returned (:data:`MISSING_QUESTIONNAIRE`)."""
MISSING_QUESTIONNAIRE = 0.01
"""Probability that the whole questionnaire (smoking, habits, medication) is missing."""
QUESTIONNAIRE = ("smoker", "exercise_habit", "walking_habit", "bp_med", "glucose_med", "lipid_med")


@dataclass
class CheckupDraws:
    """Per-person and per-year random numbers of the checkup stage (fixed-size draws)."""

    person: np.ndarray  # (n,) attendance person effect
    month: np.ndarray  # (n,) preferred month offset 0..8 (June..February)
    attend: np.ndarray  # (n, t) uniforms
    day: np.ndarray  # (n, t) day within the month
    noise: np.ndarray  # (n, t, 10) measurement noise
    fasting: np.ndarray  # (n, t) uniforms
    missing: np.ndarray  # (n, t, len(MISSING) + 1) uniforms (the last: whole questionnaire)


def draws(rng: np.random.Generator, n: int, t: int) -> CheckupDraws:
    """Draw every random number the checkup stage needs."""
    return CheckupDraws(
        person=rng.normal(0, ATTEND_PERSON_SD, n),
        month=np.minimum(np.floor(rng.beta(1.4, 2.2, n) * 9), 8).astype(np.int64),
        attend=rng.random((n, t)),
        day=rng.integers(0, 28, (n, t)),
        noise=rng.standard_normal((n, t, 10)),
        fasting=rng.random((n, t)),
        missing=rng.random((n, t, len(MISSING) + 1)).astype(np.float32),
    )


def exam_days(d: CheckupDraws, fy: int, t: int) -> np.ndarray:
    """Exam day of every person in fiscal year ``fy`` (June 1 to February 28).

    In FY2020 checkups resumed only in the autumn after the first COVID-19 wave: people
    who would have come in June-August come in September-November.
    """
    months = np.array([day(fy, 6 + k, 1) if k < 7 else day(fy + 1, k - 6, 1) for k in range(9)])
    month = np.where(d.month < 3, d.month + 3, d.month) if fy == 2020 else d.month
    return months[month] + d.day[:, t]


def sick_logit(h, t: int, prior_cv: np.ndarray, on_dialysis: np.ndarray) -> np.ndarray:
    """Attendance log-odds of each person's health in year ``t`` (:data:`ATTEND_SICK`)."""
    w = ATTEND_SICK
    in_care = h.bp_med[:, t] | h.glucose_med[:, t] | h.lipid_med[:, t]
    return (
        w["cancer"] * h.cancer[:, t]
        + w["mental"] * h.mental[:, t]
        + w["prior_cv"] * prior_cv
        + w["dialysis"] * on_dialysis
        + w["in_care"] * in_care
        + w["frailty"] * h.frailty
    )


def attend_prob(
    d: CheckupDraws,
    age: np.ndarray,
    male: np.ndarray,
    u: np.ndarray,
    attended_last: np.ndarray,
    sick: np.ndarray | float = 0.0,
    fy: int | None = None,
) -> np.ndarray:
    """Probability of attending this fiscal year (``sick``: :func:`sick_logit`)."""
    logit = (
        ATTEND_BASE
        + ATTEND_YEAR.get(fy, 0.0)
        + d.person
        + 0.45 * u
        + ATTEND_LAST_YEAR * attended_last
        + 0.025 * (age - 60)
        - 0.3 * male
        + sick
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
    rec = {
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
    return _with_missing(rec, d.missing[:, t, :])


def _with_missing(rec: dict, r: np.ndarray) -> dict:
    """Blank the items that are not reported (:data:`MISSING`); flags become objects."""
    miss = {k: r[:, j] < p for j, (k, p) in enumerate(MISSING.items())}
    no_questionnaire = r[:, -1] < MISSING_QUESTIONNAIRE
    for k in QUESTIONNAIRE:
        miss[k] = miss[k] | no_questionnaire
    miss["bmi"] = miss["height_cm"] | miss["weight_kg"]
    miss["dbp"] = miss["sbp"]
    miss["hba1c"] = miss["hba1c"] & ~np.isnan(rec["fasting_glucose"])
    miss["ldl"] = miss["ldl"] | (rec["tg"] >= 400)
    out = dict(rec)
    for k, m in miss.items():
        v = rec[k]
        if v.dtype == bool:
            out[k] = np.where(m, None, v).astype(object)
        elif v.dtype.kind == "i":
            out[k] = np.where(m, np.nan, v.astype(float))
        else:
            out[k] = np.where(m, np.nan, v)
    return out

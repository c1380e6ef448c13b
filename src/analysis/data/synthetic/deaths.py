"""Deaths by cause, the place of death and terminal hospital stays.

Each fiscal year a person dies of a severe event (case fatality, drawn with the event), of
cancer (a hazard while the cancer is in treatment), on dialysis, or of other causes
(sudden cardiac death, pneumonia, liver disease, suicide and accidents ...: a Gompertz
hazard raised by earlier cardiovascular events, mental disorders, kidney failure and the
personal cost level). The age-specific rates follow the vital statistics (人口動態統計:
about 20 per 1,000 men and 9 per 1,000 women a year at 70-74).

Most deaths happen in hospital (人口動態統計, place of death: about two in three), after
a terminal admission whose length depends on the cause; deaths of other causes are more
often sudden, at home. A terminal stay is an inpatient claim in every month it covers, at
a daily cost, so that the year of death is expensive (Ibuka et al. 2016: spending in the
year of death is about a sixth of all spending at 65-74 in a citizen's health plan).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

CAUSES = ("none", "event", "cancer", "dialysis", "other")
"""Cause of death codes (index into this tuple)."""

OTHER_DEATH_BASE = {"M": 0.0018, "F": 0.0008}
"""Annual hazard of death of other causes at age 52 (Gompertz; slope below)."""
OTHER_DEATH_AGE_SLOPE = 0.08
"""Log hazard of other causes per year of age."""
CANCER_DEATH_HAZARD = {"M": 0.28, "F": 0.19}
"""Annual death hazard while a cancer is in treatment (about 45% of deaths at 60-74 are
cancers, as in the vital statistics)."""
HOSPITAL_DEATH = {"event": 1.0, "cancer": 0.85, "dialysis": 0.9, "other": 0.5}
"""Probability of dying in hospital after a terminal admission, by cause."""
TERMINAL_STAY_DAYS = {"event": 0.0, "cancer": 24.0, "dialysis": 18.0, "other": 9.0}
"""Median length of the terminal stay (lognormal; a fatal event is admitted on its day)."""
TERMINAL_STAY_SIGMA = 0.8
TERMINAL_STAY_MAX = 90
"""Longest terminal stay, days."""
TERMINAL_DAY_YEN = 52_000
"""Cost of a day of terminal inpatient care (acute hospital, DPC-like), yen."""


def hazards(
    h,
    t: int,
    male: np.ndarray,
    frailty: np.ndarray,
    prior_cv: np.ndarray,
    on_dialysis: np.ndarray,
    dialysis_hazard: float,
) -> np.ndarray:
    """Annual death hazards by cause (cancer, dialysis, other), shape (3, n).

    Parameters
    ----------
    h : Health
        The natural course; ``t`` its fiscal-year index.
    frailty : float array (n,)
        Persistent personal cost level (log scale).
    prior_cv : bool array (n,)
        An earlier stroke, myocardial infarction or heart-failure admission.
    on_dialysis : bool array (n,)
        On dialysis during the year.
    dialysis_hazard : float
        Annual death hazard added by dialysis.
    """
    age = np.clip(h.age[:, t], 20, 95)
    base = np.where(male, OTHER_DEATH_BASE["M"], OTHER_DEATH_BASE["F"])
    other = (
        base
        * np.exp(OTHER_DEATH_AGE_SLOPE * (age - 52) + 0.25 * frailty)
        * (1 + 0.8 * prior_cv)
        * (1 + 1.0 * h.mental[:, t])
        * (1 + 0.8 * (h.egfr[:, t] < 30))
    )
    cancer = h.cancer[:, t] * np.where(male, CANCER_DEATH_HAZARD["M"], CANCER_DEATH_HAZARD["F"])
    dialysis = dialysis_hazard * on_dialysis
    return np.stack([cancer, dialysis, other])


def cause_of(hz: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Cause index (``CAUSES``) of a non-event death, drawn in proportion to the hazards."""
    cum = np.cumsum(hz, axis=0) / np.maximum(hz.sum(axis=0), 1e-300)
    return 2 + (r[None, :] >= cum[:-1]).sum(axis=0)


def terminal_admission(
    cause: np.ndarray, death_day: np.ndarray, event_day: np.ndarray, r_place, r_los
) -> np.ndarray:
    """Admission day of the terminal stay of each decedent, or -1 (died outside hospital).

    Parameters
    ----------
    cause : int array (n,)
        Cause index (0 = did not die).
    event_day : int array (n,)
        Day of the fatal event (used when the cause is an event).
    r_place, r_los : float arrays (n,)
        Uniform draws for the place of death and the length of the stay.
    """
    p = np.array([HOSPITAL_DEATH.get(c, 0.0) for c in CAUSES])[cause]
    median = np.array([TERMINAL_STAY_DAYS.get(c, 0.0) for c in CAUSES])[cause]
    z = ndtri(np.clip(r_los, 1e-9, 1 - 1e-9))
    los = np.minimum(np.ceil(median * np.exp(TERMINAL_STAY_SIGMA * z)), TERMINAL_STAY_MAX)
    admit = np.where(
        cause == CAUSES.index("event"), event_day, death_day - los.astype(np.int64) + 1
    )
    return np.where((cause > 0) & (r_place < p), admit, -1).astype(np.int64)


def terminal_days(admit: np.ndarray, death_day: np.ndarray, month_days: np.ndarray) -> np.ndarray:
    """Days of each person's terminal stay in each month, shape (n, months), int."""
    n, m = len(admit), len(month_days)
    out = np.zeros((n, m), dtype=np.int64)
    who = np.flatnonzero(admit >= 0)
    if len(who) == 0:
        return out
    a, d = admit[who], death_day[who]
    ends = np.append(month_days[1:], month_days[-1] + 31) - 1
    first = np.searchsorted(month_days, a, side="right") - 1
    for k in range(TERMINAL_STAY_MAX // 28 + 2):
        mi = first + k
        ok = (mi >= 0) & (mi < m)
        mc = np.clip(mi, 0, m - 1)
        days = np.minimum(d, ends[mc]) - np.maximum(a, month_days[mc]) + 1
        hit = ok & (days > 0)
        out[who[hit], mi[hit]] = days[hit]
    return out

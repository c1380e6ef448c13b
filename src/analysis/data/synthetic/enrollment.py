"""Enrollment spells: joining, aging out at 75, moving, employee insurance, death, rejoining.

The spells are built one fiscal year at a time, because deaths come from the health
simulation of the same year. Moves and switches to employee insurance are drawn per
household, so that families mostly leave together. Exits depend on health: people with
a high personal cost level or a serious condition (cancer, a mental disorder, an earlier
cardiovascular event, dialysis) take up employee insurance less often (a job comes with
it), and some leave for public assistance (生活保護, whose medical aid replaces NHI; exit
reason ``other``), far more often with a mental disorder, on dialysis or with a high cost
level. So the people who leave NHI are not a random sample of its enrollees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.data.synthetic.calendar import birthday, fy_end, fy_start

# Annual hazards by age (calibration.md §5 gives the resulting age mix; values are [E]).
_MOVE_AGES, _MOVE_P = [0, 20, 40, 65, 75], [0.03, 0.045, 0.022, 0.010, 0.010]
_EMP_AGES, _EMP_P = [0, 18, 60, 65, 75], [0.02, 0.075, 0.035, 0.006, 0.006]
REJOIN_P = 0.10
"""Yearly probability that someone who left for employee insurance rejoins NHI."""
WELFARE_HAZARD = 0.0025
"""Yearly hazard of leaving NHI for public assistance at average health, ages 20-74 ([E]:
about 200,000 people start public assistance a year, most of them from NHI)."""

REASON_CODES = ("age75", "moved", "employee_insurance", "death", "other")


@dataclass
class Spells:
    """Enrollment spells of one chunk, filled year by year.

    ``current`` is the open spell's start day (or -1), ``last_reason`` the index into
    ``REASON_CODES`` of the last exit (or -1).
    """

    n: int
    current: np.ndarray = None
    last_reason: np.ndarray = None
    last_exit: np.ndarray = None
    person: list = field(default_factory=list)
    start: list = field(default_factory=list)
    end: list = field(default_factory=list)
    reason: list = field(default_factory=list)

    def __post_init__(self):
        self.current = np.full(self.n, -1, dtype=np.int64)
        self.last_reason = np.full(self.n, -1, dtype=np.int64)
        self.last_exit = np.full(self.n, -1, dtype=np.int64)

    def frame(self):
        """All spells as arrays (person, start, end, reason); end/reason -1 = open."""
        open_ = np.flatnonzero(self.current >= 0)
        person = np.concatenate([*self.person, open_]).astype(np.int64)
        start = np.concatenate([*self.start, self.current[open_]]).astype(np.int64)
        end = np.concatenate([*self.end, np.full(len(open_), -1)]).astype(np.int64)
        reason = np.concatenate([*self.reason, np.full(len(open_), -1)]).astype(np.int64)
        order = np.lexsort((start, person))
        return person[order], start[order], end[order], reason[order]


def health_exits(h, t: int, prior_cv: np.ndarray, on_dialysis: np.ndarray) -> dict:
    """How health changes the exits of fiscal-year index ``t`` (see the module docstring).

    Returns
    -------
    dict
        ``employee_insurance``: multiplier of the hazard of joining employee insurance;
        ``welfare``: yearly hazard of leaving for public assistance.
    """
    sick = h.cancer[:, t] | h.mental[:, t] | prior_cv | on_dialysis
    age = h.age[:, t]
    welfare = (
        WELFARE_HAZARD
        * np.exp(1.0 * h.frailty)
        * (1 + 3.0 * h.mental[:, t])
        * (1 + 2.0 * on_dialysis)
        * ((age >= 20) & (age < 75))
    )
    return {
        "employee_insurance": np.exp(-0.5 * h.frailty) * np.where(sick, 0.4, 1.0),
        "welfare": welfare,
    }


def advance_year(
    sp: Spells,
    rng: np.random.Generator,
    fy: int,
    birth: np.ndarray,
    first_entry: np.ndarray,
    household: np.ndarray,
    death_day: np.ndarray,
    health: dict | None = None,
) -> None:
    """Open, continue and close spells during fiscal year ``fy``.

    Parameters
    ----------
    death_day : int array
        Day of death, or a large number if alive through the window.
    health : dict, optional
        :func:`health_exits` of the year (default: exits do not depend on health).
    """
    n = sp.n
    s0, s1 = fy_start(fy), fy_end(fy)
    age_mid = (s0 + 183 - birth) / 365.25
    day75 = birthday(birth, 75)
    # Entries: first spells starting this year (the stock opens on the first window day).
    first = (first_entry <= s1) & (sp.current < 0) & (sp.last_reason < 0) & (first_entry >= s0) | (
        (sp.current < 0) & (sp.last_reason < 0) & (first_entry < s0)
    )
    first &= (death_day > np.maximum(first_entry, s0)) & (day75 > np.maximum(first_entry, s0))
    u_re = rng.random(n)
    re_day = rng.integers(s0, s1 + 1, n)
    rejoin = (
        (sp.current < 0)
        & (sp.last_reason == 2)
        & (u_re < REJOIN_P)
        & (re_day > sp.last_exit + 30)
        & (re_day < death_day)
        & (re_day < day75)
    )
    sp.current[first] = first_entry[first]
    sp.current[rejoin] = re_day[rejoin]
    sp.last_reason[first | rejoin] = -1

    open_ = sp.current >= 0
    from_day = np.maximum(sp.current, s0)
    hh_move = rng.random(household.max() + 1 if n else 0)[household]
    hh_emp = rng.random(household.max() + 1 if n else 0)[household]
    move_day = (
        from_day + 1 + np.floor(rng.random(n) * np.maximum(s1 - from_day, 1)).astype(np.int64)
    )
    emp_day = from_day + 1 + np.floor(rng.random(n) * np.maximum(s1 - from_day, 1)).astype(np.int64)
    u_welfare, r_welfare_day = rng.random(n), rng.random(n)
    health = health or {"employee_insurance": 1.0, "welfare": np.zeros(n)}
    move = hh_move < np.interp(age_mid, _MOVE_AGES, _MOVE_P)
    emp = hh_emp < np.interp(age_mid, _EMP_AGES, _EMP_P) * health["employee_insurance"]
    welfare = u_welfare < 1 - np.exp(-health["welfare"])
    welfare_day = (
        from_day + 1 + np.floor(r_welfare_day * np.maximum(s1 - from_day, 1)).astype(np.int64)
    )
    big = np.iinfo(np.int64).max // 4
    # Candidate loss dates (資格喪失日 = first day no longer enrolled).
    cand = np.stack(
        [
            np.where(day75 <= s1, day75, big),
            np.where(move & (move_day <= s1), move_day, big),
            np.where(emp & (emp_day <= s1), emp_day, big),
            np.where(death_day <= s1, death_day + 1, big),
            np.where(welfare & (welfare_day <= s1), welfare_day, big),
        ]
    )
    which = np.argmin(cand, axis=0)
    loss = cand[which, np.arange(n)]
    closes = open_ & (loss <= s1 + 1) & (loss < big)
    idx = np.flatnonzero(closes)
    sp.person.append(idx)
    sp.start.append(sp.current[idx])
    sp.end.append(loss[idx] - 1)
    sp.reason.append(which[idx])
    sp.last_reason[idx] = which[idx]
    sp.last_exit[idx] = loss[idx]
    sp.current[idx] = -1

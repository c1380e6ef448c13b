"""The MVM programs: risk tiers, invitation letters, uptake and the effects of taking part.

Each fiscal year from the pilot on, enrollees aged 40-74 with a checkup in the last three
fiscal years (from :data:`SCORE_CHECKUPS_FROM` on) are scored by a noisy "predicted 5-year risk" (the Myscope score) computed
from their latest checkup. A sharp cutoff splits them: high tier → Mystar offer, low and
middle tiers → Vitality offer. Letters are randomised between a plain and a nudge variant.
Uptake depends on the letter and on what the city records before the offer: age, sex and
the answers and medication at the latest checkup (exercise and walking habits, smoking,
blood-pressure and glucose medication; :data:`SELECTION`). People who exercise already
join far more often and people on medication less often, so naive participant /
non-participant comparisons are biased (the habit persists; medication means higher
costs), while estimators that adjust for the recorded baseline are not: participation is
ignorable given those covariates (with ``hidden_confounding=0``), which is what makes the
planted effects recoverable.
``hidden_confounding`` (default :data:`HIDDEN_CONFOUNDING`, a modest value) adds a direct
effect of the unobserved motivation ``u`` (which also raises exercise and lowers costs and
risks): what unmeasured confounding does to the estimators and their sensitivity analyses;
0 makes participation ignorable given the record, for estimator checks. People who
took part once are not invited again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.data.synthetic.calendar import day, fy_start
from analysis.data.synthetic.effects import Effects

PILOT_YEARS = {2021: 0.06, 2022: 0.12}
"""Pilot fiscal years and the share of eligible enrollees who get a letter."""
SCALE_FROM = 2023
"""From this fiscal year every eligible enrollee gets a letter."""
SCORE_CHECKUPS_FROM = 2019
"""First fiscal year whose checkups the score reads: the first year of the default window,
so that the default city's scores come from its own checkups table. A window that starts
later reads the latest of the burn-in years' checkups (simulated, not written), so that its
first program year has its letters."""

MID_CUT = 0.015
"""Risk score at or above which the tier is "middle" (still a Vitality offer)."""
HIGH_CUT = 0.037
"""Risk score at or above which the tier is "high" (Mystar offer): the RD cutoff."""

SCORE_NOISE_SD = 0.45
"""SD of the prediction error of the risk score on the log-hazard scale."""

OFFER_DAY = 45
"""Letters go out 45 days after April 1 (mid-May), before that year's checkups."""
PILOT_OFFER_DATES = {2021: (2022, 1, 11)}
"""Years whose letters go out on another date: the first pilot letters followed the
November 2021 agreement, in January 2022 (still FY2021)."""


def offer_day(fy: int) -> int:
    """Day number on which the letters of fiscal year ``fy`` go out."""
    if fy in PILOT_OFFER_DATES:
        return day(*PILOT_OFFER_DATES[fy])
    return fy_start(fy) + OFFER_DAY


# Uptake logits (calibrated so the default city has about 64 Vitality and 15 Mystar
# participants in FY2023, calibration.md §0) and their yearly growth after FY2023.
UPTAKE_BASE = {"vitality": -5.67, "mystar": -5.13}
UPTAKE_GROWTH_PER_YEAR = 0.35
HIDDEN_CONFOUNDING = 0.4
"""Default uptake log-odds per SD of the unobserved motivation ``u`` (``--hidden-confounding``).

Modest: people one SD more motivated take part 1.5 times as often (odds), next to the
recorded exercise habit's 4-fold odds. Motivation also raises exercise and lowers costs
and risks, so adjusted estimates are biased a little upwards (towards benefit) and the
default report's sensitivity analyses (E-values, robustness values) have something real
to bound. 0 makes participation ignorable given the record (for estimator checks)."""
SELECTION = {
    "exercise_habit": 1.4,
    "walking_habit": 0.4,
    "smoker": -0.5,
    "bp_med": -0.4,
    "glucose_med": -0.4,
}
"""Uptake log-odds of each answer / medication at the latest checkup (besides age: +0.02
a year, and women: +0.25). An answer missing from the record counts as no."""

VITALITY_WEEKS = 12
MYSTAR_DAYS = 182
MYSTAR_SESSIONS = 6
BASELINE_WEEKS = 4
"""Most weeks of step data before the program start."""
PRE_WEEKS_P = (0.2, 0.15, 0.15, 0.2, 0.3)
"""Probability of 0, 1, ..., ``BASELINE_WEEKS`` weeks of data before the start (the device
arrives and is paired at different times; [E])."""
POST_WEEKS = 26
STEPS_MEDIAN = 6000.0
"""Median usual steps/day at 60 without an exercise habit (NHNS: about 5,000-7,500 at
these ages, calibration.md §1d)."""
STEPS_PERSON_SIGMA = 0.45
"""Log-scale SD of usual steps between people (a between-person SD of about 3,000-4,000
steps a day, as in the NHNS step survey)."""
STEPS_WEEK_SIGMA = 0.17
"""Log-scale SD of a person's weekly mean around their usual level (about 1,000-1,500)."""
STEPS_WEEK_RHO = 0.5
"""Correlation of consecutive weekly fluctuations."""
STEPS_SEASON = (0.88, 0.9, 0.98, 1.03, 1.06, 0.99, 0.96, 0.94, 1.0, 1.06, 1.05, 0.95)
"""Steps multiplier by calendar month, January to December: fewer in winter, in the rainy
season and in the August heat, more in spring and autumn ([E], after Japanese pedometer
studies of season and weather)."""
GAP_WEEK = 0.06
"""Probability that a week has no data (device not synced; [E]: about 8% of NHNS
participants did not wear the pedometer all day, Matsushita et al. 2014)."""
ZERO_WEEK = 0.015
"""Probability that a week is recorded as 0 steps (synced but not worn)."""
PARTIAL_WEEK = 0.05
"""Probability that the device was worn on a few days only (a low weekly mean)."""
KEEP_LOGIT = {"vitality": 1.4, "mystar": 2.0}
"""Logit of completing Vitality (about 78%) and of attending each Mystar session (about
86%) at average motivation; motivation raises both (0.5 per SD)."""
POST_WEAR_SURVIVAL = 0.9
"""Weekly probability that a participant keeps wearing the device after the program."""


@dataclass
class ProgramState:
    """Program records and effect terms of one chunk, shape (persons, fiscal years)."""

    n: int
    t: int
    hba1c: np.ndarray = None
    sbp: np.ndarray = None
    weight: np.ndarray = None
    exercise: np.ndarray = None
    log_hr: np.ndarray = None
    took_part: np.ndarray = None
    offers: list = field(default_factory=list)
    enrollments: list = field(default_factory=list)
    cost_windows: list = field(default_factory=list)
    vitality: list = field(default_factory=list)

    def __post_init__(self):
        z = np.zeros((self.n, self.t))
        self.hba1c, self.sbp, self.weight, self.exercise, self.log_hr = (
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
            z.copy(),
        )
        self.took_part = np.zeros(self.n, dtype=bool)


def risk_score(lp: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Predicted 5-year risk from a (noisy) log annual hazard."""
    return 1.0 - np.exp(-5.0 * np.exp(lp + SCORE_NOISE_SD * noise))


def offer_year(
    ps: ProgramState,
    rng: np.random.Generator,
    fy: int,
    t: int,
    *,
    eligible: np.ndarray,
    lp_last: np.ndarray,
    age: np.ndarray,
    male: np.ndarray,
    u: np.ndarray,
    last_checkup: dict[str, np.ndarray],
    uptake: float,
    effects: Effects,
    years_left: int,
    hidden_confounding: float = HIDDEN_CONFOUNDING,
) -> None:
    """Send the letters of fiscal year ``fy`` and record uptake and planted effects.

    Parameters
    ----------
    eligible : bool array
        Enrolled and alive at the offer date, aged 40-74, with a checkup in the last three
        fiscal years, never took part before.
    lp_last : float array
        Log severe-event hazard at the latest checkup, without the motivation term (the
        score adds noise).
    u : float array
        Latent motivation; acts on uptake only through ``hidden_confounding``.
    last_checkup : dict of bool arrays
        The :data:`SELECTION` items at the latest checkup.
    years_left : int
        Fiscal years remaining in the window after ``fy``.
    hidden_confounding : float
        Uptake log-odds per SD of ``u`` (0: uptake is ignorable given the record).
    """
    n = ps.n
    share = 1.0 if fy >= SCALE_FROM else PILOT_YEARS.get(fy, 0.0)
    # Fixed-size draws: the same people get the same numbers whatever the effects.
    r_pick, r_letter, r_take, noise = (
        rng.random(n),
        rng.random(n),
        rng.random(n),
        rng.normal(0, 1, n),
    )
    r_start, r_sessions, r_complete = rng.random(n), rng.random((n, MYSTAR_SESSIONS)), rng.random(n)
    if share == 0.0:
        return
    offered = eligible & (r_pick < share)
    if not offered.any():
        return
    # Rounded as written, so the tier is an exact cut of the published running variable.
    score = np.round(risk_score(lp_last, noise), 4)
    tier = np.where(score >= HIGH_CUT, 2, np.where(score >= MID_CUT, 1, 0))
    mystar = tier == 2
    nudge = r_letter < 0.5
    letter_day = offer_day(fy)
    growth = UPTAKE_GROWTH_PER_YEAR * max(0, fy - SCALE_FROM)
    logit = (
        np.where(mystar, UPTAKE_BASE["mystar"], UPTAKE_BASE["vitality"])
        + growth
        + sum(coef * last_checkup[k] for k, coef in SELECTION.items())
        + hidden_confounding * u
        + 0.02 * (age - 60)
        + 0.25 * ~male
        + np.log(effects.letter_nudge_uptake_or) * nudge
    )
    p = 0.0 if uptake == 0 else 1.0 / (1.0 + np.exp(-(logit + np.log(uptake))))
    take = offered & (r_take < p)
    idx = np.flatnonzero(offered)
    ps.offers.append(
        {
            "person": idx,
            "fy": np.full(len(idx), fy),
            "mystar": mystar[idx],
            "tier": tier[idx],
            "score": score[idx],
            "day": np.full(len(idx), letter_day),
            "nudge": nudge[idx],
            "took_part": take[idx],
            "age": age[idx],
        }
    )
    ps.took_part |= take
    # Start on a Monday 3-8 weeks after the letter.
    monday0 = letter_day + (-(letter_day + 3)) % 7  # day 0 (1970-01-01) was a Thursday
    start = monday0 + 7 * (3 + np.floor(r_start * 6)).astype(np.int64)
    # Log of the usual steps/day before the program (person-level noise in ``activity``).
    baseline = (
        np.log(STEPS_MEDIAN) - 0.012 * (age - 60) + 0.12 * u + 0.15 * last_checkup["exercise_habit"]
    )
    keep_v = 1.0 / (1.0 + np.exp(-(KEEP_LOGIT["vitality"] + 0.5 * u)))
    keep_m = 1.0 / (1.0 + np.exp(-(KEEP_LOGIT["mystar"] + 0.5 * u)))
    _vitality(
        ps,
        np.flatnonzero(take & ~mystar),
        t,
        fy,
        start,
        age,
        tier,
        effects,
        years_left,
        r_complete < keep_v,
        baseline,
    )
    _mystar(
        ps,
        np.flatnonzero(take & mystar),
        t,
        fy,
        start,
        score,
        effects,
        years_left,
        r_sessions < keep_m[:, None],
    )


def _vitality(ps, idx, t, fy, start, age, tier, effects: Effects, years_left, done, baseline):
    if len(idx) == 0:
        return
    s = start[idx]
    completed = done[idx]
    eff = (
        np.where(age[idx] >= 65, effects.vitality_steps_age65_ratio, 1.0)
        * np.where(tier[idx] == 1, effects.vitality_steps_middle_ratio, 1.0)
        * effects.vitality_steps
    )
    if years_left > 0:
        ps.exercise[idx, t + 1] += effects.vitality_exercise_habit
    ps.cost_windows.append((idx, s, 12, effects.vitality_cost))
    ps.enrollments.append(
        {
            "person": idx,
            "fy": np.full(len(idx), fy),
            "program": np.zeros(len(idx), np.int64),
            "start": s,
            "end": s + 7 * VITALITY_WEEKS - 1,
            "sessions": np.ones(len(idx), np.int64),
            "completed": completed,
        }
    )
    ps.vitality.append(
        {
            "person": idx,
            "start": s,
            "effect": eff,
            "age65": age[idx] >= 65,
            "middle": tier[idx] == 1,
            "fy": np.full(len(idx), fy),
            "completed": completed,
            "baseline": baseline[idx],
            "half_life": np.full(len(idx), effects.vitality_steps_half_life_weeks),
        }
    )


def _mystar(ps, idx, t, fy, start, score, effects: Effects, years_left, attended):
    if len(idx) == 0:
        return
    s = start[idx]
    het = np.where(
        score[idx] >= effects.mystar_high_risk_score, effects.mystar_high_risk_ratio, 1.0
    )
    for k in range(1, years_left + 1):
        w = het * effects.mystar_persistence ** (k - 1)
        ps.hba1c[idx, t + k] += effects.mystar_hba1c * w
        ps.sbp[idx, t + k] += effects.mystar_sbp * w
        ps.weight[idx, t + k] += effects.mystar_weight_kg * w
        if k <= 3:
            ps.log_hr[idx, t + k] += np.log(effects.mystar_event_hr)
    ps.cost_windows.append((idx, s, 24, effects.mystar_cost))
    sessions = attended[idx].sum(axis=1)
    ps.enrollments.append(
        {
            "person": idx,
            "fy": np.full(len(idx), fy),
            "program": np.ones(len(idx), np.int64),
            "start": s,
            "end": s + MYSTAR_DAYS - 1,
            "sessions": sessions,
            "completed": sessions >= 5,
            "het": het,
        }
    )


def activity(rng: np.random.Generator, ps: ProgramState, death_day: np.ndarray) -> dict:
    """Weekly mean steps of Vitality participants, as a wearable records them.

    The device arrives 0-``BASELINE_WEEKS`` weeks before the start (:data:`PRE_WEEKS_P`),
    is worn during the 12 program weeks (non-completers stop at a random week) and, for
    completers, after the program until they stop (weekly survival
    ``POST_WEAR_SURVIVAL``, at most ``POST_WEEKS``).

    Steps walked = usual steps (lognormal between people, :data:`STEPS_PERSON_SIGMA`) x
    season (:data:`STEPS_SEASON`) x a persistent weekly fluctuation
    (:data:`STEPS_WEEK_SIGMA`, AR(1)) + the program effect (constant during the program,
    halving every ``vitality_steps_half_life_weeks`` after). The recorded weekly mean is
    what the device saw: some weeks are missing (not synced, :data:`GAP_WEEK`), some are
    0 (synced but not worn, :data:`ZERO_WEEK`) and some are low (worn on a few days only,
    :data:`PARTIAL_WEEK`).
    """
    out = {k: [] for k in ("person", "week", "steps", "effect")}
    w_all = BASELINE_WEEKS + VITALITY_WEEKS + POST_WEEKS
    for v in ps.vitality:
        m = len(v["person"])
        base = rng.normal(0, 1, m)
        noise = rng.normal(0, 1, (m, w_all))
        r_post = rng.random(m)
        drop = 2 + np.floor(rng.random(m) * 8).astype(np.int64)
        r_pre, r_wear, r_part = rng.random(m), rng.random((m, w_all)), rng.random((m, w_all))
        week = np.arange(w_all)[None, :] - BASELINE_WEEKS  # 0 = first program week
        post_weeks = np.minimum(
            np.floor(np.log(np.maximum(r_post, 1e-12)) / np.log(POST_WEAR_SURVIVAL)), POST_WEEKS
        )
        last = np.where(v["completed"], VITALITY_WEEKS - 1 + post_weeks, drop - 1)
        pre = np.searchsorted(np.cumsum(PRE_WEEKS_P), r_pre * sum(PRE_WEEKS_P), side="right")
        days = v["start"][:, None] + 7 * week
        wear = (
            (week >= -pre[:, None])
            & (week <= last[:, None])
            & (days + 6 < death_day[v["person"]][:, None])
            & (r_wear >= GAP_WEEK)
        )
        after = np.maximum(week - (VITALITY_WEEKS - 1), 0)
        eff = v["effect"][:, None] * np.where(
            week < 0, 0.0, np.where(after == 0, 1.0, 0.5 ** (after / v["half_life"][:, None]))
        )
        walked = (
            np.exp(v["baseline"][:, None] + STEPS_PERSON_SIGMA * base[:, None])
            * _season(days + 3)
            * np.exp(STEPS_WEEK_SIGMA * _ar1(noise, STEPS_WEEK_RHO) - STEPS_WEEK_SIGMA**2 / 2)
            + eff
        )
        # Share of the week's days the device was worn (1 in most weeks).
        worn = np.where(
            r_wear < GAP_WEEK + ZERO_WEEK,
            0.0,
            np.where(r_wear < GAP_WEEK + ZERO_WEEK + PARTIAL_WEEK, 0.15 + 0.6 * r_part, 1.0),
        )
        steps = np.clip(walked, 300, 40000) * worn
        pi, wi = np.nonzero(wear)
        out["person"].append(v["person"][pi])
        out["week"].append(days[pi, wi])
        out["steps"].append(np.round(steps[pi, wi]).astype(np.int64))
        out["effect"].append(eff[pi, wi])
    if not out["person"]:
        return {k: np.zeros(0) for k in out}
    return {k: np.concatenate(v) for k, v in out.items()}


def _ar1(z: np.ndarray, rho: float) -> np.ndarray:
    """Standardised AR(1) series along axis 1 from independent normal draws ``z``."""
    out = np.empty_like(z)
    out[:, 0] = z[:, 0]
    s = np.sqrt(1 - rho**2)
    for j in range(1, z.shape[1]):
        out[:, j] = rho * out[:, j - 1] + s * z[:, j]
    return out


def _season(days: np.ndarray) -> np.ndarray:
    """:data:`STEPS_SEASON` multiplier of the calendar month of each day number."""
    month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    return np.asarray(STEPS_SEASON)[month]

"""Simulate one independent chunk of residents, fiscal year by fiscal year.

Order within a fiscal year: severe events and deaths → enrollment spells → program
letters and uptake (from checkups of earlier years) → that year's checkups. Claims,
step counts and event attendance are drawn afterwards from the finished histories.
Every stage draws from its own named stream, with draw sizes that do not depend on the
planted effects, so that switching an effect changes only what it acts on.

Burn-in: the natural health course, checkup attendance and dialysis are run for
``BURN_IN_YEARS`` fiscal years before the first output year, without writing anything,
so that the first output year is already at steady state (checkup persistence, dialysis
prevalence, cancers in treatment). In a window that starts after
``programs.SCORE_CHECKUPS_FROM``, the latest burn-in checkup from that year on counts for
the letters of the first program years, as an in-window checkup would. People of the stock are alive at the window start by
construction, so a burn-in dialysis start is kept only with the probability of surviving
on dialysis until then (the survivors are the prevalent patients).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analysis.data.synthetic import checkups as ck
from analysis.data.synthetic import claims as cl
from analysis.data.synthetic import deaths
from analysis.data.synthetic import programs as pg
from analysis.data.synthetic.calendar import age_at, fy_end, fy_start, month_starts
from analysis.data.synthetic.effects import Effects
from analysis.data.synthetic.enrollment import Spells, advance_year, health_exits
from analysis.data.synthetic.health import (
    MOTIVATION_LOG_HR,
    dialysis_lp,
    from_year,
    natural_course,
    severe_lp,
)
from analysis.data.synthetic.population import draw_people
from analysis.seeds import rng

NEVER = np.iinfo(np.int64).max // 4
EVENT_TYPES = ("none", "stroke", "mi", "heart_failure", "dialysis", "haemorrhagic_stroke")
"""Severe event types; ``stroke`` is a cerebral infarction (I63), ``haemorrhagic_stroke``
an intracerebral or subarachnoid haemorrhage (I61, I60)."""
CASE_FATALITY = np.array([0.0, 0.06, 0.10, 0.07, 0.0, 0.20])
"""Share of each event type that is fatal (in hospital, within 30 days)."""
_CV_TYPES = np.array([1, 5, 2, 3])
_CV_SPLIT = np.array([0.36, 0.18, 0.17, 0.25])
"""Shares of cerebral infarction, haemorrhagic stroke, MI and heart failure among the
cardiovascular events: haemorrhages are about 27% of strokes (Japan Stroke Data Bank)."""
BURN_IN_YEARS = 8
"""Fiscal years simulated before the first output year (not written)."""
ESKD_EGFR = 15.0
"""eGFR below which kidney disease counts as known (at risk of dialysis) without a record."""
DIALYSIS_DEATH_HAZARD = 0.11
"""Annual death hazard added by dialysis (on top of the age and disease hazard)."""


@dataclass
class ChunkResult:
    """Everything one chunk produces, as arrays keyed by table (local person numbers)."""

    chunk: int
    n: int
    people: object
    spells: tuple
    death_day: np.ndarray
    checkups: dict
    claims: dict
    month_days: np.ndarray
    offers: list
    enrollments: list
    activity: dict
    attendance: dict
    lp: np.ndarray  # (n, t) natural log severe-event hazard
    log_hr: np.ndarray  # (n, t) program term
    in_window: np.ndarray  # (n, t) enrolled at some point of the fiscal year
    event_type: np.ndarray  # (n, t) index into EVENT_TYPES (0: none)
    event_day: np.ndarray  # (n, t) day of the severe event (-1: none)
    truth: dict = field(default_factory=dict)
    participants: dict = field(default_factory=dict)  # per-participant effect terms


def _stream(seed: int, chunk: int, name: str) -> np.random.Generator:
    return rng(seed, "simulate", "chunk", chunk, name)


def _cv_type(r: np.ndarray) -> np.ndarray:
    """Cardiovascular event type (index into ``EVENT_TYPES``) of a uniform draw."""
    k = np.searchsorted(np.cumsum(_CV_SPLIT) / _CV_SPLIT.sum(), r, side="right")
    return _CV_TYPES[np.minimum(k, len(_CV_TYPES) - 1)]


def simulate_chunk(
    seed: int,
    chunk: int,
    residents: int,
    first_fy: int,
    last_fy: int,
    uptake: float,
    effects: Effects,
    event_days: np.ndarray,
    hidden_confounding: float = pg.HIDDEN_CONFOUNDING,
) -> ChunkResult:
    """Simulate the residents of one chunk (see the module docstring)."""
    years = list(range(first_fy, last_fy + 1))
    t_n = len(years)
    people = draw_people(_stream(seed, chunk, "population"), residents, first_fy, last_fy)
    n = people.n
    b_n = BURN_IN_YEARS
    mid = np.array([fy_start(fy) + 183 for fy in range(first_fy - b_n, last_fy + 1)])
    h_all = natural_course(
        _stream(seed, chunk, "health"), people.male, people.birth, people.u, mid, b_n
    )
    h = from_year(h_all, b_n)
    ps = pg.ProgramState(n, t_n)
    cd = ck.draws(_stream(seed, chunk, "checkups"), n, t_n)
    er = _stream(seed, chunk, "events")
    r_event, r_type, r_eday, r_death, r_dday, r_fatal, r_cause = (
        er.random((n, t_n)) for _ in range(7)
    )
    r_prev, r_hist, r_hist_type = er.random(n), er.random(n), er.random(n)
    r_place, r_los = er.random(n), er.random(n)
    en_rng = _stream(seed, chunk, "enrollment")
    pg_rng = _stream(seed, chunk, "programs")

    death_day = np.full(n, NEVER, dtype=np.int64)
    burn = _burn_in(_stream(seed, chunk, "burn_in"), h_all, people, cd, first_fy, r_prev)
    dialysis_start = burn["dialysis_start"]
    event_day = np.full((n, t_n), -1, dtype=np.int64)
    event_type = np.zeros((n, t_n), dtype=np.int64)
    # Stroke, MI or heart failure before the window (about 7% at age 70).
    age0 = h.age[:, 0]
    p_hist = np.where(age0 >= 35, 0.05 * np.exp(0.07 * (age0 - 70)), 0.0)
    history = np.where(r_hist < p_hist, _cv_type(r_hist_type), 0)
    prior_cv = history > 0
    death_cause = np.zeros(n, dtype=np.int64)
    fatal_event_day = np.full(n, -1, dtype=np.int64)
    fatal_type = np.zeros(n, dtype=np.int64)
    lp = np.zeros((n, t_n))
    spells = Spells(n)
    attended_last = burn["attended_last"]
    # Latest checkup the score may read (year index; burn-in years are negative).
    last_exam_t = np.full(n, -99, dtype=np.int64)
    # Answers and medication at the latest checkup: what uptake depends on (pg.SELECTION).
    last_seen = {k: np.zeros(n, dtype=bool) for k in pg.SELECTION}
    lp_burn = _seed_latest_checkup(h_all, people, first_fy, burn, prior_cv, last_exam_t, last_seen)
    in_window = np.zeros((n, t_n), dtype=bool)
    exams = []

    for t, fy in enumerate(years):
        s0, s1 = fy_start(fy), fy_end(fy)
        alive0 = death_day > s0
        on_dia = dialysis_start <= s0
        lp_cv = severe_lp(h, t, people.male, people.u, prior_cv)
        # Known kidney disease (diagnosed last year, or end-stage whatever the records say).
        ckd_prev = h.ckd[:, max(t - 1, 0)] | (h.egfr[:, t] < ESKD_EGFR)
        h_d = np.where(on_dia | ~ckd_prev, 0.0, np.exp(dialysis_lp(h, t)))
        lp[:, t] = np.log(np.exp(lp_cv) + h_d)
        hr = np.exp(ps.log_hr[:, t])
        h_tot = (np.exp(lp_cv) + h_d) * hr
        ev = alive0 & (r_event[:, t] < 1 - np.exp(-h_tot))
        p_dia = h_d * hr / np.maximum(h_tot, 1e-300)
        is_dia = r_type[:, t] < p_dia
        cv_u = np.clip((r_type[:, t] - p_dia) / np.maximum(1 - p_dia, 1e-12), 0, 1 - 1e-12)
        cv_type = _cv_type(cv_u)
        etype = np.where(ev, np.where(is_dia, 4, cv_type), 0)
        eday = s0 + np.floor(r_eday[:, t] * (s1 - s0 + 1)).astype(np.int64)
        event_type[:, t] = etype
        event_day[:, t] = np.where(ev, eday, -1)
        dialysis_start = np.where(etype == 4, eday, dialysis_start)
        prior_cv |= ev & (etype != 4)

        hz = deaths.hazards(
            h, t, people.male, h.frailty, prior_cv, dialysis_start <= s1, DIALYSIS_DEATH_HAZARD
        )
        fatal = ev & (r_fatal[:, t] < CASE_FATALITY[etype])
        other = alive0 & (r_death[:, t] < 1 - np.exp(-hz.sum(axis=0)))
        dday_other = np.where(
            ev,
            eday + np.floor(r_dday[:, t] * (s1 - eday + 1)),
            s0 + np.floor(r_dday[:, t] * (s1 - s0 + 1)),
        ).astype(np.int64)
        dday = np.where(
            fatal, np.minimum(eday + np.floor(r_dday[:, t] * 30).astype(np.int64), s1), dday_other
        )
        dies = alive0 & (fatal | other)
        death_day = np.where(dies, dday, death_day)
        cause = np.where(fatal, deaths.CAUSES.index("event"), deaths.cause_of(hz, r_cause[:, t]))
        death_cause = np.where(dies, cause, death_cause)
        fatal_event_day = np.where(dies & fatal, eday, fatal_event_day)
        fatal_type = np.where(dies & fatal, etype, fatal_type)

        n_closed = len(spells.person)
        advance_year(
            spells,
            en_rng,
            fy,
            people.birth,
            people.first_entry,
            people.household,
            death_day,
            health_exits(h, t, prior_cv, dialysis_start <= s0),
        )
        in_window[:, t] = _enrolled_during_year(spells, n_closed)

        if fy in pg.PILOT_YEARS or fy >= pg.SCALE_FROM:
            offer_day = pg.offer_day(fy)
            age_offer = age_at(people.birth, offer_day)
            eligible = (
                _enrolled_on(spells, n_closed, offer_day)
                & (death_day > offer_day)
                & (age_offer >= 40)
                & (age_offer <= 74)
                & (last_exam_t >= t - 3)
                & ~ps.took_part
            )
            # The score sees the checkup-era risk, not the unobserved motivation.
            lp_last = np.where(
                (last_exam_t < 0) & (last_exam_t >= -b_n),
                lp_burn,
                lp[np.arange(n), np.clip(last_exam_t, 0, None)],
            )
            lp_last = lp_last + MOTIVATION_LOG_HR * people.u
            pg.offer_year(
                ps,
                pg_rng,
                fy,
                t,
                eligible=eligible,
                lp_last=lp_last,
                age=age_offer,
                male=people.male,
                u=people.u,
                last_checkup=last_seen,
                uptake=uptake,
                hidden_confounding=hidden_confounding,
                effects=effects,
                years_left=t_n - 1 - t,
            )

        ed = ck.exam_days(cd, fy, t)
        age_exam = age_at(people.birth, ed)
        elig = (
            _enrolled_on_days(spells, n_closed, ed)
            & (death_day > ed)
            & (age_exam >= 40)
            & (age_exam <= 74)
        )
        sick = ck.sick_logit(h, t, prior_cv, dialysis_start <= ed)
        p_att = ck.attend_prob(cd, age_exam, people.male, people.u, attended_last, sick, fy)
        att = elig & (cd.attend[:, t] < p_att)
        attended_last = att
        rec = ck.measure(cd, h, ps, t, ed, dialysis_start <= ed)
        idx = np.flatnonzero(att)
        exams.append(
            {k: v[idx] for k, v in rec.items()} | {"person": idx, "fy": np.full(len(idx), fy)}
        )
        if fy >= pg.SCORE_CHECKUPS_FROM:
            last_exam_t[att] = t
            for k, v in last_seen.items():
                v[att] = rec[k][att]

    spell_arrays = spells.frame()
    month_days = month_starts(first_fy, last_fy)
    enrolled_m = _enrolled_months(spell_arrays, death_day, month_days, n)
    admit = deaths.terminal_admission(death_cause, death_day, fatal_event_day, r_place, r_los)
    state = _month_state(
        h,
        people,
        enrolled_m,
        month_days,
        event_day,
        event_type,
        history,
        dialysis_start,
        death_day,
        ps,
        _stream(seed, chunk, "claims_people"),
    )
    state.terminal_days = deaths.terminal_days(admit, death_day, month_days) * enrolled_m
    state.terminal_code = cl.terminal_codes(
        death_cause, fatal_type, state.cancer_site, _stream(seed, chunk, "terminal").random(n)
    )
    claims = cl.generate(_stream(seed, chunk, "claims"), state)
    activity = pg.activity(_stream(seed, chunk, "activity"), ps, death_day)
    attendance = _attendance(
        _stream(seed, chunk, "attendance"), event_days, people, spells, spell_arrays, death_day, ps
    )
    exams_all = {k: np.concatenate([e[k] for e in exams]) for k in exams[0]}
    return ChunkResult(
        chunk=chunk,
        n=n,
        people=people,
        spells=spell_arrays,
        death_day=death_day,
        checkups=exams_all,
        claims=claims,
        month_days=month_days,
        offers=ps.offers,
        enrollments=ps.enrollments,
        activity=activity,
        attendance=attendance,
        lp=lp,
        log_hr=ps.log_hr,
        in_window=in_window,
        event_type=event_type,
        event_day=event_day,
        truth=_chunk_truth(ps, state, claims, month_days),
        participants=_participant_truth(ps, h, state, claims, month_days, first_fy),
    )


def _burn_in(r, h_all, people, cd, first_fy: int, r_prev) -> dict:
    """Dialysis and checkup attendance over the burn-in years (see the module docstring).

    Returns the state at the window start: ``dialysis_start`` (day, or ``NEVER``) and
    ``attended_last`` (checkup in the last burn-in year).
    """
    n, b_n = people.n, BURN_IN_YEARS
    r_dia, r_day, r_surv, r_att = (r.random((n, b_n)) for _ in range(4))
    r_surv0 = r.random(n)
    w0 = fy_start(first_fy)
    dialysis_start = np.full(n, NEVER, dtype=np.int64)
    # Patients already on dialysis when the burn-in starts (up to six years before it).
    s_first = fy_start(first_fy - b_n)
    prev_day = s_first - np.floor(r_prev * 6 * 365).astype(np.int64)
    alive = r_surv0 < np.exp(-DIALYSIS_DEATH_HAZARD * (w0 - prev_day) / 365.25)
    prevalent = (h_all.egfr[:, 0] < 9) & alive
    dialysis_start[prevalent] = prev_day[prevalent]
    attended_last = np.zeros(n, dtype=bool)
    last_exam_b = np.full(n, -1, dtype=np.int64)
    for b in range(b_n):
        fy = first_fy - b_n + b
        s0 = fy_start(fy)
        on_dia = dialysis_start <= s0
        known = h_all.ckd[:, max(b - 1, 0)] | (h_all.egfr[:, b] < ESKD_EGFR)
        h_d = np.where(on_dia | ~known, 0.0, np.exp(dialysis_lp(h_all, b)))
        d_day = s0 + np.floor(r_day[:, b] * (fy_end(fy) - s0 + 1)).astype(np.int64)
        survive = r_surv[:, b] < np.exp(-DIALYSIS_DEATH_HAZARD * (w0 - d_day) / 365.25)
        start = ~on_dia & (r_dia[:, b] < 1 - np.exp(-h_d)) & survive
        dialysis_start = np.where(start, d_day, dialysis_start)

        ed = ck.exam_days(cd, fy, 0)
        age = age_at(people.birth, ed)
        elig = (people.first_entry <= ed) & (age >= 40) & (age <= 74)
        sick = ck.sick_logit(h_all, b, np.zeros(n, dtype=bool), dialysis_start <= ed)
        p_att = ck.attend_prob(cd, age, people.male, people.u, attended_last, sick, fy)
        att = elig & (r_att[:, b] < p_att)
        attended_last = att
        last_exam_b[att] = b
    return {
        "dialysis_start": dialysis_start,
        "attended_last": attended_last,
        "last_exam_b": last_exam_b,
    }


def _seed_latest_checkup(h_all, people, first_fy, burn, prior_cv, last_exam_t, last_seen):
    """Record the latest burn-in checkup the score may read (see ``SCORE_CHECKUPS_FROM``).

    Fills ``last_exam_t`` (as a negative year index) and ``last_seen`` in place, with the
    answers and medication of that checkup (no program has acted yet), and returns the
    log severe-event hazard of its year (NaN for people without one), as the window years
    have it in ``lp``.
    """
    b_n = BURN_IN_YEARS
    last_b = burn["last_exam_b"]
    lp_burn = np.full(people.n, np.nan)
    for b in range(b_n):
        fy = first_fy - b_n + b
        who = np.flatnonzero(last_b == b)
        if fy < pg.SCORE_CHECKUPS_FROM or len(who) == 0:
            continue
        last_exam_t[who] = b - b_n
        seen = {
            "exercise_habit": h_all.exercise_u[:, b] < np.clip(h_all.exercise_p[:, b], 0.0, 1.0),
            "walking_habit": h_all.walking[:, b],
            "smoker": h_all.smoker[:, b],
            "bp_med": h_all.bp_med[:, b],
            "glucose_med": h_all.glucose_med[:, b],
        }
        for k, v in last_seen.items():
            v[who] = seen[k][who]
        on_dia = burn["dialysis_start"] <= fy_start(fy)
        known = h_all.ckd[:, max(b - 1, 0)] | (h_all.egfr[:, b] < ESKD_EGFR)
        h_d = np.where(on_dia | ~known, 0.0, np.exp(dialysis_lp(h_all, b)))
        lp_cv = severe_lp(h_all, b, people.male, people.u, prior_cv)
        lp_burn[who] = np.log(np.exp(lp_cv) + h_d)[who]
    return lp_burn


def _closed_this_year(sp: Spells, n_closed: int):
    if len(sp.person) > n_closed:
        return (
            np.concatenate(sp.person[n_closed:]),
            np.concatenate(sp.start[n_closed:]),
            np.concatenate(sp.end[n_closed:]),
        )
    e = np.zeros(0, np.int64)
    return e, e, e


def _enrolled_on_days(sp: Spells, n_closed: int, days: np.ndarray) -> np.ndarray:
    """Enrolled on ``days`` (one day per person) within the current fiscal year."""
    days = np.broadcast_to(np.asarray(days, dtype=np.int64), (sp.n,))
    out = (sp.current >= 0) & (sp.current <= days)
    p, s, e = _closed_this_year(sp, n_closed)
    hit = (s <= days[p]) & (days[p] <= e)
    out[p[hit]] = True
    return out


def _enrolled_on(sp: Spells, n_closed: int, day: int) -> np.ndarray:
    return _enrolled_on_days(sp, n_closed, np.full(sp.n, day, dtype=np.int64))


def _enrolled_during_year(sp: Spells, n_closed: int) -> np.ndarray:
    """Enrolled on at least one day of the current fiscal year."""
    out = sp.current >= 0
    p, _, _ = _closed_this_year(sp, n_closed)
    out[p] = True
    return out


def _month_index(month_days: np.ndarray, days: np.ndarray) -> np.ndarray:
    return np.searchsorted(month_days, days, side="right") - 1


def _enrolled_months(spells, death_day, month_days, n) -> np.ndarray:
    """(n, months) bool: enrolled on at least one day of the month and alive at its start."""
    person, start, end, _ = spells
    m = len(month_days)
    ms = np.clip(_month_index(month_days, start), 0, m)
    me = np.where(end < 0, m - 1, _month_index(month_days, end))
    diff = np.zeros((n, m + 1), dtype=np.int64)
    np.add.at(diff, (person, ms), 1)
    np.add.at(diff, (person, me + 1), -1)
    enrolled = np.cumsum(diff[:, :m], axis=1) > 0
    dm = _month_index(month_days, np.minimum(death_day, month_days[-1] + 40))
    return enrolled & (np.arange(m)[None, :] <= dm[:, None])


def _month_state(
    h,
    people,
    enrolled,
    month_days,
    event_day,
    event_type,
    history,
    dialysis_start,
    death_day,
    ps,
    r,
) -> cl.MonthState:
    n, m = enrolled.shape
    ti = np.arange(m) // 12
    ev_m = np.zeros((n, m), dtype=np.int64)
    after = {k: np.zeros((n, m), dtype=bool) for k in (1, 2, 3)}
    # A haemorrhagic stroke leaves the same sequelae (I69) as an infarction.
    kind = np.where(event_type == 5, 1, event_type)
    for t in range(event_day.shape[1]):
        hit = np.flatnonzero(event_type[:, t] > 0)
        mi = _month_index(month_days, event_day[hit, t])
        ev_m[hit, mi] = event_type[hit, t]
        for k in (1, 2, 3):
            sel = kind[hit, t] == k
            after[k][hit[sel], mi[sel]] = True
    hist_kind = np.where(history == 5, 1, history)
    for k in (1, 2, 3):
        # Months strictly after the first event of the kind.
        after[k] = (
            np.concatenate(
                [np.zeros((n, 1), bool), np.maximum.accumulate(after[k], axis=1)[:, :-1]], axis=1
            )
            | (hist_kind == k)[:, None]
        )
    dia_m = _month_index(month_days, np.minimum(dialysis_start, month_days[-1] + 40))
    dialysis = np.arange(m)[None, :] >= np.where(dialysis_start < month_days[0], -1, dia_m)[:, None]
    dialysis &= (dialysis_start < month_days[-1] + 40)[:, None]
    egfr = h.egfr[:, ti]
    ckd = h.ckd[:, ti] | dialysis
    stage = np.where(ckd, np.select([egfr < 15, egfr < 30, egfr < 60], [5, 4, 3], 3), 0)
    cost_factor = np.ones((n, m))
    for idx, start, months, f in ps.cost_windows:
        m0 = _month_index(month_days, start)
        for k in range(months):
            mm = m0 + k
            ok = mm < m
            cost_factor[idx[ok], mm[ok]] *= 1.0 + f
    male = people.male
    site_u = r.random(n)
    cancer_site = np.where(
        male,
        cl._CANCER[np.array([0, 1, 2, 4, 5])][np.minimum((site_u * 5).astype(int), 4)],
        cl._CANCER[np.array([0, 1, 2, 3, 5])][np.minimum((site_u * 5).astype(int), 4)],
    )
    r_code = r.random(n)
    mental_code = cl._MENTAL[
        np.minimum(np.searchsorted(cl.MENTAL_OUTPATIENT_CUM, r_code, side="right"), 2)
    ]
    old = (h.age[:, -1] >= 68) & (r.random(n) < 0.4)
    mental_code = np.where(old, cl._MENTAL[3], mental_code)
    long_stay = h.mental[:, 0] & (r.random(n) < 0.12)
    stay_code = cl._MENTAL[[0, 1, 3]][
        np.minimum(np.searchsorted(cl.LONG_STAY_CUM, r_code, side="right"), 2)
    ]
    mental_code = np.where(long_stay, stay_code, mental_code)
    rate = np.where(h.age[:, 0] >= 20, np.clip(0.3 + 0.05 * (h.age[:, 0] - 40), 0.05, 2.5), 0.0)
    k_sec = np.minimum(r.poisson(rate), 3)
    pick = np.argsort(r.random((n, len(cl.SECONDARY))), axis=1)[:, :3]
    secondary = np.where(np.arange(3)[None, :] < k_sec[:, None], cl.SECONDARY[pick], -1)
    # Benign prostatic hyperplasia (N400) only in men.
    secondary = np.where((secondary == cl.CODES.index("N400")) & ~male[:, None], -1, secondary)
    # Inpatient rehabilitation (回復期リハビリテーション) for 0-3 months after a stroke.
    rehab_months = np.searchsorted(np.cumsum(cl.REHAB_MONTHS_P), r.random(n), side="right")
    rehab = np.zeros((n, m), dtype=bool)
    for t in range(event_day.shape[1]):
        hit = np.flatnonzero((kind[:, t] == 1) & (death_day > event_day[:, t] + 30))
        mi = _month_index(month_days, event_day[hit, t])
        for k in range(1, len(cl.REHAB_MONTHS_P)):
            ok = (rehab_months[hit] >= k) & (mi + k < m)
            rehab[hit[ok], mi[ok] + k] = True
    cancer_cost = np.exp(cl.CANCER_COST_SIGMA * r.standard_normal(n) - cl.CANCER_COST_SIGMA**2 / 2)
    # Specialty drugs (biologics, antivirals, oral oncology ...): a few people with very
    # expensive monthly prescriptions, part of the heavy cost tail.
    specialty = (r.random(n) < cl.SPECIALTY_SHARE * np.clip((h.age[:, 0] - 15) / 45, 0, 1.5)) & (
        h.age[:, 0] >= 18
    )
    k_spec = len(cl._SPECIALTY)
    specialty_code = cl._SPECIALTY[np.minimum((r.random(n) * k_spec).astype(int), k_spec - 1)]
    return cl.MonthState(
        enrolled=enrolled,
        age=h.age[:, ti],
        diabetes=h.diabetes[:, ti],
        hypertension=h.hypertension[:, ti],
        dyslipidaemia=h.dyslipidaemia[:, ti],
        glucose_med=h.glucose_med[:, ti],
        bp_med=h.bp_med[:, ti],
        lipid_med=h.lipid_med[:, ti],
        specialty=specialty,
        rehab=rehab & enrolled,
        cancer_cost=cancer_cost,
        specialty_code=specialty_code,
        specialty_yen=cl.SPECIALTY_MONTH_YEN * np.exp(cl.SPECIALTY_SIGMA * r.standard_normal(n)),
        care_factor=cl.care_factor(month_days),
        ckd_stage=stage,
        cancer=h.cancer[:, ti],
        mental=h.mental[:, 0],
        long_stay=long_stay,
        dialysis=dialysis,
        event=ev_m,
        after_stroke=after[1],
        after_mi=after[2],
        after_hf=after[3],
        frailty=h.frailty,
        cost_factor=cost_factor,
        cancer_site=cancer_site,
        mental_code=mental_code,
        secondary=secondary,
        month_len=np.diff(np.append(month_days, month_days[-1] + 31)).clip(max=31),
        male=male,
    )


def _attendance(r, event_days, people, spells, spell_arrays, death_day, ps) -> dict:
    """Who attends the community events: enrolled adults, mostly the motivated and participants.

    Each month with events, a person attends at most one of them (picked at random), with
    a probability scaled by that month's share of the year's events, so that a person's
    expected attendances a year do not depend on how many events the city holds.
    """
    person, start, end, _ = spell_arrays
    n = people.n
    empty = {"event": np.zeros(0, np.int64), "person": np.zeros(0, np.int64)}
    if len(event_days) == 0:
        return empty
    part_day = np.full(n, NEVER, dtype=np.int64)
    for rec in ps.enrollments:
        part_day[rec["person"]] = rec["start"]
    month = event_days.astype("datetime64[D]").astype("datetime64[M]")
    months, first_idx, per_month = np.unique(month, return_index=True, return_counts=True)
    fy = (months.astype(int) - 3) // 12  # months since 1970-01; April starts a fiscal year
    per_year = {y: per_month[fy == y].sum() for y in np.unique(fy)}
    u_att, u_pick = r.random((len(months), n)), r.random((len(months), n))
    ev_idx, who = [], []
    for k in range(len(months)):
        c = per_month[k]
        pick = first_idx[k] + np.minimum((u_pick[k] * c).astype(np.int64), c - 1)
        d = event_days[pick]
        covered = (start <= d[person]) & ((end < 0) | (end >= d[person]))
        enrolled = np.zeros(n, dtype=bool)
        enrolled[person[covered]] = True
        age = (d - people.birth) / 365.25
        ok = enrolled & (death_day > d) & (age >= 18)
        recent = (part_day <= d) & (d - part_day < 365)
        p = 0.0012 * np.exp(0.9 * people.u) * (1 + (age >= 60)) + 0.10 * recent
        p = np.minimum(p * 12 * c / per_year[fy[k]], 0.9)
        hit = np.flatnonzero(ok & (u_att[k] < p))
        ev_idx.append(pick[hit])
        who.append(hit)
    return {"event": np.concatenate(ev_idx), "person": np.concatenate(who)}


def _chunk_truth(ps, state: cl.MonthState, claims: dict, month_days: np.ndarray) -> dict:
    """Sums over this chunk's participants that ``truth.json`` turns into realised effects.

    Cost changes are summed over the whole program cost window and over its first 12
    months (from the start month), the windows the cohort's cost outcomes use."""
    out: dict = {}
    cf = state.cost_factor[claims["person"], claims["month"]]
    saved = claims["cost"] - claims["cost"] / cf
    for rec in ps.offers:
        fy = int(rec["fy"][0])
        for prog, is_m in (("vitality", False), ("mystar", True)):
            d = out.setdefault(f"{prog}:{fy}", {})
            for letter, nudge in (("plain", False), ("nudge", True)):
                m = (rec["mystar"] == is_m) & (rec["nudge"] == nudge)
                d[f"offered_{letter}"] = int(m.sum())
                d[f"took_part_{letter}"] = int(rec["took_part"][m].sum())
    for rec in ps.enrollments:
        prog = "vitality" if rec["program"][0] == 0 else "mystar"
        fy = int(rec["fy"][0])
        key = f"{prog}:{fy}"
        start_m = np.full(state.cost_factor.shape[0], -1, dtype=np.int64)
        start_m[rec["person"]] = _month_index(month_days, rec["start"])
        sel = np.isin(claims["person"], rec["person"])
        first12 = sel & (claims["month"] < start_m[claims["person"]] + 12)
        out[key].update(
            {
                "n": len(rec["person"]),
                "cost_change_yen": float(saved[sel].sum()),
                "cost_change_yen_12m": float(saved[first12].sum()),
            }
        )
        if prog == "mystar":
            out[key]["het_sum"] = float(rec["het"].sum())
    for v in ps.vitality:
        fy = int(v["fy"][0])
        key = f"vitality:{fy}"
        out[key]["steps_effect_sum"] = float(v["effect"].sum())
        for g, mask in (
            ("age65", v["age65"]),
            ("age40_64", ~v["age65"]),
            ("middle", v["middle"]),
            ("low", ~v["middle"]),
        ):
            out[key][f"n_{g}"] = int(mask.sum())
            out[key][f"steps_effect_sum_{g}"] = float(v["effect"][mask].sum())
    return out


def _participant_truth(ps, h, state: cl.MonthState, claims: dict, month_days, first_fy) -> dict:
    """The effect terms each participant received (``truth_participants.parquet``).

    One row per program enrollment: the change in the participant's claim costs over the
    first 12 months from the start month and over the whole program cost window (costs
    that exist: while enrolled and alive), the change in the probability of an exercise
    habit at the next fiscal year's checkup (after the clipping to [0, 1] the generator
    applies; NaN when there is no next year in the data), the multiplier of the Mystar
    checkup effects and the Vitality step effect during the program.
    """
    cf = state.cost_factor[claims["person"], claims["month"]]
    saved = claims["cost"] - claims["cost"] / cf
    n_people, n_years = state.cost_factor.shape[0], h.exercise_p.shape[1]
    steps = np.full(n_people, np.nan)
    for v in ps.vitality:
        steps[v["person"]] = v["effect"]
    parts = []
    for rec in ps.enrollments:
        idx = rec["person"]
        start_m = np.full(n_people, -1, dtype=np.int64)
        start_m[idx] = _month_index(month_days, rec["start"])
        sel = np.isin(claims["person"], idx)
        first12 = sel & (claims["month"] < start_m[claims["person"]] + 12)
        window = np.bincount(claims["person"][sel], saved[sel], minlength=n_people)
        twelve = np.bincount(claims["person"][first12], saved[first12], minlength=n_people)
        t_next = rec["fy"] - first_fy + 1
        ok = t_next < n_years
        p = h.exercise_p[idx, np.minimum(t_next, n_years - 1)]
        bump = ps.exercise[idx, np.minimum(t_next, n_years - 1)]
        habit = np.where(ok, np.clip(p + bump, 0, 1) - np.clip(p, 0, 1), np.nan)
        mystar = rec["program"] == 1
        parts.append(
            {
                "person": idx,
                "fy": rec["fy"],
                "program": rec["program"],
                "cost_change_yen_12m": twelve[idx],
                "cost_change_yen_window": window[idx],
                "exercise_habit_effect": np.where(mystar, np.nan, habit),
                "lab_effect_multiplier": rec["het"] if "het" in rec else np.full(len(idx), np.nan),
                "steps_effect": np.where(mystar, np.nan, steps[idx]),
            }
        )
    if not parts:
        return {}
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}

"""Offers, tiers, uptake records, step data and community events of the small town."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.synthetic import programs as pg
from analysis.data.synthetic.calendar import day
from analysis.data.synthetic.programs import risk_score


def _d(s):
    return pd.to_datetime(s)


def test_risk_score_is_a_monotone_probability():
    lp = np.linspace(-10, 2, 50)
    s = risk_score(lp, np.zeros_like(lp))
    assert np.all(np.diff(s) > 0) and s.min() > 0 and s.max() <= 1


def test_tiers_are_a_sharp_cut_of_the_risk_score(small_dataset):
    o = small_dataset.program_offers
    assert ((o["risk_tier"] == "high") == (o["risk_score"] >= pg.HIGH_CUT)).all()
    assert ((o["program"] == "mystar") == (o["risk_tier"] == "high")).all()
    mid = (o["risk_score"] >= pg.MID_CUT) & (o["risk_score"] < pg.HIGH_CUT)
    assert ((o["risk_tier"] == "middle") == mid).all()
    assert set(o["letter_variant"]) == {"plain", "nudge"}
    assert abs((o["letter_variant"] == "nudge").mean() - 0.5) < 0.06


def test_offers_go_to_enrolled_40_to_74_with_a_recent_checkup(small_dataset):
    o = small_dataset.program_offers.assign(offer_date=lambda d: _d(d["offer_date"]))
    en = small_dataset.enrollment.assign(
        birth_date=lambda d: _d(d["birth_date"]),
        enroll_start=lambda d: _d(d["enroll_start"]),
        enroll_end=lambda d: _d(d["enroll_end"]).fillna(pd.Timestamp("2100-01-01")),
    )
    j = o.merge(en, on="person_id")
    covered = (j["enroll_start"] <= j["offer_date"]) & (j["offer_date"] <= j["enroll_end"])
    assert covered.groupby([j["person_id"], j["fiscal_year"]]).any().all()
    age = (j["offer_date"] - j["birth_date"]).dt.days / 365.25
    assert age.between(39.99, 75).all()
    ck = small_dataset.checkups[["person_id", "fiscal_year"]]
    k = o.merge(ck, on="person_id", suffixes=("", "_ck"))
    recent = k[
        (k["fiscal_year_ck"] < k["fiscal_year"]) & (k["fiscal_year_ck"] >= k["fiscal_year"] - 3)
    ]
    assert len(recent.drop_duplicates(["person_id", "fiscal_year"])) == len(o)
    # The pilot years reach a small share; from FY2023 all eligible people get a letter.
    per_year = o.groupby("fiscal_year").size()
    assert per_year.loc[2021] < 0.3 * per_year.loc[2023]


def test_participants_were_offered_that_program_and_take_part_once(small_dataset):
    e = small_dataset.program_enrollments
    o = small_dataset.program_offers
    j = e.merge(o, on=["person_id", "fiscal_year", "program"], how="left", indicator=True)
    assert (j["_merge"] == "both").all()
    assert e["person_id"].is_unique
    s, t = _d(e["start_date"]), _d(e["end_date"])
    vit = e["program"] == "vitality"
    assert ((t - s).dt.days[vit] == 7 * pg.VITALITY_WEEKS - 1).all()
    assert ((t - s).dt.days[~vit] == pg.MYSTAR_DAYS - 1).all()
    assert (e.loc[~vit, "completed"] == (e.loc[~vit, "sessions"] >= 5)).all()


def test_activity_only_for_vitality_participants_on_mondays(small_dataset):
    a = small_dataset.activity
    e = small_dataset.program_enrollments
    assert set(a["person_id"]) <= set(e.loc[e["program"] == "vitality", "person_id"])
    assert (_d(a["week_start"]).dt.dayofweek == 0).all()
    # Worn weeks 300-40,000 steps a day; weeks synced but not worn are 0, weeks worn on a
    # few days only lower (what a wearable records).
    worn = a["steps_per_day"] > 0
    assert a.loc[worn, "steps_per_day"].between(40, 40_000).all()
    assert 0 < (~worn).mean() < 0.05
    assert not a.duplicated(["person_id", "week_start"]).any()


def test_event_attendees_are_enrolled_on_the_day(small_dataset):
    ev = small_dataset.events.assign(date=lambda d: _d(d["date"]))
    assert (ev["date"].dt.dayofweek == 5).all()  # a small town: Saturdays
    assert ev["date"].dt.to_period("M").is_unique
    at = small_dataset.event_attendance.merge(ev, on="event_id")
    en = small_dataset.enrollment
    j = at.merge(en, on="person_id")
    inside = (_d(j["enroll_start"]) <= j["date"]) & (
        j["date"] <= _d(j["enroll_end"]).fillna(pd.Timestamp("2100-01-01"))
    )
    assert inside.groupby([j["event_id"], j["person_id"]]).any().all()
    assert not small_dataset.event_attendance.duplicated().any()


def test_pilot_letters_follow_the_november_2021_agreement(small_dataset):
    o = small_dataset.program_offers.assign(offer_date=lambda d: _d(d["offer_date"]))
    fy = o["offer_date"].dt.year - (o["offer_date"].dt.month < 4)
    assert (fy == o["fiscal_year"]).all()
    first = o[o["fiscal_year"] == 2021]
    assert len(first) > 0 and (first["offer_date"] > pd.Timestamp("2021-11-10")).all()
    e = small_dataset.program_enrollments.merge(
        o[["person_id", "fiscal_year", "offer_date"]], on=["person_id", "fiscal_year"]
    )
    assert (_d(e["start_date"]) > e["offer_date"]).all()


def test_events_scale_with_the_city_on_a_monthly_schedule(small_dataset):
    from analysis.data.synthetic.city import _events, events_per_year

    # The small town (6,000 residents) holds fewer events than a city of 70,000 ...
    ev = small_dataset.events.assign(date=lambda d: _d(d["date"]))
    program_years = 4  # FY2021-2024
    assert len(ev) == program_years * events_per_year(6_000) < program_years * 12
    # ... and a prefecture many, several a month on weekends, every month.
    big = _events(1, 2021, 2024, 3_000_000)
    dates = pd.Series(pd.to_datetime(big["day"], unit="D"))
    assert len(dates) == program_years * events_per_year(3_000_000) > 2_000
    assert dates.dt.dayofweek.isin([5, 6]).all()
    per_month = dates.dt.to_period("M").value_counts()
    assert len(per_month) == program_years * 12
    assert per_month.max() - per_month.min() <= 1
    # Attendances per adult enrollee-year do not depend on the number of events: about
    # 0.038 in a city of 70,000 with 12 events a year (and in one of 300,000 with 51);
    # unscaled, the small town's 4 events a year would give a third of that.
    en = small_dataset.enrollment.assign(
        birth_date=lambda d: _d(d["birth_date"]),
        enroll_start=lambda d: _d(d["enroll_start"]),
        enroll_end=lambda d: _d(d["enroll_end"]).fillna(pd.Timestamp("2100-01-01")),
    )
    adult_years = 0
    for fy in range(2021, 2025):
        mid = pd.Timestamp(f"{fy}-10-01")
        on = (en["enroll_start"] <= mid) & (en["enroll_end"] >= mid)
        adult_years += int((on & (fy - en["birth_date"].dt.year >= 18)).sum())
    rate = len(small_dataset.event_attendance) / adult_years
    assert 0.025 < rate < 0.055, rate


def test_uptake_multiplier_scales_participation(tmp_path):
    from analysis.data import load_dataset
    from analysis.data.synthetic import simulate

    kw = {"population": 4000, "years": (2022, 2024), "seed": 5}
    low = load_dataset(simulate(**kw, out=tmp_path / "a", uptake=0.0))
    high = load_dataset(simulate(**kw, out=tmp_path / "b", uptake=25.0))
    assert len(low.program_enrollments) == 0 and len(low.activity) == 0
    assert len(high.program_enrollments) > 40
    # The offers of the first program year do not depend on uptake.
    first = low.program_offers["fiscal_year"].min()
    pd.testing.assert_frame_equal(
        low.program_offers[low.program_offers["fiscal_year"] == first].reset_index(drop=True),
        high.program_offers[high.program_offers["fiscal_year"] == first].reset_index(drop=True),
    )


def _uptake_of(u, last, hidden):
    from analysis.data.synthetic.effects import Effects
    from analysis.seeds import rng

    n = len(u)
    ps = pg.ProgramState(n, 2)
    pg.offer_year(ps, rng(5, "uptake-test"), 2023, 0, eligible=np.ones(n, bool),
                  lp_last=np.full(n, -5.0), age=np.full(n, 60.0), male=np.zeros(n, bool),
                  u=u, last_checkup=last, uptake=40.0, effects=Effects(), years_left=1,
                  hidden_confounding=hidden)  # fmt: skip
    return ps.offers[0]["took_part"]


def test_uptake_is_ignorable_given_the_record_unless_hidden_confounding_is_set():
    """Default: who takes part depends on the recorded checkup answers, never on the
    unobserved motivation (the identifying assumption the estimators rely on holds)."""
    n = 4000
    g = np.random.default_rng(0)
    last = {k: g.random(n) < 0.3 for k in pg.SELECTION}
    low, high = np.full(n, -2.0), np.full(n, 2.0)
    assert np.array_equal(_uptake_of(low, last, 0.0), _uptake_of(high, last, 0.0))
    assert _uptake_of(high, last, 1.0).sum() > 2 * _uptake_of(low, last, 1.0).sum()
    # The recorded exercise habit itself drives uptake (so naive comparisons are biased).
    ex = {**last, "exercise_habit": np.ones(n, bool)}
    no = {**last, "exercise_habit": np.zeros(n, bool)}
    assert _uptake_of(low, ex, 0.0).mean() > 1.8 * _uptake_of(low, no, 0.0).mean()


def _fy2023_offer_rate(ds):
    """FY2023 letters per enrollee aged 40-74 on the offer date, and the Mystar share."""
    o = ds.program_offers
    o = o[o["fiscal_year"] == 2023]
    en = ds.enrollment
    d = pd.Timestamp(pg.offer_day(2023), unit="D")
    age = (d - _d(en["birth_date"])).dt.days / 365.25
    end = _d(en["enroll_end"])
    on = (_d(en["enroll_start"]) <= d) & (end.isna() | (end >= d)) & age.between(40, 75)
    return len(o) / en.loc[on, "person_id"].nunique(), (o["program"] == "mystar").mean()


def test_a_window_starting_in_a_program_year_has_its_letters(small_dataset, tmp_path):
    """FY2023 letters read the checkups of FY2020-22: in a 2023-2024 window those are
    burn-in checkups. The rate matches the full window's FY2023 (same town and seed):
    measured ratios 0.94-1.00 on five town/seed pairs; the bounds allow for sampling
    (about 0.04 either way at this size)."""
    from analysis.data import load_dataset
    from analysis.data.synthetic import simulate

    p = small_dataset.meta["parameters"]
    short = load_dataset(
        simulate(
            population=p["population"],
            years=(2023, 2024),
            seed=small_dataset.meta["seed"],
            out=tmp_path / "short",
        )
    )
    rate, mystar = _fy2023_offer_rate(short)
    full_rate, full_mystar = _fy2023_offer_rate(small_dataset)
    assert 0.85 * full_rate <= rate <= 1.15 * full_rate, (rate, full_rate)
    assert 0.6 * full_mystar <= mystar <= 1.6 * full_mystar, (mystar, full_mystar)
    assert set(short.program_offers["fiscal_year"]) == {2023, 2024}


def test_steps_vary_between_people_weeks_and_seasons():
    """The wearable records of many participants starting all through the year, with no
    program effect: fewer steps in winter (January-February) than in spring and autumn,
    and a varying number of weeks before the start (0-4, not always 4)."""
    from analysis.seeds import rng

    n = 3000
    g = rng(4, "test", "steps")
    ps = pg.ProgramState(n, 2)
    start = day(2022, 1, 3) + 7 * g.integers(0, 52, n)
    ps.vitality.append(
        {
            "person": np.arange(n),
            "start": start,
            "effect": np.zeros(n),
            "completed": np.ones(n, bool),
            "baseline": np.full(n, np.log(pg.STEPS_MEDIAN)),
            "half_life": np.full(n, 6.0),
        }
    )
    a = pg.activity(rng(4, "test", "activity"), ps, np.full(n, 10**9))
    steps = pd.DataFrame({"person": a["person"], "day": a["week"], "steps": a["steps"]})
    steps = steps[steps["steps"] > 0]
    month = pd.to_datetime(steps["day"], unit="D").dt.month
    winter = steps.loc[month.isin([1, 2]), "steps"].mean()
    mild = steps.loc[month.isin([4, 5, 10, 11]), "steps"].mean()
    assert winter / mild < 0.92
    pre = pd.Series(a["week"] < start[a["person"]]).groupby(a["person"]).sum()
    pre = pre.reindex(range(n), fill_value=0)
    assert 0.1 < (pre == 0).mean() < 0.35
    assert (pre == pg.BASELINE_WEEKS).mean() < 0.5

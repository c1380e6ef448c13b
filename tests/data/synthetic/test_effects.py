"""Planted effects: switching one to zero moves its outcome by the stated amount, same people.

Three runs of one well-powered small town (uptake x30): the default effects, the outcome
effects switched off, and the letter effect switched off. Every stage draws from its own
stream, so the runs differ only through the switched effects.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_dataset
from analysis.data.synthetic import Effects, simulate

TOWN = {"population": 8_000, "years": (2021, 2024), "seed": 11, "uptake": 30.0}
ROUNDING_HBA1C = 0.05 + 1e-9
"""HbA1c is recorded to 0.1 %: a difference of rounded values is off by at most 0.1."""

OFF = dict(
    vitality_steps=0.0,
    vitality_exercise_habit=0.0,
    vitality_cost=0.0,
    mystar_hba1c=0.0,
    mystar_sbp=0.0,
    mystar_weight_kg=0.0,
    mystar_cost=0.0,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("effects")
    eff = Effects()
    on = load_dataset(simulate(**TOWN, out=base / "on", effects=eff))
    off = load_dataset(simulate(**TOWN, out=base / "off", effects=dataclasses.replace(eff, **OFF)))
    no_letter = load_dataset(
        simulate(
            **TOWN,
            out=base / "letter",
            effects=dataclasses.replace(eff, letter_nudge_uptake_or=1.0),
        )
    )
    return eff, on, off, no_letter


def _participants(ds, program):
    e = ds.program_enrollments
    return e[e["program"] == program][["person_id", "fiscal_year"]]


def test_same_people_take_part_when_outcome_effects_are_off(runs):
    _, on, off, _ = runs
    pd.testing.assert_frame_equal(on.program_enrollments, off.program_enrollments)
    pd.testing.assert_frame_equal(on.program_offers, off.program_offers)
    assert len(_participants(on, "vitality")) >= 30
    assert len(_participants(on, "mystar")) >= 15


def _next_year_checkups(on, off, program):
    p = _participants(on, program).assign(fiscal_year=lambda d: d["fiscal_year"] + 1)
    a = on.checkups.merge(p, on=["person_id", "fiscal_year"])
    b = off.checkups.merge(p, on=["person_id", "fiscal_year"])
    return a.merge(b, on=["person_id", "fiscal_year"], suffixes=("_on", "_off"))


def test_mystar_checkup_effects_are_the_stated_amounts(runs):
    eff, on, off, _ = runs
    j = _next_year_checkups(on, off, "mystar")
    assert len(j) >= 10
    offers = on.program_offers
    j = j.merge(
        offers[["person_id", "fiscal_year", "risk_score"]].assign(
            fiscal_year=lambda d: d["fiscal_year"] + 1
        ),
        on=["person_id", "fiscal_year"],
    )
    het = np.where(j["risk_score"] >= eff.mystar_high_risk_score, eff.mystar_high_risk_ratio, 1.0)

    def off_by(col, planted):  # items missing from a checkup (both runs alike) are left out
        d = (j[f"{col}_on"] - j[f"{col}_off"]).to_numpy(dtype=float) - planted * het
        assert np.isnan(d).mean() < 0.2
        return np.abs(d[~np.isnan(d)])

    assert np.all(off_by("hba1c", eff.mystar_hba1c) <= ROUNDING_HBA1C + 0.05)
    assert np.all(off_by("sbp", eff.mystar_sbp) <= 1.0)  # SBP recorded as integer
    assert np.all(off_by("weight_kg", eff.mystar_weight_kg) <= 0.1 + 1e-9)
    truth = json.loads((on.path / "truth.json").read_text())
    att = [v["hba1c_next_year_att"] for v in truth["realised"]["mystar"].values()]
    assert all(a <= eff.mystar_hba1c * 1.0 + 1e-9 for a in att)


def test_non_participants_checkups_are_untouched(runs):
    _, on, off, _ = runs
    parts = on.program_enrollments["person_id"].unique()
    a = on.checkups[~on.checkups["person_id"].isin(parts)].reset_index(drop=True)
    b = off.checkups[~off.checkups["person_id"].isin(parts)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_vitality_steps_effect_during_and_decaying_after(runs):
    eff, on, off, _ = runs
    j = on.activity.merge(off.activity, on=["person_id", "week_start"], suffixes=("_on", "_off"))
    assert len(j) == len(on.activity) == len(off.activity)
    e = on.program_enrollments
    v = e[e["program"] == "vitality"][["person_id", "start_date", "end_date"]]
    j = j.merge(v, on="person_id")
    wk = (pd.to_datetime(j["week_start"]) - pd.to_datetime(j["start_date"])).dt.days // 7
    diff = j["steps_per_day_on"] - j["steps_per_day_off"]
    assert (diff[wk < 0] == 0).all()
    during = diff[(wk >= 0) & (wk < 12)]
    lo = eff.vitality_steps * eff.vitality_steps_age65_ratio
    hi = eff.vitality_steps * eff.vitality_steps_middle_ratio
    # Weeks worn on a few days only record part of the steps (and of the effect), weeks
    # synced but not worn record 0 (about 6% together: programs.PARTIAL_WEEK + ZERO_WEEK).
    assert during.between(-1, hi + 1).all()
    assert during.between(lo - 1, hi + 1).mean() > 0.88
    after = diff[wk >= 12]
    assert len(after) > 0
    assert (after < during.max()).all()
    # Eight weeks after the end: below 2^(-8/half-life) of the largest effect (plus rounding).
    late = diff[wk >= 12 + 8]
    assert (late <= hi * 0.5 ** (8 / eff.vitality_steps_half_life_weeks) + 1).all()


def test_cost_effects_multiply_costs_in_their_window_only(runs):
    eff, on, off, _ = runs
    c = on.claims.merge(
        off.claims, on=["person_id", "service_month", "setting"], suffixes=("_on", "_off")
    )
    assert len(c) == len(on.claims) == len(off.claims)
    ratio = c["cost_yen_on"] / c["cost_yen_off"]
    e = on.program_enrollments
    c = c.merge(e[["person_id", "program", "start_date"]], on="person_id", how="left")
    months = (
        pd.to_datetime(c["service_month"]).dt.to_period("M")
        - pd.to_datetime(c["start_date"]).dt.to_period("M")
    ).apply(lambda x: x.n if pd.notna(x) else np.nan)
    vit = (c["program"] == "vitality") & months.between(0, 11)
    mys = (c["program"] == "mystar") & months.between(0, 23)
    big = c["cost_yen_off"] >= 10_000  # rounding to 10 yen matters less than 0.1%
    assert np.allclose(ratio[vit & big], 1 + eff.vitality_cost, atol=1e-3)
    assert np.allclose(ratio[mys & big], 1 + eff.mystar_cost, atol=1e-3)
    assert (ratio[~(vit | mys)] == 1).all()
    truth = json.loads((on.path / "truth.json").read_text())
    total = sum(v["cost_change_yen_total"] for p in truth["realised"].values() for v in p.values())
    observed = (c["cost_yen_on"] - c["cost_yen_off"]).sum()
    assert observed == pytest.approx(total, rel=0.01)


def test_participant_truth_is_each_participants_own_change(runs):
    """``truth_participants.parquet`` holds each participant's cost change (the difference
    of the runs with and without the effects) and adds up to ``truth.json``."""
    eff, on, off, _ = runs
    tp = pd.read_parquet(on.path / "truth_participants.parquet")
    e = on.program_enrollments
    assert len(tp) == len(e)
    assert set(zip(tp.person_id, tp.program, strict=True)) == set(
        zip(e.person_id, e.program, strict=True)
    )
    c = on.claims.merge(
        off.claims, on=["person_id", "service_month", "setting"], suffixes=("_on", "_off")
    )
    c = c.merge(e[["person_id", "start_date"]], on="person_id")
    month = (
        pd.to_datetime(c["service_month"]).dt.year * 12 + pd.to_datetime(c["service_month"]).dt.month
    ) - (pd.to_datetime(c["start_date"]).dt.year * 12 + pd.to_datetime(c["start_date"]).dt.month)
    diff = (c["cost_yen_on"] - c["cost_yen_off"]).where(month.between(0, 11), 0.0)
    per_person = diff.groupby(c["person_id"]).sum()
    got = tp.set_index("person_id")["cost_change_yen_12m"].reindex(per_person.index)
    # Claims are recorded to 10 yen: a person's difference may be off by 10 yen a claim.
    n_claims = c.groupby("person_id").size().reindex(per_person.index)
    assert (np.abs(per_person - got) <= 10 * n_claims + 1e-6).all()
    truth = json.loads((on.path / "truth.json").read_text())
    for (prog, fy), g in tp.groupby(["program", "fiscal_year"]):
        r = truth["realised"][prog][str(fy)]
        assert r["participants"] == len(g)
        assert g["cost_change_yen_12m"].mean() == pytest.approx(
            r["cost_change_yen_per_participant_12m"], abs=0.1
        )
    v = tp[tp.program == "vitality"]
    habit = v["exercise_habit_effect"].dropna()
    assert len(habit) > 0 and habit.between(0, eff.vitality_exercise_habit + 1e-12).all()
    m = tp[tp.program == "mystar"]["lab_effect_multiplier"]
    assert set(m.unique()) <= {1.0, eff.mystar_high_risk_ratio}


def test_vitality_raises_next_year_exercise_habit_by_about_the_stated_amount(runs):
    eff, on, off, _ = runs
    j = _next_year_checkups(on, off, "vitality")
    j = j.dropna(subset=["exercise_habit_on", "exercise_habit_off"])  # answered
    gain = j["exercise_habit_on"].astype(int) - j["exercise_habit_off"].astype(int)
    assert (gain >= 0).all()  # the same draws: nobody loses the habit
    se = np.sqrt(eff.vitality_exercise_habit * (1 - eff.vitality_exercise_habit) / len(j))
    assert abs(gain.mean() - eff.vitality_exercise_habit) <= 3.5 * se + 0.02


def test_nudge_letter_only_adds_participants_among_nudged(runs):
    """Letters offered in both runs (a later year's eligibility depends on who took part
    before) get the same letter and the same draws: the nudge adds participants among
    the nudged only."""
    _, on, _, no_letter = runs
    key = ["person_id", "fiscal_year"]
    o = on.program_offers.merge(no_letter.program_offers, on=[*key, "letter_variant"])
    p_on = set(map(tuple, on.program_enrollments[key].to_numpy()))
    p_off = set(map(tuple, no_letter.program_enrollments[key].to_numpy()))
    plain = set(map(tuple, o.loc[o["letter_variant"] == "plain", key].to_numpy()))
    nudge = set(map(tuple, o.loc[o["letter_variant"] == "nudge", key].to_numpy()))
    assert p_on & plain == p_off & plain
    assert p_off & nudge <= p_on & nudge
    assert len(p_on & nudge) > len(p_off & nudge)


def test_mystar_hazard_ratio_in_truth_risk(runs):
    eff, on, _, _ = runs
    risk = pd.read_parquet(on.path / "truth_risk.parquet")
    m = _participants(on, "mystar")
    for k in (1, 2, 3):
        j = risk.merge(m.assign(fiscal_year=m["fiscal_year"] + k), on=["person_id", "fiscal_year"])
        assert np.allclose(j["program_log_hr"], np.log(eff.mystar_event_hr))
    others = risk[~risk["person_id"].isin(m["person_id"])]
    assert (others["program_log_hr"] == 0).all()


def test_naive_comparison_is_biased_even_without_effects(runs):
    """The recorded exercise habit drives uptake and persists: with every effect off,
    participants still look better than non-participants (the bias adjusted estimators
    must remove)."""
    _, _, off, _ = runs
    o = off.program_offers
    o = o[o["program"] == "vitality"][["person_id", "fiscal_year"]]
    o = o.merge(off.program_enrollments[["person_id", "fiscal_year"]], how="left", indicator=True)
    o["took"] = o["_merge"] == "both"
    nxt = off.checkups[["person_id", "fiscal_year", "exercise_habit"]].assign(
        fiscal_year=lambda d: d["fiscal_year"] - 1
    )
    j = o.merge(nxt, on=["person_id", "fiscal_year"])
    share = j.groupby("took")["exercise_habit"].mean()
    assert share.loc[True] > share.loc[False] + 0.05


def test_truth_counts_offers_and_uptake_by_letter(runs):
    _, on, _, _ = runs
    truth = json.loads((on.path / "truth.json").read_text())
    o = on.program_offers.merge(
        on.program_enrollments[["person_id", "fiscal_year"]], how="left", indicator=True
    )
    o["took"] = o["_merge"] == "both"
    for (prog, fy, letter), g in o.groupby(["program", "fiscal_year", "letter_variant"]):
        rec = truth["realised"][prog][str(fy)]["offers_by_letter"][letter]
        assert rec["offered"] == len(g)
        assert rec["took_part"] == int(g["took"].sum())
    assert truth["planted"]["letter_nudge_uptake_or"]["unit"] == "odds ratio"


def test_every_effect_has_a_unit_and_definition():
    from analysis.data.synthetic.effects import DEFINITIONS

    assert set(DEFINITIONS) == set(Effects().to_dict())
    assert all(d["unit"] and len(d["definition"]) > 20 for d in DEFINITIONS.values())


@pytest.mark.parametrize(
    "bad",
    [
        {"mystar_event_hr": 0.0},
        {"letter_nudge_uptake_or": -1.0},
        {"mystar_persistence": 1.5},
        {"vitality_cost": -1.0},
        {"vitality_steps": float("nan")},
    ],
)
def test_invalid_effects_are_rejected_by_name(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        Effects(**bad)


def _chunk(hr: float):
    from analysis.data.synthetic.chunk import simulate_chunk

    eff = dataclasses.replace(Effects(), mystar_event_hr=hr)
    return simulate_chunk(*HR_CHUNK, eff, np.zeros(0, dtype=np.int64))


HR_CHUNK = (5, 0, 20_000, 2021, 2024, 200.0)
"""seed, chunk, residents, first and last fiscal year, uptake: a chunk where most of the
high tier take part (about 200 participant-years of follow-up)."""


def test_severe_events_use_the_planted_mystar_hazard_ratio():
    """A severe event happens exactly when the chunk's event uniform falls below
    1 - exp(-exp(lp + log_hr)), the natural hazard times the program hazard ratio, and
    log_hr is log(HR) in the three years after Mystar. Switching the HR to 1 removes the
    term, removes participants' events only, and the expected events of the participants
    fall by the HR."""
    from analysis.data.synthetic.calendar import fy_start
    from analysis.seeds import rng

    planted = Effects().mystar_event_hr
    on, off = _chunk(planted), _chunk(1.0)
    seed, chunk, _, first, last, _ = HR_CHUNK
    shape = on.lp.shape
    r_event = rng(seed, "simulate", "chunk", chunk, "events").random(shape)
    for r in (on, off):
        alive = np.stack([r.death_day > fy_start(fy) for fy in range(first, last + 1)], axis=1)
        p = 1.0 - np.exp(-np.exp(r.lp + r.log_hr))
        assert np.array_equal((r_event < p)[alive], (r.event_type > 0)[alive])
        assert not (r.event_type > 0)[~alive].any()
    follow = on.log_hr != 0
    assert follow.sum() >= 150
    assert np.allclose(on.log_hr[follow], np.log(planted)) and (off.log_hr == 0).all()
    # The same people, and outside the participants' follow-up the same events.
    assert np.array_equal(on.lp, off.lp)
    assert np.array_equal(on.event_type[~follow], off.event_type[~follow])
    ev_on, ev_off = (on.event_type > 0)[follow].sum(), (off.event_type > 0)[follow].sum()
    assert ev_on <= ev_off
    # Equal uniforms: an event under the HR is an event without it (never the reverse).
    assert not ((on.event_type > 0) & (off.event_type == 0)).any()
    # Where events are rare the expected events fall by the HR (where the hazard is high,
    # e.g. just before dialysis, the probability of an event saturates).
    hz = np.exp(on.lp[follow])
    hz = hz[hz < 0.1]
    expected_on = (1 - np.exp(-hz * planted)).sum()
    expected_off = (1 - np.exp(-hz)).sum()
    assert expected_on / expected_off == pytest.approx(planted, abs=0.01)


def test_letter_odds_ratio_is_recovered_by_the_uptake_model(runs):
    """Letters are randomised; uptake is logistic in the letter, program, year, age, sex
    and the latest checkup's answers. Fitting that model to the offers whose latest
    checkup (the year before) is in the data recovers the planted odds ratio within
    3 SE (a marginal odds ratio would be attenuated: uptake is common at uptake x30)."""
    import statsmodels.api as sm

    from analysis.data.synthetic.programs import SELECTION

    eff, on, _, _ = runs
    truth = json.loads((on.path / "truth.json").read_text())
    planted = truth["planted"]["letter_nudge_uptake_or"]["value"]
    assert planted == eff.letter_nudge_uptake_or
    o = on.program_offers.merge(
        on.program_enrollments[["person_id", "fiscal_year"]], how="left", indicator=True
    )
    ck = on.checkups[["person_id", "fiscal_year", *SELECTION]].assign(
        fiscal_year=lambda d: d["fiscal_year"] + 1
    )
    o = o.merge(ck, on=["person_id", "fiscal_year"])  # a checkup the year before: the latest
    o = o.dropna(subset=list(SELECTION))  # answers recorded (what uptake depends on)
    o = o.merge(on.enrollment[["person_id", "sex", "birth_date"]].drop_duplicates("person_id"))
    age = (pd.to_datetime(o["offer_date"]) - pd.to_datetime(o["birth_date"])).dt.days / 365.25
    x = pd.DataFrame(
        {
            "nudge": (o["letter_variant"] == "nudge").astype(float),
            "mystar": (o["program"] == "mystar").astype(float),
            "age": age,
            "female": (o["sex"] == "F").astype(float),
            **{k: o[k].astype(float) for k in SELECTION},
        }
    )
    x = pd.concat(
        [x, pd.get_dummies(o["fiscal_year"], prefix="fy", drop_first=True, dtype=float)], axis=1
    )
    took = (o["_merge"] == "both").astype(float)
    assert took.sum() >= 100
    fit = sm.Logit(took, sm.add_constant(x)).fit(disp=0)
    b, se = fit.params["nudge"], fit.bse["nudge"]
    assert abs(b - np.log(planted)) <= 3 * se, (np.exp(b), se)
    # Measured: OR 1.60, SE 0.165 (853 offers, 271 took part); the town is too small to
    # tell OR 1.6 from OR 1 at 3 SE, which the next test does on many more letters.
    assert se < 0.2


def test_letter_odds_ratio_of_many_letters_is_the_planted_one():
    """The uptake stage on 200,000 letters with varied records: the fitted letter odds
    ratio is the planted one within 3 SE (about 0.02 on the log scale), far from 1."""
    import statsmodels.api as sm

    from analysis.data.synthetic import programs as pg
    from analysis.seeds import rng

    n = 200_000
    g = rng(3, "test", "letters")
    last = {k: g.random(n) < 0.35 for k in pg.SELECTION}
    age = g.uniform(40, 75, n)
    male = g.random(n) < 0.5
    ps = pg.ProgramState(n, 2)
    planted = Effects().letter_nudge_uptake_or
    pg.offer_year(ps, rng(3, "test", "offers"), 2023, 0, eligible=np.ones(n, bool),
                  lp_last=g.normal(-4.5, 1.0, n), age=age, male=male, u=g.normal(0, 1, n),
                  last_checkup=last, uptake=5.0, effects=Effects(), years_left=1)  # fmt: skip
    rec = ps.offers[0]
    x = pd.DataFrame(
        {
            "nudge": rec["nudge"].astype(float),
            "mystar": rec["mystar"].astype(float),
            "age": age[rec["person"]],
            "female": (~male[rec["person"]]).astype(float),
            **{k: v[rec["person"]].astype(float) for k, v in last.items()},
        }
    )
    fit = sm.Logit(rec["took_part"].astype(float), sm.add_constant(x)).fit(disp=0)
    b, se = fit.params["nudge"], fit.bse["nudge"]
    assert abs(b - np.log(planted)) <= 3 * se, (np.exp(b), se)
    assert abs(b) > 10 * se

"""Known answers of the step glue: checkup population, Table 1, letter test, offers."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.errors import UserError
from analysis.study import cohort_step, exercise, targeting


def _enrollment():
    ts = pd.to_datetime
    return pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d", "e"],
            "sex": ["F", "M", "F", "M", "F"],
            # ages on 2024-03-31: 60, 39, 74, 70, 50
            "birth_date": ts(["1963-06-01", "1984-06-01", "1949-04-01", "1953-06-01",
                              "1973-06-01"]),
            "enroll_start": ts(["2010-01-01"] * 4 + ["2023-06-01"]),
            "enroll_end": ts([None, None, None, "2023-12-31", None]),
            "death_date": ts([None] * 5),
        }
    )  # fmt: skip


def test_checkup_population_known_answer():
    checkups = pd.DataFrame({"person_id": ["a", "b", "c", "d", "e"],
                             "fiscal_year": [2023, 2023, 2022, 2023, 2023]})  # fmt: skip
    pop = cohort_step.checkup_population(_enrollment(), checkups, 2023).set_index("person_id")
    # b is 39, d leaves during the year, e joins during the year
    assert pop["eligible"].to_dict() == {"a": True, "b": False, "c": True, "d": False,
                                         "e": False}  # fmt: skip
    assert pop["examined"].sum() == 1  # only a: c's checkup was in FY2022
    kn = cohort_step.key_numbers(pop.reset_index(), 2023)
    assert (kn["n_enrolled"], kn["n_eligible"], kn["n_examined"]) == (5, 2, 1)
    assert (kn["period_start"], kn["period_end"]) == ("2023-04-01", "2024-03-31")


def test_checkup_population_names_missing_column():
    with pytest.raises(ValueError, match="death_date"):
        cohort_step.checkup_population(_enrollment().drop(columns="death_date"),
                                       pd.DataFrame(columns=["person_id", "fiscal_year"]), 2023)  # fmt: skip


def _cohort(n1, n0, seed=0):
    g = np.random.default_rng(seed)
    n = n1 + n0
    b = pd.DataFrame({c: g.normal(size=n) for c in ("age_years", "bmi", "sbp", "hba1c", "ldl")})
    for c in ("smoker", "exercise_habit", "walking_habit", "bp_med", "glucose_med", "cm_diabetes"):
        b[c] = g.random(n) < 0.3
    b["sex"] = ["F"] * n1 + ["M"] * n0
    b["cost_total_prior"] = 1000
    b["treated"] = [True] * n1 + [False] * n0
    return SimpleNamespace(baseline=b)


def test_table1_counts_and_smd():
    t1 = cohort_step.table1({"vitality": _cohort(30, 70)})
    first = t1.iloc[0]
    assert (first["participants"], first["comparison"]) == ("30", "70")
    women = t1[t1["variable_en"].str.endswith("Women")].iloc[0]
    assert women["participants"] == "30 (100.0%)" and women["comparison"] == "0 (0.0%)"
    assert np.isnan(women["smd"])  # both groups constant and different: undefined
    cost = t1[t1["variable_en"].str.contains("cost")].iloc[0]
    assert cost["smd"] == 0.0 and cost["participants"] == "1.0 (0.0)"
    assert np.isnan(first["smd"])
    with pytest.raises(ValueError, match="vitality"):
        cohort_step.table1({})


def test_table1_hides_a_cost_that_one_person_dominates():
    cohort = _cohort(30, 70)
    cohort.baseline.loc[0, "cost_total_prior"] = 6_000_000  # among 29 participants at 1,000 yen
    t1 = cohort_step.table1({"vitality": cohort})
    cost = t1[t1["variable_en"].str.contains("cost")].iloc[0]
    assert cost["participants"] == "x" and cost["comparison"] == "1.0 (0.0)"
    assert np.isnan(cost["smd"])


def _offers():
    n = 400
    pid = [f"p{i}" for i in range(n)]
    offers = pd.DataFrame({"person_id": pid, "fiscal_year": 2023, "program": "vitality",
                           "letter_variant": ["plain"] * 200 + ["nudge"] * 200})  # fmt: skip
    joined = pid[:20] + pid[200:260]  # plain 10%, nudge 30%
    enr = pd.DataFrame({"person_id": joined, "fiscal_year": 2023, "program": "vitality",
                        "completed": [True] * len(joined), "start_date": pd.Timestamp("2023-06-01")})  # fmt: skip
    return offers, enr


def test_letter_experiment_known_difference():
    offers, enr = _offers()
    t = exercise.letter_experiment(offers, enr, 2023).set_index("variant")
    assert t.loc["nudge", "uptake_pct"] == pytest.approx(30.0)
    assert t.loc["nudge", "diff_pct"] == pytest.approx(20.0)
    se = 100 * np.sqrt(0.1 * 0.9 / 200 + 0.3 * 0.7 / 200)
    assert t.loc["nudge", "ci_low"] == pytest.approx(20.0 - 1.959964 * se, abs=1e-4)
    assert np.isnan(t.loc["plain", "diff_pct"])


def test_participation_and_participant_counts():
    offers, enr = _offers()
    p = exercise.participation(offers, enr, 2023).set_index("program")
    assert p.loc["vitality", "n_enrolled"] == "80"
    assert p.loc["vitality", "uptake_pct"] == pytest.approx(20.0)
    assert exercise.participant_counts(offers, enr, 2023) == {"vitality": 80, "mystar": 0}


def test_recommendation_follows_the_targeting_comparison():
    sub = pd.DataFrame({"subgroup_ja": ["a", "b"], "subgroup_en": ["A", "B"],
                        "estimate": [0.1, 0.3], "passed": [True, True]})  # fmt: skip
    better = pd.DataFrame({"rule": ["cate_minus_risk"], "ci_low": [1.0]})
    unclear = pd.DataFrame({"rule": ["cate_minus_risk"], "ci_low": [-1.0]})
    rule = targeting.OfferRule
    assert "recommend it" in targeting.recommendation(rule(better, None, 10), sub)["text_en"]
    text = targeting.recommendation(rule(unclear, None, 10), sub)
    assert "keeping the risk-tier" in text["text_en"] and "B" in text["text_en"]
    assert "リスク区分" in text["text_ja"]
    failed = targeting.recommendation(rule(None, None, 10, "too few treated"), sub)
    assert "too few treated" in failed["text_en"]


def test_risk_model_years_need_earlier_data():
    from analysis.study.risk_step import model_years

    class Con:  # claims from April 2022 only
        pass

    import analysis.cohort.engine as engine

    real = engine.claim_month_range
    engine.claim_month_range = lambda con: (pd.Timestamp("2022-04-01").date(),
                                            pd.Timestamp("2025-03-01").date())  # fmt: skip
    try:
        with pytest.raises(UserError, match="too few earlier years"):
            model_years(2023, Con())
    finally:
        engine.claim_month_range = real


def test_targeting_artifacts_include_the_uplift_curve_when_computed(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = pd.DataFrame({"subgroup_ja": ["a"], "subgroup_en": ["A"], "estimate": [0.1],
                        "ci_low": [0.0], "ci_high": [0.2], "passed": [True]})  # fmt: skip
    gain = pd.DataFrame({"rule": ["cate", "risk", "cate_minus_risk"],
                         "expected_gain": [5.0, 3.0, 2.0], "ci_low": [1.0, 0.5, -1.0],
                         "ci_high": [9.0, 5.5, 5.0]})  # fmt: skip
    curve = pd.DataFrame({"share": [0.0, 0.5, 1.0], "gain": [0.0, 4.0, 5.0],
                          "random": [0.0, 2.5, 5.0]})  # fmt: skip
    curve.attrs["qini"] = 0.5
    fig = plt.figure()
    advice = {"text_ja": "x", "text_en": "x"}
    kw = dict(subgroup_table=sub, forest_figure=fig, advice=advice)
    plain = {p.name for p in targeting.save_results(tmp_path / "a", 2023, **kw)}
    full = {p.name for p in targeting.save_results(
        tmp_path / "b", 2023, **kw, rule=targeting.OfferRule(gain, curve, 10), uplift_figure=fig
    )}  # fmt: skip
    assert full - plain == {"offer_rule_gain.parquet", "uplift_curve.parquet", "qini.png"}
    saved = pd.read_parquet(tmp_path / "b" / "artifacts" / "05_targeting" / "uplift_curve.parquet")
    assert (saved["qini"] == 0.5).all() and len(saved) == 3
    failed = targeting.OfferRule(None, None, 10, "too few treated")
    assert {
        p.name for p in targeting.save_results(tmp_path / "c", 2023, **kw, rule=failed)
    } == plain
    plt.close(fig)


def test_cost_window_past_the_data_end_is_not_estimable():
    from analysis.study.costs import COST_OUTCOMES, window_beyond_data

    twelve, twentyfour, per_month = COST_OUTCOMES
    df = pd.DataFrame({"index_date": pd.to_datetime(["2023-05-16", "2023-07-17"]),
                       "followup_end": pd.to_datetime(["2024-01-31", "2025-03-31"])})  # fmt: skip
    assert window_beyond_data(df, twelve) == ""  # 2023-07 + 11 months = 2024-06
    assert window_beyond_data(df, per_month) == ""  # the same 12-month window
    reason = window_beyond_data(df, twentyfour)  # 2023-07 + 23 months = 2025-06
    assert "24-month" in reason and "2025-06" in reason and "2025-03" in reason
    last_possible = df.assign(index_date=pd.to_datetime(["2023-04-01", "2023-04-30"]))
    assert window_beyond_data(last_possible, twentyfour) == ""  # ends exactly 2025-03


def test_not_estimable_windows_are_recorded_not_dropped():
    from analysis.study.costs import COST_METHODS, COST_OUTCOMES, not_estimable

    df = pd.DataFrame({"treat": [1] * 12 + [0] * 30})
    rows = not_estimable(df, program="vitality", outcome=COST_OUTCOMES[1], methods=COST_METHODS,
                         reason="window past the data", headline=True)  # fmt: skip
    assert [a.method for a in rows] == list(COST_METHODS)
    assert [a.role for a in rows] == ["primary"] + ["sensitivity"] * (len(COST_METHODS) - 1)
    assert all(not a.passed and a.result is None for a in rows)
    assert rows[0].headline and not any(a.headline for a in rows[1:])
    assert all(a.reason == "window past the data" for a in rows)
    assert (rows[0].n_treated, rows[0].n_control) == (12, 30)


def _risk_people(n: int, seed: int) -> pd.DataFrame:
    """People with a planted Cox truth, few aged 65+, and a coarse rule-based level."""
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, 2))
    sex = g.choice(["F", "M"], n)
    age = np.where(g.random(n) < 0.03, g.integers(65, 75, n), g.integers(40, 65, n))
    lp = 0.9 * x[:, 0] + 0.5 * x[:, 1] + 0.3 * (sex == "M")
    t_event = g.exponential(1 / (0.05 * np.exp(lp)))
    admin = g.uniform(2.5, 3.5, n)
    level = np.select([lp > 1.0, lp > 0.0], ["active", "motivational"], "information")
    return pd.DataFrame(
        {
            "x1": x[:, 0], "x2": x[:, 1], "sex": sex, "age_years": age,
            "fiscal_year": g.choice([2020, 2021, 2022], n),
            "time_years": np.minimum(t_event, admin), "event": t_event <= admin,
            "mhlw_level": pd.array(level, dtype="string"),
        }
    )  # fmt: skip


def test_risk_step_validation_artifacts(tmp_path):
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.risk import assign_tiers, temporal_validation
    from analysis.study import risk_step as rs

    data = _risk_people(3000, 5)
    features = ["x1", "x2", "sex"]
    tv = temporal_validation(
        data, split_year=2022, duration="time_years", event="event", features=features,
        horizons=(rs.HORIZON_YEARS,), seed=1,
    )  # fmt: skip
    train, test = data[data.fiscal_year < 2022], data[data.fiscal_year >= 2022]
    extras = rs.validation_extras(tv.model, train, test, seed=1, features=features)
    risk = tv.model.predict_risk(test, rs.HORIZON_YEARS)
    step = rs.RiskStep(tv, (0.7, 0.8), test.reset_index(drop=True), risk.reset_index(drop=True),
                       assign_tiers(risk, thresholds=rs.TIER_THRESHOLDS).reset_index(drop=True),
                       rs.HORIZON_YEARS, *extras)  # fmt: skip

    comp = rs.model_comparison(step).set_index("model")
    assert list(comp.index) == ["cox", "gbm", "mhlw_level"]
    # the planted truth is linear: Cox ranks best, the coarse three-level rule worst
    assert comp.loc["cox", "harrell_c"] > comp.loc["mhlw_level", "harrell_c"] > 0.55
    assert comp.loc["gbm", "harrell_c"] > comp.loc["mhlw_level", "harrell_c"]
    assert 0.7 < comp.loc["cox", "calibration_slope"] < 1.3
    assert np.isnan(comp.loc["mhlw_level", "calibration_slope"])
    assert comp.loc["cox", "harrell_c"] == pytest.approx(tv.evaluation.metrics.harrell_c.iloc[0])

    sub = rs.subgroup_table(step).set_index(["subgroup", "level"])
    old = sub.loc[("age_group", "65-74")]
    assert old.events == "<10" and np.isnan(old.harrell_c) and np.isnan(old.calibration_slope)
    young = sub.loc[("age_group", "40-64")]
    assert young.events == "x" and young.harrell_c > 0.6  # complement hidden, measures kept
    men = sub.loc[("sex", "M")]
    assert int(men.events) >= 10 and men.level_ja == "男性" and men.level_en == "Men"

    ph = rs.ph_table(step)
    assert "term" in ph.columns and len(ph) >= 2

    numbers = step.numbers()
    assert numbers["gbm_c_index"] == pytest.approx(comp.loc["gbm", "harrell_c"], abs=0.02)
    assert numbers["rule_c_index"] == pytest.approx(comp.loc["mhlw_level", "harrell_c"])

    ja = rs.calibration_plot(step, "ja")
    en = ja.figure.redraw_in("en")
    assert "予測" in ja.get_xlabel() and en.get_xlabel().startswith("Predicted")
    dc = rs.decision_curve_plot(step, "ja")
    assert "正味の便益" in dc.get_ylabel()
    plt.close("all")

    offer_list = pd.DataFrame({"person_id": ["p1"], "program": ["mystar"]})
    legacy = tv.model.plot_calibration(horizon=rs.HORIZON_YEARS).figure  # English only
    paths = rs.save_results(tmp_path, 2023, step, offer_list=offer_list,
                            calibration_figure=legacy)  # fmt: skip
    names = {p.name for p in paths}
    for name in ["calibration", "decision_curve"]:
        assert {f"{name}.png", f"{name}_en.png"} <= names
    assert {"model_comparison.parquet", "subgroups.parquet", "ph_test.parquet"} <= names
    saved = json.loads(next(p for p in paths if p.name == "validation.json").read_text())
    assert {"gbm_c_index", "rule_c_index", "ph_violations"} <= set(saved)
    published = pd.read_parquet(next(p for p in paths if p.name == "subgroups.parquet"))
    assert "<10" in published.events.tolist()
    plt.close("all")


def test_method_check_that_cannot_run_keeps_the_saved_columns():
    # A design too small for the plasmode check gives a row per method with its note,
    # and the columns the notebook and the saved table use (``seconds`` among them).
    from analysis.study import exercise

    df = pd.DataFrame({"treat": [1] * 3 + [0] * 20, "next_exercise_habit": [1.0] * 23})
    for c in exercise.COVARIATES:
        df[c] = 0.0
    table = exercise.method_check(df, exercise.EXERCISE_OUTCOMES[0], seed=1, n_rep=2)
    assert list(table["method"]) == list(exercise.PLASMODE_METHODS)
    assert {"seconds", "note", "bias", "coverage"} <= set(table.columns)
    assert table["note"].str.len().gt(0).all()
    table.drop(columns="seconds")  # what notebook 03 does


def test_restricted_cubic_spline_is_natural():
    # Zero below the first knot, linear beyond the last, twice differentiable at the
    # knots, and (with x) able to reproduce any cubic between them that is linear
    # outside: a natural cubic spline (Harrell's parameterisation, checked by its values
    # at a point worked out by hand).
    from analysis.study.costs import restricted_cubic_spline

    t = np.array([1.0, 2.0, 4.0, 7.0])
    x = np.linspace(-2, 12, 2801)
    s = restricted_cubic_spline(x, t)
    assert s.shape == (len(x), 2)
    assert np.allclose(s[x <= 1], 0)
    beyond = s[x >= 7.5]
    assert np.allclose(np.diff(beyond, 2, axis=0), 0, atol=1e-9)  # linear beyond t_k
    h = x[1] - x[0]
    d2 = np.diff(s, 2, axis=0) / h**2
    assert np.abs(np.diff(d2, axis=0)).max() < 0.05  # second derivative continuous
    # x = 5: term 1 = ((5-1)^3 - (5-4)^3 (7-1)/(7-4)) / 36 = (64 - 2) / 36
    assert restricted_cubic_spline([5.0], t)[0, 0] == pytest.approx(62 / 36)
    with pytest.raises(ValueError, match="knots"):
        restricted_cubic_spline(x, [1.0, 1.0, 2.0])


def test_cost_covariates_enter_prior_cost_flexibly():
    from analysis.study.costs import COST_COVARIATES, prior_cost_terms
    from analysis.study.effects import COVARIATES

    g = np.random.default_rng(3)
    cost = np.where(g.random(500) < 0.15, 0.0, g.lognormal(12, 1.2, 500))
    df = pd.DataFrame({"cost_total_prior": cost, "log_cost_total_prior": np.log1p(cost)})
    out = prior_cost_terms(df)
    assert set(COST_COVARIATES) - set(COVARIATES) <= set(out.columns)
    assert out["any_cost_prior"].tolist() == (cost > 0).astype(float).tolist()
    assert out["log_cost_prior_rcs1"].std() > 0 and out["log_cost_prior_rcs2"].std() > 0
    assert list(df.columns) == ["cost_total_prior", "log_cost_total_prior"]  # input kept


def test_event_study_measures_costs_from_the_pre_start_mean():
    # The event study of monthly costs is by quarter (each person's mean monthly cost over
    # 3 months) and uses the mean of the 12 months before the start as its base
    # (costs.DID_BASE): every pre-start quarter has a placebo, none is a fixed 0, and
    # people not observed in every month of the window are left out.
    from analysis.study.costs import DID_BASE, EVENT_PERIOD_MONTHS, EVENT_WINDOW, event_study

    g = np.random.default_rng(5)
    n, months = 400, np.arange(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    panel = pd.DataFrame({
        "person_id": np.repeat(np.arange(n), len(months)),
        "rel_month": np.tile(months, n),
        "observed": True,
        "cost_total": g.gamma(2.0, 15_000.0, n * len(months)),
    })  # fmt: skip
    panel.loc[(panel.person_id == 0) & (panel.rel_month == 3), "observed"] = False
    baseline = pd.DataFrame({"person_id": np.arange(n), "treated": np.arange(n) < 150})
    a = event_study(SimpleNamespace(panel_monthly=panel, baseline=baseline), seed=1,
                    program="vitality")  # fmt: skip
    assert DID_BASE == "pre_mean" and a.result.base == DID_BASE
    es = a.result.event_study.set_index("event_time")
    quarters = sorted({m // EVENT_PERIOD_MONTHS for m in months})
    assert EVENT_PERIOD_MONTHS == 3 and quarters == list(range(-4, 4))
    assert list(es.index) == quarters and (es.loc[-4:-1, "se"] > 0).all()
    assert a.result.n_units == n - 1
    wide = panel[panel.person_id > 0].pivot(index="person_id", columns="rel_month",
                                            values="cost_total")  # fmt: skip
    change = wide.loc[:, 0:].mean(axis=1) - wide.loc[:, :-1].mean(axis=1)
    treated = wide.index < 150
    assert a.result.estimate == pytest.approx(change[treated].mean() - change[~treated].mean())
    # the quarter from month 3 to 5 against the pre-start mean, by hand
    change = wide.loc[:, 3:5].mean(axis=1) - wide.loc[:, :-1].mean(axis=1)
    assert es.loc[1, "estimate"] == pytest.approx(change[treated].mean() - change[~treated].mean())


@pytest.mark.parametrize("n_treated", [150, 40])
def test_event_study_figure_shows_estimates_only_when_they_are_shown(n_treated):
    # Under 100 participants the event study is withheld (as its row in the effects
    # table): the figure then states the reason instead of plotting monthly estimates.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.study.costs import EVENT_WINDOW, event_study, plot_event_study

    g = np.random.default_rng(6)
    n, months = 400, np.arange(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    panel = pd.DataFrame({
        "person_id": np.repeat(np.arange(n), len(months)), "rel_month": np.tile(months, n),
        "observed": True, "cost_total": g.gamma(2.0, 15_000.0, n * len(months)),
    })  # fmt: skip
    baseline = pd.DataFrame({"person_id": np.arange(n), "treated": np.arange(n) < n_treated})
    a = event_study(SimpleNamespace(panel_monthly=panel, baseline=baseline), seed=1,
                    program="vitality")  # fmt: skip
    assert a.passed == (n_treated >= 100)
    for lang, word in (("ja", "判定保留"), ("en", "Withheld")):
        ax = plot_event_study(a, lang=lang)
        texts = " ".join(t.get_text() for t in ax.texts)
        if a.passed:
            assert ax.lines and word not in texts
        else:
            assert not ax.lines and not ax.collections and texts.startswith(word)
            assert "100" in texts  # the minimum it did not reach
    plt.close("all")


@pytest.mark.parametrize("n_treated", [150, 40])
def test_severe_event_curves_are_withheld_with_their_rmst(n_treated):
    # The weighted Kaplan-Meier figure uses the RMST's weights and gates: when the RMST
    # is withheld (here: under 100 participants), the figure states its reason instead.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.causal.survival import rmst_difference, weighted_km
    from analysis.study.costs import SEVERE, plot_severe_events
    from analysis.study.effects import MIN_PARTICIPANTS_COSTS, attempt, size_gate

    g = np.random.default_rng(7)
    n = 400
    df = pd.DataFrame({"time_years": g.uniform(0.1, 2.0, n), "event": g.integers(0, 2, n),
                       "treat": (np.arange(n) < n_treated).astype(int)})  # fmt: skip
    kw = dict(duration="time_years", event="event", treatment="treat")
    curves = weighted_km(df, **kw)
    rmst = size_gate(
        attempt("mystar", SEVERE, "rmst_ipw",
                lambda d, **k: rmst_difference(d, **k).as_effect_result(), df, tau=1.5,
                seed=1, n_bootstrap=50, **kw),
        MIN_PARTICIPANTS_COSTS,
    )  # fmt: skip
    assert rmst.result is not None and rmst.passed == (n_treated >= MIN_PARTICIPANTS_COSTS)
    for lang, word in (("ja", "判定保留"), ("en", "Withheld")):
        ax = plot_severe_events(curves, lang=lang, rmst=rmst)
        texts = " ".join(t.get_text() for t in ax.texts)
        if rmst.passed:
            assert ax.lines and word not in texts
        else:
            assert not ax.lines and texts.startswith(word) and "100" in texts
    plt.close("all")


def test_withheld_figure_note_never_quotes_a_group_under_ten():
    # A figure's withheld note gives the reason, as the effects table does, except when
    # a group has 1-9 people: the reason may quote that count, so only the group size
    # rule is said.
    from dataclasses import dataclass

    from analysis.causal.diagnostics import Diagnostics
    from analysis.study.costs import SEVERE, withheld_note
    from analysis.study.effects import attempt, size_gate

    @dataclass(frozen=True)
    class Fit:
        n_treated: int
        n_control: int
        diagnostics: Diagnostics

    def fit(d):
        return Fit(int(d.treat.sum()), int((d.treat == 0).sum()), Diagnostics())

    for n1, small in ((7, True), (40, False)):
        df = pd.DataFrame({"treat": (np.arange(200) < n1).astype(int)})
        a = size_gate(attempt("mystar", SEVERE, "rmst_ipw", fit, df), 100)
        assert not a.passed
        for lang, hidden, shown in (("ja", "非表示", "判定保留"), ("en", "Not shown", "Withheld")):
            note = withheld_note(a, lang)
            assert note.startswith(hidden if small else shown), note
            assert (f"{n1}" in note) is (not small)
    failed = attempt("mystar", SEVERE, "rmst_ipw", lambda d: 1 / 0,
                     pd.DataFrame({"treat": [1] * 5 + [0] * 50}))  # fmt: skip
    assert failed.result is None and withheld_note(failed, "en").startswith("Not shown")
    failed = attempt("mystar", SEVERE, "rmst_ipw", lambda d: 1 / 0,
                     pd.DataFrame({"treat": [1] * 50 + [0] * 50}))  # fmt: skip
    assert withheld_note(failed, "en") == "Withheld (division by zero)"  # as the table says

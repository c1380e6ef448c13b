"""Step 04: effects on health markers, medical costs and severe events; economics.

Mystar (coaching, high risk) and Vitality (exercise, low-middle risk) are each compared
with their offered non-participants. The primary estimate is AIPW (ATT): a linear outcome
model for health markers (Lin's regression and IPW beside it), a two-part model for costs
(IPW and DML beside it). Sensitivity analyses are withheld whenever the primary estimate
is. Costs are the NHI's expenditure over the window as it occurred
(:data:`COST_ESTIMAND`). The event study of monthly costs uses Callaway & Sant'Anna DiD
with the mean of the 12 months before the start as the base (:data:`DID_BASE`), severe
events weighted Kaplan-Meier and the RMST difference. The economics turn the 12-month
cost effect into ROI and break-even.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.economics import allocate_budget, break_even_years, budget_impact, evaluate_roi
from analysis.report.i18n import check_lang, with_editions
from analysis.risk.table import risk_table
from analysis.runs.artifacts import save_figure_editions
from analysis.seeds import int_seed
from analysis.study.effects import (
    COVARIATES,
    MIN_PARTICIPANTS_COSTS,
    PROGRAM_EN,
    PROGRAM_JA,
    Outcome,
    attempt,
    run_methods,
    size_gate,
)

BUDGET_YEN = 4_730_000
"""FY2023 program budget of the city (both programs)."""
HEALTH_OUTCOMES = (
    Outcome("next_hba1c", "翌年度のHbA1c", "HbA1c next year", "%", "%"),
    Outcome("next_sbp", "翌年度の収縮期血圧", "Systolic BP next year", "mmHg", "mmHg"),
    Outcome("next_weight_kg", "翌年度の体重", "Weight next year", "kg", "kg"),
)  # fmt: skip
COST_OUTCOMES = (
    Outcome("cost_total_12m", "12か月の医療費", "Medical cost, 12 months", "円", "yen",
            "two_part", MIN_PARTICIPANTS_COSTS),
    Outcome("cost_total_24m", "24か月の医療費", "Medical cost, 24 months", "円", "yen",
            "two_part", MIN_PARTICIPANTS_COSTS),
    Outcome("cost_pmpm_12m", "12か月の医療費（国保加入1か月あたり）",
            "Medical cost per enrolled month, 12 months", "円/月", "yen/month", "two_part",
            MIN_PARTICIPANTS_COSTS, column="cost_total_12m", per="observed_months_12m"),
)  # fmt: skip
"""Cost outcomes: the NHI's medical expenditure in the first 12 (24) months from the index
month, summed as it occurred (:data:`COST_ESTIMAND`), and the 12-month cost per month of
NHI enrollment (:data:`PMPM_ESTIMAND`), which does not depend on how long people stay in
NHI (see :func:`cost_frame`)."""
COST_ESTIMAND = {
    "en": "NHI medical expenditure in the window from the index month, as incurred: a "
    "person who dies counts the costs they had until death, a person who leaves NHI "
    "(75th birthday, moving, employee insurance) the costs the NHI paid until leaving; "
    "no partial window is annualised",
    "ja": "基準月からの期間内に国保が負担した医療費（発生額の合計）。死亡した人は死亡までの医療費、"
    "国保を脱退した人（75歳到達、転出、被用者保険への加入）は脱退までの医療費を数え、"
    "途中までの期間を年換算しない",
}
"""The estimand of the cost rows in yen, as the report states it."""
PMPM_ESTIMAND = {
    "en": "the cost per month of NHI enrollment (per member per month) compares the "
    "participants' 12-month costs divided by their months enrolled and alive in the window "
    "with the same ratio had they not taken part (a ratio of means: total cost over total "
    "months); leaving NHI does not shorten it, since costs and months end together",
    "ja": "国保加入1か月あたりの医療費は、参加者の12か月の医療費の合計を期間内の国保加入月数"
    "（生存中）の合計で割った値を、参加しなかった場合の同じ比と比べたものです（医療費の合計÷"
    "加入月数の合計）。国保の脱退で医療費と月数が同時に終わるため、脱退による期間の違いに左右されません",
}
"""The estimand of the per-enrolled-month cost row (:data:`COST_OUTCOMES`)."""
HEALTH_METHODS = ("aipw", "regression", "ipw")
"""Health markers: primary AIPW (linear outcome model); Lin's regression and IPW beside it."""
COST_METHODS = ("aipw", "ipw")
"""Costs: primary AIPW with a two-part model (logistic for any cost, gamma GLM with a log
link for its size); IPW beside it. Linear regression on yen is not used: with
heavy-tailed costs its extrapolation is biased by a quarter of the mean cost
(``mvm-eval bench causal --designs skewed_costs --methods none``, ``regression``); DML
(econml ``LinearDML``) covered the truth 61-79% of the time for Mystar's costs in the
recovery benchmark."""
EVENT_WINDOW = (-12, 11)
"""Months relative to the index month in the event study."""
EVENT_PERIOD_MONTHS = 3
"""The event study's periods are quarters: each person's mean monthly cost over 3 months.
A single month's cost is too skewed for an honest interval of its own: at uptake 10 (the
160 cities of ``mvm-eval bench recovery``) the monthly placebos before the start covered
0 in 90% of their 95% intervals, the quarterly ones in 95% (uniform band 92% and 96%). The
overall effect (the mean over the months after the start) is the same either way."""
DID_BOOTSTRAP = 199
DID_BASE = "pre_mean"
"""The event study measures each month's cost from the mean of the 12 months before the
start, not from the single month before it: one hospital stay in that month would move
every post-start month at once. In ``mvm-eval bench recovery`` at uptake 10 (160 cities)
the single base month gave an RMSE of 8,003 yen and 89% coverage (the errors skewed: the
interval missed the truth on one side only); the pre-start mean gives 4,094 yen and 95%
(by month; by quarter, :data:`EVENT_PERIOD_MONTHS`, 4,178 yen and 95%; ``analysis.causal.did``,
``base``)."""
RMST_TAU_YEARS = 1.5
RMST_BOOTSTRAP = 100
SEVERE = Outcome("severe_event_free_years", "重症化イベントのない期間（RMST）",
                 "Severe-event-free time (RMST)", "年", "years")  # fmt: skip
OTHER_CITY_POPULATION = 150_000
"""Population of the city used for the budget-impact illustration."""


def window_months(outcome: Outcome) -> int:
    """The window of a cost outcome in months (``cost_total_12m`` -> 12)."""
    return int(outcome.name.rsplit("_", 1)[1].removesuffix("m"))


def window_beyond_data(df: pd.DataFrame, outcome: Outcome) -> str:
    """Why a cost window cannot be estimated on this cohort, or ``""`` when it can.

    The window of a person indexed in month ``m`` ends in month ``m + w - 1``; when that
    month lies after the data's last month (``followup_end`` of people followed to the
    end of the data) for anyone, the window is cut by the data end for some people and
    not others (participants start later than the offer date of non-participants), and
    the cost sums would not be comparable.
    """
    index = pd.to_datetime(df["index_date"]).dt.to_period("M")
    data_end = pd.to_datetime(df["followup_end"]).max().to_period("M")
    last = index.max() + (window_months(outcome) - 1)
    if last <= data_end:
        return ""
    return (f"the {window_months(outcome)}-month window of people indexed in {index.max()} "
            f"ends in {last}, after the end of the data ({data_end})")  # fmt: skip


PRIOR_COST_KNOTS = (0.05, 0.35, 0.65, 0.95)
"""Quantiles of log(1 + prior-year cost) at which the spline of prior cost has its knots
(Harrell's default for four knots)."""
COST_COVARIATES = [*COVARIATES, "any_cost_prior", "log_cost_prior_rcs1", "log_cost_prior_rcs2"]
"""Confounders of the cost effects: the pre-declared :data:`COVARIATES` with prior cost
entering flexibly (any prior cost; a restricted cubic spline of its logarithm), since
prior cost is the strongest predictor of cost and its relation is not log-linear."""


def restricted_cubic_spline(x, knots) -> np.ndarray:
    """The non-linear terms of a restricted (natural) cubic spline, ``(n, k - 2)``.

    Harrell's parameterisation: with knots ``t_1 < ... < t_k``, term ``j`` is
    ``(x - t_j)+^3 - (x - t_{k-1})+^3 (t_k - t_j) / (t_k - t_{k-1})
    + (x - t_k)+^3 (t_{k-1} - t_j) / (t_k - t_{k-1})``, divided by ``(t_k - t_1)^2``;
    with ``x`` itself the spline is cubic between the knots and linear beyond the outer
    ones (Harrell, Regression Modeling Strategies, 2nd ed., sec. 2.4.5).
    """
    x = np.asarray(x, float)
    t = np.asarray(knots, float)
    if len(t) < 3 or np.any(np.diff(t) <= 0):
        raise ValueError(
            f"restricted_cubic_spline: knots must be at least 3 and increasing, got {knots}"
        )
    k = len(t)

    def cube(v):
        return np.clip(v, 0, None) ** 3

    terms = [
        (cube(x - t[j]) - cube(x - t[k - 2]) * (t[k - 1] - t[j]) / (t[k - 1] - t[k - 2])
         + cube(x - t[k - 1]) * (t[k - 2] - t[j]) / (t[k - 1] - t[k - 2])) / (t[k - 1] - t[0]) ** 2
        for j in range(k - 2)
    ]  # fmt: skip
    return np.column_stack(terms)


def prior_cost_terms(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``any_cost_prior`` and the spline terms of ``log_cost_total_prior``
    (knots at :data:`PRIOR_COST_KNOTS` quantiles of this frame; a copy)."""
    x = df["log_cost_total_prior"].to_numpy(float)
    knots = np.unique(np.quantile(x, PRIOR_COST_KNOTS))
    out = df.assign(any_cost_prior=(df["cost_total_prior"] > 0).astype(float))
    if len(knots) < 4:  # too few distinct prior costs for the spline: linear terms only
        return out.assign(log_cost_prior_rcs1=0.0, log_cost_prior_rcs2=0.0)
    s = restricted_cubic_spline(x, knots)
    return out.assign(log_cost_prior_rcs1=s[:, 0], log_cost_prior_rcs2=s[:, 1])


def outcome_columns(outcomes) -> list[str]:
    """The analysis-frame columns the ``outcomes`` need (their columns and exposures)."""
    return list(dict.fromkeys(c for o in outcomes for c in (o.data_column, o.per) if c))


def cost_frame(cohort, outcomes=None) -> pd.DataFrame:
    """The analysis frame of the health-marker and cost outcomes of one program.

    Costs are the sums over the window as they occurred (:data:`COST_ESTIMAND`): death
    and leaving NHI end the costs; nothing is annualised or imputed. The end of follow-up
    (``followup_end``) comes along for :func:`window_beyond_data`. ``outcomes`` are
    column names (default: those of :data:`COST_OUTCOMES`).
    """
    from analysis.study.effects import analysis_frame

    outcomes = outcome_columns(COST_OUTCOMES) if outcomes is None else list(outcomes)
    return prior_cost_terms(analysis_frame(cohort, [*outcomes, "followup_end"]))


def program_effects(cohorts: dict, *, seed: int) -> list:
    """Effects on health markers and medical costs, per program (primary AIPW first).

    A cost window that runs past the end of the data is recorded as not estimable, with
    the reason (:func:`window_beyond_data`), never dropped silently.
    """
    out = []
    outcomes = (*HEALTH_OUTCOMES, *COST_OUTCOMES)
    columns = outcome_columns(outcomes)
    for program in ("mystar", "vitality"):
        df = cost_frame(cohorts[program], columns)
        for o in outcomes:
            headline = o.name == "cost_total_12m" or (
                program == "mystar" and o.name == "next_hba1c"
            )
            methods = COST_METHODS if o in COST_OUTCOMES else HEALTH_METHODS
            beyond = window_beyond_data(df, o) if o in COST_OUTCOMES else ""
            if beyond:
                out += not_estimable(df, program=program, outcome=o, methods=methods,
                                     reason=beyond, headline=headline)  # fmt: skip
                continue
            covariates = COST_COVARIATES if o in COST_OUTCOMES else COVARIATES
            out += run_methods(df, program=program, outcome=o, methods=methods, seed=seed,
                               covariates=covariates,
                               headline_method="aipw" if headline else None)  # fmt: skip
    return out


def not_estimable(df, *, program, outcome, methods, reason, headline) -> list:
    """Attempts recorded as not estimable, with ``reason`` (shown as withheld)."""
    from analysis.study.effects import Attempt, with_primary

    n1 = int(df["treat"].sum())
    n0 = int(len(df) - n1)
    return with_primary([Attempt(program, outcome, m, None, reason, n1, n0,
                                 headline=headline and m == methods[0]) for m in methods])  # fmt: skip


def event_panel(cohort, window=EVENT_WINDOW) -> pd.DataFrame:
    """Person-month costs around the index month; participants start at month 0."""
    p = cohort.panel_monthly
    p = p[p["rel_month"].between(*window)]
    treated = cohort.baseline.set_index("person_id")["treated"]
    first = np.where(p["person_id"].map(treated).to_numpy(bool), 0.0, np.nan)
    return p.assign(first_treated=first, cost_total=p["cost_total"].astype(float))[
        ["person_id", "rel_month", "observed", "cost_total", "first_treated"]
    ].reset_index(drop=True)


def event_study(cohort, *, seed: int, program: str):
    """Event study of monthly total cost (DiD); an ``Attempt`` holding a ``DidResult``.

    People not observed in every month of the window are left out here, before the
    estimator sees the panel, so that the attempt records who was analysed. The periods
    are quarters since the start (:data:`EVENT_PERIOD_MONTHS`); the outcome stays the mean
    monthly cost, measured from the mean of the 4 quarters before the start
    (:data:`DID_BASE`).
    """
    from analysis.causal.did import did_effect

    panel = event_panel(cohort)
    months = EVENT_WINDOW[1] - EVENT_WINDOW[0] + 1
    complete = panel.groupby("person_id")["observed"].transform(
        lambda o: bool(o.astype(bool).all()) and len(o) == months
    )
    panel = (
        panel[complete.astype(bool)]
        .assign(quarter=lambda d: np.floor_divide(d["rel_month"], EVENT_PERIOD_MONTHS))
        .groupby(["person_id", "quarter"], as_index=False, sort=True)
        .agg(cost_total=("cost_total", "mean"), first_treated=("first_treated", "first"))
        .assign(treat=lambda d: d["first_treated"].notna())
    )
    outcome = Outcome("cost_total_monthly", "月間医療費（イベントスタディ）",
                      "Monthly medical cost (event study)", "円/月", "yen/month",
                      min_participants=MIN_PARTICIPANTS_COSTS)  # fmt: skip
    a = attempt(program, outcome, "did", did_effect, panel, unit="person_id",
                time="quarter", outcome="cost_total", first_treated="first_treated",
                seed=int_seed(seed, "did", program), n_bootstrap=DID_BOOTSTRAP,
                base=DID_BASE)  # fmt: skip
    return size_gate(a, outcome.min_participants)


def severe_event_frame(cohort) -> pd.DataFrame:
    """Baseline, ``treat`` and time to the first severe event (years) of a cohort."""
    from analysis.study.effects import analysis_frame

    t = risk_table(cohort.baseline, cohort.outcomes)[["person_id", "time_years", "event"]]
    return analysis_frame(cohort).merge(t, on="person_id", validate="one_to_one")


def severe_events(cohort, *, seed: int, program: str):
    """Weighted KM curves (IPW; unweighted if the weights cannot be fitted) and RMST.

    Returns
    -------
    (SurvivalCurves or None, Attempt)
    """
    from analysis.causal.survival import rmst_difference, weighted_km

    df = severe_event_frame(cohort)
    kw = dict(duration="time_years", event="event", treatment="treat")
    curves = None
    for weights in ("ipw", None):
        try:
            curves = weighted_km(df, weights=weights, covariates=list(COVARIATES),
                                 seed=int_seed(seed, "km", program), **kw)  # fmt: skip
            break
        except ValueError:
            continue

    def rmst(d, **k):
        return rmst_difference(d, **k).as_effect_result()

    a = attempt(program, SEVERE, "rmst_ipw", rmst, df, tau=RMST_TAU_YEARS, weights="ipw",
                covariates=list(COVARIATES), seed=int_seed(seed, "rmst", program),
                n_bootstrap=RMST_BOOTSTRAP, **kw)  # fmt: skip
    return curves, size_gate(a, MIN_PARTICIPANTS_COSTS)


def roi_numbers(attempts, participants: dict, *, budget_yen: float = BUDGET_YEN, seed=None):
    """ROI of the year's programs from the primary 12-month cost effects.

    The budget is shared between programs (``allocate_budget``); each program's annual
    saving per participant is minus its AIPW effect on 12-month cost
    (``evaluate_roi``). Savings and their interval bounds add up over programs.
    ``passed`` is false (with the reason, naming each program by its label) when a cost
    effect is missing or failed its diagnostics: the report then withholds the ROI and
    the break-even derived from the same savings. ``break_even_years`` is recorded either
    way for auditors (``None`` when the savings never repay the cost).
    """
    parts = {p: int(n) for p, n in participants.items() if n > 0}
    alloc = allocate_budget(budget_yen, parts).set_index("program")
    savings, lows, highs, annual, reasons, reasons_ja = 0.0, 0.0, 0.0, 0.0, [], []
    for program, n in parts.items():
        a = next((x for x in attempts if x.program == program and x.method == "aipw"
                  and x.outcome.name == "cost_total_12m"), None)  # fmt: skip
        en, ja = PROGRAM_EN.get(program, program), PROGRAM_JA.get(program, program)
        if a is None or a.result is None:
            reasons.append(f"{en}: {a.error if a else 'no cost estimate'}")
            reasons_ja.append(f"{ja}: {a.reason_ja if a else '医療費の推定値なし'}")
            continue
        if not a.passed:
            reasons.append(f"{en}: {a.reason}")
            reasons_ja.append(f"{ja}: {a.reason_ja}")
        r = a.result
        ev = evaluate_roi(r.estimate, r.ci_low, r.ci_high, program=program, participants=n,
                          cost_per_participant=float(alloc.loc[program, "cost_per_participant"]),
                          horizon_years=1)  # fmt: skip
        savings += n * ev.pv_saving[0]
        lows += n * ev.pv_saving[1]
        highs += n * ev.pv_saving[2]
        annual += n * ev.saving[0]
    cost = float(budget_yen)
    return {
        "budget_yen": cost,
        "cost_yen": cost,
        "participants": parts,
        "savings_yen": savings,
        "savings_ci_low": lows,
        "savings_ci_high": highs,
        "roi": (savings - cost) / cost,
        "roi_ci_low": (lows - cost) / cost,
        "roi_ci_high": (highs - cost) / cost,
        "break_even_years": _finite(break_even_years(annual, cost)),
        "horizon_years": 1,
        "passed": not reasons,
        "reason": "; ".join(reasons),
        "reason_ja": "、".join(reasons_ja),
    }


def _finite(x: float):
    return None if not np.isfinite(x) else float(x)


def other_city(
    roi: dict,
    *,
    population: int = OTHER_CITY_POPULATION,
    nhi_share=0.22,
    eligible_share=0.10,
    uptake=0.05,
    years: int = 5,
) -> pd.DataFrame:
    """Budget impact of the same programs in a city of ``population`` residents."""
    n = sum(roi["participants"].values())
    per_person_cost = roi["cost_yen"] / n
    per_person_saving = roi["savings_yen"] / n
    return budget_impact(population=population, nhi_share=nhi_share,
                         eligible_share=eligible_share, uptake=uptake,
                         cost_per_participant=per_person_cost,
                         saving_per_participant_year=per_person_saving, years=years)  # fmt: skip


def save_results(run_dir, fiscal_year: int, *, effects, roi, figures, impact=None) -> list:
    """Write the step-04 artifacts the report reads (``REPORT_ARTIFACTS``).

    ``figures`` maps ``event_study`` and ``severe_events_km`` to matplotlib figures.
    """
    from analysis.runs import artifacts as art
    from analysis.study.cohort_step import period_text

    step, period = "04_effect_costs", period_text(fiscal_year)
    text = {
        "event_study": ({"ja": "参加前後の月間医療費の差（イベントスタディ、Vitality）",
                         "en": "Monthly medical cost around the start (event study, Vitality)"},
                        {"ja": "開始からの四半期ごとの月間医療費の差（開始前12か月の平均との"
                               "比較）と95%信頼区間",
                         "en": "Difference in monthly cost by quarter since start, against "
                               "the mean of the 12 months before the start, with 95% CIs"}),
        "severe_events_km": ({"ja": "重症化イベントのない割合（Mystar、逆確率重み付け）",
                              "en": "Free of severe events (Mystar, inverse-probability "
                                    "weighted)"},
                             {"ja": "参加者と非参加者の重症化イベント無発生率の推移",
                              "en": "Kaplan-Meier curves of participants and non-participants"}),
    }  # fmt: skip
    paths = [
        art.save_table(effects, run_dir, step, "effects",
                       caption={"ja": "健診値・医療費・重症化への効果",
                                "en": "Effects on health markers, medical costs and severe "
                                      "events"},
                       population={"ja": "各事業の案内送付者", "en": "People offered each program"},
                       period=period, published=True),
        art.save_numbers(roi, run_dir, step, "roi"),
    ]  # fmt: skip
    if impact is not None:
        paths.append(art.save_table(impact, run_dir, step, "budget_impact",
                                    caption={"ja": "他の規模の市での予算影響",
                                             "en": "Budget impact in a city of another size"},
                                    period=period))  # fmt: skip
    for name, fig in figures.items():
        cap, alt = text[name]
        paths += save_figure_editions(fig, run_dir, step, name, caption=cap, alt=alt)
    return paths


def withheld_note(a, lang: str) -> str:
    """What a figure of the withheld (or failed) attempt ``a`` says instead of estimates.

    The effects table's verdict in the report's words (``verdict.withheld`` with the
    reason worded by :func:`analysis.report.sections.plain_reason`); but when either
    group has 1 to 9 people only that is said (``verdict.small_group``), since a reason
    may quote the count (``participants in the analysis >= 100 (observed 7)``, an
    estimator's error).
    """
    from analysis.report.i18n import Strings
    from analysis.report.sections import plain_reason

    s = Strings(lang)
    r = a.result
    counts = (a.n_treated, a.n_control) if r is None else (int(r.n_treated), int(r.n_control))
    if any(0 < n < MIN_CELL_COUNT for n in counts):
        return s("verdict.small_group", min=MIN_CELL_COUNT)
    reason = a.reason_ja if s.lang == "ja" else a.reason
    return s("verdict.withheld", reason=plain_reason(reason, s))


def _empty(text: str):
    import matplotlib.pyplot as plt

    ax = plt.subplots(figsize=(6, 2))[1]
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()
    return ax


EVENT_STUDY_LABELS = {
    "ja": ("開始からの四半期（3か月）", "月間医療費の差（円）"),
    "en": ("Quarters (3 months) since program start", "Difference in monthly medical cost (yen)"),
}
"""(x, y) axis labels of the event-study figure."""
SEVERE_EVENTS_LABELS = {
    "ja": {"xlabel": "基準日からの年数", "ylabel": "重症化イベントのない人の割合",
           "weighted": "（逆確率重み付け）", "arms": ("参加者", "非参加者")},
    "en": {"xlabel": "Years since index date", "ylabel": "Proportion free of severe events",
           "weighted": " (weighted)", "arms": ("Participants", "Non-participants")},
}  # fmt: skip
"""Axis and legend labels of the severe-event Kaplan-Meier figure."""


def plot_event_study(did, *, lang: str = "ja"):
    """The event-study plot of an ``event_study`` attempt (a note if it failed or is
    withheld).

    A withheld attempt (too few participants, or a failed pre-trend test) shows its
    reason instead of the monthly estimates: they are numbers the report does not stand
    behind, as in the effects table. Axis labels in ``lang`` (:data:`EVENT_STUDY_LABELS`),
    costs with thousands separators, and no title: the report's caption says what the
    figure shows.
    """
    lang = check_lang(lang)
    if not did.passed:
        ax = _empty(withheld_note(did, lang))
    else:
        xlabel, ylabel = EVENT_STUDY_LABELS[lang]
        ax = did.result.plot(lang=lang, xlabel=xlabel, ylabel=ylabel)
    return with_editions(ax, lang, lambda other: plot_event_study(did, lang=other))


def plot_severe_events(curves, *, lang: str = "ja", rmst=None):
    """Kaplan-Meier curves of ``severe_events`` (a note if they could not be drawn).

    ``rmst`` is the RMST attempt of :func:`severe_events`, which uses the same weights and
    gates: when it is withheld (e.g. covariates still unbalanced after weighting), so are
    the weighted curves, and the figure states its reason.
    """
    lang = check_lang(lang)
    if curves is None:
        ax = _empty("推定できませんでした" if lang == "ja" else "Not estimable")
    elif rmst is not None and not rmst.passed:
        ax = _empty(withheld_note(rmst, lang))
    else:
        lab = SEVERE_EVENTS_LABELS[lang]
        weighted = lab["weighted"] if curves.weighting == "ipw" else ""
        ax = curves.plot(lang=lang, xlabel=lab["xlabel"], ylabel=lab["ylabel"] + weighted,
                         arms=lab["arms"])  # fmt: skip
    return with_editions(ax, lang, lambda other: plot_severe_events(curves, lang=other, rmst=rmst))

"""Step 03: Vitality uptake, the letter experiment, steps and effects on exercise habits.

Outcomes, covariates and the estimator set are declared here; the numbers come from
``analysis.causal``. The primary estimate is cross-fitted AIPW (ATT); outcome
regression, IPW, matching and DML are sensitivity analyses.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from analysis.config import MIN_CELL_COUNT
from analysis.data.contract import PROGRAM_LABELS
from analysis.report.i18n import check_lang, with_editions
from analysis.seeds import int_seed
from analysis.study.disclosure import suppress
from analysis.study.effects import (
    COVARIATES,
    MIN_PARTICIPANTS_COSTS,
    Attempt,
    Outcome,
    attempt,
    complete_cases,
)

EXERCISE_OUTCOMES = (
    Outcome("next_exercise_habit", "翌年度の運動習慣あり", "Exercise habit next year",
            "（割合の差）", "(risk difference)", "logistic"),
    Outcome("next_walking_habit", "翌年度の歩行習慣あり", "Walking habit next year",
            "（割合の差）", "(risk difference)", "logistic"),
)  # fmt: skip
"""Outcomes of the exercise program, from the next year's checkup questionnaire."""
OUTCOME_COLUMNS = [o.name for o in EXERCISE_OUTCOMES]
"""Their columns in the cohort's ``outcomes`` table."""
NEGATIVE_CONTROLS = (
    Outcome("cost_dental_prior", "前年の歯科医療費", "Dental cost, prior year", "円", "yen",
            "two_part", MIN_PARTICIPANTS_COSTS),
    Outcome("cost_total_prior", "前年の医療費", "Medical cost, prior year", "円", "yen",
            "two_part", MIN_PARTICIPANTS_COSTS),
)  # fmt: skip
"""Outcomes the program cannot have changed (measured before the index date): costs,
estimated as the cost effects are (two-part AIPW, the same minimum participants)."""
PLASMODE_METHODS = ("regression", "ipw", "aipw", "matching")
PLASMODE_REPS = 20
PLASMODE_EFFECT = 0.10
"""Planted effect of the method check (risk difference of the habit outcome)."""
PROGRAMS = {k: (v["ja"], v["en"]) for k, v in PROGRAM_LABELS.items()}
VARIANTS = {"plain": ("通常の案内状", "Plain letter"),
            "nudge": ("ナッジ付き案内状", "Nudge letter")}  # fmt: skip


def uptake_frame(offers: pd.DataFrame, enrollments: pd.DataFrame, fiscal_year: int) -> pd.DataFrame:
    o = offers[offers["fiscal_year"] == fiscal_year]
    e = enrollments[enrollments["fiscal_year"] == fiscal_year][
        ["person_id", "program", "completed"]
    ]
    e = e.drop_duplicates(["person_id", "program"])
    df = o.merge(e, on=["person_id", "program"], how="left", indicator=True)
    df["enrolled"] = df["_merge"] == "both"
    df["completed"] = df["completed"].astype("boolean").fillna(False).astype(bool) & df["enrolled"]
    return df.drop(columns="_merge")


def participation(offers: pd.DataFrame, enrollments: pd.DataFrame, fiscal_year: int):
    """Offers, enrollments and completions per program (published, small cells hidden).

    Enrollment counts people who took part in the program they were offered.
    """
    df = uptake_frame(offers, enrollments, fiscal_year)
    rows = []
    for prog, (ja, en) in PROGRAMS.items():
        g = df[df["program"] == prog]
        n_o, n_e, n_c = len(g), int(g["enrolled"].sum()), int(g["completed"].sum())
        rows.append(dict(program=prog, program_ja=ja, program_en=en, n_offered=n_o,
                         n_enrolled=n_e, n_completed=n_c,
                         uptake_pct=100 * n_e / n_o if n_o else np.nan,
                         completion_pct=100 * n_c / n_e if n_e else np.nan))  # fmt: skip
    return suppress(
        pd.DataFrame(rows),
        ["n_offered", "n_enrolled", "n_completed"],
        known_totals="columns",
        derived={"uptake_pct": ["n_offered", "n_enrolled"],
                 "completion_pct": ["n_enrolled", "n_completed"]},
        nested=["n_offered", "n_enrolled", "n_completed"],
    )  # fmt: skip


def letter_experiment(offers, enrollments, fiscal_year: int, program: str = "vitality"):
    """Uptake by letter variant and the nudge letter's effect on uptake (randomised).

    The difference (nudge minus plain, percentage points) has a Wald 95% interval.
    """
    df = uptake_frame(offers, enrollments, fiscal_year)
    df = df[df["program"] == program]
    rows = []
    for v, (ja, en) in VARIANTS.items():
        g = df[df["letter_variant"] == v]
        rows.append(dict(variant=v, variant_ja=ja, variant_en=en, n_offered=len(g),
                         n_enrolled=int(g["enrolled"].sum())))  # fmt: skip
    out = pd.DataFrame(rows)
    p = out["n_enrolled"] / out["n_offered"].where(out["n_offered"] > 0)
    out["uptake_pct"] = 100 * p
    (n0, n1), (p0, p1) = out["n_offered"].to_numpy(), p.to_numpy()
    diff = 100 * (p1 - p0)
    se = 100 * np.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1) if n0 and n1 else np.nan
    z = stats.norm.ppf(0.975)
    out["diff_pct"] = [np.nan, diff]
    out["ci_low"] = [np.nan, diff - z * se]
    out["ci_high"] = [np.nan, diff + z * se]
    derived = {
        c: ["n_offered", "n_enrolled"] for c in ("uptake_pct", "diff_pct", "ci_low", "ci_high")
    }
    return suppress(out, ["n_offered", "n_enrolled"], known_totals="columns", derived=derived)


IV_MIN_FIRST_STAGE_F = 104.7
"""First-stage F the letter IV must exceed to be shown (Lee, McCrary, Moreira & Porter
2022: the F above which the usual 95% interval has its stated coverage). With the weak
gate F > 10 the recovery benchmark showed the LATE in 39% of the ``uptake10`` cities,
biased by +0.09 (Monte Carlo 95% interval ±0.10) for an effect of 0.12, RMSE 0.41."""


def letter_iv(df: pd.DataFrame, outcome: Outcome, *, program: str = "vitality") -> Attempt:
    """Effect of taking part among people moved by the nudge letter (IV, LATE).

    The randomised letter variant is the instrument for participation; the estimate is
    shown only with a strong first stage (:data:`IV_MIN_FIRST_STAGE_F`).
    """
    from analysis.causal.iv import iv_effect

    data = complete_cases(df.assign(nudge=(df["letter_variant"] == "nudge").astype(int)),
                          outcome.name)  # fmt: skip

    def late(d, **kw):
        return iv_effect(d, **kw).as_effect_result()

    a = attempt(program, outcome, "iv_letter", late, data, instrument="nudge",
                treatment="treat", outcome=outcome.name,
                min_first_stage_f=IV_MIN_FIRST_STAGE_F)  # fmt: skip
    return dataclasses.replace(a, role="design")


def steps_by_week(activity, enrollments, fiscal_year: int, program: str = "vitality"):
    """Mean daily steps by week since the program start (participants of the year).

    Weeks with fewer than 10 people are left out (never published).

    Returns
    -------
    pandas.DataFrame
        ``week``, ``n``, ``mean_steps``, ``se``.
    """
    e = enrollments[
        (enrollments["fiscal_year"] == fiscal_year) & (enrollments["program"] == program)
    ]
    a = activity.merge(e[["person_id", "start_date"]], on="person_id", how="inner")
    week = (pd.to_datetime(a["week_start"]) - pd.to_datetime(a["start_date"])).dt.days // 7
    a = a.assign(week=week)
    g = a.groupby("week")["steps_per_day"]
    out = pd.DataFrame({"n": g.size(), "mean_steps": g.mean(), "sd": g.std(ddof=1)}).reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    return out[out["n"] >= MIN_CELL_COUNT].drop(columns="sd").reset_index(drop=True)


def plot_steps(table: pd.DataFrame, *, program_weeks: int = 13, ax=None, lang: str = "ja"):
    """Mean daily steps by week since start, program period shaded; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    ax.axvspan(
        0, program_weeks, color="0.9", label="実施期間" if lang == "ja" else "Program period"
    )
    ax.errorbar(table["week"], table["mean_steps"], yerr=1.96 * table["se"], fmt="o-",
                ms=3, capsize=2)  # fmt: skip
    ax.set_xlabel("開始からの週" if lang == "ja" else "Weeks since start")
    ax.set_ylabel("1日平均歩数" if lang == "ja" else "Mean steps per day")
    ax.legend(loc="lower right", fontsize="small")
    return with_editions(
        ax, lang, lambda other: plot_steps(table, program_weeks=program_weeks, lang=other)
    )


def sensitivity_table(attempts) -> pd.DataFrame:
    """E-value (point, CI) of each primary estimate and the robustness value of the OLS one."""
    from analysis.causal.sensitivity import e_value, robustness_value

    rows = []
    for a in attempts:
        if a.method != "aipw" or a.result is None:
            continue
        reg = next((b.result for b in attempts if b.method == "regression" and
                    b.outcome == a.outcome and b.program == a.program and b.result), None)  # fmt: skip
        try:
            ev = e_value(a.result)
            point, ci = ev.point, ev.ci
        except ValueError:
            point = ci = np.nan
        try:
            rv = robustness_value(reg).rv if reg is not None else np.nan
        except ValueError:
            rv = np.nan
        row = a.to_row()
        rows.append(dict(outcome=row["outcome"], label_ja=row["label_ja"], label_en=row["label_en"],
                         e_value=point, e_value_ci=ci, robustness_value=rv))  # fmt: skip
    return pd.DataFrame(rows, columns=["outcome", "label_ja", "label_en", "e_value",
                                       "e_value_ci", "robustness_value"])  # fmt: skip


def negative_controls(df: pd.DataFrame, *, seed: int, program: str = "vitality"):
    """AIPW effects on outcomes fixed before the index date; each should be near zero.

    A control outcome is removed from the covariates when it is one of them.

    Returns
    -------
    pandas.DataFrame
        ``outcome``, ``label_ja``, ``label_en``, ``estimate``, ``ci_low``, ``ci_high``,
        ``p_value``, ``passed`` (the interval covers zero) and ``reason``. The controls
        are costs, estimated like the cost effects: with fewer than
        :data:`MIN_PARTICIPANTS_COSTS` participants their intervals are not honest (the
        recovery benchmark: 83% coverage at the default city's size), so the row is
        withheld (no estimate, the reason says why).
    """
    from analysis.causal.estimate import estimate_effect

    rows = []
    for o in NEGATIVE_CONTROLS:
        cov = [c for c in COVARIATES if c != "log_cost_total_prior" or o.name != "cost_total_prior"]
        a = attempt(program, o, "aipw", estimate_effect, df, treatment="treat", outcome=o.name,
                    covariates=cov, method="aipw", estimand="ATT", n_jobs=1,
                    outcome_model=o.outcome_model,
                    seed=int_seed(seed, "negative_control", o.name))  # fmt: skip
        row = a.to_row()
        covers = bool(a.result is not None and a.result.ci_low <= 0 <= a.result.ci_high)
        reason = a.error or ("" if covers else "interval excludes 0")
        if a.result is not None and a.result.n_treated < o.min_participants:
            # costs: too few participants for an honest interval (as for the cost effects)
            row |= dict.fromkeys(("estimate", "ci_low", "ci_high", "p_value"), np.nan)
            covers = False
            reason = (f"participants in the analysis >= {o.min_participants} not met "
                      f"(observed {int(a.result.n_treated)})")  # fmt: skip
        rows.append(dict(outcome=o.name, label_ja=o.label_ja, label_en=o.label_en,
                         estimate=row["estimate"], ci_low=row["ci_low"], ci_high=row["ci_high"],
                         p_value=row["p_value"], passed=covers, reason=reason))  # fmt: skip
    return pd.DataFrame(rows)


def method_check(df: pd.DataFrame, outcome: Outcome, *, seed: int, n_rep: int = PLASMODE_REPS):
    """Plasmode check of the estimators on this year's design (bias, RMSE, coverage).

    Outcomes are simulated from the comparison group's outcome model with a planted
    effect of :data:`PLASMODE_EFFECT`; treatment and covariates are the real ones.
    """
    from analysis.causal.plasmode import plasmode

    data = complete_cases(df, outcome.name)
    try:
        table = plasmode(data, treatment="treat", covariates=list(COVARIATES),
                         effect=PLASMODE_EFFECT, methods=PLASMODE_METHODS, n_rep=n_rep,
                         seed=int_seed(seed, "plasmode"), outcome=outcome.name,
                         estimand="ATT", n_jobs=1)  # fmt: skip
    except ValueError as e:
        return pd.DataFrame({"method": list(PLASMODE_METHODS), "true_effect": PLASMODE_EFFECT,
                             "mean_estimate": np.nan, "bias": np.nan, "rmse": np.nan,
                             "coverage": np.nan, "seconds": np.nan,
                             "note": str(e).splitlines()[0]})  # fmt: skip
    return table


def save_results(
    run_dir,
    fiscal_year: int,
    *,
    participation_table,
    letter_table,
    effects,
    sensitivity,
    negative,
    check,
    figures,
    reach=None,
    events=None,
) -> list:
    """Write the step-03 artifacts the report reads (``REPORT_ARTIFACTS``).

    ``figures`` maps ``steps``, ``love_plot``, ``overlap``, ``reach_uptake`` and
    ``events_reach_rate`` to matplotlib figures; ``reach`` is the table of :func:`analysis.study.reach.reach_table`;
    ``events`` maps ``reach``, ``summary`` and ``association`` to the results of
    :mod:`analysis.study.events` (``association`` is the pair of
    :func:`~analysis.study.events.attendance_association`).
    """
    from analysis.runs import artifacts as art
    from analysis.study.cohort_step import period_text

    step, period = "03_effect_exercise", period_text(fiscal_year)
    offered = {"ja": "各事業の案内送付者", "en": "People offered each program"}
    cohort = {
        "ja": "Vitality 案内送付者のうち翌年度の健診受診者",
        "en": "People offered Vitality with a checkup the next year",
    }
    check_cols = ["method", "true_effect", "mean_estimate", "bias", "rmse", "coverage"]
    figure_text = {
        "steps": (
            {
                "ja": "Vitality 参加者の1日平均歩数（開始からの週）",
                "en": "Mean daily steps of Vitality participants by week since start",
            },
            {
                "ja": "参加者の週ごとの平均歩数の推移。網掛けは実施期間",
                "en": "Weekly mean steps of participants; the program period is shaded",
            },
        ),
        "love_plot": (
            {
                "ja": "調整前後の共変量バランス（標準化平均差）",
                "en": "Covariate balance before and after adjustment (SMD)",
            },
            {
                "ja": "各共変量の標準化平均差の絶対値を調整前後で比較した図",
                "en": "Absolute standardised mean differences before and after",
            },
        ),
        "reach_uptake": (
            {
                "ja": "属性別の参加率（%）",
                "en": "Uptake (%) by group",
            },
            {
                "ja": "年齢階級・性別・リスク区分・案内状の種類ごとの各事業の参加率のヒートマップ",
                "en": "Heatmap of each program's uptake by age band, sex, risk tier and letter",
            },
        ),
        "events_reach_rate": (
            {
                "ja": "スポーツ交流イベントの参加率（属性別）",
                "en": "Reach of the sports-community events by group",
            },
            {
                "ja": "属性ごとのイベント参加率の横棒グラフと95%信頼区間",
                "en": "Horizontal bars of event reach by group with 95% confidence intervals",
            },
        ),
        "overlap": (
            {
                "ja": "傾向スコアの分布（参加者と非参加者）",
                "en": "Propensity score distribution by group",
            },
            {
                "ja": "参加者と非参加者の傾向スコアのヒストグラム",
                "en": "Histograms of the propensity score of both groups",
            },
        ),
    }
    paths = [
        art.save_table(participation_table, run_dir, step, "participation",
                       caption={"ja": "事業別の案内・参加・修了", "en": "Offers, enrollment and "
                                "completion by program"}, population=offered, period=period,
                       published=True),
        art.save_table(letter_table, run_dir, step, "letter_experiment",
                       caption={"ja": "案内状の種類別の参加率（無作為化）",
                                "en": "Uptake by letter variant (randomised)"},
                       population={"ja": "Vitality 案内送付者", "en": "People offered Vitality"},
                       period=period, published=True),
        art.save_table(effects, run_dir, step, "effects",
                       caption={"ja": "Vitality の運動習慣への効果",
                                "en": "Effects of Vitality on exercise habits"},
                       population=cohort, period=period, published=True),
        art.save_table(sensitivity, run_dir, step, "sensitivity",
                       caption={"ja": "未測定交絡への感度（E値、ロバストネス値）",
                                "en": "Sensitivity to unmeasured confounding"},
                       population=cohort, period=period, published=True),
        art.save_table(negative, run_dir, step, "negative_controls",
                       caption={"ja": "陰性対照アウトカム（効果がないはずの指標）",
                                "en": "Negative-control outcomes (should show no effect)"},
                       population={"ja": "Vitality 案内送付者", "en": "People offered Vitality"},
                       period=period, published=True),
        art.save_table(check.reindex(columns=check_cols), run_dir, step, "method_check",
                       caption={"ja": "推定方法の検証（プラズモード・シミュレーション）",
                                "en": "Method check on this year's design (plasmode)"},
                       population=cohort, period=period, published=True),
    ]  # fmt: skip
    if reach is not None:
        paths.append(art.save_table(reach, run_dir, step, "reach",
                                    caption={"ja": "属性別の案内・参加・修了（95%信頼区間）",
                                             "en": "Offers, uptake and completion by group "
                                                   "(95% CIs)"},
                                    population=offered, period=period, published=True))  # fmt: skip
    if events is not None:
        paths += _save_events(run_dir, step, period, events)
    for name, fig in figures.items():
        cap, alt = figure_text[name]
        paths += art.save_figure_editions(fig, run_dir, step, name, caption=cap, alt=alt)
    return paths


def _save_events(run_dir, step: str, period: dict, events: dict) -> list:
    """The community-event artifacts of :func:`save_results`."""
    from analysis.runs import artifacts as art

    adults = {"ja": "18歳以上の国保加入者", "en": "NHI enrollees aged 18 and over"}
    offered = {
        "ja": "Vitality 案内送付者のうち翌年度の健診受診者",
        "en": "People offered Vitality with a checkup the next year",
    }
    table, adjusted = events["association"]
    return [
        art.save_table(events["reach"], run_dir, step, "events_reach",
                       caption={"ja": "スポーツ交流イベントの参加状況（属性別）",
                                "en": "Reach of the sports-community events by group"},
                       population=adults, period=period, published=True),
        art.save_numbers(events["summary"], run_dir, step, "events_summary"),
        art.save_table(table, run_dir, step, "event_association",
                       caption={"ja": "イベント参加の有無と翌年度の運動習慣（関連）",
                                "en": "Exercise habit next year by event attendance "
                                      "(association)"},
                       population=offered, period=period, published=True),
        art.save_numbers(adjusted, run_dir, step, "event_association_adjusted"),
    ]  # fmt: skip


def covariate_label(name: str, lang: str) -> str:
    """The report label of a balance covariate (``cm_cancer`` -> "がん（レセプト病名）").

    Labels come from Table 1 (:data:`analysis.study.cohort_step.TABLE1_ROWS`) and the
    comorbidity dictionary (:data:`analysis.cohort.codes.COMORBIDITY_LABELS`); a dummy
    column such as ``sex[M]`` gets its variable and level. An unknown name is returned
    unchanged.
    """
    from analysis.cohort.codes import COMORBIDITY_LABELS
    from analysis.study.cohort_step import SEX_EN, SEX_JA, TABLE1_ROWS

    pick = 0 if lang == "ja" else 1
    labels = {col: (ja, en) for col, _, ja, en in TABLE1_ROWS}
    labels.update({f"cm_{k}": (f"{ja}（レセプト病名）", f"{en} (claims)")
                   for k, (ja, en) in COMORBIDITY_LABELS.items()})  # fmt: skip
    labels.update(COVARIATE_LABELS)
    base, _, level = name.partition("[")
    level = level.removesuffix("]")
    if base not in labels:
        return name
    text = labels[base][pick]
    if level:
        level = (SEX_JA if lang == "ja" else SEX_EN).get(level, level) if base == "sex" else level
        text = f"{text}（{level}）" if lang == "ja" else f"{text}: {level}"
    return text


COVARIATE_LABELS = {
    "age_years": ("年齢", "Age"),
    "sex": ("性別", "Sex"),
    "log_cost_total_prior": ("前年医療費（対数）", "Prior-year medical cost (log)"),
    "any_cost_prior": ("前年医療費あり", "Any prior-year medical cost"),
    "log_cost_prior_rcs1": (
        "前年医療費（対数）のスプライン項1",
        "Prior-year cost (log), spline term 1",
    ),
    "log_cost_prior_rcs2": (
        "前年医療費（対数）のスプライン項2",
        "Prior-year cost (log), spline term 2",
    ),
}
"""Labels of the covariates that Table 1 shows in another form."""

FIGURE_LABELS = {
    "ja": {"before": "調整前", "after": "調整後", "smd": "標準化平均差の絶対値",
           "treated": "参加者", "control": "非参加者", "propensity": "傾向スコア",
           "density": "密度", "not_estimable": "推定できませんでした",
           "threshold": "基準（{:g}未満）"},
    "en": {"before": "Before adjustment", "after": "After adjustment",
           "smd": "Absolute standardised mean difference", "treated": "Participants",
           "control": "Non-participants", "propensity": "Propensity score",
           "density": "Density", "not_estimable": "Not estimable",
           "threshold": "Criterion (below {:g})"},
}  # fmt: skip
"""Labels of the balance and overlap figures."""


def estimate_effects(df: pd.DataFrame, *, seed: int) -> list[Attempt]:
    """The pre-declared exercise estimates: every method per outcome, plus the letter IV."""
    from analysis.study.effects import run_methods

    out = []
    for o in EXERCISE_OUTCOMES:
        out += run_methods(df, program="vitality", outcome=o, seed=seed,
                           headline_method="aipw" if o is EXERCISE_OUTCOMES[0] else None)  # fmt: skip
    out.append(letter_iv(df, EXERCISE_OUTCOMES[0]))
    return out


def participant_counts(offers, enrollments, fiscal_year: int) -> dict[str, int]:
    """Participants per program in the fiscal year (who the budget was spent on)."""
    e = enrollments[enrollments["fiscal_year"] == fiscal_year]
    counts = e.drop_duplicates(["person_id", "program"]).groupby("program").size()
    return {p: int(counts.get(p, 0)) for p in PROGRAMS}


def _empty(ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()
    return ax


def balance_figure(attempts, *, lang: str = "ja"):
    """Love plot of the primary estimate (a note when it could not be computed).

    Covariates, legend and axis are labelled in ``lang`` (:func:`covariate_label`).
    """
    import matplotlib.pyplot as plt

    from analysis.causal.balance import plot_balance
    from analysis.study.effects import first_result

    lab = FIGURE_LABELS[check_lang(lang)]
    r = first_result(attempts, "aipw", EXERCISE_OUTCOMES[0].name)
    if r is None or "balance" not in r.diagnostics.tables:
        ax = _empty(plt.subplots(figsize=(5, 2))[1], lab["not_estimable"])
    else:
        ax = plot_balance(r)
        ax.set_yticks(
            ax.get_yticks(), [covariate_label(t.get_text(), lang) for t in ax.get_yticklabels()]
        )
        ax.set_xlabel(lab["smd"])
        handles, _ = ax.get_legend_handles_labels()
        threshold = ax.lines[-1]  # the dashed line of the balance criterion
        names = [lab["before"], lab["after"], lab["threshold"].format(threshold.get_xdata()[0])]
        ax.legend([*handles, threshold], names, loc="lower right", fontsize="small")
    return with_editions(ax, lang, lambda other: balance_figure(attempts, lang=other))


def overlap_figure(attempts, *, lang: str = "ja"):
    """Propensity overlap of the primary estimate (a note when it could not be computed)."""
    import matplotlib.pyplot as plt

    from analysis.causal.overlap import plot_overlap
    from analysis.study.effects import first_result

    lab = FIGURE_LABELS[check_lang(lang)]
    r = first_result(attempts, "aipw", EXERCISE_OUTCOMES[0].name)
    if r is None or r.info.get("propensity") is None:
        ax = _empty(plt.subplots(figsize=(5, 2))[1], lab["not_estimable"])
    else:
        ax = plot_overlap(r)
        ax.set_xlabel(lab["propensity"])
        ax.set_ylabel(lab["density"])
        handles, _ = ax.get_legend_handles_labels()
        ax.legend(handles, [lab["treated"], lab["control"]], fontsize="small")
    return with_editions(ax, lang, lambda other: overlap_figure(attempts, lang=other))

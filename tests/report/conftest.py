"""A fabricated run of every artifact the report reads (REPORT_ARTIFACTS), with plausible
values, written through ``analysis.runs.artifacts.save_*`` as the step notebooks will.

Planted traps: a person-level artifact with id-like strings and exact birth dates that
must never reach the report; small counts (1-9) in count tables; an estimate that failed
its diagnostics; a subgroup under 10 people; a previous fiscal year's complete run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.runs import artifacts as art
from analysis.seeds import rng

PLANTED_IDS = ("PX9F3A7C21E0", "PX0B44D1E9A7", "PX7C2E90F13B")
PLANTED_BIRTH_DATES = ("1951-07-23", "1948-11-02", "1960-02-29")
WITHHELD_REASON = "max |SMD| < 0.1 after weighting (observed 0.183)"
SMALL_SUBGROUP = {"ja": "90歳以上", "en": "Aged 90+"}

_POP = {"ja": "国保加入者（40〜74歳）", "en": "NHI enrollees aged 40-74"}


def _period(year: int) -> dict[str, str]:
    return {"ja": f"{year}年4月1日〜{year + 1}年3月31日", "en": f"{year}-04-01 to {year + 1}-03-31"}


def _figure(title: str, seed: int, name: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.report.fonts import configure_matplotlib

    configure_matplotlib()
    fig, ax = plt.subplots(figsize=(4.5, 2.6))
    x = np.arange(12)
    ax.plot(x, 4000 + np.cumsum(rng(seed, "figure", name).normal(80, 120, 12)), marker="o")
    ax.set_title(title)
    ax.set_xlabel("月 (month)")
    ax.set_ylabel("1日の歩数")
    return fig


def _effects(program: str, rows: list[tuple], seed: int) -> pd.DataFrame:
    """Primary rows; what each could detect comes from ``detectable`` with the outcome SD
    implied by its standard error and, where given, a reference effect of ``ref``."""
    from analysis.study.detectable import ReferenceEffect, detectable

    g = rng(seed, "effects", program)
    n1, n0 = 412, 3810
    out = []
    for outcome, ja, en, unit_ja, unit_en, est, se, passed, headline, ref in rows:
        est = est + g.normal(0, se / 5)
        sd = se / np.sqrt(1 / n1 + 1 / n0)
        power = detectable(n1, n0, sd, 0.0, ReferenceEffect(ref) if ref else None).to_dict()
        out.append(
            {"outcome": outcome, "label_ja": ja, "label_en": en, "unit_ja": unit_ja,
             "unit_en": unit_en, "method": "aipw", "estimate": est, "ci_low": est - 1.96 * se,
             "ci_high": est + 1.96 * se, "p_value": 0.004 if abs(est) > 2 * se else 0.31,
             "n_treated": n1, "n_control": n0, "passed": passed,
             "reason": "" if passed else WITHHELD_REASON, "headline": headline,
             "role": "primary", **power}
        )  # fmt: skip
    return pd.DataFrame(out)


POOLED_EXTRA_PARTICIPANTS = 5
"""Participants the fabricated pooled years add to the single year's steps row: the
pooled count must be hidden (the difference would tell the earlier years' count)."""


def _pooled(run, year: int, ex: pd.DataFrame, costs: pd.DataFrame, meta: dict) -> None:
    """The side-by-side table of step 06 for two fabricated pooled rows: steps (5 more
    participants than the single year) and the annual cost (300 more, withheld)."""
    from analysis.study.pooled import side_by_side

    one = pd.concat([ex.iloc[[0]], costs.iloc[[3]]], ignore_index=True)
    more = one.assign(
        estimate=one["estimate"] * 0.9, ci_low=one["ci_low"] * 0.8, ci_high=one["ci_high"] * 0.8,
        n_treated=one["n_treated"] + [POOLED_EXTRA_PARTICIPANTS, 300],
        n_control=one["n_control"] + 2000, passed=[True, False],
        reason=["", WITHHELD_REASON],
    )  # fmt: skip
    table = side_by_side([ex, costs], more, fiscal_year=year, pool_from=year - 2)
    art.save_table(table, run, "06_pooled", "effects",
                   caption={"ja": "複数年度をまとめた効果", "en": "Pooled effects"}, **meta)  # fmt: skip


def _reach(seed: int) -> pd.DataFrame:
    """The reach table of fabricated offers (through ``reach_table``): a few hundred
    Vitality and Mystar offers, so that some groups have fewer than 10 participants."""
    from analysis.study.reach import reach_table

    g = rng(seed, "reach")
    n = 900
    program = np.where(g.random(n) < 0.8, "vitality", "mystar")
    tier = np.where(program == "mystar", "high", np.where(g.random(n) < 0.6, "low", "middle"))
    ids = [f"Q{i:05d}" for i in range(n)]
    offers = pd.DataFrame({"person_id": ids, "fiscal_year": 2023, "program": program,
                           "risk_tier": tier, "offer_date": pd.Timestamp("2023-06-01"),
                           "letter_variant": np.where(g.random(n) < 0.5, "plain", "nudge")})  # fmt: skip
    took = g.random(n) < np.where(program == "mystar", 0.25, 0.12)
    enrollments = pd.DataFrame({"person_id": np.array(ids)[took], "fiscal_year": 2023,
                                "program": program[took],
                                "completed": g.random(int(took.sum())) < 0.8})  # fmt: skip
    birth = pd.Timestamp("1950-01-01") + pd.to_timedelta(g.integers(0, 12_000, n), unit="D")
    enrollment = pd.DataFrame({"person_id": ids, "sex": np.where(g.random(n) < 0.55, "F", "M"),
                               "birth_date": birth})  # fmt: skip
    return reach_table(offers, enrollments, enrollment, 2023)


def _events(seed: int) -> tuple[pd.DataFrame, dict, pd.DataFrame, dict]:
    """The community-event artifacts of fabricated enrollees, events and attendance,
    through ``analysis.study.events`` (reach, summary, association and its adjustment)."""
    from analysis.study import events as ev
    from analysis.study.effects import COVARIATES

    g = rng(seed, "events")
    n = 1500
    ids = [f"Q{i:05d}" for i in range(n)]
    ts = pd.Timestamp
    enrollment = pd.DataFrame({
        "person_id": ids, "sex": np.where(g.random(n) < 0.55, "F", "M"),
        "birth_date": ts("1949-06-01") + pd.to_timedelta(g.integers(0, 20_000, n), unit="D"),
        "enroll_start": ts("2010-01-01"), "enroll_end": pd.NaT, "death_date": pd.NaT})  # fmt: skip
    offered = g.random(n) < 0.3
    offers = pd.DataFrame({"person_id": np.array(ids)[offered], "fiscal_year": 2023,
                           "program": "vitality", "risk_tier": "low"})  # fmt: skip
    took = offers.sample(frac=0.2, random_state=int(g.integers(1_000))).assign(completed=True)
    events = pd.DataFrame({"event_id": [f"E{k:02d}" for k in range(12)],
                           "date": pd.date_range("2023-04-08", periods=12, freq="4W"),
                           "theme": "ウォーキング"})  # fmt: skip
    rows = [(e, p) for e in events["event_id"] for p, u in zip(ids, g.random(n), strict=True)
            if u < 0.01]  # fmt: skip
    attendance = pd.DataFrame(rows, columns=["event_id", "person_id"])
    args = (enrollment, offers, took, events, attendance, 2023)
    frame = pd.DataFrame({c: g.normal(size=n) for c in COVARIATES if c != "sex"})
    frame["sex"] = enrollment["sex"]
    frame["person_id"] = ids
    frame["treat"] = offered.astype(int)
    frame["next_exercise_habit"] = (g.random(n) < 0.35).astype(float)
    table, adjusted = ev.attendance_association(frame, events, attendance, 2023, seed=seed)
    return ev.events_reach(*args), ev.events_summary(*args), table, adjusted


def make_run(
    root: Path,
    year: int,
    run_id: str,
    seed: int = 7,
    *,
    complete: bool = True,
    figures: bool = True,
) -> Path:
    """Write a full fabricated run under ``root/FY<year>/<run_id>`` and return it."""
    import matplotlib.pyplot as plt

    run = root / f"FY{year}" / run_id
    run.mkdir(parents=True)
    data = root.parent / "data" / "city"  # a stand-in dataset folder: only its hashes are read
    data.mkdir(parents=True, exist_ok=True)
    (data / "dataset.json").write_text(json.dumps({"name": "city", "seed": 1}))
    (data / "enrollment.parquet").write_bytes(b"not really parquet")
    params = {"fiscal_year": year, "seed": seed, "dataset": str(data), "engine": "duckdb"}
    (run / "params.json").write_text(json.dumps(params))
    meta = {"population": _POP, "period": _period(year)}
    g = rng(seed, "fixture", year)
    shift = int(g.integers(0, 300))

    art.save_numbers(
        {"n_enrolled": 15230 + shift, "n_eligible": 12110 + shift, "n_examined": 5420 + shift,
         "period_start": f"{year}-04-01", "period_end": f"{year + 1}-03-31"},
        run, "01_cohort", "key_numbers",
    )  # fmt: skip
    attrition = pd.DataFrame(
        {"label_ja": ["国保加入者", "40〜74歳", "通年加入", "健診データあり", "死亡・転出を除外"],
         "label_en": ["NHI enrollees", "Aged 40-74", "Enrolled all year", "Has checkup data",
                      "Excluding death or move-out"],
         "n_remaining": [15230, 12110, 11650, 5420, 5413],
         "n_excluded": [0, 3120, 460, 6230, 7]}
    )  # fmt: skip
    art.save_table(
        attrition,
        run,
        "01_cohort",
        "attrition",
        caption={"ja": "対象者の選定過程", "en": "Cohort selection"},
        **meta,
    )
    for name, ja, en in [
        ("attrition_flow", "対象者の選定フロー", "Cohort flow"),
        ("calibration", "リスクモデルの較正", "Risk model calibration"),
        ("steps", "参加中・参加後の1日の歩数", "Daily steps during and after the program"),
        ("love_plot", "共変量の均衡（標準化差）", "Covariate balance (standardised differences)"),
        ("overlap", "傾向スコアの分布の重なり", "Propensity score overlap"),
        ("event_study", "医療費のイベントスタディ", "Event study of medical costs"),
        (
            "severe_events_km",
            "重症化イベントの重み付きカプランマイヤー曲線",
            "Weighted Kaplan-Meier curves of severe events",
        ),
        ("forest", "部分集団別の効果", "Effects by subgroup"),
        ("reach_uptake", "属性別の参加率", "Uptake by group"),
        ("events_reach_rate", "イベントの参加率", "Event reach by group"),
        ("decision_curve", "決定曲線", "Decision curve"),
    ]:
        if not figures:
            continue
        step = {"attrition_flow": "01_cohort", "calibration": "02_risk",
                "decision_curve": "02_risk",
                "event_study": "04_effect_costs", "severe_events_km": "04_effect_costs",
                "forest": "05_targeting"}.get(name, "03_effect_exercise")  # fmt: skip
        fig = _figure(ja, seed, name)
        art.save_figure(fig, run, step, name, caption={"ja": ja, "en": en},
                        alt={"ja": f"{ja}を示す折れ線グラフ", "en": f"Line chart of {en.lower()}"},
                        dpi=80)  # fmt: skip
        plt.close(fig)
    table1 = pd.DataFrame(
        {"variable_ja": ["人数", "年齢（平均（標準偏差））", "女性", "喫煙者"],
         "variable_en": ["People", "Age, mean (SD)", "Women", "Smokers"],
         "participants": ["412", "63.2 (7.1)", "251 (60.9%)", "7 (1.7%)"],
         "comparison": ["3,810", "65.0 (6.8)", "2,030 (53.3%)", "498 (13.1%)"],
         "smd": [np.nan, -0.26, 0.15, -0.41]}
    )  # fmt: skip
    art.save_table(
        table1,
        run,
        "01_cohort",
        "table1",
        caption={"ja": "参加者と比較対象者の特徴", "en": "Characteristics by group"},
        **meta,
    )
    bands = ["40-49", "50-59", "60-69", "70-74"]
    part = pd.DataFrame(
        {"age_band": bands * 2, "sex_ja": ["男性"] * 4 + ["女性"] * 4,
         "sex_en": ["Men"] * 4 + ["Women"] * 4,
         "n_enrolled": [820, 1110, 2890, 2410, 790, 1260, 3320, 2630],
         "n_examined": [210, 330, 1020, 880, 240, 410, 1290, 1040]}
    )  # fmt: skip
    part["rate_pct"] = 100 * part["n_examined"] / part["n_enrolled"]
    art.save_table(
        part,
        run,
        "01_cohort",
        "checkup_participation",
        caption={"ja": "特定健診の受診状況", "en": "Checkup attendance"},
        **meta,
    )
    tiers = part[["age_band", "sex_ja", "sex_en"]].copy()
    tiers["n_low"] = [120, 150, 400, 310, 160, 240, 610, 480]
    tiers["n_middle"] = [60, 110, 380, 350, 50, 110, 420, 390]
    tiers["n_high"] = [30, 70, 240, 220, 3, 60, 260, 170]  # 3: a primary-suppressed cell
    art.save_table(
        tiers,
        run,
        "02_risk",
        "tiers",
        caption={"ja": "年齢階級・性別のリスク区分", "en": "Risk tiers by age band and sex"},
        **meta,
    )
    art.save_numbers(
        {"c_index": 0.742, "c_index_ci_low": 0.711, "c_index_ci_high": 0.773,
         "calibration_slope": 0.96, "n_events": 184, "horizon_years": 3},
        run, "02_risk", "validation",
    )  # fmt: skip
    comparison = pd.DataFrame(
        {"model": ["cox", "gbm", "mhlw_level"],
         "model_ja": ["Coxモデル", "勾配ブースティング", "特定保健指導の階層化"],
         "model_en": ["Cox model", "Gradient boosting", "MHLW guidance levels"],
         "harrell_c": [0.742, 0.731, 0.51], "calibration_slope": [0.96, 0.88, np.nan],
         "brier": [0.031, 0.032, np.nan], "events": ["184", "184", "184"]}
    )  # fmt: skip
    art.save_table(
        comparison,
        run,
        "02_risk",
        "model_comparison",
        caption={"ja": "予測性能の比較", "en": "Prediction performance"},
        **meta,
    )
    progs = pd.DataFrame(
        {"program_ja": ["運動プログラム", "個別指導プログラム"],
         "program_en": ["Exercise program", "Coaching program"],
         "n_offered": [2950 + shift, 640], "n_enrolled": [412, 96], "n_completed": [351, 8]}
    )  # fmt: skip
    progs["uptake_pct"] = 100 * progs["n_enrolled"] / progs["n_offered"]
    progs["completion_pct"] = 100 * progs["n_completed"] / progs["n_enrolled"]
    art.save_table(
        progs,
        run,
        "03_effect_exercise",
        "participation",
        caption={"ja": "事業の案内と参加", "en": "Invitations and uptake"},
        **meta,
    )
    art.save_table(
        _reach(seed),
        run,
        "03_effect_exercise",
        "reach",
        caption={"ja": "属性別の案内・参加・修了", "en": "Offers, uptake and completion by group"},
        **meta,
    )
    ev_reach, ev_summary, ev_table, ev_adjusted = _events(seed)
    art.save_table(ev_reach, run, "03_effect_exercise", "events_reach",
                   caption={"ja": "イベントの参加状況", "en": "Event reach"}, **meta)  # fmt: skip
    art.save_numbers(ev_summary, run, "03_effect_exercise", "events_summary")
    art.save_table(ev_table, run, "03_effect_exercise", "event_association",
                   caption={"ja": "イベント参加と運動習慣", "en": "Events and exercise habit"},
                   **meta)  # fmt: skip
    art.save_numbers(ev_adjusted, run, "03_effect_exercise", "event_association_adjusted")
    letters = pd.DataFrame(
        {"variant_ja": ["標準通知", "損失回避型", "社会規範型"],
         "variant_en": ["Standard letter", "Loss framing", "Social norm"],
         "n_offered": [985, 982, 983], "n_enrolled": [118, 151, 143],
         "uptake_pct": [12.0, 15.4, 14.5], "diff_pct": [np.nan, 3.4, 2.5],
         "ci_low": [np.nan, 0.4, -0.5], "ci_high": [np.nan, 6.4, 5.5]}
    )  # fmt: skip
    art.save_table(
        letters,
        run,
        "03_effect_exercise",
        "letter_experiment",
        caption={"ja": "案内通知の比較", "en": "Invitation letter experiment"},
        **meta,
    )
    ex = _effects("exercise", [
        ("steps", "1日の歩数", "Daily steps", "歩", "steps", 850.0, 210.0, True, True, 800.0),
        ("exercise_habit", "運動習慣のある人の割合", "Share with an exercise habit",
         "ポイント", "points", 6.1, 2.2, True, False, 6.0),
        ("walking_habit", "歩行習慣のある人の割合", "Share with a walking habit", "ポイント",
         "points", 3.0, 2.4, False, False, 3.0),
    ], seed)  # fmt: skip
    art.save_table(
        ex,
        run,
        "03_effect_exercise",
        "effects",
        caption={"ja": "運動への効果", "en": "Effects on exercise"},
        **meta,
    )
    costs = _effects("costs", [
        ("hba1c", "HbA1c", "HbA1c", "%", "%", -0.08, 0.05, True, False, -0.3),
        ("sbp", "収縮期血圧", "Systolic blood pressure", "mmHg", "mmHg", -1.9, 1.1, True, False,
         None),
        ("weight", "体重", "Weight", "kg", "kg", -0.6, 0.3, True, False, -2.5),
        ("total_cost", "年間医療費", "Annual medical cost", "円", "yen", -18500.0, 9100.0, True,
         True, -12000.0),
    ], seed)  # fmt: skip
    art.save_table(
        costs,
        run,
        "04_effect_costs",
        "effects",
        caption={"ja": "健康指標と医療費への効果", "en": "Effects on health and costs"},
        **meta,
    )
    _pooled(run, year, ex, costs, meta)
    art.save_table(
        pd.DataFrame({"label_ja": ["1日の歩数", "年間医療費"], "label_en": ["Daily steps",
                      "Annual medical cost"], "e_value": [2.31, 1.62], "e_value_ci": [1.74, 1.0],
                      "robustness_value": [0.121, 0.054]}),
        run, "03_effect_exercise", "sensitivity",
        caption={"ja": "未測定交絡への感度", "en": "Sensitivity to unmeasured confounding"}, **meta,
    )  # fmt: skip
    art.save_table(
        pd.DataFrame({"label_ja": ["歯科受診", "骨折"], "label_en": ["Dental visits", "Fractures"],
                      "estimate": [0.01, -0.002], "ci_low": [-0.03, -0.01],
                      "ci_high": [0.05, 0.006], "p_value": [0.62, 0.71], "passed": [True, True]}),
        run, "03_effect_exercise", "negative_controls",
        caption={"ja": "陰性対照", "en": "Negative controls"}, **meta,
    )  # fmt: skip
    art.save_table(
        pd.DataFrame({"method": ["regression", "ipw", "aipw", "dml"],
                      "true_effect": [800.0] * 4, "mean_estimate": [905.2, 812.4, 803.1, 798.7],
                      "bias": [105.2, 12.4, 3.1, -1.3], "rmse": [130.1, 95.3, 71.2, 74.8],
                      "coverage": [0.71, 0.93, 0.95, 0.94]}),
        run, "03_effect_exercise", "method_check",
        caption={"ja": "模擬データでの方法の検証", "en": "Method check on simulated outcomes"},
        **meta,
    )  # fmt: skip
    art.save_numbers(
        {"budget_yen": 4_730_000, "cost_yen": 4_730_000, "savings_yen": 7_622_000,
         "savings_ci_low": 120_000, "savings_ci_high": 15_124_000, "roi": 0.61,
         "roi_ci_low": -0.97, "roi_ci_high": 2.2, "break_even_years": 1.6, "passed": True,
         "reason": ""},
        run, "04_effect_costs", "roi",
    )  # fmt: skip
    subs = pd.DataFrame(
        {"subgroup_ja": ["男性", "女性", "65歳未満", "65歳以上", SMALL_SUBGROUP["ja"]],
         "subgroup_en": ["Men", "Women", "Under 65", "65 and over", SMALL_SUBGROUP["en"]],
         "n": [1650, 2572, 1804, 2418, 6], "estimate": [910.0, 805.0, 1020.0, 700.0, 2500.0],
         "ci_low": [510.0, 420.0, 600.0, 300.0, -900.0],
         "ci_high": [1310.0, 1190.0, 1440.0, 1100.0, 5900.0],
         "passed": [True, True, True, False, True],
         "reason": ["", "", "", WITHHELD_REASON, ""]}
    )  # fmt: skip
    art.save_table(
        subs,
        run,
        "05_targeting",
        "subgroups",
        caption={"ja": "部分集団別の歩数への効果", "en": "Effects on steps by subgroup"},
        **meta,
    )
    art.save_numbers(
        {"text_ja": "次年度は65歳未満の中リスク層への案内を優先することを推奨します。",
         "text_en": "Next year, prioritise invitations to middle-risk enrollees under 65."},
        run, "05_targeting", "recommendation",
    )  # fmt: skip
    person = pd.DataFrame({"person_id": list(PLANTED_IDS), "birth_date": list(PLANTED_BIRTH_DATES),
                           "steps": [5210, 6480, 7020]})  # fmt: skip
    art.save_table(person, run, "01_cohort", "analysis_table")
    if complete:
        (run / "manifest.json").write_text(json.dumps({"run_id": run_id}))
    return run


@pytest.fixture(scope="session")
def planted() -> SimpleNamespace:
    """What the fixture run plants, for tests to look for (or not find) in outputs."""
    return SimpleNamespace(ids=PLANTED_IDS, birth_dates=PLANTED_BIRTH_DATES,
                           reason=WITHHELD_REASON, small_subgroup=SMALL_SUBGROUP)  # fmt: skip


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    prev_old = make_run(root, 2022, "20230501-old", seed=3, figures=False)
    make_run(root, 2022, "20230601-latest", seed=5, figures=False)
    make_run(root, 2022, "20230701-incomplete", seed=9, complete=False, figures=False)
    os.utime(prev_old / "manifest.json", (1_600_000_000, 1_600_000_000))
    make_run(root, 2023, "20240601-a", seed=7, complete=False)  # as while being executed
    return root


@pytest.fixture(scope="session")
def run_dir(runs_root) -> Path:
    """The FY2023 run (a previous year's complete run exists)."""
    return runs_root / "FY2023" / "20240601-a"


@pytest.fixture(scope="session")
def executed_run(run_dir) -> Path:
    """The fixture run with the report notebook executed by papermill (a real kernel)."""
    import papermill

    from analysis.config import REPORTS_DIR
    from analysis.runs.kernels import IPCKernelManager

    out = run_dir / "report" / "annual_report.ipynb"
    out.parent.mkdir(exist_ok=True)
    papermill.execute_notebook(
        str(REPORTS_DIR / "annual_report.ipynb"), str(out),
        parameters={"run_dir": str(run_dir), "lang": "ja"},
        kernel_name="python3", progress_bar=False, cwd=str(run_dir),
        kernel_manager_class=IPCKernelManager,
    )  # fmt: skip
    return run_dir


@pytest.fixture(scope="session")
def rendered(executed_run):
    """Both languages in all formats, rendered with renderer="auto" (the fallback here
    unless Quarto is installed); returns (files, what was printed on standard error)."""
    import contextlib
    import io

    from analysis.report.render import render_report

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        files = render_report(executed_run)
    return files, err.getvalue()

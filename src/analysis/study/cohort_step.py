"""Step 01: the study population, its attrition, Table 1 and checkup participation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import contract
from analysis.errors import UserError
from analysis.report import publish
from analysis.risk.tiers import age_band
from analysis.study.disclosure import suppress

SEX_JA = {"M": "男性", "F": "女性"}
SEX_EN = {"M": "Men", "F": "Women"}
CHECKUP_AGE = (40, 74)
"""Ages (at the end of the fiscal year) eligible for the specific health checkup."""

# (column, kind, label_ja, label_en); kind "mean" -> mean (SD), "share" -> n (%),
# "magnitude" -> mean (SD) of a per-person amount, hidden ("x") where one or two people
# dominate it (publish.dominated)
TABLE1_ROWS = [
    ("age_years", "mean", "年齢（歳）", "Age (years)"),
    ("female", "share", "女性", "Women"),
    ("bmi", "mean", "BMI (kg/m²)", "BMI (kg/m²)"),
    ("sbp", "mean", "収縮期血圧 (mmHg)", "Systolic BP (mmHg)"),
    ("hba1c", "mean", "HbA1c (%)", "HbA1c (%)"),
    ("ldl", "mean", "LDLコレステロール (mg/dL)", "LDL cholesterol (mg/dL)"),
    ("smoker", "share", "喫煙", "Smoker"),
    ("exercise_habit", "share", "運動習慣あり", "Exercise habit"),
    ("walking_habit", "share", "歩行習慣あり", "Walking habit"),
    ("bp_med", "share", "降圧薬服用", "On BP medication"),
    ("glucose_med", "share", "血糖降下薬服用", "On glucose-lowering medication"),
    ("cm_diabetes", "share", "糖尿病（レセプト病名）", "Diabetes (claims)"),
    ("cost_total_prior", "magnitude", "前年医療費（千円）", "Prior-year medical cost (k yen)"),
]
PROGRAM_LABELS = {k: (v["ja"], v["en"]) for k, v in contract.PROGRAM_LABELS.items()}


def _summary(x: pd.Series, kind: str) -> str:
    x = x.dropna().astype(float)
    if len(x) == 0:
        return "—"
    if kind == "magnitude" and publish.dominated(x):
        return publish.COMPLEMENT_MARK
    if kind == "share":
        k = int(x.sum())
        return f"{k:,} ({100 * k / len(x):.1f}%)"
    return f"{x.mean():,.1f} ({x.std(ddof=1) if len(x) > 1 else 0.0:,.1f})"


def _smd(a: pd.Series, b: pd.Series) -> float:
    a, b = a.dropna().astype(float), b.dropna().astype(float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if pooled > 0:
        return float((a.mean() - b.mean()) / pooled)
    return 0.0 if a.mean() == b.mean() else float("nan")  # constant groups that differ


def table1(cohorts: dict) -> pd.DataFrame:
    """Baseline characteristics of participants and offered non-participants ("Table 1").

    Parameters
    ----------
    cohorts : dict of str to Cohort
        Program cohorts keyed ``vitality`` / ``mystar`` (others are ignored).

    Returns
    -------
    pandas.DataFrame
        ``program``, ``variable_ja``, ``variable_en``, ``participants``, ``comparison``
        (text such as ``"64.1 (6.2)"`` or ``"25 (41.7%)"``) and ``smd`` (standardised mean
        difference, participants minus comparison). The first row of each program gives
        the group sizes (the report hides those under 10). The prior-year cost of a group
        that one or two people dominate is ``"x"``, with no SMD
        (:func:`analysis.report.publish.dominated`).
    """
    rows = []
    for program, (ja, en) in PROGRAM_LABELS.items():
        if program not in cohorts:
            continue
        b = cohorts[program].baseline.assign(
            female=lambda d: (d["sex"] == "F").astype(float),
            cost_total_prior=lambda d: d["cost_total_prior"] / 1000,
        )
        t, c = b[b["treated"]], b[~b["treated"]]
        rows.append(dict(program=program, variable_ja=f"{ja}: 人数", variable_en=f"{en}: N",
                         participants=f"{len(t):,}", comparison=f"{len(c):,}", smd=np.nan))  # fmt: skip
        for col, kind, lja, len_ in TABLE1_ROWS:
            shown = [_summary(t[col], kind), _summary(c[col], kind)]
            smd = np.nan if publish.COMPLEMENT_MARK in shown else _smd(t[col], c[col])
            rows.append(dict(program=program, variable_ja=f"{ja}: {lja}",
                             variable_en=f"{en}: {len_}", participants=shown[0],
                             comparison=shown[1], smd=smd))  # fmt: skip
    if not rows:
        raise ValueError("table1: no 'vitality' or 'mystar' cohort given")
    return pd.DataFrame(rows)


def attrition_table(cohort) -> pd.DataFrame:
    """A cohort's attrition as the report reads it: labels and counts per step.

    Returns
    -------
    pandas.DataFrame
        ``step``, ``label_ja``, ``label_en``, ``n_remaining``, ``n_excluded``, with the
        counts suppressed along the chain (``publish.suppress_attrition``) so the saved
        table is fit to publish.
    """
    a = cohort.attrition.to_frame()
    df = pd.DataFrame(
        {
            "step": a["step"],
            "label_ja": a["description_ja"],
            "label_en": a["description_en"],
            "n_remaining": a["remaining"],
            "n_excluded": a["excluded"],
        }
    )
    return publish.suppress_attrition(df)


def fiscal_year_bounds(fiscal_year: int) -> tuple[dt.date, dt.date]:
    """First and last day of a fiscal year (April-March)."""
    return dt.date(fiscal_year, 4, 1), dt.date(fiscal_year + 1, 3, 31)


def checkup_population(enrollment: pd.DataFrame, checkups: pd.DataFrame, fiscal_year: int):
    """Enrollees of a fiscal year, flagged eligible for and examined by the checkup.

    Eligible (the 特定健診 denominator): enrolled on the first and the last day of the
    fiscal year, alive at its end, aged 40-74 on its last day. Examined: eligible with a
    checkup in the fiscal year.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``sex``, ``age``, ``enrolled_in_year``, ``eligible``, ``examined``.
    """
    need = {"person_id", "sex", "birth_date", "enroll_start", "enroll_end", "death_date"}
    missing = sorted(need - set(enrollment.columns))
    if missing:
        raise ValueError(f"enrollment table lacks column(s) {missing}")
    start, end = (pd.Timestamp(d) for d in fiscal_year_bounds(fiscal_year))
    e = enrollment
    stop = e["enroll_end"].fillna(pd.Timestamp.max)
    died = e["death_date"].fillna(pd.Timestamp.max)
    birth = e["birth_date"]
    age = end.year - birth.dt.year - ((birth.dt.month > end.month) | (
        (birth.dt.month == end.month) & (birth.dt.day > end.day))).astype(int)  # fmt: skip
    in_year = (e["enroll_start"] <= end) & (stop >= start)
    whole = (e["enroll_start"] <= start) & (stop >= end) & (died > end)
    eligible = whole & age.between(*CHECKUP_AGE)
    examined_ids = set(checkups.loc[checkups["fiscal_year"] == fiscal_year, "person_id"])
    out = pd.DataFrame(
        {
            "person_id": e["person_id"].to_numpy(),
            "sex": e["sex"].to_numpy(),
            "age": age.to_numpy(),
            "enrolled_in_year": in_year.to_numpy(),
            "eligible": eligible.to_numpy(),
        }
    )
    out["examined"] = out["eligible"] & out["person_id"].isin(examined_ids)
    return out.groupby("person_id", sort=True).agg(
        sex=("sex", "first"), age=("age", "first"), enrolled_in_year=("enrolled_in_year", "any"),
        eligible=("eligible", "any"), examined=("examined", "any"),
    ).reset_index()  # fmt: skip


def checkup_participation(population: pd.DataFrame) -> pd.DataFrame:
    """Checkup participation by 5-year age band and sex, small cells suppressed.

    Parameters
    ----------
    population : pandas.DataFrame
        From :func:`checkup_population`.

    Returns
    -------
    pandas.DataFrame
        ``age_band``, ``sex_ja``, ``sex_en``, ``n_enrolled`` (eligible), ``n_examined``,
        ``rate_pct``; counts under 10 shown as ``"<10"`` and their rates hidden.
    """
    p = population[population["eligible"]]
    df = (
        p.assign(age_band=age_band(p["age"]).to_numpy())
        .groupby(["age_band", "sex"], sort=True)
        .agg(n_enrolled=("eligible", "size"), n_examined=("examined", "sum"))
        .reset_index()
    )
    df["n_examined"] = df["n_examined"].astype("int64")
    df["rate_pct"] = 100 * df["n_examined"] / df["n_enrolled"]
    df.insert(1, "sex_ja", df["sex"].map(SEX_JA))
    df.insert(2, "sex_en", df["sex"].map(SEX_EN))
    df = df.drop(columns="sex")
    return suppress(
        df,
        ["n_enrolled", "n_examined"],
        known_totals="columns",
        derived={"rate_pct": ["n_enrolled", "n_examined"]},
    )


def key_numbers(population: pd.DataFrame, fiscal_year: int) -> dict:
    """The population figures of the report's summary (plain JSON types)."""
    start, end = fiscal_year_bounds(fiscal_year)
    return {
        "fiscal_year": int(fiscal_year),
        "n_enrolled": int(population["enrolled_in_year"].sum()),
        "n_eligible": int(population["eligible"].sum()),
        "n_examined": int(population["examined"].sum()),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
    }


COHORTS_DIR = "cohorts"
"""Person-level cohort tables live in ``RUN_DIR/cohorts/<name>/`` (never published)."""


def save_cohorts(cohorts: dict, run_dir) -> Path:
    """Write each cohort's tables to ``RUN_DIR/cohorts/<name>/`` for the later steps."""
    root = Path(run_dir) / COHORTS_DIR
    for name, cohort in cohorts.items():
        cohort.save(root / name)
    return root


def load_cohorts(run_dir, names=("vitality", "mystar", "risk")) -> dict:
    """Read back the cohorts step 01 saved (``Cohort`` objects, same tables).

    Raises
    ------
    UserError
        If a cohort is missing: run ``01_cohort`` first.
    """
    from analysis.cohort import Attrition, Cohort, load_spec

    out = {}
    for name in names:
        d = Path(run_dir) / COHORTS_DIR / name
        if not (d / "spec.json").exists():
            raise UserError(f"{d}: cohort {name!r} not found; run notebook 01_cohort first")
        meta = json.loads((d / "cohort.json").read_text(encoding="utf-8"))
        frame = pd.read_parquet(d / "attrition.parquet")
        rows = tuple(
            {k: (int(v) if k in ("step", "remaining", "excluded") else v) for k, v in r.items()}
            for r in frame.to_dict("records")
        )
        spec = load_spec(d / "spec.json")
        out[name] = Cohort(
            spec=spec,
            baseline=pd.read_parquet(d / "baseline.parquet"),
            outcomes=pd.read_parquet(d / "outcomes.parquet"),
            panel_monthly=pd.read_parquet(d / "panel_monthly.parquet"),
            attrition=Attrition(spec.spec_id, rows),
            engine=meta["engine"],
            nonoffered_index_date=dt.date.fromisoformat(meta["nonoffered_index_date"]),
        )
    return out


def period_text(fiscal_year: int) -> dict[str, str]:
    """The fiscal year as a period label in both languages."""
    from analysis.report.run_record import wareki_fiscal_year

    start, end = fiscal_year_bounds(fiscal_year)
    return {
        "ja": f"{wareki_fiscal_year(fiscal_year)}（{start:%Y年%-m月%-d日}〜{end:%Y年%-m月%-d日}）",
        "en": f"FY{fiscal_year} ({start.isoformat()} to {end.isoformat()})",
    }


def save_results(run_dir, fiscal_year: int, *, cohorts, population, flow_figure) -> list[Path]:
    """Write the step-01 artifacts the report reads (``REPORT_ARTIFACTS``)."""
    from analysis.runs import artifacts as art
    from analysis.runs.artifacts import save_figure_editions

    step, period = "01_cohort", period_text(fiscal_year)
    vit = {"ja": "Vitality 案内送付者（低・中リスク）", "en": "Offered Vitality (low/middle risk)"}
    return [
        art.save_numbers(key_numbers(population, fiscal_year), run_dir, step, "key_numbers"),
        art.save_table(
            attrition_table(cohorts["vitality"]), run_dir, step, "attrition",
            caption={"ja": "対象者の選定（Vitality）", "en": "Selection of the study population (Vitality)"},
            population=vit, period=period, published=True,
        ),
        *save_figure_editions(
            flow_figure, run_dir, step, "attrition_flow",
            caption={"ja": "対象者選定のフロー図", "en": "Flow of the study population"},
            alt={"ja": "案内送付者から分析対象者までの各段階の人数を示すフロー図",
                 "en": "Flow diagram with the number of people at each selection step"},
        ),
        art.save_table(
            table1(cohorts), run_dir, step, "table1",
            caption={"ja": "参加者と非参加者の基準時点の特性",
                     "en": "Baseline characteristics of participants and non-participants"},
            population={"ja": "各事業の案内送付者（基準日前1年以内に健診受診）",
                        "en": "People offered each program with a checkup in the year before"},
            period=period, published=True,
        ),
        art.save_table(
            checkup_participation(population), run_dir, step, "checkup_participation",
            caption={"ja": "特定健診の受診状況（年齢階級・性別）",
                     "en": "Specific health checkup participation by age band and sex"},
            population={"ja": "年度を通じて国保加入の40–74歳",
                        "en": "NHI enrollees aged 40-74 enrolled throughout the year"},
            period=period, published=True,
        ),
    ]  # fmt: skip

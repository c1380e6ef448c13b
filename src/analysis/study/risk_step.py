"""Step 02: rule-based stratification, the risk model, its validation, tiers and offers.

The model is validated temporally: it is fitted on the risk cohorts of earlier fiscal
years and validated on the latest year whose follow-up is long enough, then applied to
the evaluated year's risk cohort to assign tiers and next year's offers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.errors import UserError
from analysis.report import publish
from analysis.report.i18n import with_editions
from analysis.risk import (
    age_band,
    assign_tiers,
    fit_risk_model,
    next_year_offers,
    rule_comparison,
    temporal_validation,
    tier_counts,
)
from analysis.risk.metrics import harrell_c
from analysis.risk.table import DEFAULT_FEATURES, DEFAULT_SPLINES, risk_table
from analysis.seeds import rng
from analysis.study.cohort_step import SEX_EN, SEX_JA
from analysis.study.disclosure import suppress

HORIZON_YEARS = 2
"""Horizon of predicted risk and of the validation (years)."""
N_BOOTSTRAP_C = 200
"""Bootstrap resamples of the validation C-index interval."""
TIER_THRESHOLDS = (0.03, 0.10)
"""Predicted 2-year risk at which the middle and the high tier start."""
COMPARATOR_OPTIONS = {"n_estimators": 100, "max_rows": 2500}
"""Gradient-boosted comparator settings: 100 trees grown on at most 2,500 rows keep the
step fast (scikit-survival's Cox loss is quadratic in rows)."""
SUBGROUP_AGE_EDGES = (40, 65, 75)
"""Age bands of the subgroup validation: 40-64 and 65-74 (the 特定保健指導 split)."""
MODEL_LABELS = {
    "cox": ("Coxモデル（罰則付き、スプライン項）", "Cox model (penalised, spline terms)"),
    "gbm": ("勾配ブースティング（比較対照）", "Gradient boosting (comparator)"),
    "mhlw_level": ("特定保健指導の階層化（ルール）", "MHLW guidance levels (rule-based)"),
}
"""Japanese and English names of the compared rankings."""


@dataclass(frozen=True)
class RiskStep:
    """The fitted model, its temporal validation and the evaluated year's tiers.

    Attributes
    ----------
    validation : analysis.risk.TemporalValidation
    c_index_ci : (float, float)
        Percentile bootstrap interval of the validation C-index.
    people : pandas.DataFrame
        The evaluated year's modelling table (risk cohort with complete features).
    risk, tiers : pandas.Series
        Predicted risk and tier per row of ``people``.
    horizon_years : float
    comparator : analysis.risk.RiskEvaluation or None
        The gradient-boosted comparator's validation on the same people.
    subgroups : pandas.DataFrame or None
        Validation of the Cox model by sex and age band (unsuppressed; see
        :func:`subgroup_table`).
    rankings : pandas.DataFrame or None
        Harrell's C of the Cox model, the comparator and the rule-based levels
        (:func:`analysis.risk.rule_comparison`).
    """

    validation: object
    c_index_ci: tuple[float, float]
    people: pd.DataFrame
    risk: pd.Series
    tiers: pd.Series
    horizon_years: float
    comparator: object = None
    subgroups: pd.DataFrame | None = None
    rankings: pd.DataFrame | None = None

    @property
    def model(self):
        return self.validation.model

    def numbers(self) -> dict:
        """The validation figures the report reads (plain JSON types)."""
        ev = self.validation.evaluation
        m = ev.metrics.set_index("horizon")
        slope = m["calibration_slope"].get(self.horizon_years, np.nan)
        n_events = m["events"].get(self.horizon_years, np.nan)
        return {
            "c_index": float(ev.c_index),
            "c_index_ci_low": float(self.c_index_ci[0]),
            "c_index_ci_high": float(self.c_index_ci[1]),
            "calibration_slope": None if pd.isna(slope) else float(slope),
            "n_events": None if pd.isna(n_events) else int(n_events),
            "horizon_years": float(self.horizon_years),
            "train_years": [int(y) for y in self.validation.train_years],
            "test_years": [int(y) for y in self.validation.test_years],
            **self._comparison_numbers(),
        }

    def _comparison_numbers(self) -> dict:
        out = {}
        if self.comparator is not None:
            m = self.comparator.metrics.set_index("horizon")
            slope = m["calibration_slope"].get(self.horizon_years, np.nan)
            out["gbm_c_index"] = float(self.comparator.c_index)
            out["gbm_calibration_slope"] = None if pd.isna(slope) else float(slope)
        if self.rankings is not None:
            c = self.rankings.set_index("score")["harrell_c"]
            if "mhlw_level" in c:
                out["rule_c_index"] = float(c["mhlw_level"])
        ph = self.model.ph_test_
        if ph is not None:
            out["ph_violations"] = [str(v) for v in self.model.ph_violations]
        return out

    def __repr__(self) -> str:
        return (f"<RiskStep C={self.validation.evaluation.c_index:.3f} "
                f"people={len(self.people):,} horizon={self.horizon_years:g}y>")  # fmt: skip


def model_years(fiscal_year: int, con) -> tuple[list[int], int]:
    """Training years and the validation year of the temporal validation.

    Training: the two fiscal years before the validation year; validation: the year
    before ``fiscal_year`` (its follow-up runs to the end of the data). Years whose
    look-back falls before the data are left out.

    Raises
    ------
    UserError
        If no training year remains.
    """
    from analysis.cohort import default_specs
    from analysis.cohort.engine import claim_month_range

    first, last = claim_month_range(con)
    ok = []
    for fy in (fiscal_year - 3, fiscal_year - 2, fiscal_year - 1):
        try:
            default_specs(fy)["risk"].check_data_window(first, last)
            ok.append(fy)
        except UserError:
            continue
    if len(ok) < 2:
        raise UserError(
            f"fiscal_year {fiscal_year}: the data hold too few earlier years "
            f"({ok}) to fit and validate the risk model; need two of "
            f"{fiscal_year - 3}..{fiscal_year - 1}"
        )
    return ok[:-1], ok[-1]


def _complete(table: pd.DataFrame) -> pd.DataFrame:
    return table.dropna(subset=DEFAULT_FEATURES).reset_index(drop=True)


def model_table(con, years, *, engine: str = "duckdb") -> pd.DataFrame:
    """Risk-cohort modelling tables of ``years`` (index 1 October), stacked."""
    from analysis.cohort import build_cohort, default_specs

    frames = []
    for fy in years:
        spec = dataclasses.replace(
            default_specs(fy)["risk"], nonoffered_index_date=dt.date(fy, 10, 1)
        )
        c = build_cohort(con, spec, engine=engine)
        frames.append(risk_table(c.baseline, c.outcomes).assign(fiscal_year=fy))
    return _complete(pd.concat(frames, ignore_index=True))


def c_index_interval(model, data: pd.DataFrame, *, seed: int, n_bootstrap: int = N_BOOTSTRAP_C):
    """Percentile bootstrap interval of Harrell's C on ``data`` (model held fixed)."""
    lp = model.linear_predictor(data)
    t, e = data["time_years"].to_numpy(float), data["event"].to_numpy(bool)
    gen = rng(seed, "risk", "c_index_bootstrap")
    stats = []
    for _ in range(n_bootstrap):
        i = gen.integers(0, len(t), len(t))
        if e[i].any():
            stats.append(harrell_c(t[i], e[i], lp[i]))
    if len(stats) < 0.9 * n_bootstrap:
        return (float("nan"), float("nan"))
    return (float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975)))


def fit_and_validate(con, fiscal_year: int, risk_cohort, *, seed: int, engine: str = "duckdb"):
    """Fit on earlier years, validate on the latest, and tier the evaluated year.

    Parameters
    ----------
    con : ibis backend
        From ``analysis.cohort.connect``.
    fiscal_year : int
    risk_cohort : Cohort
        The evaluated year's ``risk`` cohort (step 01).
    seed : int

    Returns
    -------
    RiskStep
    """
    train_years, test_year = model_years(fiscal_year, con)
    data = model_table(con, [*train_years, test_year], engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tv = temporal_validation(
            data, split_year=test_year, duration="time_years", event="event",
            features=list(DEFAULT_FEATURES), spline_features=list(DEFAULT_SPLINES),
            competing_event="death", horizons=(HORIZON_YEARS,), seed=seed,
        )  # fmt: skip
    test = data[data["fiscal_year"] >= test_year]
    ci = c_index_interval(tv.model, test, seed=seed)
    comparator, subgroups, rankings = validation_extras(
        tv.model, data[data["fiscal_year"] < test_year], test, seed=seed
    )
    people = _complete(risk_table(risk_cohort.baseline, risk_cohort.outcomes))
    risk = tv.model.predict_risk(people, HORIZON_YEARS)
    tiers = assign_tiers(risk, thresholds=TIER_THRESHOLDS)
    return RiskStep(tv, ci, people, risk, tiers, HORIZON_YEARS, comparator, subgroups, rankings)


def validation_extras(
    model, train: pd.DataFrame, test: pd.DataFrame, *, seed: int, features=DEFAULT_FEATURES
):
    """The comparator, subgroup and rule-based validation of a fitted Cox ``model``.

    Fits the gradient-boosted comparator (:data:`COMPARATOR_OPTIONS`) on ``train`` and
    validates it on ``test``; validates ``model`` on ``test`` by sex and age band
    (:data:`SUBGROUP_AGE_EDGES`); and ranks ``test`` by the Cox model, the comparator and
    the 特定保健指導 level (``mhlw_level``; a missing level, no checkup assessed, ranks
    as 情報提供), all at :data:`HORIZON_YEARS`. ``features`` are the comparator's
    (the risk table's by default).

    Returns
    -------
    (RiskEvaluation, pandas.DataFrame, pandas.DataFrame)
        The comparator's evaluation, the subgroup measures (``subgroup``, ``level``,
        ``n``, ``events``, ``harrell_c``, ``calibration_slope`` ...) and the ranking
        comparison (``score``, ``harrell_c``, ``n``, ``events``).
    """
    outcome = dict(duration="time_years", event="event")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gbm = fit_risk_model(
            train, **outcome, features=list(features), model="gbm", seed=seed,
            gbm_options=dict(COMPARATOR_OPTIONS),
        )  # fmt: skip
        comparator = gbm.evaluate(test, horizons=(HORIZON_YEARS,))
        by_group = test.assign(age_group=age_band(test["age_years"], edges=SUBGROUP_AGE_EDGES))
        subgroups = model.evaluate(by_group, horizons=(HORIZON_YEARS,), by=["sex", "age_group"])
    level = test["mhlw_level"].astype(object).where(test["mhlw_level"].notna(), "information")
    scores = {
        "cox": pd.Series(model.linear_predictor(test), index=test.index),
        "gbm": pd.Series(gbm.linear_predictor(test), index=test.index),
        "mhlw_level": level,
    }
    rankings = rule_comparison(test, **outcome, scores=scores, horizon=HORIZON_YEARS)
    return comparator, subgroups.subgroups, rankings


def model_comparison(step: RiskStep) -> pd.DataFrame:
    """Cox model, gradient-boosted comparator and rule-based levels side by side (published).

    Columns ``model``, ``model_ja``, ``model_en``, ``harrell_c``, ``uno_c``, ``auc``,
    ``calibration_slope``, ``calibration_intercept``, ``brier`` (missing for the rule,
    which predicts no risk), ``n`` and ``events`` (by the horizon; text, under 10 shown
    as ``"<10"``).
    """
    if step.comparator is None or step.rankings is None:
        raise ValueError("model_comparison: the step has no comparator (fit_and_validate)")
    h = step.horizon_years
    cols = ["harrell_c", "uno_c", "auc", "calibration_slope", "calibration_intercept", "brier"]
    rows = []
    for key, ev in (("cox", step.validation.evaluation), ("gbm", step.comparator)):
        m = ev.metrics.set_index("horizon").loc[h]
        rows.append({"model": key, **{c: float(m[c]) for c in cols},
                     "n": int(m["n"]), "events": int(m["events"])})  # fmt: skip
    r = step.rankings.set_index("score").loc["mhlw_level"]
    rows.append({"model": "mhlw_level", **dict.fromkeys(cols, np.nan),
                 "harrell_c": float(r["harrell_c"]), "n": int(r["n"]),
                 "events": int(r["events"])})  # fmt: skip
    df = pd.DataFrame(rows)
    df.insert(1, "model_ja", df["model"].map(lambda k: MODEL_LABELS[k][0]))
    df.insert(2, "model_en", df["model"].map(lambda k: MODEL_LABELS[k][1]))
    return _hide_small_events(df, cols)


def subgroup_table(step: RiskStep) -> pd.DataFrame:
    """Validation of the Cox model by sex and age band (published).

    Columns ``subgroup`` (``sex`` / ``age_group``), ``level``, ``level_ja``, ``level_en``,
    ``n``, ``events`` (text), ``harrell_c``, ``uno_c``, ``calibration_slope``. A cell with fewer
    than 10 events by the horizon shows ``"<10"`` and no measures; the other level of the
    same subgrouping then shows ``"x"`` for its events (they would reveal the hidden count
    through the published total) but keeps its measures.
    """
    if step.subgroups is None:
        raise ValueError("subgroup_table: the step has no subgroup validation")
    sub = step.subgroups[step.subgroups["horizon"] == step.horizon_years]
    df = sub[["subgroup", "level", "n", "events", "harrell_c", "uno_c",
              "calibration_slope"]].reset_index(drop=True)  # fmt: skip
    sex_ja, sex_en = df["level"].map(SEX_JA), df["level"].map(SEX_EN)
    df.insert(2, "level_ja", sex_ja.where(df["subgroup"] == "sex", df["level"] + "歳"))
    df.insert(3, "level_en", sex_en.where(df["subgroup"] == "sex", df["level"]))
    parts = [_hide_small_events(g, ["harrell_c", "uno_c", "calibration_slope"], complement=True)
             for _, g in df.groupby("subgroup", sort=False)]  # fmt: skip
    return pd.concat(parts).reset_index(drop=True)


def _hide_small_events(df: pd.DataFrame, measures, *, complement: bool = False) -> pd.DataFrame:
    """Counts as text, under 10 as ``"<10"`` with their measures missing; with
    ``complement``, the remaining events of the group as ``"x"`` when one is hidden."""
    out = df.copy()
    small_events = out["events"].astype(int) < MIN_CELL_COUNT
    small_n = out["n"].astype(int) < MIN_CELL_COUNT
    mark = publish.small_count_mark()
    out[list(measures)] = out[list(measures)].astype(float).mask(small_events | small_n)
    events = out["events"].astype(int).astype(str).astype(object)  # text, as in suppress()
    events[small_events] = mark
    if complement and small_events.any():
        events[~small_events] = publish.COMPLEMENT_MARK
    n = out["n"].astype(int).astype(str).astype(object)
    n[small_n] = mark
    out["events"], out["n"] = events, n
    return out


def ph_table(step: RiskStep) -> pd.DataFrame:
    """Proportional-hazards test of the Cox model (scaled Schoenfeld residuals; no counts)."""
    ph = step.model.ph_test_
    if ph is None:
        raise ValueError("ph_table: the model was fitted without the PH test")
    out = ph.reset_index()
    return out.rename(columns={out.columns[0]: "term"})


def calibration_plot(step: RiskStep, lang: str = "ja"):
    """Calibration of the validated Cox model, labelled in ``lang``, redrawable in the other
    language (:func:`analysis.report.i18n.with_editions`); returns the Axes."""
    import matplotlib.pyplot as plt

    ev = step.validation.evaluation
    ax = ev.plot_calibration(ax=plt.subplots(figsize=(4.5, 4.5))[1],
                             horizon=step.horizon_years, lang=lang)  # fmt: skip
    return with_editions(ax, lang, lambda other: calibration_plot(step, other))


def decision_curve_plot(step: RiskStep, lang: str = "ja"):
    """Net benefit of the Cox model against treat-all and treat-none, labelled in ``lang``
    and redrawable in the other language; returns the Axes."""
    import matplotlib.pyplot as plt

    ev = step.validation.evaluation
    ax = ev.plot_decision_curve(ax=plt.subplots(figsize=(5, 4))[1],
                                horizon=step.horizon_years, lang=lang)  # fmt: skip
    return with_editions(ax, lang, lambda other: decision_curve_plot(step, other))


def tier_table(step: RiskStep) -> pd.DataFrame:
    """People per tier by age band and sex, small cells suppressed (published)."""
    p = step.people
    counts = tier_counts(step.tiers, p["sex"], p["age_years"], min_cell_count=1).reset_index()
    df = pd.DataFrame(
        {
            "age_band": counts["age_band"],
            "sex_ja": counts["sex"].map(SEX_JA),
            "sex_en": counts["sex"].map(SEX_EN),
            "n_low": counts["low"].astype("int64"),
            "n_middle": counts["middle"].astype("int64"),
            "n_high": counts["high"].astype("int64"),
        }
    )
    return suppress(df, ["n_low", "n_middle", "n_high"])


def level_by_tier(step: RiskStep) -> pd.DataFrame:
    """MHLW guidance level (rule-based) against model tier, small cells suppressed."""
    level = step.people["mhlw_level"].astype(object).fillna("not_assessed")
    table = pd.crosstab(level.rename("mhlw_level"), step.tiers.astype(object))
    table = table.reindex(columns=["low", "middle", "high"], fill_value=0).reset_index()
    table.columns.name = None
    return suppress(table, ["low", "middle", "high"])


def offers(step: RiskStep, fiscal_year: int, *, seed: int) -> pd.DataFrame:
    """Next fiscal year's offer list (pseudonymous ids: staff only, never published)."""
    return next_year_offers(
        step.people, step.risk, step.tiers, fiscal_year=fiscal_year + 1,
        horizon_years=step.horizon_years, seed=seed,
    )  # fmt: skip


def offer_counts(offer_list: pd.DataFrame) -> pd.DataFrame:
    """How many offers per program, tier and letter, small cells suppressed."""
    df = (
        offer_list.groupby(["program", "risk_tier", "letter_variant"], observed=True)
        .size()
        .rename("n")
        .reset_index()
    )
    return suppress(df, ["n"], complementary=False)


def save_results(run_dir, fiscal_year: int, step: RiskStep, *, offer_list, calibration_figure=None):
    """Write the step-02 artifacts (``REPORT_ARTIFACTS`` plus the validation tables and
    figures and the staff-only offer list).

    Figures are saved as ``<name>.png`` (the run's language) and ``<name>_<lang>.png`` in
    the other report language. ``calibration_figure`` may be a figure from
    :func:`calibration_plot`; when it is missing or cannot be redrawn in the other language
    (e.g. ``RiskModel.plot_calibration``, English axes only), the calibration figure is
    drawn from ``step`` in Japanese and English instead, and the passed figure is not saved.
    """
    import matplotlib.pyplot as plt

    from analysis.runs import artifacts as art
    from analysis.runs.artifacts import save_figure_editions
    from analysis.study.cohort_step import period_text

    name, period = "02_risk", period_text(fiscal_year)
    years = ", ".join(map(str, step.validation.train_years))
    population = {"ja": "リスク評価対象者（40–74歳、基準日前1年以内に健診受診）",
                  "en": "Risk cohort (aged 40-74, checkup in the year before)"}  # fmt: skip
    validated = {"ja": f"{years}年度で推定、翌年度で検証",
                 "en": f"fitted on FY{years}, validated on the next year"}  # fmt: skip
    h = f"{step.horizon_years:g}"
    own = calibration_figure is None or getattr(calibration_figure, "redraw_in", None) is None
    cal_fig = calibration_plot(step).figure if own else calibration_figure
    paths = [
        art.save_table(
            tier_table(step), run_dir, name, "tiers",
            caption={"ja": "リスク区分別の人数（年齢階級・性別）",
                     "en": "People per risk tier by age band and sex"},
            population=population, period=period, published=True,
        ),
        art.save_numbers(step.numbers(), run_dir, name, "validation"),
        *save_figure_editions(
            cal_fig, run_dir, name, "calibration",
            caption={"ja": f"リスクモデルの較正（{validated['ja']}）",
                     "en": f"Calibration of the risk model ({validated['en']})"},
            alt={"ja": "予測リスクと観察リスクを10群で比較した散布図",
                 "en": "Predicted versus observed risk in ten groups of predicted risk"},
        ),
    ]  # fmt: skip
    if own:
        plt.close(cal_fig)
    if step.comparator is not None:
        paths.append(art.save_table(
            model_comparison(step), run_dir, name, "model_comparison",
            caption={"ja": f"予測性能の比較：Coxモデル・勾配ブースティング・階層化（{h}年）",
                     "en": f"Prediction performance: Cox model, gradient boosting and "
                           f"MHLW guidance levels ({h} years)"},
            population=population, period=period, published=True,
        ))  # fmt: skip
    if step.subgroups is not None:
        paths.append(art.save_table(
            subgroup_table(step), run_dir, name, "subgroups",
            caption={"ja": f"性別・年齢階級別の予測性能（{h}年、イベント10件未満は非表示）",
                     "en": f"Prediction performance by sex and age band ({h} years; "
                           "cells with fewer than 10 events suppressed)"},
            population=population, period=period, published=True,
        ))  # fmt: skip
    if step.model.ph_test_ is not None:
        paths.append(art.save_table(
            ph_table(step), run_dir, name, "ph_test",
            caption={"ja": "比例ハザード性の検定（スケール化シェーンフェルド残差）",
                     "en": "Proportional-hazards test (scaled Schoenfeld residuals)"},
            period=period, published=True,
        ))  # fmt: skip
    dc = decision_curve_plot(step).figure
    try:
        paths += save_figure_editions(
            dc, run_dir, name, "decision_curve",
            caption={"ja": f"決定曲線：リスクモデルの正味の便益（{h}年、全員介入・介入なしと比較）",
                     "en": f"Decision curve: net benefit of the risk model ({h} years) "
                           "against treating all and none"},
            alt={"ja": "閾値確率ごとの正味の便益を示す折れ線グラフ",
                 "en": "Line chart of net benefit by threshold probability"},
        )  # fmt: skip
    finally:
        plt.close(dc)
    paths.append(art.save_table(
        offer_list, run_dir, name, "offer_list",
        caption={"ja": "翌年度の案内対象者名簿（職員用・非公開）",
                 "en": "Next year's offer list (staff only, not published)"},
        period=period_text(fiscal_year + 1), published=False,
    ))  # fmt: skip
    return paths

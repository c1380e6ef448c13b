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

from analysis.errors import UserError
from analysis.risk import (
    assign_tiers,
    next_year_offers,
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
    """

    validation: object
    c_index_ci: tuple[float, float]
    people: pd.DataFrame
    risk: pd.Series
    tiers: pd.Series
    horizon_years: float

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
        }

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
    ci = c_index_interval(tv.model, data[data["fiscal_year"] >= test_year], seed=seed)
    people = _complete(risk_table(risk_cohort.baseline, risk_cohort.outcomes))
    risk = tv.model.predict_risk(people, HORIZON_YEARS)
    tiers = assign_tiers(risk, thresholds=TIER_THRESHOLDS)
    return RiskStep(tv, ci, people, risk, tiers, HORIZON_YEARS)


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


def save_results(run_dir, fiscal_year: int, step: RiskStep, *, offer_list, calibration_figure):
    """Write the step-02 artifacts (``REPORT_ARTIFACTS`` plus the staff-only offer list)."""
    from analysis import artifacts as art
    from analysis.study.cohort_step import period_text

    name, period = "02_risk", period_text(fiscal_year)
    years = ", ".join(map(str, step.validation.train_years))
    return [
        art.save_table(
            tier_table(step), run_dir, name, "tiers",
            caption={"ja": "リスク区分別の人数（年齢階級・性別）",
                     "en": "People per risk tier by age band and sex"},
            population={"ja": "リスク評価対象者（40–74歳、基準日前1年以内に健診受診）",
                        "en": "Risk cohort (aged 40-74, checkup in the year before)"},
            period=period, published=True,
        ),
        art.save_numbers(step.numbers(), run_dir, name, "validation"),
        art.save_figure(
            calibration_figure, run_dir, name, "calibration",
            caption={"ja": f"リスクモデルの較正（{years}年度で推定、翌年度で検証）",
                     "en": f"Calibration of the risk model (fitted on FY{years}, "
                           "validated on the next year)"},
            alt={"ja": "予測リスクと観察リスクを10群で比較した散布図",
                 "en": "Predicted versus observed risk in ten groups of predicted risk"},
        ),
        art.save_table(
            offer_list, run_dir, name, "offer_list",
            caption={"ja": "翌年度の案内対象者名簿（職員用・非公開）",
                     "en": "Next year's offer list (staff only, not published)"},
            period=period_text(fiscal_year + 1), published=False,
        ),
    ]  # fmt: skip

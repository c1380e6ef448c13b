"""Pooled evaluation of several fiscal years' program cohorts (FY2021-FY2023 together).

One fiscal year of a 70,000-person city has about 60 Vitality and 13 Mystar participants:
too few for most effects to be shown. Pooling the offers of several years answers the
same question with more people. Each year's cohort is built exactly as the single-year
evaluation builds it (participants against offered non-participants of that year), and
the cohorts are stacked: a person offered in several years is one row per offer. The
estimators are the single-year ones with two additions:

- the offer year enters the propensity and outcome models as a fixed effect (a stratum),
  so that participants are compared with non-participants of their own year (uptake,
  costs and checkup values drift between years);
- standard errors are clustered by household, taking each person's household at their
  first offer, so that a person's offers in different years and the members of one
  household form one cluster (NHI is billed per household).

The estimand is the average effect over the participants of all pooled years (ATT), and
the same gates as a single year apply (participants, balance, overlap); sensitivity
estimates are withheld whenever the primary one is.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.report import publish
from analysis.study.effects import COVARIATES, Attempt, Outcome, run_methods

STEP = "06_pooled"
"""The step notebook of the pooled evaluation (its artifacts' folder)."""
YEAR_COLUMN = "offer_year"
"""The offer's fiscal year as a category (the fixed effect)."""
CLUSTER_COLUMN = "cluster_household"
"""Household at the person's first pooled offer (the cluster of the standard errors)."""
PERSON_COLUMN = "person"
"""The person's id; ``person_id`` of a pooled frame identifies the offer (person and year)."""


@dataclasses.dataclass(frozen=True)
class PooledOutcome:
    """An outcome of the pooled evaluation: the program, the outcome and its estimators."""

    program: str
    outcome: Outcome
    methods: tuple[str, ...]
    cost: bool = False


def pooled_outcomes() -> tuple[PooledOutcome, ...]:
    """The pre-declared pooled estimates: the headline outcome of each program and
    Vitality's 12-month cost (primary AIPW first, the single year's sensitivity estimators
    beside it).

    Mystar's cost is not pooled: even at ten times the real uptake its pooled analysis
    reached the 100 participants a cost estimate needs in only 2 of 40 benchmark cities,
    too few for the recovery benchmark to check the number it would publish.
    """
    from analysis.study import costs, exercise

    habit = exercise.EXERCISE_OUTCOMES[0]
    hba1c = costs.HEALTH_OUTCOMES[0]
    cost12 = costs.COST_OUTCOMES[0]
    return (
        PooledOutcome("vitality", habit, ("aipw", "regression", "ipw")),
        PooledOutcome("mystar", hba1c, costs.HEALTH_METHODS),
        PooledOutcome("vitality", cost12, costs.COST_METHODS, cost=True),
    )


def offer_key(person_id, fiscal_year) -> str:
    """The id of one offer in a pooled frame (person and fiscal year)."""
    return f"{person_id}@{int(fiscal_year)}"


def pooled_frame(cohorts_by_year: dict[int, object], columns) -> pd.DataFrame:
    """The stacked analysis frame of one program's cohorts, one row per offer.

    Parameters
    ----------
    cohorts_by_year : dict of int to Cohort
        The program's cohort of each fiscal year (built by ``default_specs(year)``).
    columns : sequence of str
        Outcome columns to carry (as in :func:`analysis.study.costs.cost_frame`).

    Returns
    -------
    pandas.DataFrame
        The single-year frames stacked, with :data:`YEAR_COLUMN`, :data:`PERSON_COLUMN`
        (the person), ``person_id`` (the offer: :func:`offer_key`) and
        :data:`CLUSTER_COLUMN`; prior-cost spline terms are computed on the stack.

    Raises
    ------
    ValueError
        Fewer than two years, or a year whose cohort holds one person twice.
    """
    from analysis.study.costs import prior_cost_terms
    from analysis.study.effects import analysis_frame

    if len(cohorts_by_year) < 2:
        raise ValueError(
            f"a pooled evaluation needs two or more years, got {sorted(cohorts_by_year)}"
        )
    frames = []
    for year in sorted(cohorts_by_year):
        df = analysis_frame(cohorts_by_year[year], [*columns, "followup_end"])
        if df["person_id"].duplicated().any():
            raise ValueError(f"cohort of FY{year}: a person appears twice")
        frames.append(df.assign(**{YEAR_COLUMN: f"FY{year}", PERSON_COLUMN: df["person_id"],
                                   "person_id": [offer_key(p, year) for p in df["person_id"]]}))  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out.attrs["missing_covariates"] = sum(f.attrs.get("missing_covariates", 0) for f in frames)
    first = out.drop_duplicates(PERSON_COLUMN).set_index(PERSON_COLUMN)["household_id"]
    out[CLUSTER_COLUMN] = out[PERSON_COLUMN].map(first).astype(str)
    return prior_cost_terms(out)


def pooled_effects(frames: dict[str, pd.DataFrame], *, seed: int) -> list[Attempt]:
    """The pre-declared pooled estimates (:func:`pooled_outcomes`) on ``frames`` (one
    :func:`pooled_frame` per program); an estimator that fails is a withheld row."""
    from analysis.study.costs import COST_COVARIATES, not_estimable, window_beyond_data

    out = []
    for p in pooled_outcomes():
        df = frames[p.program]
        covariates = [*(COST_COVARIATES if p.cost else COVARIATES), YEAR_COLUMN]
        headline = p.outcome.name in ("next_exercise_habit", "next_hba1c")
        beyond = window_beyond_data(df, p.outcome) if p.cost else ""
        if beyond:
            out += not_estimable(df, program=p.program, outcome=p.outcome, methods=p.methods,
                                 reason=beyond, headline=headline)  # fmt: skip
            continue
        out += run_methods(df, program=p.program, outcome=p.outcome, methods=p.methods,
                           seed=seed, covariates=covariates, cluster=CLUSTER_COLUMN,
                           headline_method="aipw" if headline else None)  # fmt: skip
    return out


def pooled_years(fiscal_year: int, pool_from: int) -> list[int]:
    """The fiscal years pooled: ``pool_from`` to ``fiscal_year``.

    Raises
    ------
    ValueError
        When ``pool_from`` is not before ``fiscal_year``.
    """
    if pool_from >= fiscal_year:
        raise ValueError(
            f"pool_from must be an earlier fiscal year than {fiscal_year}, got {pool_from}"
        )
    return list(range(pool_from, fiscal_year + 1))


def build_pooled_frames(con, years, *, engine: str = "duckdb") -> dict[str, pd.DataFrame]:
    """Build every year's program cohorts and stack them per program."""
    from analysis.cohort import build_cohorts, default_specs
    from analysis.study.costs import outcome_columns

    columns = outcome_columns([p.outcome for p in pooled_outcomes()])
    by_year: dict[str, dict[int, object]] = {"vitality": {}, "mystar": {}}
    for year in years:
        specs = {k: v for k, v in default_specs(year).items() if k in by_year}
        built = build_cohorts(con, specs, engine=engine)
        for program in by_year:
            by_year[program][year] = built[program]
    return {program: pooled_frame(c, columns) for program, c in by_year.items()}


def treated_offers(a: Attempt) -> pd.DataFrame:
    """The participants' offers an estimate used: ``person_id`` and ``fiscal_year``."""
    keys = pd.Series(list(a.treated_ids), dtype=str)
    parts = keys.str.rsplit("@", n=1, expand=True)
    if parts.shape[1] != 2:
        return pd.DataFrame({"person_id": pd.Series(dtype=str), "fiscal_year": np.array([], int)})
    return pd.DataFrame({"person_id": parts[0], "fiscal_year": parts[1].astype(int)})


SINGLE_YEAR_STEPS = ("03_effect_exercise", "04_effect_costs")
"""The steps whose effects tables hold the single year's estimates of the pooled outcomes."""


def single_year_effects(run_dir) -> pd.DataFrame:
    """The single year's effects tables of this run (steps 03 and 04), as one table."""
    from analysis.runs import artifacts as art

    tables = [art.load_table(run_dir, step, "effects") for step in SINGLE_YEAR_STEPS]
    return pd.concat(tables, ignore_index=True)


def save_results(run_dir, fiscal_year: int, pool_from: int, *, effects) -> list:
    """Write the pooled effects table the report reads (``06_pooled/effects``)."""
    from analysis.runs import artifacts as art

    years = f"FY{pool_from}-FY{fiscal_year}"
    period = {"ja": f"{pool_from}～{fiscal_year}年度の案内（各年度の翌年度までの経過）",
              "en": f"Offers of {years} (each followed into the next fiscal year)"}  # fmt: skip
    return [
        art.save_table(effects, run_dir, STEP, "effects",
                       caption={"ja": f"複数年度をまとめた効果（{years}）",
                                "en": f"Effects of the offers of {years} pooled"},
                       population={"ja": "各年度の各事業の案内送付者（案内ごとに1行）",
                                   "en": "People offered each program in each year (one row "
                                         "per offer)"},
                       period=period, published=True),
    ]  # fmt: skip


SIDE_FIELDS = ("estimate", "ci_low", "ci_high", "p_value", "passed", "reason", "reason_ja",
               "n_treated", "n_control")  # fmt: skip
"""Columns of an effects row shown for the single year and for the pooled years."""
SIDE_BY_SIDE_COLUMNS = [
    "outcome", "label_ja", "label_en", "unit_ja", "unit_en", "method", "role", "headline",
    "single_years", "pooled_years",
    *(f"{side}_{f}" for side in ("single", "pooled") for f in SIDE_FIELDS),
]  # fmt: skip


def side_by_side(single, pooled: pd.DataFrame, *, fiscal_year: int, pool_from: int,
                 year_counts: pd.DataFrame | None = None,
                 min_cell_count: int = MIN_CELL_COUNT) -> pd.DataFrame:  # fmt: skip
    """The single year's and the pooled estimates of each pooled outcome and method.

    ``single`` (one table or several, e.g. steps 03 and 04) and ``pooled`` are effects
    tables (``analysis.study.effects.effects_table``, counts already suppressed);
    ``year_counts`` (:func:`year_counts`) gives each outcome's participants and
    comparison people per offer year.

    A pooled count is hidden (``"x"``) when it could tell a count under
    ``min_cell_count`` of one year: when its difference from the single year's count is
    1 to ``min_cell_count - 1``, or when any pooled year has 1 to ``min_cell_count - 1``
    participants or comparison people (this year's and earlier years' reports publish
    the years' own counts, whose differences from the pooled one would tell it). Without
    ``year_counts`` every pooled count is hidden. A withheld pooled reason that quotes the
    hidden participant count (a failed size gate) shows it as ``x`` too. Counts are text,
    as in a published table.
    """
    if not isinstance(single, pd.DataFrame):
        single = pd.concat(list(single), ignore_index=True)
    keys = ["outcome", "method"]
    missing = pooled.merge(single[keys], on=keys, how="left", indicator=True)
    if (missing["_merge"] != "both").any():
        absent = missing.loc[missing["_merge"] != "both", keys].to_records(index=False).tolist()
        raise ValueError(f"side_by_side: no single-year row for {absent}")
    small_years = _small_years(year_counts, min_cell_count)
    s = single.set_index(keys)
    rows = []
    for _, r in pooled.iterrows():
        one = s.loc[(r["outcome"], r["method"])]
        row = {c: r[c] for c in SIDE_BY_SIDE_COLUMNS[:8]}
        row |= {
            "single_years": f"FY{fiscal_year}",
            "pooled_years": f"FY{pool_from}-FY{fiscal_year}",
        }
        row |= {f"single_{f}": _field(one, f) for f in SIDE_FIELDS}
        row |= {f"pooled_{f}": _field(r, f) for f in SIDE_FIELDS}
        hide_all = small_years is None or r["outcome"] in small_years
        for n in ("n_treated", "n_control"):
            a, b = publish.shown_count(one[n]), publish.shown_count(r[n])
            row[f"single_{n}"], row[f"pooled_{n}"] = _text(one[n]), _text(r[n])
            if b is not None and (hide_all or (a is not None and 0 < b - a < min_cell_count)):
                row[f"pooled_{n}"] = "x"
                for f in ("reason", "reason_ja"):  # a failed size gate quotes the count
                    row[f"pooled_{f}"] = _hide_observed(row[f"pooled_{f}"], b)
        rows.append(row)
    return pd.DataFrame(rows, columns=SIDE_BY_SIDE_COLUMNS)


def year_counts(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Participants and comparison people per offer year in each pooled outcome's
    analysis (people with the outcome measured): ``outcome`` (``program:name``),
    ``offer_year``, ``n_treated``, ``n_control``. Not for publication."""
    from analysis.study.effects import complete_cases

    rows = []
    for p in pooled_outcomes():
        data = complete_cases(frames[p.program], p.outcome.data_column)
        for year, g in data.groupby(YEAR_COLUMN):
            n1 = int(g["treat"].sum())
            rows.append({"outcome": f"{p.program}:{p.outcome.name}", "offer_year": year,
                         "n_treated": n1, "n_control": len(g) - n1})  # fmt: skip
    return pd.DataFrame(rows, columns=["outcome", "offer_year", "n_treated", "n_control"])


def _small_years(counts: pd.DataFrame | None, min_cell_count: int) -> set | None:
    """Outcomes with a pooled year of 1 to ``min_cell_count - 1`` participants or
    comparison people (``None`` without counts: treat every outcome so)."""
    if counts is None:
        return None
    n = counts[["n_treated", "n_control"]]
    small = ((n > 0) & (n < min_cell_count)).any(axis=1)
    return set(counts.loc[small, "outcome"])


def _hide_observed(reason, n: int):
    """``reason`` with the observed value ``n`` of a failed gate shown as ``x``."""
    if not isinstance(reason, str):
        return reason
    return re.sub(rf"\((observed|観測値) {float(n):.3g}\)", r"(\1 x)", reason)


def _field(row: pd.Series, name: str):
    """``row[name]``; an empty reason or NaN when the table has no such column."""
    if name in row.index:
        return row[name]
    return "" if name.startswith("reason") else np.nan


def _text(v) -> str:
    """A count cell as published text (``1234`` -> ``"1,234"``; marks unchanged)."""
    return v if isinstance(v, str) else f"{int(v):,}"


def offer_counts(frames: dict[str, pd.DataFrame], min_cell_count: int = MIN_CELL_COUNT):
    """Offers and participants per program and offer year in the pooled frames (the people
    with every covariate recorded), small counts suppressed."""
    rows = [{"program": program, "offer_year": year, "n_offered": len(g),
             "n_participants": int(g["treat"].sum())}
            for program, df in frames.items() for year, g in df.groupby(YEAR_COLUMN)]  # fmt: skip
    df = pd.DataFrame(rows, columns=["program", "offer_year", "n_offered", "n_participants"])
    return publish.suppress_small_counts(df, ["n_offered", "n_participants"], min_cell_count,
                                         known_totals="columns",
                                         nested=["n_offered", "n_participants"])  # fmt: skip

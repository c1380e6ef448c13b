"""``build_cohort``: from raw tables to the analysis tables of one cohort spec."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from analysis.cohort.attrition import Attrition
from analysis.cohort.baseline import baseline_expr, finish_baseline
from analysis.cohort.claims import person_months
from analysis.cohort.criteria import annotate, criteria
from analysis.cohort.engine import claim_month_range, connect, engine_name
from analysis.cohort.index import index_dates, nonoffered_index_date
from analysis.cohort.outcomes import finish_outcomes, outcomes_expr
from analysis.cohort.panel import PANEL_COLUMNS, monthly_panel
from analysis.cohort.spec import CohortSpec


@dataclass(frozen=True)
class Cohort:
    """The analysis tables of one cohort.

    Attributes
    ----------
    spec : CohortSpec
    baseline : pandas.DataFrame
        One row per person (see ``analysis.cohort.baseline``).
    outcomes : pandas.DataFrame
        One row per person (see ``analysis.cohort.outcomes``).
    panel_monthly : pandas.DataFrame
        Person x month costs, ``rel_month`` from ``-lookback_months`` to
        ``followup_months - 1``.
    attrition : Attrition
    engine : str
        ``duckdb`` or ``spark``.
    nonoffered_index_date : datetime.date
        Index date used for people neither offered nor taking part.
    """

    spec: CohortSpec
    baseline: pd.DataFrame
    outcomes: pd.DataFrame
    panel_monthly: pd.DataFrame
    attrition: Attrition
    engine: str
    nonoffered_index_date: dt.date

    @property
    def n(self) -> int:
        """Persons in the cohort."""
        return len(self.baseline)

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the tables and the spec into ``out_dir`` (created if needed).

        Files: ``baseline``, ``outcomes``, ``panel_monthly`` and ``attrition`` as Parquet,
        ``spec.json`` (the spec itself, readable by ``load_spec``) and ``cohort.json``
        (engine, non-offered index date, cohort size). Returns the directory.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.baseline.to_parquet(out / "baseline.parquet", index=False)
        self.outcomes.to_parquet(out / "outcomes.parquet", index=False)
        self.panel_monthly.to_parquet(out / "panel_monthly.parquet", index=False)
        self.attrition.to_frame().to_parquet(out / "attrition.parquet", index=False)
        self.spec.save(out / "spec.json")
        meta = {
            "spec_id": self.spec.spec_id,
            "engine": self.engine,
            "nonoffered_index_date": self.nonoffered_index_date.isoformat(),
            "persons": self.n,
        }
        (out / "cohort.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return out

    def __repr__(self) -> str:
        return (
            f"<Cohort spec={self.spec.spec_id!r} n={self.n:,} treated="
            f"{int(self.baseline['treated'].sum()):,} engine={self.engine}>"
        )


def build_cohort(con, spec: CohortSpec, *, engine: str = "duckdb", validate: bool = True) -> Cohort:
    """Build one cohort: attrition, baseline, outcomes and the monthly panel.

    Parameters
    ----------
    con : ibis backend or path
        A backend from ``connect``, or a dataset directory (then opened with ``engine``
        and ``validate``).
    spec : CohortSpec
    engine : {"duckdb", "spark"}
        Used only when ``con`` is a path.
    validate : bool
        Used only when ``con`` is a path.

    Returns
    -------
    Cohort

    Raises
    ------
    UserError
        A spec window outside the data, or no offers to date the non-offered.

    Examples
    --------
    >>> from analysis.cohort import build_cohort, connect, default_specs
    >>> con = connect("data/synthetic")  # doctest: +SKIP
    >>> cohort = build_cohort(con, default_specs(2023)["vitality"])  # doctest: +SKIP
    >>> cohort.attrition.summary()  # doctest: +SKIP
    """
    if isinstance(con, (str, os.PathLike)):
        con = connect(con, engine, validate=validate)
    sel = _select(con, spec)
    pm = person_months(con, sel.cohort).cache()
    try:
        return _tables(con, sel, pm)
    finally:
        pm.release()
        sel.release()


def build_cohorts(
    con, specs, *, engine: str = "duckdb", validate: bool = True
) -> dict[str, Cohort]:
    """Build several cohorts on one backend; ``specs`` is a dict or a list of specs.

    The claims of everyone in any of the cohorts are summarised once
    (``claims.person_months``) and shared; each cohort equals its ``build_cohort``.

    Returns
    -------
    dict of str to Cohort
        Keyed like ``specs`` (by ``spec_id`` for a list).
    """
    if isinstance(con, (str, os.PathLike)):
        con = connect(con, engine, validate=validate)
    items = list(specs.items() if isinstance(specs, dict) else ((s.spec_id, s) for s in specs))
    sels = [(key, _select(con, spec)) for key, spec in items]
    persons = None
    for _, sel in sels:
        ids = sel.cohort.select("person_id")
        persons = ids if persons is None else persons.union(ids, distinct=True)
    pm = person_months(con, persons).cache()
    try:
        return {key: _tables(con, sel, pm) for key, sel in sels}
    finally:
        pm.release()
        for _, sel in sels:
            sel.release()


@dataclass(frozen=True)
class _Selection:
    """A cohort selected but not yet tabulated: its cached Ibis tables and attrition."""

    spec: CohortSpec
    first_month: dt.date
    last_month: dt.date
    default_date: dt.date
    attrition: Attrition
    cohort: object
    cached: tuple

    def release(self) -> None:
        for t in self.cached:  # free engine memory
            t.release()


def _select(con, spec: CohortSpec) -> _Selection:
    """Index dates, criteria and attrition: the people of the cohort (a cached table)."""
    first_month, last_month = claim_month_range(con)
    spec.check_data_window(first_month, last_month)
    default_date = nonoffered_index_date(con, spec)
    start = index_dates(con, spec, default_date).cache()
    annotated = annotate(con, start, spec).cache()
    steps = criteria(spec)
    counts = _step_counts(con, annotated, spec, steps)
    attrition = _first_step(spec).add_to(Attrition(spec.spec_id), counts[0])
    t = annotated
    for c, n in zip(steps, counts[1:], strict=True):
        t = c.apply(t, spec)
        attrition = attrition.add(c.name, c.ja, c.en, n)
    cohort = t.cache()
    return _Selection(spec, first_month, last_month, default_date, attrition, cohort,
                      (cohort, annotated, start))  # fmt: skip


def _tables(con, sel: _Selection, pm) -> Cohort:
    """Baseline, outcomes and panel of a selected cohort (``pm`` may cover more people)."""
    spec, cohort = sel.spec, sel.cohort
    months = range(-spec.lookback_months, spec.followup_months)
    panel = monthly_panel(con, cohort, pm, sel.first_month, sel.last_month, months).cache()
    try:
        baseline = _execute(con, baseline_expr(con, cohort, panel, spec), "person_id")
        outcomes = _execute(con, outcomes_expr(con, cohort, panel, pm, spec), "person_id")
        panel_df = _execute(con, panel.select(*PANEL_COLUMNS), ["person_id", "rel_month"])
    finally:
        panel.release()
    return Cohort(
        spec=spec,
        baseline=finish_baseline(baseline),
        outcomes=finish_outcomes(outcomes, sel.last_month),
        panel_monthly=panel_df,
        attrition=sel.attrition,
        engine=engine_name(con),
        nonoffered_index_date=sel.default_date,
    )


@dataclass(frozen=True)
class _Step:
    name: str
    ja: str
    en: str

    def add_to(self, attrition: Attrition, n: int) -> Attrition:
        return attrition.add(self.name, self.ja, self.en, n)


def _first_step(spec: CohortSpec) -> _Step:
    fy = spec.fiscal_year
    if spec.comparator == "offered":
        return _Step(
            "offered",
            f"{fy}年度 {spec.target} 事業の案内送付者",
            f"Offered {spec.target} in FY{fy}",
        )
    return _Step("enrollees", "データ中の国保加入者", "NHI enrollees in the data")


def _step_counts(con, t, spec: CohortSpec, steps) -> list[int]:
    """People in the start population and after each step, counted in one query."""
    aggs = {"n0": t.count()}
    keep = None
    for i, c in enumerate(steps, start=1):
        cond = c.condition(t, spec).fill_null(False)
        keep = cond if keep is None else keep & cond
        aggs[f"n{i}"] = t.count(where=keep)
    row = con.execute(t.aggregate(**aggs))
    return [int(row[f"n{i}"].iloc[0]) for i in range(len(steps) + 1)]


def _execute(con, expr, order) -> pd.DataFrame:
    """Execute, sort by ``order``, reset the index and normalise dtypes across engines."""
    df = con.execute(expr)
    df = df.sort_values(order, kind="stable").reset_index(drop=True)
    return normalise(df, expr.schema())


def normalise(df: pd.DataFrame, schema: ibis.Schema) -> pd.DataFrame:
    """Dates as ``datetime64[ns]``; integers and booleans with missing values as nullable."""
    out = df.copy()
    for name, dtype in schema.items():
        col = out[name]
        if dtype.is_date() or dtype.is_timestamp():
            out[name] = pd.to_datetime(col).astype("datetime64[ns]")
        elif dtype.is_integer():
            out[name] = col.astype("Int64") if col.isna().any() else col.astype("int64")
        elif dtype.is_boolean():
            out[name] = col.astype("boolean") if col.isna().any() else col.astype(bool)
        elif dtype.is_floating():
            out[name] = col.astype("float64")
        elif dtype.is_string():
            out[name] = col.astype(object).where(col.notna(), None)
    return out

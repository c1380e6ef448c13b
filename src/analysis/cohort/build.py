"""``build_cohort``: from raw tables to the analysis tables of one cohort spec."""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import os
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from analysis.cohort.attrition import Attrition
from analysis.cohort.baseline import baseline_expr, finish_baseline
from analysis.cohort.claims import (
    code_flags,
    diagnosis_months,
    dialysis_months,
    event_flags,
    person_months,
    windows,
)
from analysis.cohort.criteria import annotate, criteria, enrollment_islands, spec_columns
from analysis.cohort.engine import claim_month_range, connect, engine_name, source
from analysis.cohort.index import index_dates, nonoffered_index_date
from analysis.cohort.outcomes import finish_outcomes, outcomes_expr, window_columns
from analysis.cohort.panel import PANEL_COLUMNS, monthly_panel
from analysis.cohort.spec import CohortSpec
from analysis.data.contract import PROGRAM_LABELS


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
    return build_cohorts(con, [spec])[spec.spec_id]


def build_cohorts(
    con, specs, *, engine: str = "duckdb", validate: bool = True
) -> dict[str, Cohort]:
    """Build several cohorts on one backend; ``specs`` is a dict or a list of specs.

    The code lists are matched and the dialysis months found once, and the claims of
    everyone in any of the cohorts are summarised once (``analysis.cohort.claims``);
    each cohort equals its ``build_cohort``.

    Returns
    -------
    dict of str to Cohort
        Keyed like ``specs`` (by ``spec_id`` for a list).
    """
    if isinstance(con, (str, os.PathLike)):
        con = connect(con, engine, validate=validate)
    items = list(specs.items() if isinstance(specs, dict) else ((s.spec_id, s) for s in specs))
    months = claim_month_range(con)
    for _, spec in items:
        spec.check_data_window(*months)
    cached = []
    restore = _unordered(con)
    try:
        codes = _cache(cached, code_flags(con))
        dialysis = _cache(cached, dialysis_months(con, codes))
        islands = _cache(cached, enrollment_islands(source(con, "enrollment")))
        sels, stack = _select(con, [spec for _, spec in items], dialysis, islands, months, cached)
        wins = _cache(cached, windows(stack))
        dx = _cache(cached, diagnosis_months(con, wins, codes))
        pm = _cache(cached, person_months(con, wins))
        events = _cache(cached, event_flags(dx, dialysis))
        tables = _tables(con, sels, stack, pm, dx, events, islands)
        return {key: t for (key, _), t in zip(items, tables, strict=True)}
    finally:
        for t in reversed(cached):  # free engine memory
            t.release()
        restore()


def _unordered(con):
    """Let DuckDB drop row order where no ``ORDER BY`` asks for it (faster, less memory);
    every result of the build is sorted explicitly. Returns a function restoring the
    connection's setting."""
    if engine_name(con) != "duckdb":
        return lambda: None
    raw = con.con
    ((before,),) = raw.sql("SELECT current_setting('preserve_insertion_order')").fetchall()
    raw.sql("SET preserve_insertion_order = false")
    return lambda: raw.sql(f"SET preserve_insertion_order = {str(bool(before)).lower()}")


def _cache(cached: list, table):
    """Cache ``table`` on the engine and remember it for release."""
    t = table.cache()
    cached.append(t)
    return t


@dataclass(frozen=True)
class _Selection:
    """A cohort selected but not yet tabulated: its spec, data months and attrition."""

    spec: CohortSpec
    first_month: dt.date
    last_month: dt.date
    default_date: dt.date
    attrition: Attrition


def _select(con, specs: list[CohortSpec], dialysis, islands, months, cached: list):
    """Index dates, criteria and attrition of every spec, in stacked queries.

    The start populations of all specs are stacked (``_cohort`` numbers them, the spec's
    parameters ride along as ``criteria.SPEC_COLUMNS``), annotated once, counted after
    every criterion of their own spec in one query, and filtered once.

    Returns
    -------
    list of _Selection, ibis.Table
        The selections, and the stacked cohorts (a cached table) with a row number
        ``_row`` (``panel.KEYS``).
    """
    first_month, last_month = months
    dates: dict = {}  # the non-offered index date of each fiscal year, shared by specs
    parts = []
    for i, spec in enumerate(specs):
        key = (spec.fiscal_year, spec.nonoffered_index_date)
        if key not in dates:
            dates[key] = nonoffered_index_date(con, spec)
        start = index_dates(con, spec, dates[key])
        parts.append(start.mutate(**spec_columns(start, spec, i)))
    start = (parts[0] if len(parts) == 1 else ibis.union(*parts)).cache()
    annotated = annotate(con, start, dialysis, islands).cache()
    start.release()
    try:
        aggs, keeps, steps = {}, [], []
        for i, spec in enumerate(specs):
            keep = annotated._cohort == i
            aggs[f"n{i}_0"] = annotated.count(where=keep)
            steps.append(criteria(spec))
            for j, c in enumerate(steps[-1], start=1):
                keep = keep & c.condition(annotated, spec).fill_null(False)
                aggs[f"n{i}_{j}"] = annotated.count(where=keep)
            keeps.append(keep)
        row = con.execute(annotated.aggregate(**aggs))
        sels = []
        for i, spec in enumerate(specs):
            n = [int(row[f"n{i}_{j}"].iloc[0]) for j in range(len(steps[i]) + 1)]
            attrition = _first_step(spec).add_to(Attrition(spec.spec_id), n[0])
            for c, count in zip(steps[i], n[1:], strict=True):
                attrition = attrition.add(c.name, c.ja, c.en, count)
            date = dates[(spec.fiscal_year, spec.nonoffered_index_date)]
            sels.append(_Selection(spec, first_month, last_month, date, attrition))
        kept = annotated.filter(functools.reduce(operator.or_, keeps))
        row_number = ibis.row_number().over(order_by=[kept._cohort, kept.person_id])
        stack = _cache(cached, kept.mutate(_row=row_number))
    finally:
        annotated.release()  # the whole start populations: freed once the cohorts are kept
    return sels, stack


def _tables(con, sels: list[_Selection], stack, pm, dx, events, islands) -> list[Cohort]:
    """Baseline, outcomes and panel of the stacked cohorts ``stack`` (``pm``, ``dx`` and
    ``events`` may cover more people).

    Each table is one query for all cohorts; the results are split by cohort before the
    pandas finishing steps.
    """
    specs = [s.spec for s in sels]
    months = range(-max(s.lookback_months for s in specs), max(s.followup_months for s in specs))
    first, last = sels[0].first_month, sels[0].last_month
    panel = monthly_panel(con, stack, pm, islands, first, last, months).cache()
    try:
        cost_windows = list(dict.fromkeys(w for s in specs for w in s.cost_windows_months))
        baselines = _execute_parts(
            con, baseline_expr(con, stack, panel, dx), "person_id", len(sels)
        )
        outcomes = _execute_parts(
            con, outcomes_expr(con, stack, panel, events, cost_windows), "person_id", len(sels)
        )
        panels = [
            _execute(
                con,
                panel.filter(panel._cohort == i).select(*PANEL_COLUMNS),
                ["person_id", "rel_month"],
            )
            for i in range(len(sels))
        ]  # one query each: a cohort's Arrow result is freed as it is converted
    finally:
        panel.release()
    out = []
    for sel, b, o, p in zip(sels, baselines, outcomes, panels, strict=True):
        out.append(
            Cohort(
                spec=sel.spec,
                baseline=finish_baseline(b),
                outcomes=finish_outcomes(_own_windows(o, sel.spec, cost_windows), sel.last_month),
                panel_monthly=p,
                attrition=sel.attrition,
                engine=engine_name(con),
                nonoffered_index_date=sel.default_date,
            )
        )
    return out


def _own_windows(df: pd.DataFrame, spec: CohortSpec, cost_windows: list[int]) -> pd.DataFrame:
    """Keep the cost-window columns of ``spec`` (in its order) where the stack had all."""
    every = [c for w in cost_windows for c in window_columns(w)]
    if list(spec.cost_windows_months) == cost_windows:
        return df
    at = list(df.columns).index(every[0])
    rest = [c for c in df.columns if c not in set(every)]
    own = [c for w in spec.cost_windows_months for c in window_columns(w)]
    return df[rest[:at] + own + rest[at:]]


@dataclass(frozen=True)
class _Step:
    name: str
    ja: str
    en: str

    def add_to(self, attrition: Attrition, n: int) -> Attrition:
        return attrition.add(self.name, self.ja, self.en, n)


def _label(program: str | None, lang: str) -> str:
    """The published name of a program (the code itself when it has none)."""
    return PROGRAM_LABELS.get(program, {}).get(lang, str(program))


def _first_step(spec: CohortSpec) -> _Step:
    fy = spec.fiscal_year
    if spec.comparator == "offered":
        return _Step(
            "offered",
            f"{fy}年度 {_label(spec.target, 'ja')}の案内送付者",
            f"Offered {_label(spec.target, 'en')} in FY{fy}",
        )
    return _Step("enrollees", "データ中の国保加入者", "NHI enrollees in the data")


def _execute_parts(con, expr, order, n: int) -> list[pd.DataFrame]:
    """Execute a stacked expression once and split it by ``_cohort`` (0..n-1).

    Each part is sorted by ``order``, has ``_cohort`` dropped, and its dtypes normalised on
    its own rows (as ``_execute`` on that cohort alone would).
    """
    import numpy as np

    order = [order] if isinstance(order, str) else list(order)
    schema = ibis.schema({k: v for k, v in expr.schema().items() if k != "_cohort"})
    if engine_name(con) == "duckdb":  # sorted by cohort: the parts are slices of the result
        table = con.to_pyarrow(expr.order_by(["_cohort", *order]))
        bounds = np.searchsorted(table.column("_cohort").to_numpy(), np.arange(n + 1))
        table = table.drop_columns(["_cohort"])
        return [
            normalise(_to_pandas(table.slice(lo, hi - lo)), schema, copy=False)
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    df = _execute(con, expr, ["_cohort", *order], normalise_dtypes=False)
    key = df.pop("_cohort").to_numpy()
    parts = []
    for i in range(n):
        part = df.take(np.flatnonzero(key == i)).reset_index(drop=True)
        parts.append(normalise(part, schema, copy=False))
    return parts


def _execute(con, expr, order, *, normalise_dtypes: bool = True) -> pd.DataFrame:
    """Execute, sort by ``order``, reset the index and normalise dtypes across engines."""
    order = [order] if isinstance(order, str) else list(order)
    if engine_name(con) == "duckdb":  # sorted by the engine, converted without copies
        df = _to_pandas(con.to_pyarrow(expr.order_by(order)), self_destruct=True)
        return normalise(df, expr.schema(), copy=False) if normalise_dtypes else df
    df = con.execute(expr)
    df = df.sort_values(order, kind="stable").reset_index(drop=True)
    return normalise(df, expr.schema()) if normalise_dtypes else df


def _to_pandas(table, *, self_destruct: bool = False) -> pd.DataFrame:
    """An Arrow result as pandas (``self_destruct``: freeing ``table`` as it goes).

    Nullable integers and booleans go straight to pandas' masked dtypes; Ibis's own
    ``execute`` turns every column holding a null into Python objects first, which
    dominates the time of wide results.
    """
    import pyarrow as pa

    masked = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(),
              pa.int16(): pd.Int16Dtype(), pa.int8(): pd.Int8Dtype(),
              pa.bool_(): pd.BooleanDtype()}  # fmt: skip
    return table.to_pandas(
        types_mapper=masked.get,
        date_as_object=False,
        split_blocks=True,
        self_destruct=self_destruct,
    )


def normalise(df: pd.DataFrame, schema: ibis.Schema, *, copy: bool = True) -> pd.DataFrame:
    """Dates as ``datetime64[ns]``; integers and booleans with missing values as nullable.

    ``copy=False`` converts ``df`` in place (for frames nobody else holds).
    """
    out = df.copy() if copy else df
    for name, dtype in schema.items():
        col = out[name]
        if dtype.is_date() or dtype.is_timestamp():
            if not pd.api.types.is_datetime64_dtype(col):  # to_datetime is slow on datetimes
                col = pd.to_datetime(col)
            out[name] = col.astype("datetime64[ns]")
        elif dtype.is_integer():
            want = "Int64" if col.isna().any() else "int64"
            if col.dtype != want:
                out[name] = col.astype(want)
        elif dtype.is_boolean():
            want = "boolean" if col.isna().any() else bool
            if col.dtype != want:
                out[name] = col.astype(want)
        elif dtype.is_floating():
            if col.dtype != "float64":
                out[name] = col.astype("float64")
        elif dtype.is_string():
            out[name] = col.astype(object).where(col.notna(), None)
    return out

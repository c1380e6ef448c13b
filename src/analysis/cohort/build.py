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
from analysis.cohort.baseline import as_datetime, baseline_expr, finish_baseline
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
from analysis.cohort.panel import KEYS, PANEL_COLUMNS, monthly_panel
from analysis.cohort.runner import runner
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
    each cohort equals its ``build_cohort``. Each cached table is dropped after its last
    reader (``analysis.cohort.runner``).

    Returns
    -------
    dict of str to Cohort
        Keyed like ``specs`` (by ``spec_id`` for a list).
    """
    if isinstance(con, (str, os.PathLike)):
        con = connect(con, engine, validate=validate)
    items = list(specs.items() if isinstance(specs, dict) else ((s.spec_id, s) for s in specs))
    specs = [spec for _, spec in items]
    months = claim_month_range(con)
    for spec in specs:
        spec.check_data_window(*months)
    dates: dict = {}  # the non-offered index date of each fiscal year, shared by specs
    for spec in specs:
        key = (spec.fiscal_year, spec.nonoffered_index_date)
        if key not in dates:
            dates[key] = nonoffered_index_date(con, spec)
    defaults = [dates[(s.fiscal_year, s.nonoffered_index_date)] for s in specs]
    restore = _unordered(con)
    try:
        with runner(con) as run:
            codes = run.cache(code_flags(con))
            dialysis = run.cache(dialysis_months(con, codes))
            islands = run.cache(enrollment_islands(source(con, "enrollment")))
            stack, attritions = _select(run, specs, defaults, dialysis, islands)
            wins = run.cache(windows(stack))
            dx = run.cache(diagnosis_months(con, wins, codes))
            pm = run.cache(person_months(con, wins))
            events = run.cache(event_flags(dx, dialysis))
            for t in (codes, dialysis, wins):  # each table is dropped after its last reader
                run.release(t)
            tables = _tables(run, specs, months, stack, pm, dx, events, islands)
            out = {}
            for (key, spec), t, a, d in zip(items, tables, attritions(), defaults, strict=True):
                out[key] = Cohort(spec=spec, attrition=a, engine=engine_name(con),
                                  nonoffered_index_date=d, **t)  # fmt: skip
            return out
    finally:
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


def _select(run, specs: list[CohortSpec], defaults: list[dt.date], dialysis, islands):
    """Index dates, criteria and attrition of every spec, in stacked queries.

    The start populations of all specs are stacked (``_cohort`` numbers them, the spec's
    parameters ride along as ``criteria.SPEC_COLUMNS``), annotated once, counted after
    every criterion of their own spec in one query, and filtered once.

    Returns
    -------
    ibis.Table, callable
        The stacked cohorts (a cached table) with a row number ``_row``
        (``panel.KEYS``), and a function returning the specs' ``Attrition`` (waiting for
        the counts).
    """
    con = run.con
    parts = []
    for i, (spec, default) in enumerate(zip(specs, defaults, strict=True)):
        start = index_dates(con, spec, default)
        parts.append(start.mutate(**spec_columns(start, spec, i)))
    start = run.cache(parts[0] if len(parts) == 1 else ibis.union(*parts))
    annotated = run.cache(annotate(con, start, dialysis, islands))
    run.release(start)
    aggs, keeps, steps = {}, [], []
    for i, spec in enumerate(specs):
        keep = annotated._cohort == i
        aggs[f"n{i}_0"] = annotated.count(where=keep)
        steps.append(criteria(spec))
        for j, c in enumerate(steps[-1], start=1):
            keep = keep & c.condition(annotated, spec).fill_null(False)
            aggs[f"n{i}_{j}"] = annotated.count(where=keep)
        keeps.append(keep)
    counts = run.submit(_execute_value, annotated.aggregate(**aggs))
    kept = annotated.filter(functools.reduce(operator.or_, keeps))
    row_number = ibis.row_number().over(order_by=[kept._cohort, kept.person_id])
    stack = run.cache(kept.mutate(_row=row_number))
    run.release(annotated)  # the whole start populations: freed once the cohorts are kept

    def attritions() -> list[Attrition]:
        row = counts.result()
        out = []
        for i, spec in enumerate(specs):
            n = [int(row[f"n{i}_{j}"].iloc[0]) for j in range(len(steps[i]) + 1)]
            attrition = _first_step(spec).add_to(Attrition(spec.spec_id), n[0])
            for c, count in zip(steps[i], n[1:], strict=True):
                attrition = attrition.add(c.name, c.ja, c.en, count)
            out.append(attrition)
        return out

    return stack, attritions


def _execute_value(con, expr) -> pd.DataFrame:
    return con.execute(expr)


def _tables(run, specs: list[CohortSpec], months, stack, pm, dx, events, islands) -> list[dict]:
    """Baseline, outcomes and panel of the stacked cohorts ``stack`` (``pm``, ``dx`` and
    ``events`` may cover more people).

    Baseline and outcomes are one query each for all cohorts, split by cohort before the
    pandas finishing steps. The panel, the largest result, is one query per cohort, each
    fetched once the one before is converted, so that one of them is held at a time.
    """
    con = run.con
    first, last = months
    rel = range(-max(s.lookback_months for s in specs), max(s.followup_months for s in specs))
    n = len(specs)
    panel = run.cache(monthly_panel(stack, pm, islands, first, last, rel))
    run.release(pm)
    run.release(islands)
    cost_windows = list(dict.fromkeys(w for s in specs for w in s.cost_windows_months))
    baselines = _fetch_parts(run, baseline_expr(con, stack, panel, dx), "person_id", n)
    run.release(dx)
    outcomes = _fetch_parts(
        run, outcomes_expr(con, stack, panel, events, cost_windows), "person_id", n
    )
    run.release(events)
    run.release(stack)

    def panel_of(i: int):  # sorted on the row number: the person-id order, in integers
        rows = panel.filter(panel._cohort == i).select(*KEYS, *PANEL_COLUMNS)
        return _fetch(run, rows, [*KEYS, "rel_month"], drop=KEYS)

    pending = panel_of(0)
    out = []
    for i, (spec, b, o) in enumerate(zip(specs, baselines(), outcomes(), strict=True)):
        tables = {
            "baseline": finish_baseline(b),
            "outcomes": finish_outcomes(_own_windows(o, spec, cost_windows), last),
        }
        if i + 1 == n:
            run.release(panel)
        tables["panel_monthly"] = pending()
        if i + 1 < n:
            pending = panel_of(i + 1)
        out.append(tables)
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


def _fetch_parts(run, expr, order, n: int):
    """Run a stacked expression; a function returning it split by ``_cohort`` (0..n-1).

    Each part is sorted by ``order``, has ``_cohort`` dropped, and its dtypes normalised on
    its own rows (as ``_fetch`` on that cohort alone would).
    """
    import numpy as np

    order = [order] if isinstance(order, str) else list(order)
    schema = ibis.schema({k: v for k, v in expr.schema().items() if k != "_cohort"})
    if engine_name(run.con) == "duckdb":  # sorted by cohort: the parts are slices of the result
        pending = [run.arrow(expr.order_by(["_cohort", *order]))]

        def parts():
            table = pending.pop().result()  # the Arrow result is freed once split
            bounds = np.searchsorted(table.column("_cohort").to_numpy(), np.arange(n + 1))
            table = table.drop_columns(["_cohort"])
            return [
                normalise(_to_pandas(table.slice(lo, hi - lo)), schema, copy=False)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
            ]

        return parts
    fetched = _fetch(run, expr, ["_cohort", *order], normalise_dtypes=False)

    def split():
        df = fetched()
        key = df.pop("_cohort").to_numpy()
        parts = []
        for i in range(n):
            part = df.take(np.flatnonzero(key == i)).reset_index(drop=True)
            parts.append(normalise(part, schema, copy=False))
        return parts

    return split


def _fetch(run, expr, order, *, drop=(), normalise_dtypes: bool = True):
    """Run ``expr``; a function returning it sorted by ``order``, without the columns
    ``drop`` (sort keys not published), with a fresh index and dtypes normalised across
    engines."""
    order = [order] if isinstance(order, str) else list(order)
    drop = list(drop)
    schema = ibis.schema({k: v for k, v in expr.schema().items() if k not in drop})
    if engine_name(run.con) == "duckdb":  # sorted by the engine, converted without copies
        pending = [run.arrow(expr.order_by(order))]

        def fetched():
            table = pending.pop().result().drop_columns(drop)
            df = _to_pandas(table, self_destruct=True)
            return normalise(df, schema, copy=False) if normalise_dtypes else df

        return fetched
    pending = [run.submit(_execute_value, expr)]

    def executed():
        df = pending.pop().result().sort_values(order, kind="stable")
        df = df.drop(columns=drop).reset_index(drop=True)
        return normalise(df, schema) if normalise_dtypes else df

    return executed


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
            if col.dtype != "datetime64[ns]":
                out[name] = as_datetime(col).astype("datetime64[ns]")
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
            if col.dtype != object or col.isna().any():  # missing values as None
                out[name] = col.astype(object).where(col.notna(), None)
    return out

"""Column rules built from the table contract: pandera schemas, and the same rules on an engine.

The contract (``analysis.data.contract``) is the single source of truth; this module only
translates each :class:`~analysis.data.contract.Table` into its column rules (type,
nullability, plausible range, allowed codes, pattern), in two forms made by one function
(:func:`value_rules`), so that they cannot drift apart:

- a pandera ``DataFrameSchema`` (:func:`schema`, with the primary key) for pandas frames
  in a *canonical* form (see :func:`canonical_frame`): the in-memory reference;
- SQL predicates, evaluated on DuckDB by :func:`column_failures`: one aggregate query
  per table counts every rule (another keeps the first examples of broken ones), so that
  the validator never loads a table into memory.

Two value rules are not expressible as contract fields and are added here:

- ``icd10`` codes must look like ICD-10 without the dot (``E119``, ``I10``, ``N184``);
- integer columns hold whole numbers (guaranteed by the canonical ``Int64`` dtype).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.data.contract import TABLES, Column, table

ICD10_PATTERN = r"^[A-Z][0-9]{2}[0-9A-Z]{0,2}$"
"""ICD-10 without the dot: a letter, two digits, up to two more characters."""

_PANDAS_DTYPES = {
    "string": pd.StringDtype("pyarrow"),
    "int": pd.Int64Dtype(),
    "float": "float64",
    "date": "datetime64[ns]",
    "bool": pd.BooleanDtype(),
}

EXTRA_PATTERNS = {("claim_diagnoses", "icd10"): ICD10_PATTERN}
"""Per-column patterns beyond the contract: ``{(table, column): regex}``."""


def value_rules(table_name: str, col: Column) -> list[tuple[Any, Callable[[str], str]]]:
    """The value rules of one column, each as a pandera check and as a SQL predicate.

    Returns
    -------
    list of (pandera.Check, callable)
        The callable takes a SQL column expression and returns a predicate that is true
        where a value breaks the rule, and null where the value is missing (missing values
        are the ``nullable`` rule's business: pandera's checks ignore them).

    Examples
    --------
    >>> [(check.error, sql("x")) for check, sql in value_rules("claims", table("claims").column("days"))]
    [('in_range(0, 31)', 'NOT (x BETWEEN 0 AND 31)')]
    """
    import pandera.pandas as pa_

    return [
        (getattr(pa_.Check, method)(*args, name=name), sql)
        for name, _, (method, *args), sql in value_rule_specs(table_name, col)
    ]


def value_rule_specs(
    table_name: str, col: Column
) -> list[tuple[str, str, tuple, Callable[[str], str]]]:
    """The rules of :func:`value_rules` without pandera, whose import takes a second that
    the validator need not spend: ``(name, error, check, sql)``, with the check's name and
    error text as pandera gives them and ``check`` = ``(method of pandera's Check, *args)``.

    Examples
    --------
    >>> [spec[:3] for spec in value_rule_specs("claims", table("claims").column("days"))]
    [('in_range', 'in_range(0, 31)', ('in_range', 0, 31))]
    """
    rules: list[tuple[str, str, tuple, Callable[[str], str]]] = []
    lo, hi, allowed = col.min, col.max, col.allowed
    if allowed is not None:
        codes = ", ".join(map(_sql_literal, allowed))
        rules.append(
            (
                "allowed_codes",
                f"isin({list(allowed)})",
                ("isin", list(allowed)),
                lambda x: f"{x} NOT IN ({codes})",
            )
        )
    elif lo is not None and hi is not None:
        rules.append(
            (
                "in_range",
                f"in_range({lo}, {hi})",
                ("in_range", lo, hi),
                lambda x: f"NOT ({x} BETWEEN {lo} AND {hi})",
            )
        )
    elif lo is not None:
        rules.append(
            ("in_range", f"greater_than_or_equal_to({lo})", ("ge", lo), lambda x: f"{x} < {lo}")
        )
    elif hi is not None:
        rules.append(
            ("in_range", f"less_than_or_equal_to({hi})", ("le", hi), lambda x: f"{x} > {hi}")
        )
    pattern = EXTRA_PATTERNS.get((table_name, col.name))
    if pattern is not None:
        rules.append(
            (
                "pattern",
                f"str_matches('{pattern}')",
                ("str_matches", pattern),
                lambda x: f"NOT regexp_matches({x}, {_sql_literal(pattern)})",
            )
        )
    return rules


def _sql_literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _checks(table_name: str, col: Column) -> list:
    return [check for check, _ in value_rules(table_name, col)]


@functools.cache
def schema(name: str, keys: bool = True):
    """The pandera ``DataFrameSchema`` of one contract table.

    Parameters
    ----------
    name : str
        Contract table name, e.g. ``"checkups"``.
    keys : bool
        Include the primary-key uniqueness check (the validator leaves it to DuckDB,
        which is much faster on millions of rows).

    Returns
    -------
    pandera.pandas.DataFrameSchema
        Strict (no extra columns), not coercing, with the primary key as ``unique``.

    Raises
    ------
    ValueError
        If ``name`` is not a contract table.

    Examples
    --------
    >>> s = schema("claims")
    >>> sorted(s.columns)[:3]
    ['claim_id', 'cost_yen', 'days']
    """
    import pandera.pandas as pa_

    t = table(name)
    columns = {
        c.name: pa_.Column(
            _PANDAS_DTYPES[c.kind],
            checks=_checks(name, c),
            nullable=c.nullable,
            title=c.en,
            description=c.description or c.ja,
        )
        for c in t.columns
    }
    return pa_.DataFrameSchema(
        columns,
        name=name,
        strict=True,
        coerce=False,
        unique=list(t.primary_key) if keys else None,
        report_duplicates="exclude_first",
    )


def canonical_frame(name: str, data: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Convert a table to the pandas dtypes the schema expects, without changing values.

    Strings become ``string[pyarrow]``, integers ``Int64``, booleans ``boolean``, dates
    ``datetime64[ns]`` and floats ``float64``. Columns not in the contract are kept (the
    strict schema then reports them).

    Parameters
    ----------
    name : str
        Contract table name.
    data : pyarrow.Table or pandas.DataFrame
        The table as read from Parquet (Arrow) or built in pandas.

    Returns
    -------
    pandas.DataFrame
        A new frame; ``data`` is not modified.

    Raises
    ------
    ValueError
        If a value cannot be represented in the contract type (e.g. ``1.5`` in an
        integer column), naming the table and column.
    """
    t = table(name)
    kinds = {c.name: c.kind for c in t.columns}
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    out = {}
    for field in data.schema:
        arr = data.column(field.name)
        kind = kinds.get(field.name)
        try:
            out[field.name] = _canonical_series(arr, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
            raise ValueError(
                f"table {name!r}, column {field.name!r}: cannot read as {kind}: {e}"
            ) from None
    return pd.DataFrame(out)


def _canonical_series(arr: pa.ChunkedArray, kind: str | None) -> pd.Series:
    if kind is None:
        return arr.to_pandas()
    if kind == "date":
        if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
            arr = pc.cast(arr, pa.timestamp("ns"))
        return arr.to_pandas().astype("datetime64[ns]")
    if kind == "int":
        if not pa.types.is_integer(arr.type):
            arr = pc.cast(arr, pa.int64(), safe=True)
        return pd.Series(arr.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)).astype(
            "Int64"
        )
    if kind == "bool":
        return pd.Series(arr.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)).astype(
            "boolean"
        )
    if kind == "string":
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise TypeError(f"expected strings, found {arr.type}")
        return arr.to_pandas(types_mapper=pd.ArrowDtype).astype(pd.StringDtype("pyarrow"))
    return arr.to_pandas().astype("float64")


def all_schemas() -> dict:
    """Schemas of every contract table, by name."""
    return {name: schema(name) for name in TABLES}


def column_failures(
    con, relation: str, name: str, columns: list[str] | None = None, *, examples: int = 3
) -> list[tuple[str, int, tuple[str, ...]]]:
    """Evaluate the column rules of a contract table on DuckDB; return the broken ones.

    One aggregate query counts the rows breaking each rule (missing values of a
    non-nullable column, then each rule of :func:`value_rules`); a second one keeps the
    first ``examples`` of each broken rule in row order, so that memory does not grow with
    the table and a valid table costs one scan (``min_by`` per rule would cost more than
    the counts). A pattern (regular expression) is matched once per distinct value, not
    once per row. Rules are named as the pandera schema (:func:`schema`) names its
    failures: ``"sex: not_nullable"``, ``"hba1c: in_range(3.0, 18.0)"``. NaN counts as
    missing, as in the canonical pandas form.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The connection; DuckDB's ``statistics_propagation`` optimizer must be off, as it
        assumes that a Parquet column whose statistics show no NaN has none.
    relation : str
        The table or view, with the contract's columns and a row position ``_row``.
    name : str
        Contract table name.
    columns : list of str, optional
        Columns to check (default: all of the contract's); the validator leaves out those
        of the wrong type, reported once as such.
    examples : int
        Examples per broken rule, in row order: row positions (``"row 12"``) for missing
        values, the offending values for the others.

    Returns
    -------
    list of (rule, n_rows, examples)
        The broken rules, in column order.
    """
    wanted = [c for c in table(name).columns if columns is None or c.name in columns]
    # (rule name, failure predicate, value shown, column of a pattern rule)
    rules: list[tuple[str, str, str, str | None]] = []
    for c in wanted:
        x = _quote(c.name)
        if not c.nullable:
            rules.append((f"{c.name}: not_nullable", f"{x} IS NULL", "_row", None))
        for check, error, _, predicate in value_rule_specs(name, c):
            pattern = x if check == "pattern" else None
            rules.append((f"{c.name}: {error}", predicate(x), x, pattern))
    if not rules:
        return []
    values = ", ".join(
        f"CASE WHEN isnan({_quote(c.name)}) THEN NULL ELSE {_quote(c.name)} END AS {_quote(c.name)}"
        if c.kind == "float"
        else _quote(c.name)
        for c in wanted
    )
    source = f"(SELECT _row, {values} FROM {relation})"
    per_row = [p for _, p, _, column in rules if column is None]
    counts = iter(
        con.execute(
            f"SELECT {', '.join(f'count_if({p})' for p in per_row)} FROM {source}"
        ).fetchone()
        if per_row
        else ()
    )
    n = [
        next(counts)
        if column is None
        else con.execute(
            f"SELECT coalesce(sum(_n) FILTER (WHERE {p}), 0) "
            f"FROM (SELECT {column}, count(*) AS _n FROM {source} GROUP BY ALL)"
        ).fetchone()[0]
        for _, p, _, column in rules
    ]
    broken = [(rule, p, shown, k) for (rule, p, shown, _), k in zip(rules, n, strict=True) if k]
    if not broken:
        return []
    first = con.execute(
        "SELECT "
        + ", ".join(f"min_by({v}, _row, {examples}) FILTER (WHERE {p})" for _, p, v, _ in broken)
        + f" FROM {source}"
    ).fetchone()
    return [
        (rule, int(k), tuple(f"row {v}" if shown == "_row" else str(v) for v in ex or []))
        for (rule, _, shown, k), ex in zip(broken, first, strict=True)
    ]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

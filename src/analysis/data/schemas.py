"""Pandera schemas built from the table contract.

The contract (``analysis.data.contract``) is the single source of truth; this module only
translates each :class:`~analysis.data.contract.Table` into a pandera ``DataFrameSchema``
with the column type, nullability, plausible range, allowed codes and the primary key.
Tables are checked in a *canonical* pandas form (see :func:`canonical_frame`), so that the
same schema applies to a Parquet file, a synthetic table and an imported chunk.

Two value rules are not expressible as contract fields and are added here:

- ``icd10`` codes must look like ICD-10 without the dot (``E119``, ``I10``, ``N184``);
- integer columns hold whole numbers (guaranteed by the canonical ``Int64`` dtype).
"""

from __future__ import annotations

import functools

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


def _checks(table_name: str, col: Column) -> list:
    import pandera.pandas as pa_

    checks = []
    if col.allowed is not None:
        checks.append(pa_.Check.isin(list(col.allowed), name="allowed_codes"))
    elif col.min is not None and col.max is not None:
        checks.append(pa_.Check.in_range(col.min, col.max, name="in_range"))
    elif col.min is not None:
        checks.append(pa_.Check.ge(col.min, name="in_range"))
    elif col.max is not None:
        checks.append(pa_.Check.le(col.max, name="in_range"))
    pattern = EXTRA_PATTERNS.get((table_name, col.name))
    if pattern is not None:
        checks.append(pa_.Check.str_matches(pattern, name="pattern"))
    return checks


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

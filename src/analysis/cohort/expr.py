"""Small Ibis helpers shared by the cohort queries (portable across DuckDB and Spark)."""

from __future__ import annotations

import datetime as dt

import ibis

FAR_FUTURE = dt.date(9999, 12, 31)
"""Stands in for an open enrollment end inside queries; never written to an output."""


def month_ord(date_col):
    """Months since year 0 (``year * 12 + month - 1``) as int64: month arithmetic in integers."""
    return (date_col.year() * 12 + date_col.month() - 1).cast("int64")


def month_date(ord_col):
    """First day of the month with ordinal ``ord_col`` (inverse of ``month_ord``)."""
    return ibis.date((ord_col // 12).cast("int32"), (ord_col % 12 + 1).cast("int32"), 1)


def py_month_ord(d: dt.date) -> int:
    """``month_ord`` for a Python date."""
    return d.year * 12 + d.month - 1


def first_row(table, key, order_by: list):
    """Keep one row per ``key``: the first by ``order_by`` with ``key`` as the last tie-break.

    Parameters
    ----------
    table : ibis.Table
    key : str or list of str
        Grouping column(s) (``person_id``).
    order_by : list
        Ibis sort keys (use ``ibis.desc(col)`` for descending).
    """
    keys = [key] if isinstance(key, str) else list(key)
    cols = [table[k] for k in keys]
    rn = ibis.row_number().over(group_by=cols, order_by=[*order_by, *cols])
    return table.mutate(_rn=rn).filter(ibis._["_rn"] == 0).drop("_rn")


def age_years(birth_col, at_col):
    """Completed years of age at ``at_col``; the age rises on the birthday itself.

    A person born on 29 February turns a year older on 1 March in common years.
    """
    not_yet = (at_col.month() * 100 + at_col.day()) < (birth_col.month() * 100 + birth_col.day())
    return (at_col.year() - birth_col.year() - not_yet.cast("int64")).cast("int64")


def left_join_all(table, rights, keys=("person_id",)):
    """Left-join every table of ``rights`` on ``keys`` in one join chain.

    The right-hand copies of the keys are dropped once at the end; keeping the chain
    flat keeps Ibis's compile time low.
    """
    t = table
    for i, right in enumerate(rights):
        t = t.left_join(right, list(keys), rname=f"{{name}}__r{i}")
    return t.drop(*[c for c in t.columns if "__r" in c and c.split("__r")[0] in keys])

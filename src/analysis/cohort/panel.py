"""Person x month costs around the index month (for event studies and DiD).

Claims are monthly, so the panel is indexed by ``rel_month``: months relative to the
index month (0 = the month holding the index date, which belongs to follow-up).

The queries here and in ``baseline`` and ``outcomes`` run on a *stack* of cohorts (see
``build._select``): the rows of every cohort with a ``_cohort`` number, a row number
``_row`` and the spec's parameters as columns, so that each table of several cohorts is
one query.
"""

from __future__ import annotations

import datetime as dt

import ibis

from analysis.cohort.claims import COST_COLUMNS, USE_COLUMNS
from analysis.cohort.engine import source
from analysis.cohort.expr import FAR_FUTURE, left_join_all, month_date, month_ord, py_month_ord

PANEL_COLUMNS = ("person_id", "month", "rel_month", "observed", *COST_COLUMNS, *USE_COLUMNS)
"""Columns of the published ``panel_monthly`` table."""

KEYS = ("_row",)
"""A person's row in a stack of cohorts: an integer, so that the large joins and
aggregations of the panel hash integers rather than person ids."""


def monthly_panel(con, persons, pm, first_month: dt.date, last_month: dt.date, months: range):
    """The person x month table of a stack of cohorts as an Ibis expression.

    Parameters
    ----------
    con : ibis backend
    persons : ibis.Table
        The stacked cohorts: ``person_id, index_date, death_date, _cohort, _row,
        _lookback, _followup``.
    pm : ibis.Table
        ``claims.person_months`` of (at least) the cohorts, covering their months.
    first_month, last_month : datetime.date
        First and last claim months of the data.
    months : range
        Relative months covering every cohort's ``-_lookback .. _followup - 1``; each row
        keeps only its own cohort's months.

    Returns
    -------
    ibis.Table
        ``_row``, ``_cohort`` and ``PANEL_COLUMNS``. ``observed`` is true when the person
        was enrolled on some day of the month, the month lies within the data's claim
        months and the person was alive on some day of it. Costs are 0 in observed months without claims and null in
        months that are neither observed nor claimed.
    """
    p = persons.select(
        *KEYS,
        "_cohort",
        "person_id",
        "_lookback",
        "_followup",
        index_mo=month_ord(persons.index_date),
        death_mo=month_ord(persons.death_date),
    )
    grid = p.mutate(_rel=ibis.range(months.start, months.stop).unnest())  # no cast: Spark
    grid = grid.mutate(rel_month=grid._rel.cast("int64")).drop("_rel")
    grid = grid.filter((grid.rel_month >= -grid._lookback) & (grid.rel_month < grid._followup))
    grid = grid.mutate(mo=grid.index_mo + grid.rel_month)

    # each row's months: [lo, hi]; spells and claims are brought to the rows once (a join
    # on the person id of the few rows), the large joins below then use integer keys
    rows = p.select(
        "person_id",
        *KEYS,
        lo=p.index_mo - p._lookback,
        hi=p.index_mo + p._followup - 1,
    )
    far = py_month_ord(FAR_FUTURE)
    enr = source(con, "enrollment")
    spells = enr.select(
        "person_id",
        s_mo=month_ord(enr.enroll_start),
        e_mo=month_ord(enr.enroll_end).fill_null(far),
    ).join(rows, "person_id")
    spells = spells.filter((spells.s_mo <= spells.hi) & (spells.e_mo >= spells.lo))
    spells = spells.select(*KEYS, "s_mo", "e_mo")
    cov = grid.select(*KEYS, "mo").join(spells, list(KEYS))
    cov = cov.filter((cov.s_mo <= cov.mo) & (cov.e_mo >= cov.mo))
    cov = cov.select(*KEYS, "mo").distinct().mutate(_enrolled=ibis.literal(True))

    claimed = pm.join(rows, "person_id")
    claimed = claimed.filter(claimed.mo.between(claimed.lo, claimed.hi))
    claimed = claimed.select(*KEYS, "mo", *COST_COLUMNS, *USE_COLUMNS)

    g = left_join_all(grid, (cov, claimed), keys=(*KEYS, "mo"))
    in_data = g.mo.between(py_month_ord(first_month), py_month_ord(last_month))
    alive = g.death_mo.isnull() | (g.mo <= g.death_mo)
    observed = g._enrolled.fill_null(False) & in_data & alive
    values = {}
    for c in (*COST_COLUMNS, *USE_COLUMNS):
        col = g[c].cast("int64")
        values[c] = ibis.ifelse(observed | g.cost_total.notnull(), col.fill_null(0), col)
    return g.select(
        *KEYS,
        "_cohort",
        "person_id",
        month=month_date(g.mo),
        rel_month=g.rel_month,
        observed=observed,
        **values,
    )

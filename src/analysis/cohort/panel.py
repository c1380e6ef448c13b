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
from analysis.cohort.expr import left_join_all, month_date, month_ord, py_month_ord

PANEL_COLUMNS = ("person_id", "month", "rel_month", "observed", *COST_COLUMNS, *USE_COLUMNS)
"""Columns of the published ``panel_monthly`` table."""

KEYS = ("_row",)
"""A person's row in a stack of cohorts: an integer, so that the large joins and
aggregations of the panel hash integers rather than person ids."""


def monthly_panel(persons, pm, islands, first_month: dt.date, last_month: dt.date, months: range):
    """The person x month table of a stack of cohorts as an Ibis expression.

    Parameters
    ----------
    persons : ibis.Table
        The stacked cohorts: ``person_id, index_date, death_date, _cohort, _row,
        _lookback, _followup``.
    pm : ibis.Table
        ``claims.person_months`` of (at least) the cohorts, covering their months.
    islands : ibis.Table
        ``criteria.enrollment_islands`` of (at least) the cohorts' persons.
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

    # each row's months: [lo, hi]; islands and claims are brought to the rows once (a join
    # on the person id of the few rows), the large joins below then use integer keys
    rows = p.select(
        "person_id",
        *KEYS,
        lo=p.index_mo - p._lookback,
        hi=p.index_mo + p._followup - 1,
    )
    cov = enrolled_months(islands, rows)

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


def enrolled_months(islands, rows):
    """The months of each row's range ``[lo, hi]`` in which the person was enrolled on
    some day: ``KEYS, mo, _enrolled`` (true), one row per month.

    Islands (``criteria.enrollment_islands``) are the union of a person's spells, so a
    month touched by a spell is a month touched by an island. Two islands may share a
    month (a gap inside it): each island's months start after the previous island's last
    month, so that every month comes from one island and no ``distinct`` is needed, and
    the panel joins the months on equal keys rather than on a date range.
    """
    isl = islands.select(  # an open island ends on FAR_FUTURE: beyond every ``hi``
        "person_id", s_mo=month_ord(islands.island_start), e_mo=month_ord(islands.island_end)
    )
    prev = isl.e_mo.lag().over(group_by="person_id", order_by="s_mo")
    isl = isl.mutate(s_mo=ibis.ifelse(prev.isnull() | (prev < isl.s_mo), isl.s_mo, prev + 1))
    cov = isl.join(rows, "person_id")
    cov = cov.select(
        *KEYS,
        a=ibis.greatest(cov.s_mo, cov.lo),
        b=ibis.least(cov.e_mo, cov.hi),
    )
    cov = cov.filter(cov.a <= cov.b)
    cov = cov.select(*KEYS, _mo=ibis.range(cov.a, cov.b + 1).unnest())
    return cov.select(*KEYS, mo=cov._mo.cast("int64"), _enrolled=ibis.literal(True))

"""Person x month costs around the index month (for event studies and DiD).

Claims are monthly, so the panel is indexed by ``rel_month``: months relative to the
index month (0 = the month holding the index date, which belongs to follow-up).
"""

from __future__ import annotations

import datetime as dt

import ibis

from analysis.cohort.claims import COST_COLUMNS, DX_COLUMNS, USE_COLUMNS
from analysis.cohort.expr import FAR_FUTURE, left_join_all, month_date, month_ord, py_month_ord

PANEL_COLUMNS = ("person_id", "month", "rel_month", "observed", *COST_COLUMNS, *USE_COLUMNS)
"""Columns of the published ``panel_monthly`` table."""


def monthly_panel(con, persons, pm, first_month: dt.date, last_month: dt.date, months: range):
    """The person x month table as an Ibis expression.

    Parameters
    ----------
    con : ibis backend
    persons : ibis.Table
        The cohort: ``person_id, index_date, death_date``.
    pm : ibis.Table
        ``claims.person_months`` of (at least) the cohort, covering ``months``.
    first_month, last_month : datetime.date
        First and last claim months of the data.
    months : range
        Relative months to cover, e.g. ``range(-12, 24)``.

    Returns
    -------
    ibis.Table
        ``PANEL_COLUMNS`` plus the comorbidity flags ``DX_COLUMNS`` (exact in the look-back
        months). ``observed`` is true when the person was enrolled on some day
        of the month, the month lies within the data's claim months and the person was
        alive on some day of it. Costs are 0 in observed months without claims and null in
        months that are neither observed nor claimed.
    """
    p = persons.select(
        "person_id",
        index_mo=month_ord(persons.index_date),
        death_mo=month_ord(persons.death_date),
    )
    grid = p.mutate(_rel=ibis.range(months.start, months.stop).unnest())  # no cast: Spark
    grid = grid.mutate(rel_month=grid._rel.cast("int64")).drop("_rel")
    grid = grid.mutate(mo=grid.index_mo + grid.rel_month)

    far = py_month_ord(FAR_FUTURE)
    spells = con.table("enrollment").semi_join(p, "person_id")
    spells = spells.select(
        "person_id",
        s_mo=month_ord(spells.enroll_start),
        e_mo=month_ord(spells.enroll_end).fill_null(far),
    )
    cov = grid.select("person_id", "mo").join(spells, "person_id")
    cov = cov.filter((cov.s_mo <= cov.mo) & (cov.e_mo >= cov.mo))
    cov = cov.select("person_id", "mo").distinct().mutate(_enrolled=ibis.literal(True))

    g = left_join_all(grid, (cov, pm), keys=("person_id", "mo"))
    in_data = g.mo.between(py_month_ord(first_month), py_month_ord(last_month))
    alive = g.death_mo.isnull() | (g.mo <= g.death_mo)
    observed = g._enrolled.fill_null(False) & in_data & alive
    values = {}
    for c in (*COST_COLUMNS, *USE_COLUMNS):
        col = g[c].cast("int64")
        values[c] = ibis.ifelse(observed | g.cost_total.notnull(), col.fill_null(0), col)
    flags = {c: g[c].fill_null(0) for c in DX_COLUMNS}
    return g.select(
        "person_id",
        month=month_date(g.mo),
        rel_month=g.rel_month,
        observed=observed,
        **values,
        **flags,
    )

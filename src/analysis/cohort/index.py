"""Start population and index dates.

The index date is the program start for participants, the offer date for offered
non-participants, and one calendar date for everyone else (the median offer date of the
fiscal year, unless the spec fixes it), so that no future information leaks into
baseline.
"""

from __future__ import annotations

import datetime as dt

import ibis

from analysis.cohort.engine import source
from analysis.cohort.expr import first_row, left_join_all
from analysis.cohort.spec import CohortSpec
from analysis.errors import UserError


def nonoffered_index_date(con, spec: CohortSpec) -> dt.date:
    """The index date of people neither offered nor taking part.

    ``spec.nonoffered_index_date`` if set; otherwise the (lower) median offer date of the
    fiscal year over all programs, an actual offer date.

    Raises
    ------
    UserError
        If the spec leaves it open and the fiscal year has no offers.
    """
    if spec.nonoffered_index_date is not None:
        return spec.nonoffered_index_date
    offers = source(con, "program_offers")
    offers = offers.filter(offers.fiscal_year == spec.fiscal_year)
    counts = con.execute(
        offers.group_by("offer_date").aggregate(n=offers.count()).order_by("offer_date")
    )
    if counts.empty:
        raise UserError(
            f"cohort spec {spec.spec_id!r}: no program offers in FY{spec.fiscal_year}; "
            "set nonoffered_index_date"
        )
    cum = counts["n"].cumsum()
    half = (int(cum.iloc[-1]) + 1) // 2
    return _to_date(counts["offer_date"][cum >= half].iloc[0])


def _to_date(value) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()


def fy_offers(con, fiscal_year: int):
    """One offer per person in the fiscal year (the earliest; ties by program)."""
    offers = source(con, "program_offers")
    offers = offers.filter(offers.fiscal_year == fiscal_year)
    offers = first_row(offers, "person_id", [offers.offer_date, offers.program])
    return offers.select(
        "person_id",
        offer_program=offers.program,
        risk_tier=offers.risk_tier,
        risk_score=offers.risk_score,
        offer_date=offers.offer_date,
        letter_variant=offers.letter_variant,
    )


def fy_participation(con, fiscal_year: int, program: str | None):
    """One participation per person in the fiscal year (the earliest start; ties by program).

    Only ``program`` counts when given; any program otherwise.
    """
    parts = source(con, "program_enrollments")
    parts = parts.filter(parts.fiscal_year == fiscal_year)
    if program is not None:
        parts = parts.filter(parts.program == program)
    parts = first_row(parts, "person_id", [parts.start_date, parts.program])
    return parts.select(
        "person_id",
        program=parts.program,
        program_start=parts.start_date,
        program_end=parts.end_date,
        completed=parts.completed,
        sessions=parts.sessions,
    )


def start_population(con, spec: CohortSpec):
    """Person ids the cohort starts from (the first attrition row).

    ``comparator="offered"``: people offered ``spec.target`` in the fiscal year.
    ``comparator="all"``: every person in ``enrollment``.
    """
    if spec.comparator == "offered":
        offers = source(con, "program_offers")
        offers = offers.filter(
            (offers.fiscal_year == spec.fiscal_year) & (offers.program == spec.target)
        )
        return offers.select("person_id").distinct()
    return source(con, "enrollment").select("person_id").distinct()


def index_dates(con, spec: CohortSpec, default_date: dt.date):
    """Start population with index dates, offers and participation.

    Returns
    -------
    ibis.Table
        One row per person: ``person_id, index_date, index_source`` (``program_start``,
        ``offer`` or ``calendar``), the fiscal year's offer (``offered, offer_program,
        risk_tier, risk_score, offer_date, letter_variant``) and participation in the
        target program (any program when the spec has none): ``treated, program,
        program_start, program_end, completed, sessions``.
    """
    base = start_population(con, spec)
    offers = fy_offers(con, spec.fiscal_year)
    parts = fy_participation(con, spec.fiscal_year, spec.target)
    t = left_join_all(base, (offers, parts))
    default = ibis.date(default_date.year, default_date.month, default_date.day)
    index_date = ibis.coalesce(t.program_start, t.offer_date, default)
    index_source = ibis.cases(
        (t.program_start.notnull(), "program_start"),
        (t.offer_date.notnull(), "offer"),
        else_="calendar",
    )
    return t.mutate(
        index_date=index_date,
        index_source=index_source,
        offered=t.offer_date.notnull(),
        treated=t.program_start.notnull(),
    )

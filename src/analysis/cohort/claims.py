"""Claims summarised per person and month.

Every cohort query reads claims by month: costs for the panel, diagnoses for the
comorbidity flags, inpatient diagnoses for severe events, dialysis markers. The costly
part of any claims query is joining ``claim_diagnoses`` to ``claims`` on the claim id, so
it is kept small and done once for all cohorts:

- ``code_flags``: every distinct ICD-10 code with the code lists it belongs to (code
  lists are matched once per code, not once per diagnosis row);
- ``dialysis_months``: the months with a dialysis diagnosis or procedure, for everyone
  (few claims: the join is cheap); the exclusion criterion and the outcomes read it;
- ``diagnosis_months``: comorbidity and event flags of the cohorts' persons, from their
  claims in the look-back months (comorbidities) and their inpatient claims from the
  index month on (events) only;
- ``person_months``: costs and utilisation in the panel months;
- ``event_flags``: the months with a severe event or dialysis, from both.

A person may belong to several cohorts with different index dates; ``windows`` (one row
per person and cohort) holds each cohort's months, and every table covers their union.
"""

from __future__ import annotations

import ibis

from analysis.cohort.codes import (
    COMORBIDITIES,
    DIALYSIS_ICD10,
    DIALYSIS_LABEL,
    DIALYSIS_PROCEDURE_CODES,
    INPATIENT_EVENTS,
    matches,
)
from analysis.cohort.engine import source
from analysis.cohort.expr import month_date, month_ord
from analysis.data.contract import SETTINGS

COST_COLUMNS = ("cost_total", *(f"cost_{s}" for s in SETTINGS))
"""Yen per month: total and by setting."""
USE_COLUMNS = ("inpatient_days", "outpatient_days", "inpatient_claims")
DX_COLUMNS = tuple(f"dx_{k}" for k in COMORBIDITIES)
"""1 when a diagnosis of the comorbidity group is on any claim of the month."""
EVENT_COLUMNS = tuple(f"ev_{e}" for e in INPATIENT_EVENTS)
"""1 when a diagnosis of the severe event is on an inpatient claim of the month."""
CODE_COLUMNS = (*DX_COLUMNS, *EVENT_COLUMNS, "dialysis")
"""Columns of ``code_flags`` besides ``icd10``."""


def code_flags(con):
    """The distinct ICD-10 codes of ``claim_diagnoses`` with the code lists they fall in.

    Returns
    -------
    ibis.Table
        ``icd10`` and ``CODE_COLUMNS`` as 0/1 integers: the comorbidity groups, the severe
        events and the dialysis diagnoses the code belongs to. Cache it before filtering
        on the flags: an engine may push such a filter below the ``distinct`` and match
        the code lists against every diagnosis row.
    """
    codes = source(con, "claim_diagnoses").select("icd10").distinct()
    lists = {f"dx_{k}": v for k, v in COMORBIDITIES.items()}
    lists.update({f"ev_{e}": v for e, v in INPATIENT_EVENTS.items()})
    lists["dialysis"] = DIALYSIS_ICD10
    return codes.mutate(
        **{c: ibis.ifelse(matches(codes.icd10, v), 1, 0).cast("int64") for c, v in lists.items()}
    )


def dialysis_months(con, codes=None):
    """Months with a dialysis procedure or a dialysis diagnosis on some claim.

    Parameters
    ----------
    con : ibis backend
    codes : ibis.Table, optional
        ``code_flags(con)`` (cached); built here when omitted.

    Returns
    -------
    ibis.Table
        Distinct ``person_id, mo`` (month ordinal, see ``expr.month_ord``), everyone.
    """
    codes = code_flags(con) if codes is None else codes
    diag = source(con, "claim_diagnoses")
    by_diag = diag.semi_join(codes.filter(codes.dialysis == 1), "icd10").select("claim_id")
    proc = source(con, "claim_procedures")
    by_proc = proc.filter(
        proc.code.isin(DIALYSIS_PROCEDURE_CODES) | (proc.label.lower() == DIALYSIS_LABEL)
    ).select("claim_id")
    claims = source(con, "claims").semi_join(by_diag.union(by_proc), "claim_id")
    return claims.select("person_id", mo=month_ord(claims.service_month)).distinct()


WINDOW_COLUMNS = ("person_id", "index_mo", "lookback_months", "followup_months")
"""Columns of a ``windows`` table (one row per person and cohort)."""


def windows(stack):
    """The ``windows`` rows of a stack of cohorts (``person_id, index_date`` and the
    spec's ``_lookback, _followup`` on every row, see ``criteria.SPEC_COLUMNS``); rows
    that coincide across cohorts are kept once."""
    return stack.select(
        "person_id",
        index_mo=month_ord(stack.index_date),
        lookback_months=stack._lookback,
        followup_months=stack._followup,
    ).distinct()


def _claims_in(con, windows, where):
    """Claims of persons in ``windows`` whose month passes ``where``.

    ``where(claims, w)`` is a boolean on a claim and a window row, which carries the
    first days of its look-back (``lo``), index (``start``) and after-follow-up (``hi``)
    months: comparing service months with dates spares computing a month number for every
    claim. A claim is kept once however many windows it falls in.
    """
    claims = source(con, "claims")
    w = windows.select(
        "person_id",
        lo=month_date(windows.index_mo - windows.lookback_months),
        start=month_date(windows.index_mo),
        hi=month_date(windows.index_mo + windows.followup_months),
    )
    return claims.semi_join(w, [claims.person_id == w.person_id, where(claims, w)])


def diagnosis_months(con, windows, codes=None):
    """Comorbidity and severe-event flags by person and month.

    Parameters
    ----------
    con : ibis backend
    windows : ibis.Table
        ``WINDOW_COLUMNS`` (see ``windows``).
    codes : ibis.Table, optional
        ``code_flags(con)`` (cached); built here when omitted.

    Returns
    -------
    ibis.Table
        ``person_id, mo``, ``DX_COLUMNS`` and ``EVENT_COLUMNS`` as 0/1 integers, one row per
        person-month with a flag. Exact in the look-back months of each window
        (``DX_COLUMNS``, from every claim) and from its index month on (``EVENT_COLUMNS``,
        from inpatient claims); other months may miss flags.
    """
    codes = code_flags(con) if codes is None else codes
    dx_codes = codes.filter(ibis.greatest(*(codes[c] for c in (*DX_COLUMNS, *EVENT_COLUMNS))) == 1)

    def needed(c, w):
        lookback = (c.service_month >= w.lo) & (c.service_month < w.start)
        return lookback | ((c.setting == "inpatient") & (c.service_month >= w.start))

    claims = _claims_in(con, windows, needed)
    claims = claims.select(
        "claim_id",
        "person_id",
        "service_month",
        inp=ibis.ifelse(claims.setting == "inpatient", 1, 0),
    )
    diag = source(con, "claim_diagnoses").select("claim_id", "icd10")
    d = diag.join(dx_codes, "icd10").join(claims, "claim_id")
    flags = {c: d[c].max() for c in DX_COLUMNS}
    flags.update({c: (d[c] * d.inp).max().cast("int64") for c in EVENT_COLUMNS})
    g = d.group_by(["person_id", "service_month"]).aggregate(**flags)
    return g.select("person_id", mo=month_ord(g.service_month), **{c: g[c] for c in flags})


def person_months(con, windows):
    """Costs and utilisation of the persons in ``windows`` by month.

    Parameters
    ----------
    con : ibis backend
    windows : ibis.Table
        ``WINDOW_COLUMNS``: months ``index_mo - lookback_months`` to
        ``index_mo + followup_months - 1`` of each row are covered.

    Returns
    -------
    ibis.Table
        ``person_id, mo`` (month ordinal, see ``expr.month_ord``), ``COST_COLUMNS`` and
        ``USE_COLUMNS``. One row per person and covered month with a claim.
    """

    def in_panel(c, w):
        return (c.service_month >= w.lo) & (c.service_month < w.hi)

    claims = _claims_in(con, windows, in_panel)
    inp = claims.setting == "inpatient"
    costs = {"cost_total": claims.cost_yen.sum()}
    for s in SETTINGS:
        costs[f"cost_{s}"] = claims.cost_yen.sum(where=claims.setting == s)
    costs["inpatient_days"] = claims.days.sum(where=inp)
    costs["outpatient_days"] = claims.days.sum(where=claims.setting == "outpatient")
    costs["inpatient_claims"] = claims.count(where=inp)
    money = claims.group_by(["person_id", "service_month"]).aggregate(**costs)
    return money.select(
        "person_id", mo=month_ord(money.service_month), **{c: money[c] for c in costs}
    )


def event_flags(diagnoses, dialysis):
    """Months with a severe event or dialysis: ``person_id, mo``, ``EVENT_COLUMNS`` and
    ``dialysis`` as 0/1 integers (from ``diagnosis_months`` and ``dialysis_months``)."""
    zero, one = ibis.literal(0, type="int64"), ibis.literal(1, type="int64")
    ev = diagnoses.filter(ibis.greatest(*(diagnoses[c] for c in EVENT_COLUMNS)) == 1)
    ev = ev.select("person_id", "mo", *EVENT_COLUMNS, dialysis=zero)
    dia = dialysis.select("person_id", "mo", **{c: zero for c in EVENT_COLUMNS}, dialysis=one)
    both = ev.union(dia)
    return both.group_by(["person_id", "mo"]).aggregate(
        **{c: both[c].max() for c in (*EVENT_COLUMNS, "dialysis")}
    )

"""Claims of a cohort summarised per person and month.

Every cohort query reads claims by month: costs for the panel, diagnoses for the
comorbidity flags, inpatient diagnoses for severe events, dialysis markers. One pass over
``claims``, ``claim_diagnoses`` and ``claim_procedures``, restricted to the cohort, builds a
person x month table with all of them; ``build_cohort`` caches it for the later queries.
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
from analysis.cohort.expr import left_join_all, month_ord
from analysis.data.contract import SETTINGS

COST_COLUMNS = ("cost_total", *(f"cost_{s}" for s in SETTINGS))
"""Yen per month: total and by setting."""
USE_COLUMNS = ("inpatient_days", "outpatient_days", "inpatient_claims")
DX_COLUMNS = tuple(f"dx_{k}" for k in COMORBIDITIES)
"""1 when a diagnosis of the comorbidity group is on any claim of the month."""
EVENT_COLUMNS = tuple(f"ev_{e}" for e in INPATIENT_EVENTS)
"""1 when a diagnosis of the severe event is on an inpatient claim of the month."""


def person_months(con, persons):
    """The person x month claim summary of ``persons`` (a table with ``person_id``).

    Returns
    -------
    ibis.Table
        ``person_id, mo`` (month ordinal, see ``expr.month_ord``), ``COST_COLUMNS``,
        ``USE_COLUMNS``, ``DX_COLUMNS``, ``EVENT_COLUMNS`` and ``dialysis`` (a dialysis
        procedure or diagnosis on any claim of the month), flags as 0/1 integers.
    """
    claims = con.table("claims").semi_join(persons.select("person_id"), "person_id")
    return _person_months(con, claims)


def _person_months(con, claims):
    claims = claims.mutate(mo=month_ord(claims.service_month))
    inp = claims.setting == "inpatient"
    costs = {"cost_total": claims.cost_yen.sum()}
    for s in SETTINGS:
        costs[f"cost_{s}"] = claims.cost_yen.sum(where=claims.setting == s)
    costs["inpatient_days"] = claims.days.sum(where=inp)
    costs["outpatient_days"] = claims.days.sum(where=claims.setting == "outpatient")
    costs["inpatient_claims"] = claims.count(where=inp)
    money = claims.group_by(["person_id", "mo"]).aggregate(**costs)

    # code lists are matched once per distinct code, not once per diagnosis row
    diag = con.table("claim_diagnoses")
    codes = diag.select("icd10").distinct()
    codes = codes.mutate(
        **{f"dx_{k}": ibis.ifelse(matches(codes.icd10, v), 1, 0) for k, v in COMORBIDITIES.items()},
        **{
            f"ev_{e}": ibis.ifelse(matches(codes.icd10, v), 1, 0)
            for e, v in INPATIENT_EVENTS.items()
        },
        dia_dx=ibis.ifelse(matches(codes.icd10, DIALYSIS_ICD10), 1, 0),
    )
    d = diag.join(codes, "icd10").join(claims.select("claim_id", "person_id", "mo", "setting"),
                                       "claim_id")  # fmt: skip
    d_inp = d.setting == "inpatient"
    flags = {c: d[c].max() for c in DX_COLUMNS}
    flags.update({c: ibis.ifelse(d_inp, d[c], 0).max() for c in EVENT_COLUMNS})
    flags["dia_dx"] = d.dia_dx.max()
    dx = d.group_by(["person_id", "mo"]).aggregate(**flags)

    proc = con.table("claim_procedures")
    proc = proc.filter(
        proc.code.isin(DIALYSIS_PROCEDURE_CODES) | (proc.label.lower() == DIALYSIS_LABEL)
    )
    dia = claims.semi_join(proc, "claim_id").select("person_id", "mo").distinct()
    dia = dia.mutate(dia_proc=ibis.literal(1))

    pm = left_join_all(money, (dx, dia), keys=("person_id", "mo"))
    filled = {c: pm[c].fill_null(0) for c in (*DX_COLUMNS, *EVENT_COLUMNS)}
    dialysis = ibis.greatest(pm.dia_dx.fill_null(0), pm.dia_proc.fill_null(0))
    return pm.select("person_id", "mo", *COST_COLUMNS, *USE_COLUMNS, **filled, dialysis=dialysis)

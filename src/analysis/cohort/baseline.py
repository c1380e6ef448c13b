"""The ``baseline`` table: one row per person, everything known before the index date.

Demographics, household, the fiscal year's offer and participation, the latest checkup
before the offer date (people offered) or the index date (everyone else), comorbidity flags from ICD-10 codes in the look-back months,
prior costs and utilisation, prior program participation and the MHLW stratification
(特定保健指導の階層化) of the baseline checkup.
"""

from __future__ import annotations

import warnings

import ibis
import pandas as pd

from analysis.cohort.codes import COMORBIDITIES
from analysis.cohort.engine import source
from analysis.cohort.expr import left_join_all, month_ord
from analysis.cohort.panel import COST_COLUMNS, KEYS
from analysis.data.contract import CHECKUPS, PROGRAMS

CHECKUP_VALUES = tuple(
    c.name for c in CHECKUPS.columns if c.name not in ("person_id", "exam_date", "fiscal_year")
)
"""Lab values, questionnaire answers and medication flags carried from a checkup."""

PERSON_COLUMNS = (
    "person_id", "household_id", "sex", "age_years", "index_date", "index_source",
    "treated", "program", "program_start", "program_end", "completed", "sessions",
    "offered", "offer_program", "risk_tier", "risk_score", "offer_date", "letter_variant",
    "prior_participation",
)  # fmt: skip
STRATIFICATION_COLUMNS = ("mhlw_level", "mhlw_level_ja", "mhlw_n_risks", "mhlw_reasons")


def prior_comorbidities(dx, cohort):
    """The comorbidity flags ``cm_<group>``: a diagnosis of the group in a look-back month
    (``dx`` is ``claims.diagnosis_months``, exact in those months)."""
    idx = cohort.select("person_id", *KEYS, "_lookback", index_mo=month_ord(cohort.index_date))
    d = dx.join(idx, "person_id")
    d = d.filter((d.mo >= d.index_mo - d._lookback) & (d.mo < d.index_mo))
    return d.group_by(list(KEYS)).aggregate(
        **{f"cm_{k}": d[f"dx_{k}"].max() for k in COMORBIDITIES}
    )


def prior_use(panel):
    """Costs and utilisation summed over the look-back months of the panel."""
    p = panel.filter(panel.rel_month < 0)
    # An admission: a month with inpatient claims after a month without (a self-join on
    # the month before rather than a window function, which is much slower on many persons).
    inp = p.filter(p.inpatient_claims > 0)
    after = inp.select(*KEYS, rel_month=inp.rel_month + 1, _prev_inp=ibis.literal(True))
    p = left_join_all(p, (after,), keys=(*KEYS, "rel_month"))
    adm = (p.inpatient_claims > 0) & p._prev_inp.isnull()
    p = p.mutate(_adm=adm.cast("int64"))
    aggs = {f"{c}_prior": p[c].sum() for c in COST_COLUMNS}
    aggs["inpatient_days_prior"] = p.inpatient_days.sum()
    aggs["outpatient_days_prior"] = p.outpatient_days.sum()
    aggs["admissions_prior"] = p._adm.sum()
    aggs["observed_months_prior"] = p.observed.cast("int64").sum()
    return p.group_by(list(KEYS)).aggregate(**aggs)


def prior_programs(con, cohort):
    """``prior_<program>`` = 1 when the person took part in it in a fiscal year before the
    cohort's (``_fy``)."""
    pe = source(con, "program_enrollments").join(
        cohort.select("person_id", *KEYS, "_fy"), "person_id"
    )
    pe = pe.filter(pe.fiscal_year < pe._fy)
    aggs = {f"prior_{p}": ibis.ifelse(pe.program == p, 1, 0).max() for p in PROGRAMS}
    return pe.group_by(list(KEYS)).aggregate(**aggs)


def baseline_expr(con, cohort, panel, dx):
    """The baseline table of a stack of cohorts (``build._select``) as an Ibis
    expression (before the pandas finishing steps); ``_cohort`` tells the cohorts apart.
    ``dx`` is ``claims.diagnosis_months`` of (at least) the cohorts."""
    ck = source(con, "checkups").join(
        cohort.select("person_id", *KEYS, "baseline_exam_date"), "person_id"
    )
    ck = ck.filter(ck.exam_date == ck.baseline_exam_date)
    ck = ck.select(
        *KEYS, checkup_date=ck.exam_date, checkup_fiscal_year=ck.fiscal_year,
        **{c: ck[c] for c in CHECKUP_VALUES},
    )  # fmt: skip
    t = cohort.select(*KEYS, "_cohort", *PERSON_COLUMNS, "birth_date")
    rights = (ck, prior_comorbidities(dx, cohort), prior_use(panel), prior_programs(con, cohort))
    return left_join_all(t, rights, keys=KEYS).drop(*KEYS)


def finish_baseline(df: pd.DataFrame) -> pd.DataFrame:
    """Pandas finishing: flags to bool, age band, age at checkup, MHLW stratification
    (with the age reached on 31 March of the checkup's fiscal year, as MHLW defines it)."""
    out = df.copy()
    for c in [c for c in out.columns if c.startswith(("cm_", "prior_"))]:
        out[c] = out[c].fillna(0).astype(bool)
    for c in ("treated", "offered"):
        out[c] = out[c].astype(bool)
    lo = (out["age_years"] // 5) * 5
    out["age_band"] = lo.astype(str) + "-" + (lo + 4).astype(str)
    birth = as_datetime(out.pop("birth_date"))
    exam = as_datetime(out["checkup_date"])
    out["checkup_age_years"] = _age(birth, exam.dt.year, exam.dt.month * 100 + exam.dt.day)
    # MHLW counts the age reached by the end of the checkup's fiscal year (年度末年齢,
    # 31 March): someone who turns 65 before then is in the 65-74 group.
    fy_end_year = pd.to_numeric(out["checkup_fiscal_year"], errors="coerce") + 1
    strat = stratification(out.assign(age=_age(birth, fy_end_year, 331)))
    out = pd.concat([out, strat], axis=1)
    first = ["person_id", "household_id", "sex", "age_years", "age_band"]
    return out[first + [c for c in out.columns if c not in first]]


def as_datetime(col: pd.Series) -> pd.Series:
    """``col`` as datetimes; returned as it is when it holds datetimes already
    (``pandas.to_datetime`` walks every value of such a column to decide on caching)."""
    return col if pd.api.types.is_datetime64_dtype(col) else pd.to_datetime(col)


def _age(birth: pd.Series, year, month_day) -> pd.Series:
    """Completed years of age in ``year`` on ``month_day`` (month * 100 + day), rising on
    the birthday itself, as ``expr.age_years`` counts in the queries."""
    before = month_day < (birth.dt.month * 100 + birth.dt.day)
    return (year - birth.dt.year - before.astype("int64")).astype("Int64")


def stratification(frame: pd.DataFrame) -> pd.DataFrame:
    """MHLW stratification of the baseline checkup via ``analysis.risk.stratify``.

    People without a baseline checkup get missing values. HOOK: when
    ``analysis.risk.stratify`` is not importable the four columns stay empty and a
    warning says so.
    """
    empty = pd.DataFrame(
        {
            "mhlw_level": pd.Series(pd.NA, index=frame.index, dtype="string"),
            "mhlw_level_ja": pd.Series(pd.NA, index=frame.index, dtype="string"),
            "mhlw_n_risks": pd.Series(pd.NA, index=frame.index, dtype="Int64"),
            "mhlw_reasons": pd.Series(pd.NA, index=frame.index, dtype="string"),
        }
    )
    try:
        from analysis.risk.rules import stratify
    except ImportError:
        warnings.warn(
            "analysis.risk.stratify is not available: MHLW stratification columns left empty",
            stacklevel=2,
        )
        return empty
    has = frame["checkup_date"].notna()
    if not has.any():
        return empty
    cols = ["sex", "age", *CHECKUP_VALUES]
    res = stratify(frame.loc[has, cols])
    empty.loc[has, "mhlw_level"] = res["level"].astype("string")
    empty.loc[has, "mhlw_level_ja"] = res["level_ja"].astype("string")
    empty.loc[has, "mhlw_n_risks"] = res["n_risks"].astype("Int64")
    empty.loc[has, "mhlw_reasons"] = res["reasons"].map(_reasons_text).astype("string")
    return empty


def _reasons_text(value) -> str:
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return "" if value is None else str(value)

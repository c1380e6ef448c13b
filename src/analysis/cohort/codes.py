"""Code lists: ICD-10 groups for comorbidities and severe events, dialysis markers.

ICD-10 codes are stored without the dot (``E119``, ``N186``). Groups are given as
three-character categories (``E11``) or longer prefixes (``N083``); a code belongs to a
group when it starts with one of them.
"""

from __future__ import annotations


def icd_range(letter: str, lo: int, hi: int) -> tuple[str, ...]:
    """Three-character categories ``letter+lo`` .. ``letter+hi`` (``icd_range("E", 10, 14)``)."""
    return tuple(f"{letter}{i:02d}" for i in range(lo, hi + 1))


COMORBIDITIES: dict[str, tuple[str, ...]] = {
    "diabetes": icd_range("E", 10, 14),
    "hypertension": icd_range("I", 10, 15),
    "dyslipidaemia": ("E78",),
    "ckd": ("N18", "N083", "E112"),
    "cardiovascular": icd_range("I", 20, 25) + icd_range("I", 60, 69) + ("I50",),
    "cancer": icd_range("C", 0, 97),
    "mental": icd_range("F", 20, 48),
}
"""Comorbidity flags (``cm_<name>``) from any diagnosis in the look-back months."""

COMORBIDITY_LABELS: dict[str, tuple[str, str]] = {
    "diabetes": ("糖尿病", "Diabetes"),
    "hypertension": ("高血圧症", "Hypertension"),
    "dyslipidaemia": ("脂質異常症", "Dyslipidaemia"),
    "ckd": ("慢性腎臓病", "Chronic kidney disease"),
    "cardiovascular": ("循環器疾患", "Cardiovascular disease"),
    "cancer": ("がん", "Cancer"),
    "mental": ("精神疾患", "Mental disorders"),
}

DIALYSIS_ICD10 = ("N186", "Z49", "Z992")
"""Diagnoses that mark maintenance dialysis (end-stage renal disease, dialysis care/status)."""

DIALYSIS_PROCEDURE_CODES = ("J038", "J042")
"""Fee-schedule codes: J038 人工腎臓 (haemodialysis), J042 腹膜灌流 (peritoneal dialysis)."""

DIALYSIS_LABEL = "dialysis"
"""``claim_procedures.label`` value that marks dialysis (compared case-insensitively)."""

INPATIENT_EVENTS: dict[str, tuple[str, ...]] = {
    "stroke": icd_range("I", 60, 64),
    "mi": ("I21", "I22"),
    "heart_failure": ("I50",),
}
"""Severe events identified by a diagnosis (any position) on an inpatient claim."""

EVENTS = ("dialysis", "stroke", "mi", "heart_failure", "death")
"""Every time-to-event outcome, in output order."""

EVENT_LABELS: dict[str, tuple[str, str]] = {
    "dialysis": ("透析導入", "Dialysis start"),
    "stroke": ("脳卒中(入院)", "Stroke admission"),
    "mi": ("心筋梗塞(入院)", "Myocardial infarction admission"),
    "heart_failure": ("心不全(入院)", "Heart-failure admission"),
    "death": ("死亡", "Death"),
}


def matches(code_column, prefixes: tuple[str, ...]):
    """Ibis boolean: ``code_column`` starts with one of ``prefixes``.

    Prefixes of equal length are tested together with one ``isin`` on a substring.
    """
    by_len: dict[int, list[str]] = {}
    for p in prefixes:
        by_len.setdefault(len(p), []).append(p)
    cond = None
    for n, group in sorted(by_len.items()):
        c = code_column.substr(0, n).isin(group)
        cond = c if cond is None else cond | c
    return cond

"""糖尿病性腎症重症化予防プログラム: who is a target, and for which intervention.

Target criteria of MHLW's diabetic-kidney-disease (DKD) prevention programme, FY2024
edition: people with diabetes **and** kidney damage; those untreated or whose treatment
was interrupted get 受診勧奨 (advice to see a doctor), those in treatment get 保健指導
(guidance with their doctor). Source:

- MHLW, 糖尿病性腎症重症化予防プログラム(令和6年度版) (2024-03-28),
  https://www.mhlw.go.jp/stf/newpage_38699.html
- A common insurer-level variant widens the kidney criterion to urine protein (±) or
  more or eGFR <45 (e.g. いすゞ健保, 糖尿病性腎症重症化予防プログラム); pass
  ``egfr_below=45, urine_protein_min=1`` for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.risk._columns import flag, numeric, require_columns

DIABETES_ICD10 = ("E10", "E11", "E12", "E13", "E14")
"""ICD-10 prefixes of diabetes diagnoses (claims)."""
KIDNEY_ICD10 = ("E102", "E112", "E122", "E132", "E142", "N083", "N18", "N19")
"""ICD-10 prefixes of diabetic nephropathy and chronic kidney disease (claims)."""
TREATMENT_STATUSES = ("treated", "interrupted", "untreated")
INTERVENTION_JA = {"referral": "受診勧奨", "guidance": "保健指導"}

_CHECKUP_COLUMNS = ("hba1c", "fasting_glucose", "glucose_med", "egfr", "urine_protein")


def diabetes_treatment_status(
    claims: pd.DataFrame,
    claim_diagnoses: pd.DataFrame,
    *,
    as_of: str | pd.Timestamp,
    interruption_months: int = 6,
) -> pd.DataFrame:
    """Diabetes treatment status and kidney diagnoses of each person from claims.

    A claim with a diabetes diagnosis (ICD-10 E10-E14) in a service month before
    ``as_of`` is a treatment contact. A person is ``"treated"`` if the last contact lies
    within ``interruption_months`` months before ``as_of``, ``"interrupted"`` if it is
    older (the programme's 治療中断者). People without any contact do not appear; callers
    read them as ``"untreated"``.

    Parameters
    ----------
    claims : pandas.DataFrame
        Contract columns ``claim_id, person_id, service_month``.
    claim_diagnoses : pandas.DataFrame
        Contract columns ``claim_id, icd10``.
    as_of : str or pandas.Timestamp
        The reference date (e.g. the checkup date or the start of the offer year); only
        claims with ``service_month`` before it are read.
    interruption_months : int, default 6
        Months without a diabetes contact after which treatment counts as interrupted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``person_id``: ``last_diabetes_month`` (Timestamp or NaT),
        ``treatment_status`` (``"treated"``, ``"interrupted"`` or ``"untreated"``) and
        ``kidney_diagnosis`` (bool, any claim with a code in :data:`KIDNEY_ICD10`).
        Only persons with a diabetes or kidney diagnosis are listed.

    Raises
    ------
    ValueError
        If a column is missing or ``interruption_months`` is not positive.
    """
    what = "diabetes_treatment_status"
    require_columns(claims, ("claim_id", "person_id", "service_month"), what)
    require_columns(claim_diagnoses, ("claim_id", "icd10"), what)
    if interruption_months < 1:
        raise ValueError(f"{what}: interruption_months must be >= 1, got {interruption_months}")
    as_of = pd.Timestamp(as_of)
    dx = claim_diagnoses[["claim_id", "icd10"]].astype({"icd10": str})
    is_dm = dx["icd10"].str.startswith(DIABETES_ICD10)
    is_kd = dx["icd10"].str.startswith(KIDNEY_ICD10)
    dx = dx.assign(dm=is_dm, kd=is_kd)[is_dm | is_kd]
    c = claims[["claim_id", "person_id", "service_month"]]
    c = c.assign(service_month=pd.to_datetime(c["service_month"]))
    c = c[c["service_month"] < as_of]
    merged = dx.merge(c, on="claim_id", how="inner")
    dm_last = merged[merged["dm"]].groupby("person_id")["service_month"].max()
    kd = merged.groupby("person_id")["kd"].any()
    out = pd.DataFrame({"kidney_diagnosis": kd})
    out["last_diabetes_month"] = dm_last.reindex(out.index)
    cutoff = as_of - pd.DateOffset(months=interruption_months)
    last = out["last_diabetes_month"]
    out["treatment_status"] = np.where(
        last.isna(), "untreated", np.where(last >= cutoff, "treated", "interrupted")
    )
    out.index.name = "person_id"
    return out[["last_diabetes_month", "treatment_status", "kidney_diagnosis"]]


def dkd_targets(
    checkups: pd.DataFrame,
    treatment: pd.DataFrame | None = None,
    *,
    egfr_below: float = 30.0,
    urine_protein_min: int = 2,
) -> pd.DataFrame:
    """Targets of the 糖尿病性腎症重症化予防プログラム and the intervention each gets.

    Diabetes, following the programme's criteria ①-③: ① fasting glucose ≥126 mg/dL or
    HbA1c ≥6.5 % at the checkup, or on glucose-lowering drugs (questionnaire); ② currently
    seeing a doctor for diabetes (treatment status ``"treated"``), with no further
    condition; ③ past diabetes drugs or visits (status ``"interrupted"``), unless the
    latest checkup is below the diabetic level (at least one of fasting glucose and HbA1c
    measured and none at or above its threshold; a single measured value below suffices,
    the other may be missing). Kidney damage:
    eGFR below ``egfr_below`` (default 30, stage 4), urine protein at or above
    ``urine_protein_min`` (default 2 = (+), stage 3), or a kidney diagnosis in claims.
    Targets with treatment status ``"untreated"`` or ``"interrupted"`` get 受診勧奨
    (``"referral"``); those ``"treated"`` get 保健指導 (``"guidance"``).

    Without ``treatment`` (no claims), status comes from the questionnaire: on
    glucose-lowering drugs → ``"treated"``, otherwise ``"untreated"`` (interruption
    cannot be seen). With claims, a questionnaire answer "on drugs" turns ``"untreated"``
    into ``"treated"`` but does not override ``"interrupted"`` (claims are the record of
    care actually received). A missing value is not a criterion met.

    Parameters
    ----------
    checkups : pandas.DataFrame
        Contract columns ``hba1c, fasting_glucose, glucose_med, egfr, urine_protein`` (and
        ``person_id`` when ``treatment`` is given).
    treatment : pandas.DataFrame, optional
        Output of :func:`diabetes_treatment_status`, indexed by ``person_id``.
    egfr_below : float, default 30.0
        Kidney criterion: eGFR strictly below this.
    urine_protein_min : int, default 2
        Kidney criterion: urine protein code at or above this (0 = −, 1 = ±, 2 = +).

    Returns
    -------
    pandas.DataFrame
        On the index of ``checkups``: ``diabetes``, ``kidney``, ``target`` (bool),
        ``treatment_status``, ``intervention`` (``"referral"``, ``"guidance"`` or None),
        ``intervention_ja`` (受診勧奨 / 保健指導 / None) and ``reasons_en``.

    Raises
    ------
    ValueError
        If a column is missing or non-numeric, or ``treatment`` lacks its columns.

    References
    ----------
    厚生労働省・日本医師会・日本糖尿病対策推進会議, 糖尿病性腎症重症化予防プログラム
    (令和6年度版), 2024.
    """
    what = "dkd_targets"
    require_columns(checkups, _CHECKUP_COLUMNS, what)
    fpg = numeric(checkups, "fasting_glucose", what)
    a1c = numeric(checkups, "hba1c", what)
    egfr = numeric(checkups, "egfr", what)
    up = numeric(checkups, "urine_protein", what)
    med, _ = flag(checkups, "glucose_med", what)
    high = (fpg >= 126.0) | (a1c >= 6.5)
    # Below the diabetic level: at least one value measured and none at the level.
    below = ~high & ((fpg < 126.0) | (a1c < 6.5))
    if treatment is None:
        status = np.where(med, "treated", "untreated").astype(object)
        kidney_dx = np.zeros(len(checkups), dtype=bool)
    else:
        require_columns(checkups, ("person_id",), what)
        require_columns(treatment, ("treatment_status", "kidney_diagnosis"), f"{what} treatment")
        t = treatment.reindex(checkups["person_id"].to_numpy())
        status = t["treatment_status"].fillna("untreated").to_numpy(dtype=object)
        status[med & (status == "untreated")] = "treated"
        kidney_dx = t["kidney_diagnosis"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    # ② currently treated: no condition; ③ past drugs or visits (interrupted): only
    # when the latest checkup is not below the diabetic level.
    history = (status == "treated") | ((status == "interrupted") & ~below)
    diabetes = high | med | history
    kidney = (egfr < egfr_below) | (up >= urine_protein_min) | kidney_dx
    target = diabetes & kidney
    intervention = np.where(
        ~target, None, np.where(status == "treated", "guidance", "referral")
    ).astype(object)
    reasons = [
        "; ".join(
            label
            for ok, label in (
                (h, "glucose/HbA1c at diabetic level"),
                (m, "on glucose-lowering drugs"),
                (hi and not (h or m), "diabetes treatment history in claims"),
                (e, f"eGFR<{egfr_below:g}"),
                (u, "urine protein positive"),
                (k, "kidney diagnosis in claims"),
            )  # fmt: skip
            if ok
        )
        for h, m, hi, e, u, k in zip(
            high,
            med,
            history,
            egfr < egfr_below,
            up >= urine_protein_min,
            kidney_dx,
            strict=True,
        )  # fmt: skip
    ]
    return pd.DataFrame(
        {
            "diabetes": diabetes,
            "kidney": kidney,
            "target": target,
            "treatment_status": status,
            "intervention": intervention,
            "intervention_ja": [INTERVENTION_JA.get(v) for v in intervention],
            "reasons_en": reasons,
        },
        index=checkups.index,
    )

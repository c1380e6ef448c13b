"""特定保健指導 stratification (階層化): who gets 積極的支援, 動機付け支援 or 情報提供.

The rule of the 4th period (from FY2024) of MHLW's 標準的な健診・保健指導プログラム,
vectorised over a checkups frame. Sources:

- MHLW, 標準的な健診・保健指導プログラム(令和6年度版), 第3編 第3章 (保健指導対象者の選定と
  階層化), https://www.mhlw.go.jp/stf/newpage_31652.html
- 済生会国保, 特定保健指導対象者のレベル分けの基準 (a plain-language copy of the same table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.risk._columns import flag, numeric, require_columns

LEVELS = ("active", "motivational", "information")
"""Guidance levels, from most to least intensive."""

LEVEL_JA = {"active": "積極的支援", "motivational": "動機付け支援", "information": "情報提供"}
"""Japanese names of the levels."""

WAIST_CM = {"M": 85.0, "F": 90.0}
"""Step 1 (A): waist at or above this (cm) by sex."""
BMI_B = 25.0
"""Step 1 (B): BMI at or above this when the waist is below its cut-off."""
GLUCOSE_MG_DL = 100.0
"""Step 2 ① fasting glucose at or above this (mg/dL)."""
HBA1C_PCT = 5.6
"""Step 2 ① HbA1c (NGSP) at or above this (%)."""
TG_MG_DL = 150.0
"""Step 2 ② fasting triglycerides at or above this (mg/dL)."""
HDL_MG_DL = 40.0
"""Step 2 ② HDL cholesterol below this (mg/dL)."""
SBP_MMHG = 130.0
"""Step 2 ③ systolic BP at or above this (mmHg)."""
DBP_MMHG = 85.0
"""Step 2 ③ diastolic BP at or above this (mmHg)."""
OLDER_AGE = 65
"""From this age, 積極的支援 becomes 動機付け支援 (the 65-74 rule)."""

STRATIFY_COLUMNS = (
    "sex", "age", "waist_cm", "bmi", "fasting_glucose", "hba1c", "tg", "hdl", "sbp", "dbp",
    "smoker", "bp_med", "glucose_med", "lipid_med",
)  # fmt: skip
"""Columns :func:`stratify` reads."""

_MEDS = {"bp_med": ("血圧", "blood pressure"), "glucose_med": ("血糖", "glucose"),
         "lipid_med": ("脂質", "lipids")}  # fmt: skip
_LABS = ("waist_cm", "bmi", "fasting_glucose", "hba1c", "tg", "hdl", "sbp", "dbp")


def stratify(checkups: pd.DataFrame) -> pd.DataFrame:
    """Assign each checkup its 特定保健指導 level (階層化).

    Step 1 (visceral fat): (A) waist ≥85 cm for men or ≥90 cm for women; (B) waist below
    the cut-off but BMI ≥25. Step 2 (additional risks): ① glucose, fasting glucose ≥100
    mg/dL or HbA1c ≥5.6 %, read in the official order of priority: when fasting glucose is
    measured it alone decides; only when it is missing does HbA1c decide (空腹時血糖と
    HbA1cの両方を測定している場合は空腹時血糖の結果を優先; the third option, casual
    glucose when neither fasting glucose nor HbA1c is available, is not in the data
    contract); ② lipids, triglycerides ≥150 mg/dL or HDL <40 mg/dL; ③ blood
    pressure, SBP ≥130 or DBP ≥85 mmHg; ④ current smoking, counted only when at least one
    of ①-③ is present. Step 3 (level): (A) with ≥2 risks or (B) with 3 risks (smoking
    included) → 積極的支援; (A) or (B) with fewer but at least one risk → 動機付け支援;
    otherwise 情報提供. People aged 65 or over get 動機付け支援 where the table says
    積極的支援. Anyone taking antihypertensive, glucose-lowering or lipid-lowering drugs is
    excluded from guidance (情報提供 only; their step 1 and risks are still reported).

    Missing values never raise: a missing measurement or questionnaire answer is not a risk
    (a missing waist does not place a person in (A), so BMI decides step 1; a missing
    medication answer counts as "not on medication") and every missing item is listed in
    ``reasons``. The table assumes fasting samples: ``tg`` and ``fasting_glucose`` are read
    as fasting values (the casual-sample cut-offs, TG ≥175 mg/dL, are not applied).

    Parameters
    ----------
    checkups : pandas.DataFrame
        Checkup rows with the contract columns ``waist_cm, bmi, fasting_glucose, hba1c,
        tg, hdl, sbp, dbp, smoker, bp_med, glucose_med, lipid_med`` plus ``sex`` (``"M"``
        / ``"F"``) and ``age`` (years) added by the caller. MHLW defines the age group by
        the age reached at the end of the fiscal year (年度末年齢); pass that for the
        official rule. Ages outside 40-74 are classified and flagged in ``reasons``.

    Returns
    -------
    pandas.DataFrame
        On the index of ``checkups``: ``level`` (``"active"``, ``"motivational"``,
        ``"information"``), ``level_ja`` (積極的支援 / 動機付け支援 / 情報提供),
        ``step1`` (``"A"``, ``"B"`` or None), ``n_risks`` (int, step 2 count with smoking
        when it counts), ``on_medication`` (bool), ``reasons`` (Japanese) and
        ``reasons_en`` (English).

    Raises
    ------
    ValueError
        If a column is missing or non-numeric, ``sex`` is not M/F, or ``age`` is missing.

    References
    ----------
    厚生労働省 健康局, 標準的な健診・保健指導プログラム(令和6年度版), 2024, 第3編
    第3章 ステップ2 (血糖高値: 空腹時血糖100mg/dl以上又はHbA1c 5.6%以上; 注: 空腹時
    血糖とHbA1cの両方を測定している場合は空腹時血糖の結果を優先して判定に用いる).
    厚生労働省 保険局, 特定健康診査・特定保健指導の円滑な実施に向けた手引き (priority
    of glucose tests in 階層化: ① 空腹時血糖 ② HbA1c ③ 随時血糖). 厚生労働省告示第8号
    (2008, amended 2013/2017) for the 100 mg/dL / 5.6 % cut-offs.

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(sex="M", age=50, waist_cm=86.0, bmi=24.0, fasting_glucose=105.0,
    ...            hba1c=5.4, tg=160.0, hdl=55.0, sbp=120.0, dbp=70.0, smoker=False,
    ...            bp_med=False, glucose_med=False, lipid_med=False)
    >>> out = stratify(pd.DataFrame([row]))
    >>> out.loc[0, "level"], out.loc[0, "step1"], int(out.loc[0, "n_risks"])
    ('active', 'A', 2)
    """
    what = "stratify"
    require_columns(checkups, STRATIFY_COLUMNS, what)
    sex = checkups["sex"].to_numpy(dtype=object)
    bad_sex = ~np.isin(sex, ["M", "F"])
    if bad_sex.any():
        raise ValueError(
            f"{what}: column 'sex' must be 'M' or 'F'; {int(bad_sex.sum())} row(s) are not "
            f"(e.g. {sex[bad_sex][0]!r})"
        )
    age = numeric(checkups, "age", what)
    if np.isnan(age).any():
        raise ValueError(f"{what}: column 'age' has {int(np.isnan(age).sum())} missing value(s)")
    lab = {c: numeric(checkups, c, what) for c in _LABS}
    smoker, smoker_na = flag(checkups, "smoker", what)
    meds = {c: flag(checkups, c, what) for c in _MEDS}

    waist_cut = np.where(sex == "M", WAIST_CM["M"], WAIST_CM["F"])
    step_a = lab["waist_cm"] >= waist_cut
    step_b = ~step_a & (lab["bmi"] >= BMI_B)
    fpg_measured = ~np.isnan(lab["fasting_glucose"])
    r_glucose = np.where(
        fpg_measured, lab["fasting_glucose"] >= GLUCOSE_MG_DL, lab["hba1c"] >= HBA1C_PCT
    )
    r_lipid = (lab["tg"] >= TG_MG_DL) | (lab["hdl"] < HDL_MG_DL)
    r_bp = (lab["sbp"] >= SBP_MMHG) | (lab["dbp"] >= DBP_MMHG)
    n_metabolic = r_glucose.astype(int) + r_lipid.astype(int) + r_bp.astype(int)
    smoking_counts = smoker & (n_metabolic >= 1)
    n_risks = n_metabolic + smoking_counts.astype(int)

    table_active = (step_a & (n_risks >= 2)) | (step_b & (n_risks >= 3))
    in_guidance = (step_a | step_b) & (n_risks >= 1)
    older = age >= OLDER_AGE
    on_med = np.zeros(len(age), dtype=bool)
    for value, _ in meds.values():
        on_med |= value
    level = np.where(in_guidance, "motivational", "information").astype(object)
    level[table_active & ~older] = "active"
    level[on_med] = "information"

    pieces = [
        (step_a & (sex == "M"), "腹囲≥85cm(A)", "waist>=85cm (A)"),
        (step_a & (sex == "F"), "腹囲≥90cm(A)", "waist>=90cm (A)"),
        (step_b, "BMI≥25(B)", "BMI>=25 (B)"),
        (~step_a & ~step_b, "腹囲・BMI基準未満", "waist and BMI below cut-offs"),
        (r_glucose, "血糖", "glucose"),
        (r_lipid, "脂質", "lipids"),
        (r_bp, "血圧", "blood pressure"),
        (smoking_counts, "喫煙", "smoking"),
        (smoker & ~smoking_counts, "喫煙(他のリスクなしのため不算入)",
         "smoking (not counted: no other risk)"),
        (table_active & older & ~on_med, "65歳以上のため動機付け支援",
         "aged 65+: motivational instead of active"),
        ((age < 40) | (age >= 75), "年齢が40-74歳の範囲外", "age outside 40-74"),
    ]  # fmt: skip
    for col, (ja, en) in _MEDS.items():
        pieces.append((meds[col][0], f"服薬中({ja})のため対象外", f"on {en} medication: excluded"))
    na_items = [*((c, np.isnan(v)) for c, v in lab.items()), ("smoker", smoker_na),
                *((c, v[1]) for c, v in meds.items())]  # fmt: skip
    ja_text, en_text = _reasons(pieces, na_items)

    step1 = np.where(step_a, "A", np.where(step_b, "B", None)).astype(object)
    return pd.DataFrame(
        {
            "level": level,
            "level_ja": [LEVEL_JA[v] for v in level],
            "step1": step1,
            "n_risks": n_risks.astype("int64"),
            "on_medication": on_med,
            "reasons": ja_text,
            "reasons_en": en_text,
        },
        index=checkups.index,
    )


def _reasons(pieces, na_items) -> tuple[np.ndarray, np.ndarray]:
    """Japanese and English reason texts, built once per distinct combination of flags."""
    flags = np.column_stack([c for c, _, _ in pieces] + [na for _, na in na_items])
    codes = flags.astype(np.int64) @ (np.int64(1) << np.arange(flags.shape[1], dtype=np.int64))
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    k = len(pieces)
    ja, en = [], []
    for row in flags[first]:
        missing = ", ".join(name for (name, _), on in zip(na_items, row[k:], strict=True) if on)
        ja_parts = [lab for (_, lab, _), on in zip(pieces, row[:k], strict=True) if on]
        en_parts = [lab for (_, _, lab), on in zip(pieces, row[:k], strict=True) if on]
        ja.append("; ".join(ja_parts + ([f"欠測: {missing}"] if missing else [])))
        en.append("; ".join(en_parts + ([f"missing: {missing}"] if missing else [])))
    inverse = np.asarray(inverse).ravel()
    return np.asarray(ja, dtype=object)[inverse], np.asarray(en, dtype=object)[inverse]

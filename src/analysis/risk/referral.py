"""受診勧奨判定値: the checkup values at which a person is advised to see a doctor.

Thresholds of the 4th period (from FY2024) of MHLW's 標準的な健診・保健指導プログラム, for
the items of the checkup contract. Sources:

- MHLW, 第4期特定健診・特定保健指導の見直しに関する検討会 第3回 参考資料1-1 (2022-10-12),
  健診検査項目の保健指導判定値及び受診勧奨判定値,
  https://www.mhlw.go.jp/stf/newpage_28516.html
- MHLW, 標準的な健診・保健指導プログラム(令和6年度版), https://www.mhlw.go.jp/stf/newpage_31652.html
- Urine protein: the same programme's judgement table, (+) or more is 受診勧奨.
- HDL cholesterol: 受診勧奨判定値 34 mg/dL or less (保健指導判定値 39 or less). The
  4th-period table keeps this value: insurers' result sheets of the 4th period, which
  already carry the period's new rows (Non-HDL cholesterol 150/170 mg/dL, casual
  triglycerides 175 mg/dL, eGFR <45), list HDL ≤34 as 受診勧奨 (e.g. the 特定健診
  result-sheet guide at dc.conohawing.com/Inspection_results, 2024). Values are
  flagged below 35 mg/dL, which equals "≤34" for the integer values laboratories report.

Items of the MHLW table absent here because the checkup contract lacks them: Non-HDL
cholesterol (150/170 mg/dL; total cholesterol is not in the contract), casual
triglycerides (the contract's ``tg`` is read as fasting) and casual glucose, AST and ALT
(≥51 U/L), γ-GT (≥101 U/L) and haemoglobin (men ≤12.0, women ≤11.0 g/dL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.risk._columns import numeric, require_columns


@dataclass(frozen=True)
class Threshold:
    """One 受診勧奨判定値: the item is flagged when ``value <op> cut`` holds."""

    column: str
    op: str  # ">=" or "<"
    cut: float
    ja: str
    en: str
    unit: str


REFERRAL_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold("sbp", ">=", 140.0, "収縮期血圧≥140", "SBP>=140", "mmHg"),
    Threshold("dbp", ">=", 90.0, "拡張期血圧≥90", "DBP>=90", "mmHg"),
    Threshold("tg", ">=", 300.0, "中性脂肪≥300", "TG>=300", "mg/dL"),
    Threshold("ldl", ">=", 140.0, "LDL≥140", "LDL>=140", "mg/dL"),
    Threshold("hdl", "<", 35.0, "HDL≤34", "HDL<=34", "mg/dL"),
    Threshold("fasting_glucose", ">=", 126.0, "空腹時血糖≥126", "fasting glucose>=126", "mg/dL"),
    Threshold("hba1c", ">=", 6.5, "HbA1c≥6.5", "HbA1c>=6.5", "%"),
    Threshold("egfr", "<", 45.0, "eGFR<45", "eGFR<45", "mL/min/1.73m²"),
    Threshold("urine_protein", ">=", 2.0, "尿蛋白(+)以上", "urine protein (+) or more", ""),
)
"""The 受診勧奨判定値 applied by :func:`referral_flags`, one per contract column."""


def referral_table() -> pd.DataFrame:
    """The thresholds of :data:`REFERRAL_THRESHOLDS` as a display table (one row per item)."""
    return pd.DataFrame([t.__dict__ for t in REFERRAL_THRESHOLDS])


def referral_flags(checkups: pd.DataFrame) -> pd.DataFrame:
    """Flag each checkup value at or beyond its 受診勧奨判定値.

    Items: SBP ≥140 and DBP ≥90 mmHg; triglycerides ≥300 mg/dL; LDL ≥140 mg/dL; HDL ≤34
    mg/dL (flagged below 35); fasting
    glucose ≥126 mg/dL; HbA1c (NGSP) ≥6.5 %; eGFR <45 mL/min/1.73m²; urine protein (+)
    or more (contract code ≥2).

    Parameters
    ----------
    checkups : pandas.DataFrame
        Checkup rows with the contract columns ``sbp, dbp, tg, ldl, hdl, fasting_glucose,
        hba1c, egfr, urine_protein``.

    Returns
    -------
    pandas.DataFrame
        On the index of ``checkups``: one nullable-boolean column per item named after
        the contract column (``<NA>`` where the value is missing), ``n_referral`` (number
        of items flagged; a missing value is not flagged), ``any_referral`` (bool),
        ``referral_items`` (Japanese labels) and ``referral_items_en``.

    Raises
    ------
    ValueError
        If a column is missing or non-numeric.

    References
    ----------
    厚生労働省, 第4期特定健診・特定保健指導の見直しに関する検討会 参考資料1-1, 2022.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(dict(sbp=[139.0, 140.0], dbp=[80.0, 80.0], tg=[100.0, None],
    ...     ldl=[100.0, 100.0], hdl=[50.0, 50.0], fasting_glucose=[90.0, 90.0], hba1c=[5.5, 6.5],
    ...     egfr=[70.0, 44.9], urine_protein=[0, 1]))
    >>> referral_flags(df)["n_referral"].tolist()
    [0, 3]
    """
    what = "referral_flags"
    require_columns(checkups, [t.column for t in REFERRAL_THRESHOLDS], what)
    out = {}
    n = np.zeros(len(checkups), dtype="int64")
    ja = np.full(len(checkups), "", dtype=object)
    en = np.full(len(checkups), "", dtype=object)
    for t in REFERRAL_THRESHOLDS:
        x = numeric(checkups, t.column, what)
        hit = x >= t.cut if t.op == ">=" else x < t.cut
        out[t.column] = pd.array(np.where(np.isnan(x), None, hit), dtype="boolean")
        n += hit
        for acc, label in ((ja, t.ja), (en, t.en)):
            acc[:] = acc + np.where(hit & (acc != ""), "; ", "") + np.where(hit, label, "")
    frame = pd.DataFrame(out, index=checkups.index)
    frame["n_referral"] = n
    frame["any_referral"] = n > 0
    frame["referral_items"] = ja
    frame["referral_items_en"] = en
    return frame

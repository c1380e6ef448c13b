"""受診勧奨判定値 flags at each threshold edge."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.risk.referral import REFERRAL_THRESHOLDS, referral_flags, referral_table

NORMAL = dict(sbp=120.0, dbp=75.0, tg=120.0, ldl=110.0, hdl=55.0, fasting_glucose=95.0, hba1c=5.4,
              egfr=80.0, urine_protein=0)  # fmt: skip


@pytest.mark.parametrize(
    ("column", "below", "at"),
    [("sbp", 139.9, 140.0), ("dbp", 89.9, 90.0), ("tg", 299.0, 300.0), ("ldl", 139.9, 140.0),
     ("hdl", 35.0, 34.0),
     ("fasting_glucose", 125.9, 126.0), ("hba1c", 6.4, 6.5), ("egfr", 45.0, 44.9),
     ("urine_protein", 1, 2)],
)  # fmt: skip
def test_each_item_edge(column, below, at):
    out = referral_flags(pd.DataFrame([{**NORMAL, column: below}, {**NORMAL, column: at}]))
    assert out[column].tolist() == [False, True]
    assert out["n_referral"].tolist() == [0, 1]
    assert out["any_referral"].tolist() == [False, True]
    others = [t.column for t in REFERRAL_THRESHOLDS if t.column != column]
    assert not out[others].any(axis=None)


def test_hba1c_guidance_level_is_not_referral():
    assert not referral_flags(pd.DataFrame([{**NORMAL, "hba1c": 5.6}]))["hba1c"].iloc[0]


def test_missing_is_na_and_not_counted():
    out = referral_flags(pd.DataFrame([{**NORMAL, "sbp": None, "hba1c": 7.0}]))
    assert out["sbp"].isna().iloc[0]
    assert out["n_referral"].iloc[0] == 1
    assert out["referral_items"].iloc[0] == "HbA1c≥6.5"


def test_labels_join_and_table():
    out = referral_flags(pd.DataFrame([{**NORMAL, "sbp": 150.0, "egfr": 30.0}], index=[7]))
    assert out.index.tolist() == [7]
    assert out["referral_items_en"].iloc[0] == "SBP>=140; eGFR<45"
    assert len(referral_table()) == len(REFERRAL_THRESHOLDS)


def test_missing_column_named():
    with pytest.raises(ValueError, match="ldl"):
        referral_flags(pd.DataFrame([NORMAL]).drop(columns="ldl"))


def test_hdl_guidance_level_is_not_referral():
    out = referral_flags(pd.DataFrame([{**NORMAL, "hdl": h} for h in (39.0, 35.0, 34.9, 34.0)]))
    assert out["hdl"].tolist() == [False, False, True, True]
    assert out["referral_items"].iloc[3] == "HDL≤34"

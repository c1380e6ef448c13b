"""Normalisation of single cells: 和暦, NFKC, codes, units (known answers)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.data import normalise as nz
from analysis.data.export import wareki

D = dt.date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("R5.4.1", D(2023, 4, 1)),
        ("R05/04/01", D(2023, 4, 1)),
        ("r5.4.1", D(2023, 4, 1)),
        ("Ｒ５．４．１", D(2023, 4, 1)),
        ("R050401", D(2023, 4, 1)),
        ("5050401", D(2023, 4, 1)),
        ("令和5年4月1日", D(2023, 4, 1)),
        ("令和５年４月１日", D(2023, 4, 1)),
        ("令和 5年 4月 1日", D(2023, 4, 1)),
        ("令和元年5月1日", D(2019, 5, 1)),
        ("R1.5.1", D(2019, 5, 1)),
        ("H31.4.30", D(2019, 4, 30)),
        ("平成31年4月30日", D(2019, 4, 30)),
        ("平成元年1月8日", D(1989, 1, 8)),
        ("S64.1.7", D(1989, 1, 7)),
        ("昭和35年5月10日", D(1960, 5, 10)),
        ("S35/05/10", D(1960, 5, 10)),
        ("3350510", D(1960, 5, 10)),
        ("T15.12.24", D(1926, 12, 24)),
        ("大正元年8月1日", D(1912, 8, 1)),
        ("M45.7.29", D(1912, 7, 29)),
        ("平31.4.30", D(2019, 4, 30)),
        ("令5.4.1", D(2023, 4, 1)),
        ("令元.5.1", D(2019, 5, 1)),
        ("令５年４月１日", D(2023, 4, 1)),
        ("昭35.5.10", D(1960, 5, 10)),
        ("大15.12.24", D(1926, 12, 24)),
        ("明45.7.29", D(1912, 7, 29)),
        ("2023-04-01", D(2023, 4, 1)),
        ("2023/4/1", D(2023, 4, 1)),
        ("20230401", D(2023, 4, 1)),
        ("2023年4月1日", D(2023, 4, 1)),
        ("２０２３／０４／０１", D(2023, 4, 1)),
        ("2023/04/01 0:00", D(2023, 4, 1)),
        ("　2023-04-01　", D(2023, 4, 1)),
    ],
)
def test_parse_date_known_forms(raw, expected):
    assert nz.parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", "99999999", "9999/12/31", "　"])
def test_parse_date_empty_and_placeholders_are_missing(raw):
    assert nz.parse_date(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("H31.5.1", "outside the 平成 era"),
        ("平成32年1月1日", "outside the 平成 era"),
        ("R1.4.30", "outside the 令和 era"),
        ("S64.1.8", "outside the 昭和 era"),
        ("R0.4.1", "not valid"),
        ("2023-02-30", "no such date"),
        ("R5.13.1", "no such date"),
        ("4月1日", "not a date"),
        ("2023-04", "not a date"),
        ("abc", "not a date"),
        ("X5.4.1", "not a date"),
        ("平31.5.1", "outside the 平成 era"),
        ("令1.4.30", "outside the 令和 era"),
        ("成31.4.30", "not a date"),
        ("和5.4.1", "not a date"),
    ],
)
def test_parse_date_rejects_with_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        nz.parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("R5.4", D(2023, 4, 1)),
        ("R05/04", D(2023, 4, 1)),
        ("R0504", D(2023, 4, 1)),
        ("50504", D(2023, 4, 1)),
        ("令和5年4月", D(2023, 4, 1)),
        ("令和元年5月", D(2019, 5, 1)),
        ("令5.4", D(2023, 4, 1)),
        ("平31年4月", D(2019, 4, 1)),
        ("平成31年4月", D(2019, 4, 1)),
        ("202304", D(2023, 4, 1)),
        ("2023/04", D(2023, 4, 1)),
        ("2023年4月", D(2023, 4, 1)),
        ("２０２３０４", D(2023, 4, 1)),
        ("2023-04-01", D(2023, 4, 1)),
        ("R5.4.1", D(2023, 4, 1)),
    ],
)
def test_parse_month(raw, expected):
    assert nz.parse_month(raw) == expected


@pytest.mark.parametrize("raw", ["2023-04-15", "R5.13", "平成31年5月", "令和元年4月", "abc"])
def test_parse_month_rejects(raw):
    with pytest.raises(ValueError):
        nz.parse_month(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023", 2023),
        ("2023年度", 2023),
        ("令和5年度", 2023),
        ("R5", 2023),
        ("令和元年度", 2019),
        ("平成31年度", 2019),
        ("２０２３", 2023),
    ],
)
def test_parse_fiscal_year(raw, expected):
    assert nz.parse_fiscal_year(raw) == expected


def test_fiscal_year_of_runs_april_to_march():
    assert nz.fiscal_year_of(D(2023, 4, 1)) == 2023
    assert nz.fiscal_year_of(D(2024, 3, 31)) == 2023


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("１２３．４", 123.4), ("1,234", 1234.0), ("　56 ", 56.0), ("-1.5", -1.5), ("", None)],
)
def test_parse_number_full_width_and_separators(raw, expected):
    assert nz.parse_number(raw) == expected


@pytest.mark.parametrize("raw", ["10未満", "abc", "1.2.3", "nan", "inf"])
def test_parse_number_rejects(raw):
    with pytest.raises(ValueError):
        nz.parse_number(raw)


def test_parse_int_rejects_fractions():
    assert nz.parse_int("１２") == 12
    assert nz.parse_int("12.0") == 12
    with pytest.raises(ValueError, match="whole number"):
        nz.parse_int("12.5")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "M"),
        ("男", "M"),
        ("男性", "M"),
        ("M", "M"),
        ("m", "M"),
        ("１", "M"),
        ("2", "F"),
        ("女", "F"),
        ("女性", "F"),
        ("F", "F"),
        ("２", "F"),
    ],
)
def test_parse_sex(raw, expected):
    assert nz.parse_sex(raw) == expected


@pytest.mark.parametrize("raw", ["3", "0", "不明", "X"])
def test_parse_sex_rejects(raw):
    with pytest.raises(ValueError):
        nz.parse_sex(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("はい", True),
        ("いいえ", False),
        ("1", True),
        ("2", False),
        ("１", True),
        ("２", False),
        ("0", False),
        ("有", True),
        ("無", False),
        ("あり", True),
        ("なし", False),
        ("TRUE", True),
        ("", None),
    ],
)
def test_parse_bool(raw, expected):
    assert nz.parse_bool(raw) is expected


def test_parse_bool_rejects_other_answers():
    with pytest.raises(ValueError, match="yes/no"):
        nz.parse_bool("たぶん")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-", 0),
        ("−", 0),
        ("－", 0),
        ("(-)", 0),
        ("陰性", 0),
        ("±", 1),
        ("+-", 1),
        ("（±）", 1),
        ("+", 2),
        ("＋", 2),
        ("1+", 2),
        ("(+)", 2),
        ("2+", 3),
        ("２＋", 3),
        ("++", 3),
        ("＋＋", 3),
        ("3+", 4),
        ("３＋", 4),
        ("+++", 4),
        ("", None),
    ],
)
def test_parse_urine_protein_half_and_full_width(raw, expected):
    assert nz.parse_urine_protein(raw) == expected


@pytest.mark.parametrize("raw", ["1", "0", "4+", "陽性", "5"])
def test_parse_urine_protein_rejects_ambiguous_codes(raw):
    with pytest.raises(ValueError):
        nz.parse_urine_protein(raw)


@pytest.mark.parametrize(("ifcc", "ngsp"), [(48.0, 6.5), (53.0, 7.0), (31.0, 5.0), (64.0, 8.0)])
def test_hba1c_ifcc_to_ngsp_master_equation(ifcc, ngsp):
    # Published IFCC/NGSP pairs: 48 mmol/mol = 6.5 %, 53 = 7.0 %, 64 = 8.0 %.
    assert nz.hba1c_ifcc_to_ngsp(ifcc) == ngsp


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("E11.9", "E119"), ("ｅ１１９", "E119"), ("I10", "I10"), ("N18.4", "N184")],
)
def test_parse_icd10(raw, expected):
    assert nz.parse_icd10(raw) == expected


@pytest.mark.parametrize("raw", ["2500015", "糖尿病", "E1", "11E9"])
def test_parse_icd10_rejects_non_icd_codes(raw):
    with pytest.raises(ValueError, match="ICD-10"):
        nz.parse_icd10(raw)


def test_parse_code_uses_the_map_case_insensitively():
    codes = {"入院": "inpatient", "1": "inpatient", "inpatient": "inpatient"}
    assert nz.parse_code("入院", codes) == "inpatient"
    assert nz.parse_code("１", codes) == "inpatient"
    assert nz.parse_code("INPATIENT", codes) == "inpatient"
    with pytest.raises(ValueError):
        nz.parse_code("往診", codes)


@given(
    st.dates(min_value=D(1900, 1, 1), max_value=D(2100, 12, 31)),
    st.sampled_from(["kanji", "short", "padded"]),
)
def test_wareki_round_trips_through_parse_date(day, style):
    assert nz.parse_date(wareki(day, style)) == day
    assert nz.parse_month(wareki(day, style, month_only=True)) == day.replace(day=1)

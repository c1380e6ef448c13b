"""A directory of exports as municipal systems write them imports with the default mapping.

The files imitate what a city's NHI and checkup systems export: CP932 with CRLF, every
field quoted, Japanese headers with full-width letters, units in brackets and the long
question texts of the standard questionnaire (標準的な質問票), 和暦 dates in several
forms, full-width digits, dipstick symbols, file names carrying the date of the export,
and a diagnosis file whose name tells nothing (placed by its headers).
"""

from __future__ import annotations

import functools
import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pytest

from analysis.data.dataset import load_dataset
from analysis.data.importer import import_csv
from analysis.data.pseudonym import Pseudonymiser
from analysis.data.validation import validate_dataset
from analysis.errors import UserError
from tests.conftest import input_order

P = Pseudonymiser("export test key — 0123456789")
TODAY = dt.date(2026, 1, 1)
D = dt.date

SHIKAKU = (
    ["被保険者証番号", "世帯番号", "氏名（カナ）", "性別", "生年月日", "資格取得年月日",
     "資格喪失年月日", "喪失事由"],
    [
        ["0000001", "H01", "ﾔﾏﾀﾞ ﾀﾛｳ", "1", "S35.05.10", "H27.04.01", "", ""],
        ["0000002", "H02", "ｽｽﾞｷ ﾊﾅｺ", "2", "昭和30年2月28日", "R03.04.01", "", ""],
        ["０００００３", "H03", "ｻﾄｳ ﾖｼｺ", "女", "3230601", "H20.04.01", "R05.05.31",
         "後期高齢者医療へ移行"],
    ],
)  # fmt: skip
KENSHIN = (
    ["被保険者証番号", "氏名（カナ）", "年齢", "受診年月日", "身長（ｃｍ）", "体重（ｋｇ）", "ＢＭＩ",
     "腹囲（ｃｍ）", "収縮期血圧（ｍｍＨｇ）", "拡張期血圧（ｍｍＨｇ）", "ＨｂＡ１ｃ（ＮＧＳＰ）（％）",
     "空腹時血糖（ｍｇ／ｄｌ）", "ＬＤＬコレステロール（ｍｇ／ｄｌ）", "ＨＤＬコレステロール（ｍｇ／ｄｌ）",
     "中性脂肪（ｍｇ／ｄｌ）", "ｅＧＦＲ（ｍｌ／分／１．７３㎡）", "尿蛋白（定性）",
     "現在、たばこを習慣的に吸っている",
     "１回３０分以上の軽く汗をかく運動を週２日以上、１年以上実施",
     "日常生活において歩行又は同等の身体活動を１日１時間以上実施",
     "服薬１（血圧）", "服薬２（血糖）", "服薬３（脂質）", "メタボリックシンドローム判定"],
    [
        ["0000001", "ﾔﾏﾀﾞ ﾀﾛｳ", "63", "R05.06.12", "１７０．２", "72.5", "25.0", "88.0", "132",
         "84", "5.9", "102", "140", "55", "120", "75.2", "－", "はい", "いいえ", "はい", "はい",
         "いいえ", "いいえ", "予備群該当"],
        ["0000002", "ｽｽﾞｷ ﾊﾅｺ", "68", "令和5年9月1日", "155.5", "50.3", "20.8", "", "118", "72",
         "5.4", "", "110", "70", "80", "80.1", "±", "2", "1", "1", "2", "2", "2", "非該当"],
        ["０００００３", "ｻﾄｳ ﾖｼｺ", "74", "R04/10/05", "150.1", "48", "21.3", "76.5", "150",
         "80", "7.1", "140", "98", "60", "120", "52", "２＋", "いいえ", "いいえ", "はい", "はい",
         "はい", "いいえ", "基準該当"],
    ],
)  # fmt: skip
RECEIPT = (
    ["レセプト番号", "被保険者証番号", "診療年月", "レセプト種別", "決定点数", "診療実日数"],
    [
        ["K1", "0000001", "R05.05", "医科入院外", "1,234", "2"],
        ["K2", "0000002", "令和5年6月", "調剤", "560", "1"],
        ["K3", "０００００３", "50412", "医科入院", "85,000", "10"],
        ["K4", "0000001", "2023/07", "歯科", "310", "1"],
    ],
)
BYOMEI = (
    ["レセプト番号", "傷病名", "ＩＣＤ１０コード", "主傷病"],
    [
        ["K1", "２型糖尿病", "E11.9", "1"],
        ["K1", "本態性高血圧症", "I10", "0"],
        ["K2", "逆流性食道炎", "K21.0", "1"],
        ["K3", "慢性腎臓病ステージＧ４", "N18.4", "1"],
        ["K4", "う蝕", "K02.9", "1"],
    ],
)
EXPORTS = {
    "資格情報_20240331.csv": SHIKAKU,
    "特定健診結果_令和5年度.csv": KENSHIN,
    "レセプト_R5.csv": RECEIPT,
    "KDB_S21_001.csv": BYOMEI,
}


def write_export(path: Path, header: list[str], rows: list[list[str]], encoding="cp932") -> None:
    """One file as the systems write it: every field quoted, CRLF, CP932."""
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def write_exports(d: Path, **override) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in (EXPORTS | override).items():
        write_export(d / name, header, rows)
    return d


def run(in_dir: Path, out: Path):
    return import_csv(in_dir, out, pseudonymiser=P, today=TODAY)


in_input_order = functools.partial(input_order, pseudonymiser=P)


def test_typical_exports_import_with_the_default_mapping(tmp_path):
    res = run(write_exports(tmp_path / "in"), tmp_path / "out")
    assert {t: (i.file, i.read, i.rejected) for t, i in res.tables.items()} == {
        "enrollment": ("資格情報_20240331.csv", 3, 0),
        "checkups": ("特定健診結果_令和5年度.csv", 3, 0),
        "claims": ("レセプト_R5.csv", 4, 0),
        "claim_diagnoses": ("KDB_S21_001.csv", 5, 0),
    }, res.summary()
    assert res.tables["claim_diagnoses"].placed_by == "headers"
    assert "recognised as claim_diagnoses by its headers" in res.summary()
    # every checkup item is read; only what the contract does not hold is left out
    assert res.tables["checkups"].ignored == [
        "氏名（カナ）",
        "年齢",
        "メタボリックシンドローム判定",
    ]
    assert res.tables["claim_diagnoses"].ignored == ["傷病名"]
    ds = load_dataset(tmp_path / "out")
    persons = ["0000001", "0000002", "000003"]
    c = in_input_order(ds.checkups, "person_id", "person", persons)
    assert [pd.Timestamp(x).date() for x in c.exam_date] == [
        D(2023, 6, 12),
        D(2023, 9, 1),
        D(2022, 10, 5),
    ]
    assert c.fiscal_year.tolist() == [2023, 2023, 2022]
    assert c.height_cm.tolist() == [170.2, 155.5, 150.1]
    assert c.hba1c.tolist() == [5.9, 5.4, 7.1] and c.egfr.tolist() == [75.2, 80.1, 52.0]
    assert c.urine_protein.tolist() == [0, 1, 3]
    assert c.smoker.tolist() == [True, False, False]
    assert c.exercise_habit.tolist() == [False, True, False]
    assert c.bp_med.tolist() == [True, False, True]
    assert c.person_id.tolist() == [P.one("person", x) for x in ["0000001", "0000002", "000003"]]
    e = in_input_order(ds.enrollment, "person_id", "person", persons)
    assert e.sex.tolist() == ["M", "F", "F"]
    assert [pd.Timestamp(x).date() for x in e.birth_date] == [
        D(1960, 5, 10),
        D(1955, 2, 28),
        D(1948, 6, 1),
    ]
    assert e.exit_reason.tolist()[2] == "age75"
    cl = in_input_order(ds.claims, "claim_id", "claim", ["K1", "K2", "K3", "K4"])
    assert cl.setting.tolist() == ["outpatient", "pharmacy", "inpatient", "dental"]
    assert cl.cost_yen.tolist() == [12340, 5600, 850000, 3100]
    dx = in_input_order(ds.claim_diagnoses, "claim_id", "claim", ["K1", "K2", "K3", "K4"])
    assert dx.icd10.tolist() == ["E119", "I10", "K210", "N184", "K029"]
    report = validate_dataset(tmp_path / "out", today=TODAY)
    assert report.ok, report.summary()


@pytest.mark.parametrize(
    ("encoding", "name"), [("iso2022_jp", "ISO-2022-JP (JIS)"), ("euc_jp", "EUC-JP")]
)
def test_a_file_in_another_japanese_encoding_is_named_as_such(tmp_path, encoding, name):
    in_dir = write_exports(tmp_path / "in")
    # neither has ㎡, half-width kana or CP932's full-width hyphen
    header = [h.replace("㎡", "m2") for h in KENSHIN[0]]
    rows = [[r[0], "", *(v.replace("－", "-") for v in r[2:])] for r in KENSHIN[1]]
    write_export(in_dir / "特定健診結果_令和5年度.csv", header, rows, encoding)
    with pytest.raises(UserError) as e:
        run(in_dir, tmp_path / "out")
    message = str(e.value)
    assert message.startswith(f"特定健診結果_令和5年度.csv: encoded in {name}, which is not read")
    assert "\n" not in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (["a", "b"], "none of its headers is a column of the contract"),
        (
            ["被保険者証番号", "身長", "体重"],
            r"its headers fit no table \(closest: checkups, which needs 健診受診日 \(exam_date\)\)",
        ),
        (
            ["レセプト番号", "ICD10コード", "主傷病", "イベント番号", "被保険者番号"],
            r"its headers fit several tables \(claim_diagnoses, event_attendance\)",
        ),
    ],
)
def test_a_file_that_cannot_be_placed_says_why_in_one_line(tmp_path, header, why):
    in_dir = write_exports(tmp_path / "in")
    write_export(in_dir / "export_0001.csv", header, [["1"] * len(header)])
    with pytest.raises(UserError, match=f"^export_0001.csv: cannot tell which table .*{why}") as e:
        run(in_dir, tmp_path / "out")
    assert "\n" not in str(e.value) and "--table NAME=FILE" in str(e.value)

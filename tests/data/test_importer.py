"""CSV import: encodings, headers, normalisation, pseudonyms, rejects, one-line errors."""

from __future__ import annotations

import functools
import csv
import datetime as dt
import io
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from analysis.data.dataset import file_sha256, load_dataset
from analysis.data.importer import import_csv
from analysis.data.pseudonym import Pseudonymiser
from analysis.errors import UserError
from tests.conftest import input_order
from analysis.seeds import rng

KEY = "importer test key — 0123456789"
P = Pseudonymiser(KEY)
TODAY = dt.date(2026, 1, 1)
D = dt.date

ENROLLMENT = (
    ["被保険者番号", "世帯番号", "性別", "生年月日", "資格取得日", "資格喪失日", "氏名"],
    [
        ["0000001", "H01", "1", "S35.5.10", "H27.4.1", "", "山田太郎"],
        [
            "０００００２",
            "H02",
            "女",
            "昭和30年2月28日",
            "2010/04/01",
            "令和2年3月31日",
            "鈴木花子",
        ],
        ["000002", "H02", "2", "S30.2.28", "R3.4.1", "", "鈴木花子"],
        ["0000003", "H03", "2", "S23.6.1", "H20.4.1", "R5.5.31", "佐藤良子"],
    ],
)
CHECKUPS = (
    [
        "被保険者番号",
        "受診日",
        "身長",
        "体重",
        "BMI",
        "収縮期血圧",
        "拡張期血圧",
        "HbA1c(mmol/mol)",
        "尿蛋白",
        "喫煙",
        "服薬1（血圧）",
    ],
    [
        ["0000001", "R1.6.12", "１７０．２", "72.5", "25.0", "132", "84", "48", "－", "はい", "2"],
        ["000002", "令和元年9月1日", "155.5", "50.3", "", "118", "72", "", "±", "いいえ", "1"],
        ["0000003", "R04/10/05", "150.1", "48", "", "150", "80", "53", "２＋", "1", "はい"],
    ],
)
CLAIMS = (
    ["レセプト番号", "被保険者番号", "診療年月", "入外区分", "点数", "診療実日数"],
    [
        ["K1", "0000001", "R5.5", "入院外", "1,234", "2"],
        ["K2", "000002", "令和3年6月", "調剤", "560", "1"],
        ["K3", "0000003", "201901", "歯科", "0", "1"],
    ],
)
DIAGNOSES = (
    ["レセプト番号", "傷病名コード", "主傷病"],
    [["K1", "E11.9", "1"], ["K1", "I10", "0"], ["K2", "K21", "1"], ["K3", "K02.9", "1"]],
)
BASE = {"資格": ENROLLMENT, "健診": CHECKUPS, "レセプト": CLAIMS, "傷病名": DIAGNOSES}


def write_csv(path: Path, header, rows, encoding="cp932", delimiter=","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_base(d: Path, encoding="cp932", **override) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in (BASE | override).items():
        write_csv(d / f"{name}.csv", header, rows, encoding)
    return d


def dates(series: pd.Series) -> list:
    """Dates of a column as ``datetime.date`` (None when missing), whatever the dtype."""
    return [None if pd.isna(x) else pd.Timestamp(x).date() for x in series]


def run(in_dir, out, **kw):
    kw.setdefault("pseudonymiser", P)
    kw.setdefault("today", TODAY)
    return import_csv(in_dir, out, **kw)


in_input_order = functools.partial(input_order, pseudonymiser=P)


def _points(out: Path) -> list[int]:
    """The points of the imported claims in input order (claims K1, K2, K3)."""
    claims = in_input_order(load_dataset(out).claims, "claim_id", "claim", ["K1", "K2", "K3"])
    return claims.points.tolist()


def test_cp932_export_is_normalised_exactly(tmp_path):
    res = run(write_base(tmp_path / "in"), tmp_path / "out")
    ds = load_dataset(tmp_path / "out")
    assert {t.encoding for t in res.tables.values()} == {"cp932"}
    assert all(t.rejected == 0 for t in res.tables.values()), res.summary()
    e = in_input_order(ds.enrollment, "person_id", "person", ["0000001", "000002", "0000003"])
    assert e.person_id.tolist() == [
        P.one("person", x) for x in ["0000001", "000002", "000002", "0000003"]
    ]
    assert e.sex.tolist() == ["M", "F", "F", "F"]
    assert dates(e.birth_date) == [D(1960, 5, 10), D(1955, 2, 28), D(1955, 2, 28), D(1948, 6, 1)]
    assert dates(e.enroll_end)[:2] == [None, D(2020, 3, 31)]
    c = in_input_order(ds.checkups, "person_id", "person", ["0000001", "000002", "0000003"])
    assert dates(c.exam_date) == [D(2019, 6, 12), D(2019, 9, 1), D(2022, 10, 5)]
    assert c.fiscal_year.tolist() == [2019, 2019, 2022]
    assert c.height_cm.tolist() == [170.2, 155.5, 150.1]
    assert c.hba1c.tolist()[0] == 6.5 and pd.isna(c.hba1c[1]) and c.hba1c[2] == 7.0
    assert c.urine_protein.tolist() == [0, 1, 3]
    assert c.smoker.tolist() == [True, False, True]
    assert c.bp_med.tolist() == [False, True, True]
    cl = in_input_order(ds.claims, "claim_id", "claim", ["K1", "K2", "K3"])
    assert cl.points.tolist() == [1234, 560, 0]
    assert cl.cost_yen.tolist() == [12340, 5600, 0]
    assert cl.setting.tolist() == ["outpatient", "pharmacy", "dental"]
    assert dates(cl.service_month) == [D(2023, 5, 1), D(2021, 6, 1), D(2019, 1, 1)]
    dx = in_input_order(ds.claim_diagnoses, "claim_id", "claim", ["K1", "K2", "K3"])
    assert dx.icd10.tolist() == ["E119", "I10", "K21", "K029"]
    assert dx.claim_id.tolist()[0] == P.one("claim", "K1")
    assert res.tables["enrollment"].ignored == ["氏名"]
    assert res.tables["claims"].derived == ["cost_yen"]


def test_tables_are_written_in_primary_key_order(tmp_path):
    """Imported rows come out sorted by their primary key, all of them, so that the
    validator proves the keys and the foreign keys of sorted columns from the row order."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from analysis.data.contract import TABLES
    from analysis.data.validation import all_rules, proven_by_order

    res = run(write_base(tmp_path / "in"), tmp_path / "out")
    ds = load_dataset(tmp_path / "out")
    for t, info in res.tables.items():
        table = pq.read_table(tmp_path / "out" / f"{t}.parquet")
        keys = [(k, "ascending") for k in TABLES[t].primary_key]
        assert pc.sort_indices(table, sort_keys=keys).to_pylist() == list(range(info.imported)), t
    rules = [r for r in all_rules() if r.table in res.tables]
    proven = {(r.table, r.name) for r in proven_by_order(ds, rules)}
    keys = {(r.table, r.name) for r in rules if r.key}
    assert (
        keys
        | {
            ("checkups", "person_id exists in enrollment"),
            ("claim_diagnoses", "claim_id exists in claims"),
        }
        <= proven
    )


@pytest.mark.parametrize(
    ("encoding", "reported"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932")]
)
def test_encodings_are_detected_and_give_the_same_tables(tmp_path, encoding, reported):
    res = run(write_base(tmp_path / "in", encoding), tmp_path / "out")
    assert {t.encoding for t in res.tables.values()} == {reported}
    ref = run(write_base(tmp_path / "ref"), tmp_path / "ref_out")
    assert ref.tables["checkups"].imported == res.tables["checkups"].imported == 3
    pd.testing.assert_frame_equal(
        load_dataset(tmp_path / "out").checkups, load_dataset(tmp_path / "ref_out").checkups
    )


def test_impossible_values_are_rejected_with_line_and_reason(tmp_path):
    header = ["被保険者番号", "健診受診日", "HbA1c", "収縮期血圧", "拡張期血圧"]
    rows = [
        ["0000001", "R1.6.12", "5.6", "130", "80"],  # line 2: fine
        ["0000001", "R5.6.1", "65", "130", "80"],  # 3: HbA1c 65
        ["000002", "R5.6.1", "5.6", "0", "80"],  # 4: SBP 0
        ["0000003", "R20.1.1", "5.6", "130", "80"],  # 5: in the future
        ["0000001", "H11.6.1", "5.6", "130", "80"],  # 6: age 39
        ["000002", "R2.9.1", "5.6", "130", "80"],  # 7: between enrollment spells
        ["0000001", "R1.7.1", "5.6", "130", "80"],  # 8: second checkup in FY2019
        ["0000001", "H30.2.30", "5.6", "130", "80"],  # 9: no such date
        ["9999999", "R5.6.1", "5.6", "130", "80"],  # 10: unknown person
        ["", "R5.6.1", "5.6", "130", "80"],  # 11: no id
    ]
    in_dir = write_base(tmp_path / "in", 健診=(header, rows))
    before = {p.name: file_sha256(p) for p in in_dir.iterdir()}
    res = run(in_dir, tmp_path / "out")
    info = res.tables["checkups"]
    assert (info.read, info.imported, info.rejected) == (10, 1, 9)
    rej = pd.read_csv(tmp_path / "out" / "rejects" / "checkups.csv", encoding="utf-8-sig")
    got = dict(zip(rej.line, rej.rule, strict=True))
    assert got == {
        3: "hba1c: in_range",
        4: "sbp: in_range",
        5: "exam_date not in the future",
        6: "age 40-74 at checkup",
        7: "checkup within an enrollment spell",
        8: "unique key (person_id, fiscal_year)",
        9: "exam_date: format",
        10: "person_id exists in enrollment",
        11: "person_id: not_null",
    }
    assert "line 2" in rej.set_index("line").loc[8, "value"]
    assert {p.name: file_sha256(p) for p in in_dir.iterdir()} == before


def test_no_raw_id_or_key_in_any_output(tmp_path):
    rows = [r[:] for r in CLAIMS[1]] + [["K4", "0000001", "R5.5", "往診", "1", "1"]]
    run(write_base(tmp_path / "in", レセプト=(CLAIMS[0], rows)), tmp_path / "out")
    blob = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())
    text = blob.decode("utf-8", errors="replace")
    for secret in ["0000001", "0000003", "H01", "K1", "山田", KEY]:
        assert secret not in text, secret
    rej = pd.read_csv(tmp_path / "out" / "rejects" / "claims.csv", encoding="utf-8-sig")
    assert rej.rule.tolist() == ["setting: format"] and rej.value.tolist() == ["往診"]


def test_malformed_and_empty_lines_keep_their_line_numbers(tmp_path):
    in_dir = write_base(tmp_path / "in")
    text = (in_dir / "レセプト.csv").read_bytes().decode("cp932")
    lines = text.split("\r\n")
    lines.insert(2, "K9,0000001")  # line 3: too few fields
    lines.insert(4, "")  # line 5: empty
    (in_dir / "レセプト.csv").write_bytes("\r\n".join(lines).encode("cp932"))
    res = run(in_dir, tmp_path / "out")
    info = res.tables["claims"]
    assert (info.read, info.imported, info.rejected) == (5, 3, 2)
    rej = pd.read_csv(tmp_path / "out" / "rejects" / "claims.csv", encoding="utf-8-sig")
    assert dict(zip(rej.line, rej.rule, strict=True)) == {3: "malformed_row", 5: "empty_row"}


def test_tab_delimited_file_and_table_option_and_user_mapping(tmp_path):
    in_dir = write_base(tmp_path / "in")
    (in_dir / "傷病名.csv").unlink()
    header = ["レセ番", "ICD10", "主傷病"]
    write_csv(in_dir / "byomei_2023.txt", header, DIAGNOSES[1], "utf-8", "\t")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "tables:\n  claim_diagnoses:\n    columns:\n      claim_id: [レセ番]\n", encoding="utf-8"
    )
    res = run(
        in_dir, tmp_path / "out", mapping=mapping, tables={"claim_diagnoses": "byomei_2023.txt"}
    )
    info = res.tables["claim_diagnoses"]
    assert (info.delimiter, info.imported, info.encoding) == ("tab", 4, "utf-8")


def _raises(tmp_path, match, **kw):
    with pytest.raises(UserError, match=match):
        run(tmp_path / "in", tmp_path / "out", **kw)


def test_refuses_to_run_without_a_key(tmp_path, monkeypatch):
    write_base(tmp_path / "in")
    monkeypatch.delenv("MVM_EVAL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(UserError, match="MVM_EVAL_PSEUDONYM_KEY is not set"):
        import_csv(tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\r\n", "the file is empty"),
        (b"PK\x03\x04rest-of-zip", "not a CSV file .*xlsx"),
        (b"a,b\x00,c\n", r"not a CSV file \(binary"),
        ("被保険者番号,傷病名コード\n".encode("cp932") + b"\x80\xff\xfe\n", "unknown encoding"),
        (
            "レセプト番号,ICD10コード,主傷\n1,E11,1\n".encode(),
            r"missing required column.*主傷病 \(primary\).*closest header found: '主傷'",
        ),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, match):
    in_dir = write_base(tmp_path / "in")
    (in_dir / "傷病名.csv").write_bytes(content)
    _raises(tmp_path, f"傷病名.csv: {match}")


def test_file_layout_errors(tmp_path):
    in_dir = write_base(tmp_path / "in")
    (in_dir / "memo.csv").write_text("a,b\n", encoding="utf-8")
    _raises(tmp_path, "memo.csv: cannot tell which table")
    (in_dir / "memo.csv").unlink()
    (in_dir / "レセプト.csv").rename(in_dir / "claims_2023.dat")
    _raises(tmp_path, "required table.*claims")
    _raises(
        tmp_path, "--table claims=nothing.csv: file not found", tables={"claims": "nothing.csv"}
    )


def test_a_file_without_header_row_is_named_so_without_echoing_cells(tmp_path):
    in_dir = write_base(tmp_path / "in")
    cells = ["0000001", "H01", "1", "平成２７年４月１日", "H27.4.1", "", "山田太郎"]
    write_csv(in_dir / "資格.csv", cells, ENROLLMENT[1])
    with pytest.raises(UserError, match="資格.csv: the first line looks like data") as e:
        run(in_dir, tmp_path / "out")
    assert not any(c in str(e.value) for c in cells if c), str(e.value)


def test_a_value_in_the_header_row_is_never_offered_as_closest_header(tmp_path):
    in_dir = write_base(tmp_path / "in")
    write_csv(in_dir / "傷病名.csv", ["レセプト番号", "E11.9", "2023/04/01"], [["K1", "x", "1"]])
    with pytest.raises(UserError, match="missing required column") as e:
        run(in_dir, tmp_path / "out")
    assert "closest header" not in str(e.value) and "2023" not in str(e.value)


def test_ignored_headers_are_reported_with_the_nearest_column(tmp_path):
    header = [*CHECKUPS[0], "HbA1c値", "2023/04/01"]
    rows = [[*r, "5.9", "x"] for r in CHECKUPS[1]]
    res = run(write_base(tmp_path / "in", 健診=(header, rows)), tmp_path / "out")
    info = res.tables["checkups"]
    assert info.ignored == ["HbA1c値", "column 13 (looks like a value)"]
    assert info.nearest == {"HbA1c値": "hba1c"}
    assert res.tables["enrollment"].nearest == {"氏名": ""}
    text = res.summary()
    assert "HbA1c値 (hba1c?)" in text and "氏名 (no similar column)" in text
    assert "2023/04/01" not in text


def test_skipped_files_are_listed_and_a_workbook_named_after_a_table_is_refused(tmp_path):
    in_dir = write_base(tmp_path / "in")
    (in_dir / "README.md").write_text("notes", encoding="utf-8")
    (in_dir / "資格.csv.bak").write_bytes(b"old")
    (in_dir / "old").mkdir()
    res = run(in_dir, tmp_path / "out")
    assert res.skipped == ["README.md", "old/", "資格.csv.bak"]
    assert "skipped files: README.md, old/, 資格.csv.bak" in res.summary()
    (in_dir / "診療行為.xlsx").write_bytes(b"PK\x03\x04")
    _raises(tmp_path, r"診療行為.xlsx: an Excel workbook is not read; save it as CSV", replace=True)


def test_table_option_takes_precedence_over_a_file_named_after_the_table(tmp_path):
    in_dir = write_base(tmp_path / "in")
    rows = [r[:] for r in CLAIMS[1][:2]]
    write_csv(in_dir / "claims_fixed.csv", CLAIMS[0], rows)
    res = run(in_dir, tmp_path / "out", tables={"claims": "claims_fixed.csv"})
    assert res.tables["claims"].file == "claims_fixed.csv"
    assert res.tables["claims"].read == 2
    assert "レセプト.csv" in res.skipped


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tables: [1, 2", "not valid YAML"),
        ("tables:\n  kenshin: {}\n", "tables.kenshin: unknown table"),
        ("tables:\n  checkups:\n    columns:\n      hba1c_ifcc: [A]\n", "not a column"),
        ("tables:\n  checkups:\n    columns:\n      hba1c: [{header: A, unit: g}]\n", "unit"),
        ("colour: blue\n", "unknown key"),
        ("values:\n  sex: {male: M}\n", "values.sex: not a coded column"),
        ("values:\n  kenshin: {a: b}\n", "values.kenshin: not a coded column"),
        ("values:\n  setting: {往診: house_call}\n", "values.setting.往診: 'house_call' is not"),
        (
            "tables:\n  checkups:\n    columns:\n      sbp: [BP]\n      dbp: [ＢＰ]\n",
            "tables.checkups.columns.dbp: header 'ＢＰ' is also listed for column 'sbp'",
        ),
        (
            "tables:\n  checkups: {aliases: [kensa]}\n  claims: {aliases: [KENSA]}\n",
            "tables.claims.aliases: 'KENSA' is also an alias of table 'checkups'",
        ),
        ("values:\n  setting: {外来: outpatient, ＧＡＩ: dental, gai: inpatient}\n", "two codes"),
    ],
)
def test_mapping_file_errors(tmp_path, text, match):
    write_base(tmp_path / "in")
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    _raises(tmp_path, f"m.yaml: .*{match}", mapping=tmp_path / "m.yaml")


def test_user_mapping_overrides_contract_names_and_default_entries(tmp_path):
    header = ["被保険者番号", "受診日", "HbA1c", "収縮期血圧", "拡張期血圧"]
    rows = [["0000001", "R1.6.12", "48", "132", "84"], ["000002", "R1.9.1", "53", "118", "72"]]
    claims = [r[:] for r in CLAIMS[1]]
    claims[0][3] = "1"  # default mapping: 1 = inpatient
    in_dir = write_base(tmp_path / "in", 健診=(header, rows), レセプト=(CLAIMS[0], claims))
    plain = run(in_dir, tmp_path / "plain")
    assert plain.tables["checkups"].rejected == 2  # 48 % is no HbA1c
    claims = in_input_order(load_dataset(tmp_path / "plain").claims, "claim_id", "claim", ["K1"])
    assert claims.setting.tolist()[0] == "inpatient"
    (tmp_path / "m.yaml").write_text(
        "tables:\n  checkups:\n    columns:\n      hba1c: [{header: HbA1c, unit: mmol/mol}]\n"
        "values:\n  setting: {'1': outpatient}\n",
        encoding="utf-8",
    )
    res = run(in_dir, tmp_path / "out", mapping=tmp_path / "m.yaml")
    assert res.tables["checkups"].rejected == 0, res.summary()
    ds = load_dataset(tmp_path / "out")
    c = in_input_order(ds.checkups, "person_id", "person", ["0000001", "000002"])
    assert c.hba1c.tolist() == [6.5, 7.0]
    cl = in_input_order(ds.claims, "claim_id", "claim", ["K1", "K2", "K3"])
    assert cl.setting.tolist() == ["outpatient", "pharmacy", "dental"]


def test_user_alias_comes_before_the_default_aliases(tmp_path):
    in_dir = write_base(tmp_path / "in")
    (in_dir / "レセプト.csv").rename(in_dir / "明細.csv")
    (in_dir / "明細書.csv").write_text("x\n", encoding="utf-8")  # a default claims alias
    (tmp_path / "m.yaml").write_text(
        "tables:\n  claims: {aliases: [明細]}\n  events: {aliases: [明細書]}\n", encoding="utf-8"
    )
    from analysis.data.mapping import load_mapping

    m = load_mapping(tmp_path / "m.yaml")
    assert m.table_for_file("明細.csv") == "claims" and m.table_for_file("明細書.csv") == "events"
    assert load_mapping().table_for_file("明細書.csv") == "claims"


def test_existing_output_is_kept_unless_replace(tmp_path):
    write_base(tmp_path / "in")
    run(tmp_path / "in", tmp_path / "out")
    (tmp_path / "out" / "keep.txt").write_text("x")
    _raises(tmp_path, "exists; pass --replace")
    assert (tmp_path / "out" / "keep.txt").exists()
    run(tmp_path / "in", tmp_path / "out", replace=True)
    assert not (tmp_path / "out" / "keep.txt").exists()
    assert _points(tmp_path / "out") == [1234, 560, 0]
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_a_directory_that_is_not_a_dataset_is_never_replaced(tmp_path):
    write_base(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("x")
    _raises(tmp_path, "not a dataset and not empty; refusing", replace=True)
    assert (tmp_path / "out" / "notes.txt").read_text() == "x"
    assert not list(tmp_path.glob(".out.tmp-*"))


# ---------------------------------------------------------------------------- quotes
def _edit_lines(path: Path, edit) -> None:
    lines = path.read_bytes().decode("cp932").split("\r\n")
    edit(lines)
    path.write_bytes("\r\n".join(lines).encode("cp932"))


def _rejects(out: Path, table: str) -> dict[int, tuple[str, str]]:
    rej = pd.read_csv(out / "rejects" / f"{table}.csv", encoding="utf-8-sig")
    return {int(r.line): (r.rule, r.reason) for r in rej.itertuples()}


def test_a_quote_spanning_lines_rejects_both_lines_and_keeps_line_numbers(tmp_path):
    in_dir = write_base(tmp_path / "in")

    def edit(lines):  # 氏名 opens a quote on line 2 and closes it on line 3
        lines[1] = lines[1].replace("山田太郎", '"山田')
        lines[2] = lines[2].replace("鈴木花子", '太郎"')

    _edit_lines(in_dir / "資格.csv", edit)
    res = run(in_dir, tmp_path / "out")
    info = res.tables["enrollment"]
    assert (info.read, info.imported, info.rejected) == (4, 2, 2)
    rej = _rejects(tmp_path / "out", "enrollment")
    assert {k: v[0] for k, v in rej.items()} == {
        2: "quoted field spans lines",
        3: "quoted field spans lines",
    }
    assert "lines 2-3" in rej[3][1]
    # lines 4 and 5 keep their numbers: line 5 is the only enrollment of person 3
    e = load_dataset(tmp_path / "out").enrollment
    assert sorted(e.person_id) == sorted([P.one("person", "000002"), P.one("person", "0000003")])


def test_an_unclosed_quote_rejects_one_line_and_keeps_the_rest(tmp_path):
    in_dir = write_base(tmp_path / "in")
    _edit_lines(
        in_dir / "レセプト.csv", lambda ls: ls.__setitem__(1, ls[1].replace('"1,234"', '"1,234'))
    )
    assert '"1,234,2' in (in_dir / "レセプト.csv").read_bytes().decode("cp932")
    res = run(in_dir, tmp_path / "out")
    info = res.tables["claims"]
    assert (info.read, info.imported, info.rejected) == (3, 2, 1)
    assert {k: v[0] for k, v in _rejects(tmp_path / "out", "claims").items()} == {
        2: "quoted field spans lines"
    }
    assert _points(tmp_path / "out") == [560, 0]


def test_quoted_fields_on_one_line_still_take_the_fast_path(tmp_path):
    in_dir = write_base(tmp_path / "in")  # the csv writer quotes "1,234"
    assert b'"1,234"' in (in_dir / "レセプト.csv").read_bytes()
    res = run(in_dir, tmp_path / "out")
    assert res.tables["claims"].imported == 3
    assert _points(tmp_path / "out") == [1234, 560, 0]


def test_a_row_count_mismatch_on_the_fast_path_falls_back_to_lines(tmp_path, monkeypatch):
    from analysis.data import importer

    in_dir = write_base(tmp_path / "in")
    p = in_dir / "レセプト.csv"
    p.write_bytes(p.read_bytes().replace(b'"1,234"', b'"1,234'))
    real = importer.scan_lines
    monkeypatch.setattr(importer, "scan_lines", lambda path: (real(path)[0], False))
    res = run(in_dir, tmp_path / "out")
    info = res.tables["claims"]
    assert (info.read, info.imported, info.rejected) == (3, 2, 1)
    assert _rejects(tmp_path / "out", "claims")[2][0] == "quoted field spans lines"


@pytest.mark.parametrize(
    ("data", "lines", "odd"),
    [
        (b"h\r\na\r\nb", 3, False),
        (b"h\r\na\rb\n\n", 4, False),
        (b'h\r\n"a\r\nb"\r\n', 3, True),
        (b'h\r\n"a,b"\r\n"c"', 3, False),
        (b'h\n"x', 2, True),
    ],
)
def test_scan_lines_counts_physical_lines_and_odd_quotes(tmp_path, data, lines, odd):
    from analysis.data import importer

    (tmp_path / "f.csv").write_bytes(data)
    assert importer.scan_lines(tmp_path / "f.csv") == (lines, odd)


def test_scan_lines_across_block_boundaries(tmp_path, monkeypatch):
    from analysis.data import importer

    data = b"h\r\n" + b'"a",b\r\n' * 7 + b'"x\r\ny"\r\n'
    (tmp_path / "f.csv").write_bytes(data)
    whole = importer.scan_lines(tmp_path / "f.csv")
    monkeypatch.setattr(importer, "BLOCK_BYTES", 4)
    assert importer.scan_lines(tmp_path / "f.csv") == whole == (10, True)


# ---------------------------------------------------------------------------- property
HOWS = [
    "truncate",
    "random_bytes",
    "delimiter",
    "drop_column",
    "shuffle_columns",
    "shuffle_header",
    "duplicate_line",
    "truncate_line",
]
KNOBS = st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.binary(min_size=1, max_size=12))


def _corrupt(data: bytes, how: str, knobs: tuple[int, int, bytes]) -> bytes:
    k1, k2, blob = knobs
    lines = data.split(b"\r\n")
    if how == "truncate":
        return data[: k1 % (len(data) + 1)]
    if how == "random_bytes":
        at = k1 % (len(data) + 1)
        return data[:at] + blob + data[at:]
    if how == "delimiter":
        i = k1 % len(lines)
        lines[i] = lines[i].replace(b",", [b";", b"\t", b"|"][k2 % 3])
    elif how == "drop_column":
        k = k1 % (lines[0].count(b",") + 1)
        lines = [b",".join(x for j, x in enumerate(ln.split(b",")) if j != k) for ln in lines]
    elif how == "shuffle_columns":
        n = lines[0].count(b",") + 1
        order = rng(k1, "shuffle").permutation(n)
        lines = [
            b",".join(ln.split(b",")[j] for j in order) if ln.count(b",") == n - 1 else ln
            for ln in lines
        ]
    elif how == "shuffle_header":
        cells = lines[0].split(b",")
        lines[0] = b",".join(cells[j] for j in rng(k1, "header").permutation(len(cells)))
    elif how == "duplicate_line":
        i = 1 + k1 % max(1, len(lines) - 2)
        lines.insert(i, lines[i])
    elif how == "truncate_line":
        i = 1 + k1 % max(1, len(lines) - 2)
        lines[i] = lines[i][: k2 % (len(lines[i]) + 1)]
    return b"\r\n".join(lines)


def _data_lines(data: bytes, encoding: str) -> int:
    text = data.decode(encoding).lstrip("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return max(0, len(lines) - 1)


_UNCLOSED = len('K1,0000001,R5.5,入院外,"1,2'.encode("cp932"))
_OPEN_NAME = len("0000001,H01,1,S35.5.10,H27.4.1,,".encode("cp932")) + 1


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(BASE)),
    st.sampled_from(HOWS),
    st.sampled_from(["cp932", "utf-8"]),
    KNOBS,
)
@example("レセプト", "truncate_line", "cp932", (0, _UNCLOSED, b"x"))  # "1,2 left open
@example("資格", "truncate_line", "cp932", (0, _OPEN_NAME, b"x"))  # a lone quote
@example("資格", "random_bytes", "utf-8", (len("被保険者番号,世帯番号".encode()), 0, b'"\r\n"'))
def test_corrupted_files_import_or_fail_cleanly(target, how, encoding, knobs):
    with tempfile.TemporaryDirectory() as tmp:
        in_dir = write_base(Path(tmp) / "in", encoding)
        path = in_dir / f"{target}.csv"
        if target == "資格" and how == "truncate_line" and knobs[1] == _OPEN_NAME:
            text = path.read_bytes().decode(encoding).replace("山田太郎", '"山田太郎')
            path.write_bytes(text.encode(encoding))
        else:
            path.write_bytes(_corrupt(path.read_bytes(), how, knobs))
        try:
            res = run(in_dir, Path(tmp) / "out")
        except UserError as e:
            assert "\n" not in str(e) and str(e)
            event("user error")
            return
        event("imported")
        for t, info in res.tables.items():
            assert info.read == info.imported + info.rejected, (t, info)
            raw = (in_dir / info.file).read_bytes()
            assert info.read == _data_lines(raw, info.encoding.replace("-sig", "")), (t, info)
            rej = pd.read_csv(Path(tmp) / "out" / "rejects" / f"{t}.csv", encoding="utf-8-sig")
            assert len(rej) == info.rejected
            assert sorted(rej.line) == sorted(set(rej.line)), (t, "a line rejected twice")
            assert len(load_dataset(Path(tmp) / "out").read(t)) == info.imported

"""CSV import: encodings, headers, normalisation, pseudonyms, rejects, one-line errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analysis.data.dataset import file_sha256, load_dataset
from analysis.data.importer import import_csv
from analysis.data.pseudonym import Pseudonymiser
from analysis.errors import UserError

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


def test_cp932_export_is_normalised_exactly(tmp_path):
    res = run(write_base(tmp_path / "in"), tmp_path / "out")
    ds = load_dataset(tmp_path / "out")
    assert {t.encoding for t in res.tables.values()} == {"cp932"}
    assert all(t.rejected == 0 for t in res.tables.values()), res.summary()
    e = ds.enrollment
    assert e.person_id.tolist() == [
        P.one("person", x) for x in ["0000001", "000002", "000002", "0000003"]
    ]
    assert e.sex.tolist() == ["M", "F", "F", "F"]
    assert dates(e.birth_date) == [D(1960, 5, 10), D(1955, 2, 28), D(1955, 2, 28), D(1948, 6, 1)]
    assert dates(e.enroll_end)[:2] == [None, D(2020, 3, 31)]
    c = ds.checkups
    assert dates(c.exam_date) == [D(2019, 6, 12), D(2019, 9, 1), D(2022, 10, 5)]
    assert c.fiscal_year.tolist() == [2019, 2019, 2022]
    assert c.height_cm.tolist() == [170.2, 155.5, 150.1]
    assert c.hba1c.tolist()[0] == 6.5 and pd.isna(c.hba1c[1]) and c.hba1c[2] == 7.0
    assert c.urine_protein.tolist() == [0, 1, 3]
    assert c.smoker.tolist() == [True, False, True]
    assert c.bp_med.tolist() == [False, True, True]
    cl = ds.claims
    assert cl.points.tolist() == [1234, 560, 0]
    assert cl.cost_yen.tolist() == [12340, 5600, 0]
    assert cl.setting.tolist() == ["outpatient", "pharmacy", "dental"]
    assert dates(cl.service_month) == [D(2023, 5, 1), D(2021, 6, 1), D(2019, 1, 1)]
    assert ds.claim_diagnoses.icd10.tolist() == ["E119", "I10", "K21", "K029"]
    assert ds.claim_diagnoses.claim_id.tolist()[0] == P.one("claim", "K1")
    assert res.tables["enrollment"].ignored == ["氏名"]
    assert res.tables["claims"].derived == ["cost_yen"]


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


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tables: [1, 2", "not valid YAML"),
        ("tables:\n  kenshin: {}\n", "tables.kenshin: unknown table"),
        ("tables:\n  checkups:\n    columns:\n      hba1c_ifcc: [A]\n", "not a column"),
        ("tables:\n  checkups:\n    columns:\n      hba1c: [{header: A, unit: g}]\n", "unit"),
        ("colour: blue\n", "unknown key"),
    ],
)
def test_mapping_file_errors(tmp_path, text, match):
    write_base(tmp_path / "in")
    (tmp_path / "m.yaml").write_text(text, encoding="utf-8")
    _raises(tmp_path, f"m.yaml: .*{match}", mapping=tmp_path / "m.yaml")


def test_existing_output_is_kept_unless_replace(tmp_path):
    write_base(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    _raises(tmp_path, "exists; pass --replace")
    assert (tmp_path / "out" / "keep.txt").exists()
    run(tmp_path / "in", tmp_path / "out", replace=True)
    assert not (tmp_path / "out" / "keep.txt").exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


# ---------------------------------------------------------------------------- property
def _corrupt(data: bytes, how: str, draw) -> bytes:
    lines = data.split(b"\r\n")
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "random_bytes":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=12)) + data[at:]
    if how == "delimiter":
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i].replace(b",", draw(st.sampled_from([b";", b"\t", b"|"])))
    elif how == "drop_column":
        k = draw(st.integers(0, lines[0].count(b",")))
        lines = [b",".join(x for j, x in enumerate(ln.split(b",")) if j != k) for ln in lines]
    elif how == "shuffle_columns":
        n = lines[0].count(b",") + 1
        order = draw(st.permutations(list(range(n))))
        lines = [
            b",".join(ln.split(b",")[j] for j in order) if ln.count(b",") == n - 1 else ln
            for ln in lines
        ]
    elif how == "shuffle_header":
        cells = lines[0].split(b",")
        lines[0] = b",".join(draw(st.permutations(cells)))
    elif how == "duplicate_line":
        i = draw(st.integers(1, max(1, len(lines) - 2)))
        lines.insert(i, lines[i])
    elif how == "truncate_line":
        i = draw(st.integers(1, max(1, len(lines) - 2)))
        lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return b"\r\n".join(lines)


def _data_lines(data: bytes, encoding: str) -> int:
    text = data.decode(encoding).lstrip("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return max(0, len(lines) - 1)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(BASE)),
    st.sampled_from(
        [
            "truncate",
            "random_bytes",
            "delimiter",
            "drop_column",
            "shuffle_columns",
            "shuffle_header",
            "duplicate_line",
            "truncate_line",
        ]
    ),
    st.sampled_from(["cp932", "utf-8"]),
    st.data(),
)
def test_corrupted_files_import_or_fail_cleanly(target, how, encoding, data):
    with tempfile.TemporaryDirectory() as tmp:
        in_dir = write_base(Path(tmp) / "in", encoding)
        path = in_dir / f"{target}.csv"
        path.write_bytes(_corrupt(path.read_bytes(), how, data.draw))
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
            assert len(load_dataset(Path(tmp) / "out").read(t)) == info.imported

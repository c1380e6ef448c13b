"""The validator finds each planted contract violation, and only that one."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from analysis.data.contract import TABLES
from analysis.data.validation import ValidationReport, ensure_valid, validate_dataset
from analysis.errors import UserError, ValidationFailed

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

D = dt.date
TODAY = D(2026, 1, 1)


def _set(table, row, **values):
    def edit(t):
        t[table] = t[table].copy()
        for k, v in values.items():
            t[table][k] = t[table][k].astype(object) if v is None else t[table][k]
            t[table].loc[row, k] = v

    return edit


def _append(table, row):
    def edit(t):
        t[table] = pd.concat([t[table], t[table].iloc[[row]]], ignore_index=True)

    return edit


CASES = {
    "hba1c 65": ("checkups", "hba1c: in_range", _set("checkups", 0, hba1c=65.0)),
    "sbp 0": ("checkups", "sbp: in_range", _set("checkups", 1, sbp=0.0)),
    "bad sex code": ("enrollment", "sex: isin", _set("enrollment", 0, sex="X")),
    "duplicate claim": ("claims", "unique key (claim_id)", _append("claims", 2)),
    "duplicate checkup person-FY": (
        "checkups",
        "unique key (person_id, fiscal_year)",
        _append("checkups", 2),
    ),
    "end before start": (
        "enrollment",
        "enroll_end >= enroll_start",
        _set("enrollment", 1, enroll_end=D(2009, 1, 1)),
    ),
    "claim after death": (
        "claims",
        "no claim after death",
        _set("claims", 2, service_month=D(2022, 9, 1)),
    ),
    "claim outside enrollment": (
        "claims",
        "claim while enrolled",
        _set("claims", 1, service_month=D(2020, 6, 1)),
    ),
    "claim unknown person": (
        "claims",
        "person_id exists in enrollment",
        _set("claims", 0, person_id="nobody"),
    ),
    "cost not points x 10": ("claims", "cost_yen = points × 10", _set("claims", 0, cost_yen=12345)),
    "month not first": (
        "claims",
        "service_month is the first of a month",
        _set("claims", 0, service_month=D(2023, 5, 2)),
    ),
    "checkup at 39": (
        "checkups",
        "age 40-74 at checkup",
        _set("checkups", 0, exam_date=D(1999, 6, 1), fiscal_year=1999),
    ),
    "checkup at 75": (
        "checkups",
        "age 40-74 at checkup",
        _set("checkups", 3, exam_date=D(2023, 6, 1), fiscal_year=2023),
    ),
    "checkup between spells": (
        "checkups",
        "checkup within an enrollment spell",
        _set("checkups", 2, exam_date=D(2020, 9, 1), fiscal_year=2020),
    ),
    "fiscal year mismatch": (
        "checkups",
        "fiscal_year matches exam_date",
        _set("checkups", 0, fiscal_year=2018),
    ),
    "diagnosis of unknown claim": (
        "claim_diagnoses",
        "claim_id exists in claims",
        _set("claim_diagnoses", 0, claim_id="c999"),
    ),
    "future checkup": (
        "checkups",
        "exam_date not in the future",
        _set("checkups", 1, exam_date=D(2026, 7, 1), fiscal_year=2026),
    ),
    "overlapping spells": (
        "enrollment",
        "enrollment spells do not overlap",
        _set("enrollment", 2, enroll_start=D(2019, 4, 1)),
    ),
    "activity not monday": (
        "activity",
        "week_start is a Monday",
        _set("activity", 0, week_start=D(2023, 6, 6)),
    ),
    "attendance without event": (
        "event_attendance",
        "event_id exists in events",
        _set("event_attendance", 0, event_id="e9"),
    ),
}


def test_tiny_dataset_is_valid(tmp_path):
    report = validate_dataset(tiny.write_tiny_dataset(tmp_path / "ds"), today=TODAY)
    assert report.ok, report.summary()
    assert report.n_rules > 100
    assert report.to_frame().empty
    assert "valid" in str(report)
    ensure_valid(tmp_path / "ds")


@pytest.mark.parametrize("case", list(CASES))
def test_each_violation_is_found_with_its_rule(tmp_path, case):
    table, rule, edit = CASES[case]
    tables = tiny.tiny_tables()
    edit(tables)
    report = validate_dataset(tiny.write_tiny_dataset(tmp_path / "ds", tables), today=TODAY)
    hits = [f for f in report.findings if f.table == table and f.rule.startswith(rule)]
    assert hits, report.summary()
    assert hits[0].n_rows == 1
    assert not report.ok


def test_report_frame_and_ensure_valid_message(tmp_path):
    tables = tiny.tiny_tables()
    CASES["cost not points x 10"][2](tables)
    path = tiny.write_tiny_dataset(tmp_path / "ds", tables)
    report = validate_dataset(path, today=TODAY)
    frame = report.to_frame()
    assert list(frame.columns) == ["table", "rule", "n_rows", "examples"]
    assert frame.to_dict("records") == [
        {
            "table": "claims",
            "rule": "cost_yen = points × 10",
            "n_rows": 1,
            "examples": "1234 点, 12345 円",
        }
    ]
    with pytest.raises(
        ValidationFailed, match="'claims' breaks rule 'cost_yen = points × 10'"
    ) as e:
        ensure_valid(path)
    assert isinstance(e.value.report, ValidationReport)


def test_examples_carry_no_identifiers(tmp_path):
    tables = tiny.tiny_tables()
    _append("claims", 0)(tables)
    _set("claims", 1, person_id="secret-person")(tables)
    report = validate_dataset(tiny.write_tiny_dataset(tmp_path / "ds", tables), today=TODAY)
    text = report.summary() + report.to_frame().to_csv()
    assert "secret-person" not in text and "c1" not in text.replace("claim_id", "")


def test_changed_file_and_missing_table_are_reported(tmp_path):
    path = tiny.write_tiny_dataset(tmp_path / "ds")
    tables = tiny.tiny_tables()
    tables["events"].to_parquet(path / "events.parquet")
    (path / "claim_diagnoses.parquet").unlink()
    report = validate_dataset(path, today=TODAY)
    rules = {(f.table, f.rule) for f in report.findings}
    assert ("claim_diagnoses", "required table present") in rules
    assert ("dataset", "files match dataset.json (SHA-256)") in rules


def test_not_a_dataset_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a dataset directory"):
        validate_dataset(tmp_path)


def _truncate(path: Path, keep: int = 200) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_a_truncated_parquet_file_is_a_finding_not_a_crash(tmp_path):
    path = tiny.write_tiny_dataset(tmp_path / "ds")
    _truncate(path / "claims.parquet")
    report = validate_dataset(path, today=TODAY)
    hits = [f for f in report.findings if f.rule == "file readable"]
    assert [(f.table, f.n_rows) for f in hits] == [("claims", 1)]
    assert hits[0].examples[0].startswith("claims.parquet")
    # tables that depend on claims are not checked against it; the others still are
    assert not any(f.table == "claim_diagnoses" for f in report.findings), report.summary()
    assert report.rows["checkups"] == len(tiny.tiny_tables()["checkups"])


def test_a_damaged_dataset_json_is_a_one_line_error_naming_it(tmp_path):
    path = tiny.write_tiny_dataset(tmp_path / "ds")
    meta = path / "dataset.json"
    meta.write_text(meta.read_text(encoding="utf-8")[:50], encoding="utf-8")
    with pytest.raises(UserError, match=r"dataset\.json: damaged, not valid JSON") as e:
        validate_dataset(path)
    assert "\n" not in str(e.value)
    meta.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(UserError, match=r"dataset\.json: damaged, expected a JSON object"):
        validate_dataset(path)


# Column rules: the validator evaluates them on DuckDB; the pandera schema on a pandas
# frame is the in-memory reference. Each case plants values in one column of one table
# (row → value) and names the rule it must break, with the examples the validator shows
# (the values, or the rows of missing ones); NaN in a nullable column breaks no rule.
PARITY = {
    "HbA1c 65 % twice": (
        "checkups", "hba1c", {0: 65.0, 3: 2.0}, "hba1c: in_range(3.0, 18.0)", ("65.0", "2.0")
    ),
    "systolic 0": ("checkups", "sbp", {1: 0.0}, "sbp: in_range", ("0.0",)),
    "urine protein code 9": ("checkups", "urine_protein", {4: 9}, "urine_protein: isin", ("9",)),
    "sex X": ("enrollment", "sex", {0: "X"}, "sex: isin(['M', 'F'])", ("X",)),
    "setting home": ("claims", "setting", {2: "home"}, "setting: isin", ("home",)),
    "31+ days": ("claims", "days", {0: 40}, "days: in_range(0, 31)", ("40",)),
    "bad ICD-10 code": ("claim_diagnoses", "icd10", {1: "E11.9"}, "icd10: str_matches", ("E11.9",)),
    "bad ICD-10 codes, one twice": (
        "claim_diagnoses", "icd10", {0: "E11.9", 2: "x", 4: "E11.9"}, "icd10: str_matches",
        ("E11.9", "x", "E11.9"),
    ),
    "missing person ids": (
        "claims", "person_id", {0: None, 4: None}, "person_id: not_nullable", ("row 1", "row 5")
    ),
    "column not in the contract": (
        "claims", "memo", {0: "x"}, "claims: column_in_schema", ("memo",)
    ),
    "NaN weight is missing": ("checkups", "weight_kg", {2: float("nan")}, None, ()),
}  # fmt: skip


def _write_raw(path: Path, name: str, df: pd.DataFrame) -> None:
    """Write a table as it is, with contract types: nulls, extra columns (strings) and NaN
    in float columns kept (pandas would write NaN as null; other writers may not)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analysis.data.contract import arrow_schema

    types = {f.name: f.type for f in arrow_schema(name)}

    def cells(c: str) -> list:
        keep_nan = types.get(c) == pa.float64()
        return [None if v is None or v is pd.NA or (v != v and not keep_nan) else v for v in df[c]]

    columns = {c: pa.array(cells(c), types.get(c, pa.string()), from_pandas=False) for c in df}
    pq.write_table(pa.table(columns), path)


def _pandas_rules(name: str, path: Path) -> set[tuple[str, int]]:
    """(rule, rows) of every column rule the pandera schema finds broken in a frame."""
    import pandera.errors
    import pyarrow.parquet as pq

    from analysis.data.schemas import canonical_frame, schema

    try:
        schema(name, keys=False).validate(canonical_frame(name, pq.read_table(path)), lazy=True)
    except pandera.errors.SchemaErrors as e:
        groups = e.failure_cases.groupby(["column", "check"], sort=False, dropna=False)
        return {(f"{column}: {check}", len(g)) for (column, check), g in groups}
    return set()


@pytest.mark.parametrize("case", list(PARITY))
def test_engine_and_pandas_column_rules_find_the_same_violations(tmp_path, case):
    name, column, values, rule, examples = PARITY[case]
    df = tiny.tiny_tables()[name].astype(object)
    for row, value in values.items():
        df.loc[row, column] = value
    path = tiny.write_tiny_dataset(tmp_path / "ds")
    _write_raw(path / f"{name}.parquet", name, df)
    report = validate_dataset(path, today=TODAY)
    engine = {(f.rule, f.n_rows) for f in report.findings if f.table == name and ":" in f.rule}
    assert engine == _pandas_rules(name, path / f"{name}.parquet"), report.summary()
    hits = [f for f in report.findings if rule and f.table == name and f.rule.startswith(rule)]
    assert [(f.n_rows, f.examples) for f in hits] == ([(len(values), examples)] if rule else [])


@pytest.mark.parametrize("name", list(TABLES))
def test_engine_rules_are_named_as_pandera_names_its_checks(name):
    from analysis.data.schemas import value_rule_specs, value_rules

    for col in TABLES[name].columns:
        specs = [(check, error) for check, error, _, _ in value_rule_specs(name, col)]
        assert specs == [(c.name, c.error) for c, _ in value_rules(name, col)]


def test_validating_does_not_import_pandera(tmp_path):
    """Importing pandera takes a second; the validator names its rules without it."""
    import subprocess
    import sys

    path = tiny.write_tiny_dataset(tmp_path / "ds")
    code = (
        "import sys; from analysis.data.validation import validate_dataset; "
        f"assert validate_dataset({str(path)!r}).ok; print('pandera' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""The data commands: import, export, validate (exit codes, messages, printed counts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from analysis.config import PSEUDONYM_KEY_ENV
from analysis.data.cli import bench_import, export_command, import_command, validate_command
from analysis.errors import UserError

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

app = typer.Typer()
app.command("import")(import_command)
app.command("export")(export_command)
app.command("validate")(validate_command)
app.command("bench-import")(bench_import)
ENV = {PSEUDONYM_KEY_ENV: "cli test key 0123456789abcdef", "COLUMNS": "200"}


def invoke(*args, env=ENV):
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def test_validate_exit_codes_and_table(tmp_path):
    good = tiny.write_tiny_dataset(tmp_path / "good")
    r = invoke("validate", good)
    assert r.exit_code == 0, r.output
    assert "valid" in r.output
    tables = tiny.tiny_tables()
    tables["checkups"].loc[0, "hba1c"] = 65.0
    bad = tiny.write_tiny_dataset(tmp_path / "bad", tables)
    r = invoke("validate", bad)
    assert r.exit_code == 1
    assert "checkups" in r.output and "hba1c" in r.output and "65.0" in r.output
    r = invoke("validate", tmp_path)
    assert isinstance(r.exception, UserError)


def test_export_then_import_prints_counts(tmp_path):
    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    r = invoke("export", ds, "--out", tmp_path / "csv", "--date-style", "short")
    assert r.exit_code == 0, r.output
    assert "健診.csv" in r.output
    r = invoke("import", "--format", "csv", "--in", tmp_path / "csv", "--out", tmp_path / "back")
    assert r.exit_code == 0, r.output
    assert "checkups" in r.output and "cp932" in r.output
    assert pd.read_parquet(tmp_path / "back" / "claims.parquet").shape[0] == 5
    r = invoke("validate", tmp_path / "back")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--format", "xlsx"], "--format 'xlsx'"),
        (["--table", "checkups"], "expected NAME=FILE"),
        (["--table", "kenshin=a.csv"], "unknown table"),
    ],
)
def test_import_option_errors(tmp_path, args, match):
    tiny.write_tiny_dataset(tmp_path / "ds")
    invoke("export", tmp_path / "ds", "--out", tmp_path / "csv")
    r = invoke("import", "--in", tmp_path / "csv", "--out", tmp_path / "o", *args)
    assert isinstance(r.exception, UserError)
    assert match in str(r.exception)


def test_import_without_key_is_refused(tmp_path):
    tiny.write_tiny_dataset(tmp_path / "ds")
    invoke("export", tmp_path / "ds", "--out", tmp_path / "csv")
    r = invoke(
        "import", "--in", tmp_path / "csv", "--out", tmp_path / "o", env={PSEUDONYM_KEY_ENV: ""}
    )
    assert isinstance(r.exception, UserError)
    assert not (tmp_path / "o").exists()


def test_bench_rejects_tiny_sizes():
    r = invoke("bench-import", "--rows", "10")
    assert isinstance(r.exception, UserError)


def test_damaged_datasets_give_one_line_errors_or_exit_1(tmp_path):
    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    p = ds / "claims.parquet"
    p.write_bytes(p.read_bytes()[:200])
    r = invoke("validate", ds)
    assert r.exit_code == 1 and "file readable" in r.output, r.output
    r = invoke("export", ds, "--out", tmp_path / "csv")
    assert isinstance(r.exception, UserError)
    assert "claims.parquet: cannot be read" in str(r.exception)
    assert not (tmp_path / "csv").exists() and not list(tmp_path.glob(".csv.tmp-*"))
    meta = ds / "dataset.json"
    meta.write_text(meta.read_text(encoding="utf-8")[:50], encoding="utf-8")
    for args in (["validate", ds], ["export", ds, "--out", tmp_path / "csv"]):
        r = invoke(*args)
        assert isinstance(r.exception, UserError), r.output
        assert "dataset.json: damaged" in str(r.exception)


def test_import_prints_ignored_columns_and_skipped_files(tmp_path):
    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    invoke("export", ds, "--out", tmp_path / "csv")
    kenshin = tmp_path / "csv" / "健診.csv"
    frame = pd.read_csv(kenshin, encoding="cp932", dtype=str, keep_default_na=False)
    frame["HbA1c値"] = "5.5"
    frame.to_csv(kenshin, index=False, encoding="cp932")
    (tmp_path / "csv" / "README.md").write_text("notes", encoding="utf-8")
    r = invoke("import", "--in", tmp_path / "csv", "--out", tmp_path / "back")
    assert r.exit_code == 0, r.output
    assert "健診.csv: ignored column(s) not in the mapping: HbA1c値 (hba1c?)" in r.output
    assert "skipped (not imported): README.md" in r.output


def test_bench_validate_reports_time_and_peak_memory_of_its_own_process(tmp_path, mvm_eval):
    import json

    from analysis.cli import app

    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    r = CliRunner().invoke(app, ["bench", "validate", "--dataset", str(ds), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["rows"] == 28 and out["rules"] > 100
    assert out["valid"] is True and out["findings"] == []
    assert 0 < out["seconds"] < out["process_seconds"]
    assert 50 < out["peak_rss_mb"] < 1024 and out["memory_limit"] == "512MB"
    code, err = mvm_eval("bench", "validate", "--dataset", tmp_path)
    assert code == 2 and "not a dataset directory" in err

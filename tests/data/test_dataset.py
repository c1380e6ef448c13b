import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.data import DatasetWriter, load_dataset
from analysis.data.contract import TABLES, arrow_schema
from analysis.data.dataset import OutputExists
from analysis.errors import UserError

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


def _enrollment():
    return pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "household_id": ["h1", "h1"],
            "sex": ["M", "F"],
            "birth_date": pd.to_datetime(["1955-04-01", "1960-01-31"]),
            "enroll_start": pd.to_datetime(["2019-04-01", "2019-04-01"]),
            "enroll_end": pd.to_datetime([None, "2022-03-31"]),
            "death_date": pd.to_datetime([None, None]),
            "exit_reason": [None, "moved"],
        }
    )


def _empty(name):
    return arrow_schema(name).empty_table().to_pandas()


def _write(out, **kw):
    with DatasetWriter(out, {"name": "demo", "source": "test"}, **kw) as w:
        w.write("enrollment", _enrollment())
        for t in ("checkups", "claims", "claim_diagnoses"):
            w.write(t, _empty(t))
        w.write_json("truth.json", {"effect": 1.0})


def test_round_trip_rows_and_hashes(tmp_path):
    _write(tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    assert ds.meta["rows"]["enrollment"] == 2
    assert set(ds.meta["files"]) == {
        "enrollment.parquet",
        "checkups.parquet",
        "claims.parquet",
        "claim_diagnoses.parquet",
        "truth.json",
    }
    assert ds.verify_hashes() == []
    pd.testing.assert_series_equal(ds.enrollment["sex"], _enrollment()["sex"])
    assert ds.tables == ["enrollment", "checkups", "claims", "claim_diagnoses"]


def test_tampered_file_is_reported(tmp_path):
    _write(tmp_path / "ds")
    p = tmp_path / "ds" / "truth.json"
    p.write_text(json.dumps({"effect": 2.0}))
    assert load_dataset(tmp_path / "ds").verify_hashes() == ["truth.json"]


def test_same_input_gives_byte_identical_files(tmp_path):
    _write(tmp_path / "a")
    _write(tmp_path / "b")
    assert load_dataset(tmp_path / "a").meta["files"] == load_dataset(tmp_path / "b").meta["files"]


def test_refuses_to_overwrite_and_leaves_nothing_on_error(tmp_path):
    _write(tmp_path / "ds")
    with pytest.raises(FileExistsError, match="--out .* exists; pass --replace"):
        _write(tmp_path / "ds")
    with pytest.raises(ValueError, match="missing column"):
        with DatasetWriter(tmp_path / "bad", {"name": "x"}) as w:
            w.write("enrollment", _enrollment().drop(columns=["sex"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_every_contract_table_has_a_key_made_of_its_columns():
    for t in TABLES.values():
        assert set(t.primary_key) <= set(t.column_names), t.name
        for col, ref in t.references.items():
            rt, rc = ref.split(".")
            assert col in t.column_names and rc in TABLES[rt].column_names


def _unrelated(path):
    path.mkdir()
    (path / "thesis.docx").write_text("years of work")
    (path / "sub").mkdir()
    (path / "sub" / "notes.txt").write_text("keep")
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_replace_refuses_a_directory_that_is_not_a_dataset(tmp_path):
    out = tmp_path / "mine"
    before = _unrelated(out)
    with pytest.raises(OutputExists, match=r"--out .*mine is not a dataset and not empty"):
        _write(out, replace=True)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert (out / "thesis.docx").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temporary left


def test_replace_overwrites_an_empty_directory_or_a_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty", replace=True)
    assert load_dataset(tmp_path / "empty").meta["rows"]["enrollment"] == 2
    _write(tmp_path / "ds")
    (tmp_path / "ds" / "stale.txt").write_text("from an older version")
    _write(tmp_path / "ds", replace=True)
    assert not (tmp_path / "ds" / "stale.txt").exists()
    assert load_dataset(tmp_path / "ds").verify_hashes() == []


@pytest.mark.parametrize("replace", [False, True])
def test_a_file_in_the_way_is_a_one_line_user_error(tmp_path, replace):
    f = tmp_path / "plain.txt"
    f.write_text("x")
    for out in (f, f / "sub"):
        with pytest.raises(UserError, match=r"^--out .*plain\.txt") as e:
            _write(out, replace=replace)
        assert "\n" not in str(e.value)
    assert f.read_text() == "x"


def test_import_and_export_replace_only_their_own_output(tmp_path, monkeypatch, mvm_eval):
    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    out = tmp_path / "mine"
    before = _unrelated(out)
    code, err = mvm_eval("export", ds, "--out", out, "--replace")
    assert code == 2 and err.count("\n") == 1 and "--out" in err and str(out) in err
    # An earlier export is replaced.
    assert mvm_eval("export", ds, "--out", tmp_path / "csv")[0] == 0
    n_files = len(list((tmp_path / "csv").iterdir()))
    assert mvm_eval("export", ds, "--out", tmp_path / "csv", "--replace")[0] == 0
    assert len(list((tmp_path / "csv").iterdir())) == n_files > 0
    monkeypatch.setenv("MVM_EVAL_PSEUDONYM_KEY", "k" * 32)
    args = ("import", "--in", tmp_path / "csv", "--out")
    code, err = mvm_eval(*args, out, "--replace")
    assert code == 2 and "--out" in err and "not a dataset" in err, err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert mvm_eval(*args, tmp_path / "back")[0] == 0
    assert mvm_eval(*args, tmp_path / "back", "--replace")[0] == 0
    code, err = mvm_eval("export", ds, "--out", out / "thesis.docx" / "x")
    assert code == 2 and "--out" in err and "Traceback" not in err

import json

import pandas as pd
import pytest

from analysis.data import DatasetWriter, load_dataset
from analysis.data.contract import TABLES, arrow_schema


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
    with pytest.raises(FileExistsError, match="replace"):
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

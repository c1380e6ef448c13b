"""csv-ja export, and the round trip: export → import gives the same tables, ids pseudonymised."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.data.contract import TABLES
from analysis.data.dataset import load_dataset
from analysis.data.export import export_csv_ja
from analysis.data.importer import ID_KINDS, import_csv
from analysis.data.pseudonym import Pseudonymiser
from analysis.errors import UserError

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

P = Pseudonymiser("round-trip test key 0123456789")


def _has_simulate() -> bool:
    try:
        from analysis.data.synthetic import simulate  # noqa: F401
    except ImportError:
        return False
    return True


def _arrow_frame(path: Path) -> pd.DataFrame:
    """The table as stored (Arrow types), without pandas' dtype metadata."""
    table = pq.read_table(path)
    return table.replace_schema_metadata(None).to_pandas()


def assert_round_trip(original: Path, tmp: Path, date_style: str = "kanji") -> None:
    files = export_csv_ja(original, tmp / "csv", date_style=date_style)
    for path in files.values():
        path.read_bytes().decode("cp932")  # the export is CP932
    res = import_csv(tmp / "csv", tmp / "back", pseudonymiser=P)
    src, back = load_dataset(original), load_dataset(tmp / "back")
    assert back.tables == src.tables
    for name in src.tables:
        info = res.tables[name]
        assert (info.encoding, info.rejected) == ("cp932", 0), res.summary()
        expected = _arrow_frame(src.path / f"{name}.parquet")
        for col, kind in ID_KINDS.items():
            if col in expected:
                expected[col] = P.many(kind, expected[col].tolist())
        # the importer writes the rows in primary-key order (of the pseudonyms)
        key = list(TABLES[name].primary_key)
        expected = expected.sort_values(key, kind="stable").reset_index(drop=True)
        got = _arrow_frame(back.path / f"{name}.parquet")
        pd.testing.assert_frame_equal(got, expected, check_dtype=True, obj=name)


@pytest.mark.parametrize("date_style", ["kanji", "short", "padded"])
def test_tiny_dataset_round_trip(tmp_path, date_style):
    assert_round_trip(tiny.write_tiny_dataset(tmp_path / "ds"), tmp_path, date_style)


@pytest.mark.skipif(not _has_simulate(), reason="synthetic generator not available yet")
def test_synthetic_dataset_round_trip(small_dataset_path, tmp_path):
    assert_round_trip(small_dataset_path, tmp_path)


def test_export_looks_like_a_municipal_file(tmp_path):
    files = export_csv_ja(tiny.write_tiny_dataset(tmp_path / "ds"), tmp_path / "csv")
    assert {p.name for p in files.values()} == {f"{t.ja}.csv" for t in TABLES.values()}
    text = files["checkups"].read_bytes().decode("cp932").splitlines()
    assert text[0].split(",")[:3] == ["個人番号(仮名化)", "健診受診日", "年度"]
    assert text[2].split(",")[1:3] == ["令和5年7月1日", "令和5年度"]
    claims = files["claims"].read_bytes().decode("cp932").splitlines()
    assert claims[1].split(",")[2:4] == ["令和5年5月", "入院外"]
    assert "２＋" not in text[4] and "2＋" in text[4]


def test_export_refuses_existing_directory(tmp_path):
    ds = tiny.write_tiny_dataset(tmp_path / "ds")
    (tmp_path / "csv").mkdir()
    with pytest.raises(UserError, match="exists"):
        export_csv_ja(ds, tmp_path / "csv")
    with pytest.raises(UserError, match="date-style"):
        export_csv_ja(ds, tmp_path / "csv2", date_style="iso")

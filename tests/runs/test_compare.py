"""Comparisons of verify: files against the manifest, and a re-run against the run."""

import json
import math
import os

import nbformat
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.runs import compare as C
from analysis.runs import manifest as mf


def _table(values, **extra) -> pd.DataFrame:
    return pd.DataFrame({"g": ["a", "b", "c"], "x": values, "n": [1, 2, 3], **extra})


BASE = np.array([0.123456789, 1234.5678, -3.0])


def test_a_one_ulp_difference_is_within_tolerance():
    ulp = BASE.copy()
    ulp[1] = np.nextafter(ulp[1], np.inf)
    c = C.compare_tables(_table(BASE), _table(ulp))
    assert c.status == "within tolerance"
    assert "row 1, column x" in c.detail and "1.8e-16" in c.detail
    assert C.compare_tables(_table(BASE), _table(BASE.copy())).status == "same"


def test_a_change_above_tolerance_differs_naming_the_first_value():
    changed = BASE * [1, 1 + 2 * C.REL_TOLERANCE, 1 + 5 * C.REL_TOLERANCE]
    c = C.compare_tables(_table(BASE), _table(changed))
    assert c.status == "differs"
    assert c.detail.startswith("row 1, column x: 1234.5678 (recorded run) vs 1234.59")
    assert c.detail.endswith("(and 1 more)")
    inside = BASE * [1, 1 + C.REL_TOLERANCE / 2, 1]
    assert C.compare_tables(_table(BASE), _table(inside)).status == "within tolerance"


@pytest.mark.parametrize(
    "recorded, rerun, status",
    [
        (0.0, C.ABS_TOLERANCE / 2, "within tolerance"),  # zero up to noise
        (0.0, C.ABS_TOLERANCE * 5, "differs"),
        (np.nan, np.nan, "same"),
        (np.nan, 1.0, "differs"),
        (np.inf, np.inf, "same"),
        (np.inf, -np.inf, "differs"),
        (np.inf, 1e308, "differs"),
    ],
)
def test_special_values(recorded, rerun, status):
    a, b = _table([recorded, 1.0, 2.0]), _table([rerun, 1.0, 2.0])
    assert C.compare_tables(a, b).status == status
    assert C.compare_json({"v": recorded}, {"v": rerun}).status == status


@pytest.mark.parametrize(
    "change, detail",
    [
        (lambda d: d.assign(n=[1, 2, 4]), "row 2, column n: 3 (recorded run) vs 4 (re-run)"),
        (
            lambda d: d.assign(g=["a", "B", "c"]),
            "row 1, column g: 'b' (recorded run) vs 'B' (re-run)",
        ),
        (lambda d: d.assign(n=d["n"].astype(float)), "type of column n: 'int64'"),
        (lambda d: d[["x", "g", "n"]], "columns: ['g', 'x', 'n']"),
        (lambda d: d.iloc[:2], "rows: 3 (recorded run) vs 2 (re-run)"),
    ],
)
def test_exact_columns_and_shapes(change, detail):
    base = _table(BASE)
    c = C.compare_tables(base, change(base))
    assert c.status == "differs" and c.detail.startswith(detail)


def test_json_numbers_within_tolerance_and_paths_of_differences():
    rec = {"roi": 0.61, "n": 64, "ci": [0.1, 0.2], "meta": {"label": "運動", "ok": True}}
    ulp = json.loads(json.dumps(rec))
    ulp["ci"][1] = math.nextafter(0.2, 1)
    c = C.compare_json(rec, ulp)
    assert c.status == "within tolerance" and "key ci[1]" in c.detail
    for path, value, detail in [
        (("n",), 65, "key n: 64 (recorded run) vs 65 (re-run)"),
        (("meta", "label"), "運動習慣", "key meta.label: '運動'"),
        (("meta", "ok"), 1, "key meta.ok: True"),
        (("roi",), 0.62, "key roi: 0.61 (recorded run) vs 0.62 (re-run)"),
    ]:
        other = json.loads(json.dumps(rec))
        target = other
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        c = C.compare_json(rec, other)
        assert c.status == "differs" and c.detail.startswith(detail), c.detail
    assert C.compare_json(rec, {**rec, "extra": 1}).detail.startswith("key extra: '<absent>'")


def _png(path, shift=0, size=(40, 30)):
    pixels = np.full((size[1], size[0], 3), 200, dtype=np.uint8)
    pixels[10, 10] = 200 + shift
    Image.fromarray(pixels).save(path)
    return path


def test_figures_compare_by_pixels(tmp_path):
    rec = _png(tmp_path / "a.png")
    assert C.compare_files(rec, _png(tmp_path / "same.png")).status == "same"
    near = C.compare_files(rec, _png(tmp_path / "near.png", shift=1))
    assert near.status == "within tolerance" and near.detail.startswith("1 pixel(s) differ")
    far = C.compare_files(rec, _png(tmp_path / "far.png", shift=50))
    assert far.status == "differs" and "by up to 50 colour level(s)" in far.detail
    size = C.compare_files(rec, _png(tmp_path / "size.png", size=(41, 30)))
    assert size.status == "differs" and size.detail.startswith("image size 40x30")


def _executed(path, run_dir, body="x = 1"):
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell(f'run_dir = "{run_dir}"')
    injected.metadata["tags"] = ["injected-parameters"]
    cell = nbformat.v4.new_code_cell(body)
    cell.outputs = [nbformat.v4.new_output("stream", text=f"{run_dir}\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# 見出し"), injected, cell]
    nbformat.write(nb, path)
    return path


def test_executed_notebooks_compare_by_the_cells_that_ran(tmp_path):
    rec = _executed(tmp_path / "a.ipynb", "/runs/a")
    assert C.compare_files(rec, _executed(tmp_path / "b.ipynb", "/scratch/b")).status == "same"
    c = C.compare_files(rec, _executed(tmp_path / "c.ipynb", "/runs/a", body="x = 2"))
    assert c == C.Comparison("differs", "the executed cells differ (cell 1)")


def test_a_rerun_file_that_cannot_be_read_differs(tmp_path):
    rec = tmp_path / "t.parquet"
    _table(BASE).to_parquet(rec)
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 broken")
    c = C.compare_files(rec, tmp_path / "bad.parquet")
    assert c.status == "differs" and c.detail.startswith("not readable as parquet")


def test_check_record_names_every_kind_of_problem(tmp_path):
    names = ["same.json", "altered.parquet", "gone.png", "pipe.json", "table.parquet"]
    for name in names[:4] + ["table.parquet"]:
        p = tmp_path / name
        if name.endswith(".parquet"):
            _table(BASE).to_parquet(p)
        else:
            p.write_text('{"a": 1}')
    recorded = {name: mf.file_record(tmp_path / name) for name in names}
    _table(BASE * 2).to_parquet(tmp_path / "altered.parquet")
    (tmp_path / "gone.png").unlink()
    (tmp_path / "pipe.json").unlink()
    os.mkfifo(tmp_path / "pipe.json")
    (tmp_path / "new.txt").write_text("x")
    (tmp_path / "report" / "ja").mkdir(parents=True)
    (tmp_path / "report" / "ja" / "report.pdf").write_bytes(b"%PDF")
    # the table re-written with the same values: bytes differ, canonical form the same
    t = tmp_path / "table.parquet"
    pd.read_parquet(t).to_parquet(t, compression="gzip")
    present = mf.run_files(tmp_path)
    rows = {r.item: r for r in C.check_record("file", recorded, present,
                                             after_manifest=mf.rendered_after_manifest)}  # fmt: skip
    assert {k: r.status for k, r in rows.items()} == {
        "same.json": "same",
        "altered.parquet": "differs",
        "gone.png": "missing",
        "pipe.json": "unreadable",
        "table.parquet": "differs",
        "new.txt": "extra",
        "report/ja/report.pdf": "not covered",
    }
    assert rows["altered.parquet"].detail.endswith("; content differs")
    assert rows["table.parquet"].detail.endswith("; canonical form unchanged")
    assert not rows["pipe.json"].ok and rows["report/ja/report.pdf"].ok

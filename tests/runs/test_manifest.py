import json

import nbformat
import numpy as np
import pandas as pd
import pytest

from analysis.errors import UserError
from analysis.runs import manifest as mf


def _table(tmp_path, values, name="t.parquet"):
    p = tmp_path / name
    pd.DataFrame({"x": values, "g": ["a", "b", "c"]}).to_parquet(p)
    return p


def test_float_noise_keeps_the_hash_and_real_changes_break_it(tmp_path):
    base = np.array([0.123456789, 1234.5678, -3.0])
    h0 = mf.canonical_sha256(_table(tmp_path, base, "a.parquet"))
    assert mf.canonical_sha256(_table(tmp_path, base * (1 + 1e-12), "b.parquet")) == h0
    assert mf.canonical_sha256(_table(tmp_path, base + [0, 0, 0.01], "c.parquet")) != h0


def test_json_canonical_form_ignores_key_order_and_noise(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"roi": 0.3333333333, "n": 64}))
    b.write_text(json.dumps({"n": 64, "roi": 0.3333333333000001}))
    assert mf.canonical_sha256(a) == mf.canonical_sha256(b)
    b.write_text(json.dumps({"n": 65, "roi": 0.3333333333}))
    assert mf.canonical_sha256(a) != mf.canonical_sha256(b)


def test_environment_differences_are_named():
    env = mf.environment()
    assert env["packages"]["pandas"] == pd.__version__
    other = json.loads(json.dumps(env))
    other["packages"]["pandas"] = "0.0.1"
    assert any(d.startswith("pandas 0.0.1") for d in mf.environment_differences(other, env))
    assert mf.environment_differences(env, env) == []


def test_notebook_hash_follows_sources_not_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 見出し"), nbformat.v4.new_code_cell("x = 1")]
    p = tmp_path / "a.ipynb"
    nbformat.write(nb, p)
    before = mf.notebook_sha256(p)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 3
    nb.metadata["papermill"] = {"duration": 1.5}
    nbformat.write(nb, p)
    assert mf.notebook_sha256(p) == before  # outputs and metadata do not count
    nb.cells[1].source = "x = 2"
    nbformat.write(nb, p)
    assert mf.notebook_sha256(p) != before
    source = nb.cells[1].source
    injected = nbformat.v4.new_code_cell('run_dir = "/runs/FY2023/x"')
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(1, injected)
    nbformat.write(nb, p)
    assert mf.notebook_sha256(p) == mf.canonical_sha256(p)
    nb.cells.pop(1)
    nb.cells[1].source = source
    executed = mf.notebook_sha256(p)
    nbformat.write(nb, p)
    assert mf.notebook_sha256(p) == executed  # papermill's injected cell does not count


def test_run_files_lists_everything_but_the_manifest(tmp_path):
    for rel in ["params.json", "cohorts/a/attrition.parquet", "notebooks/01.ipynb",
                "report/ja/report.pdf", ".hidden", "artifacts/s/.x.png"]:  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    _table(tmp_path / "cohorts" / "a", [1.0, 2.0, 3.0], "attrition.parquet")
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "cohorts")
    assert list(mf.run_files(tmp_path)) == [
        ".hidden", "artifacts/s/.x.png", "cohorts/a/attrition.parquet", "linked",
        "notebooks/01.ipynb", "params.json", "report/ja/report.pdf",
    ]  # fmt: skip
    with pytest.raises(UserError, match="linked: not a regular file"):
        mf.hash_run_files(tmp_path)


def test_file_record_has_both_hashes(tmp_path):
    p = _table(tmp_path, [0.5, 1.5, 2.5])
    rec = mf.file_record(p)
    assert rec == {"size": p.stat().st_size, "sha256": mf.file_sha256(p),
                   "canonical_sha256": mf.canonical_sha256(p)}  # fmt: skip
    assert rec["sha256"] != rec["canonical_sha256"]


@pytest.mark.parametrize(
    "rel, rendered",
    [("report/ja/report.pdf", True), ("report/en/report.html", True),
     ("report/en/report.docx", True), ("report/fr/report.pdf", False),
     ("report/ja/report.md", False), ("report/report.pdf", False),
     ("report/annual_report.ipynb", False), ("x/ja/report.pdf", False)],
)  # fmt: skip
def test_rendered_reports_are_recognised(rel, rendered):
    assert mf.rendered_after_manifest(rel) is rendered


def test_unreadable_manifests_are_refused_in_one_line(tmp_path):
    with pytest.raises(UserError, match="no manifest"):
        mf.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b'{"run_id": \xff')
    with pytest.raises(UserError, match="manifest.json: not a readable manifest"):
        mf.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1]")
    with pytest.raises(UserError, match="not a JSON object"):
        mf.read_manifest(tmp_path)

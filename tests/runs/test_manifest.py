import json

import numpy as np
import pandas as pd

from analysis.runs import manifest as mf


def _table(tmp_path, values, name="t.parquet"):
    p = tmp_path / name
    pd.DataFrame({"x": values, "g": ["a", "b", "c"]}).to_parquet(p)
    return p


def test_float_noise_keeps_the_hash_and_real_changes_break_it(tmp_path):
    base = np.array([0.123456789, 1234.5678, -3.0])
    h0 = mf.artifact_hash(_table(tmp_path, base, "a.parquet"))
    assert mf.artifact_hash(_table(tmp_path, base * (1 + 1e-12), "b.parquet")) == h0
    assert mf.artifact_hash(_table(tmp_path, base + [0, 0, 0.01], "c.parquet")) != h0


def test_json_canonical_form_ignores_key_order_and_noise(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"roi": 0.3333333333, "n": 64}))
    b.write_text(json.dumps({"n": 64, "roi": 0.3333333333000001}))
    assert mf.artifact_hash(a) == mf.artifact_hash(b)
    b.write_text(json.dumps({"n": 65, "roi": 0.3333333333}))
    assert mf.artifact_hash(a) != mf.artifact_hash(b)


def test_environment_differences_are_named():
    env = mf.environment()
    assert env["packages"]["pandas"] == pd.__version__
    other = json.loads(json.dumps(env))
    other["packages"]["pandas"] = "0.0.1"
    assert any(d.startswith("pandas 0.0.1") for d in mf.environment_differences(other, env))
    assert mf.environment_differences(env, env) == []


def test_notebook_hash_follows_sources_not_outputs(tmp_path):
    import nbformat

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

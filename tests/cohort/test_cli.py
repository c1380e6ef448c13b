import json

import pytest
from typer.testing import CliRunner

from analysis.cli import app
from analysis.cohort.cli import _pandas_footprint_mb

KEYS = {"population", "enrollees", "claim_rows", "engine", "engine_seconds", "pandas_seconds",
        "speedup", "peak_rss_mb"}  # fmt: skip


def test_bench_cohort_json_on_a_given_dataset(micro_path):
    args = ["bench", "cohort", "--dataset", str(micro_path), "--json", "--memory-limit",
            "300MB", "--threads", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert KEYS <= set(out)
    assert out["memory_limit"] == "300MB" and out["threads"] == 1
    assert out["engine"] == "duckdb" and out["enrollees"] == 18
    assert out["cohort_sizes"] == {"vitality": 8, "mystar": 1, "risk": 11}
    assert out["sizes_match"] is True  # the pandas baseline found the same cohorts
    ratio = out["pandas_seconds"] / out["engine_seconds"]
    assert out["speedup"] == pytest.approx(ratio, rel=0.05, abs=0.01)
    assert out["peak_rss_mb"] > 50
    assert 0 < out["results_mb"] < out["peak_rss_mb"]


def test_bench_cohort_refuses_bad_options_and_sizes_the_budget(micro_path):
    res = CliRunner().invoke(app, ["bench", "cohort", "--engine", "polars"])
    assert res.exit_code != 0 and "engine" in str(res.exception)
    res = CliRunner().invoke(app, ["bench", "cohort", "--population", "0"])
    assert res.exit_code != 0 and "population" in str(res.exception)
    assert 0 < _pandas_footprint_mb(micro_path) < 10


def test_spark_without_pyspark_is_one_line_naming_the_extra(micro_path, monkeypatch, mvm_eval):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyspark" else find_spec(name, *a),
    )
    for args in (
        ["run", "--data", micro_path, "--fiscal-year", "2023", "--engine", "spark"],
        ["bench", "cohort", "--dataset", micro_path, "--engine", "spark"],
    ):
        code, err = mvm_eval(*args)
        assert code == 2, err
        assert err.count("\n") == 1 and "mvm-eval[spark]" in err, err

"""``mvm-eval bench causal`` on a tiny run: table, JSON last line, bad arguments."""

import json

from typer.testing import CliRunner

from analysis.cli import app


def test_bench_causal_prints_table_and_json_last():
    result = CliRunner().invoke(
        app,
        ["bench", "causal", "--n-rep", "3", "--n", "300", "--methods", "regression,ipw", "--json"],
    )
    assert result.exit_code == 0, result.output
    last = json.loads(result.output.strip().splitlines()[-1])
    assert set(last["methods"]) == {"regression", "ipw"}
    assert {"bias", "rmse", "coverage"} <= set(last["methods"]["ipw"])
    assert last["naive_bias"] > 0.2
    assert "aipw_20000x30_seconds" not in last  # speed runs only for chosen methods


def test_bench_causal_rejects_unknown_method():
    result = CliRunner().invoke(app, ["bench", "causal", "--n-rep", "3", "--methods", "svm"])
    assert result.exit_code != 0

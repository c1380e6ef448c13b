"""``mvm-eval bench causal`` on tiny runs: tables, JSON last line, bad arguments."""

import json

from typer.testing import CliRunner

from analysis.cli import app


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_bench_causal_prints_table_and_json_last():
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "causal",
            "--n-rep",
            "3",
            "--n",
            "300",
            "--methods",
            "regression,ipw",
            "--designs",
            "none",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    last = _last_json(result.output)
    assert set(last["methods"]) == {"regression", "ipw"}
    assert {"bias", "rmse", "coverage", "n_rep", "true_effect"} <= set(last["methods"]["ipw"])
    assert last["methods"]["ipw"]["n_rep"] == 3 * last["fast_factor"]
    assert last["designs"] == {}
    assert last["naive_bias"] > 0.2
    assert "aipw_20000x30_seconds" not in last  # speed runs only for chosen methods


def test_quick_bench_covers_the_design_estimators():
    result = CliRunner().invoke(
        app,
        ["bench", "causal", "--quick", "--methods", "dml", "--designs", "iv,did", "--json"],
    )
    assert result.exit_code == 0, result.output
    last = _last_json(result.output)
    assert set(last["designs"]) == {"iv LATE", "did ATT(3,5)", "did event e=1", "did overall"}
    row = last["designs"]["did overall"]
    assert row["n_rep"] == 5 and row["n_failed"] == 0 and 0 <= row["coverage"] <= 1
    assert last["methods"]["dml"]["n_rep"] == 5
    assert "dml" in result.output and "iv LATE" in result.output  # both tables printed


def test_bench_causal_rejects_unknown_method_and_design():
    result = CliRunner().invoke(app, ["bench", "causal", "--n-rep", "3", "--methods", "svm"])
    assert result.exit_code != 0
    result = CliRunner().invoke(
        app, ["bench", "causal", "--quick", "--methods", "none", "--designs", "synth"]
    )
    assert result.exit_code != 0
    result = CliRunner().invoke(app, ["bench", "causal", "--quick", "--estimand", "ATC"])
    assert result.exit_code != 0 and "estimand" in str(result.exception)

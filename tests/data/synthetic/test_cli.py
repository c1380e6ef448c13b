"""The simulate and bench-simulate commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from analysis.data.synthetic import cli
from analysis.errors import UserError


def _app(fn):
    app = typer.Typer()
    app.command()(fn)
    app.command("noop")(lambda: None)  # two commands: the first is addressed by name
    return app


@pytest.mark.parametrize(
    ("text", "pair"),
    [("2019-2024", (2019, 2024)), ("2023", (2023, 2023)), (" 2020 - 2021 ", (2020, 2021))],
)
def test_parse_years(text, pair):
    assert cli.parse_years(text) == pair


@pytest.mark.parametrize("text", ["", "2024-2019", "19-24", "2019..2024", "abcd"])
def test_parse_years_rejects_with_the_option_name(text):
    with pytest.raises(UserError, match="years"):
        cli.parse_years(text)


def test_simulate_command_writes_a_dataset(tmp_path):
    out = tmp_path / "town"
    r = CliRunner().invoke(
        _app(cli.simulate),
        [
            "simulate",
            "--population",
            "1500",
            "--years",
            "2021-2023",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["seed"] == 3 and meta["parameters"]["years"] == [2021, 2023]
    assert "enrollment" in r.output
    again = CliRunner().invoke(_app(cli.simulate), ["simulate", "--out", str(out)])
    assert isinstance(again.exception, UserError) and "--replace" in str(again.exception)


def test_bad_population_is_a_user_error(tmp_path):
    r = CliRunner().invoke(
        _app(cli.simulate), ["simulate", "--population", "5", "--out", str(tmp_path / "x")]
    )
    assert isinstance(r.exception, UserError) and "population" in str(r.exception)


def test_bench_prints_figures_and_json_last(capsys):
    cli.bench_simulate(populations="1200", json_out=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "peak RSS" in lines[0]
    res = json.loads(lines[-1])["results"][0]
    assert res["population"] == 1200 and res["seconds"] > 0 and res["peak_rss_mb"] > 0
    assert res["rows"]["enrollment"] == res["enrollment_rows"] > 0


def test_bench_rejects_bad_sizes():
    with pytest.raises(UserError, match="populations"):
        cli.bench_simulate(populations="10,abc")


def test_replace_never_deletes_a_directory_that_is_not_a_dataset(tmp_path, mvm_eval):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "letter.txt").write_text("keep me")
    args = ("simulate", "--population", "1000", "--years", "2023", "--out", out, "--replace")
    code, err = mvm_eval(*args)
    assert code == 2 and err.count("\n") == 1 and f"--out {out}" in err, err
    assert [p.name for p in out.iterdir()] == ["letter.txt"]
    assert (out / "letter.txt").read_text() == "keep me"


def test_a_bad_out_path_is_one_line_with_exit_status_2(tmp_path, mvm_eval):
    f = tmp_path / "file.txt"
    f.write_text("x")
    bad = [(f / "sub",), (f, "--replace"), (f,)]
    if Path("/proc/self").is_dir():
        bad.append((Path("/proc/no-such-dir/city"),))
    for out, *rest in bad:
        args = ("simulate", "--population", "1000", "--years", "2023", "--out", out, *rest)
        code, err = mvm_eval(*args)
        assert code == 2, (out, err)
        assert err.count("\n") == 1 and f"--out {out}" in err and "Traceback" not in err, err
    assert f.read_text() == "x"

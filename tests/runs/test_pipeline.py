"""Runs on tiny notebooks: execution, manifest, verification, failure handling.

The tiny step notebook writes one file of every kind a real run writes (a cohort table,
artifact tables, JSON numbers, a figure and their sidecars), so that tampering with each
kind can be tried on a copy of one run, without running the evaluation. The tests share
one run (module fixture), so they stay together on one worker (``--dist loadgroup``).
"""

import json
import os
import shutil

import nbformat
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis.cli import app
from analysis.data import DatasetWriter
from analysis.data.contract import arrow_schema
from analysis.errors import UserError
from analysis.runs import manifest as mf
from analysis.runs import pipeline
from analysis.runs.manifest import read_manifest

pytestmark = pytest.mark.xdist_group("tiny-run")

PARAMS = """dataset: str = ""  # Dataset directory
fiscal_year: int = 2000  # Fiscal year
run_dir: str = ""  # Run directory
engine: str = "duckdb"  # Engine
seed: int = 0  # Seed
lang: str = "ja"  # Language"""

STEP = """import pandas as pd
import matplotlib.pyplot as plt
from pathlib import Path
from analysis.runs.artifacts import save_figure, save_numbers, save_table
from analysis.data import load_dataset
from analysis.seeds import rng
ds = load_dataset(dataset)
draws = rng(seed, "demo").normal(size=1000)
save_numbers({"mean": float(draws.mean()), "fiscal_year": fiscal_year,
              "persons": len(ds.enrollment)}, run_dir, "01_demo")
save_table(pd.DataFrame({"q": [0.1, 0.5, 0.9], "value": pd.Series(draws).quantile([0.1, 0.5, 0.9]).values}),
           run_dir, "01_demo", "quantiles")
fig, ax = plt.subplots(figsize=(2, 1.5))
ax.hist(draws, bins=20)
save_figure(fig, run_dir, "01_demo", "histogram", dpi=40)
cohort = Path(run_dir) / "cohorts" / "demo"
cohort.mkdir(parents=True)
pd.DataFrame({"step": [1, 2], "remaining": [len(ds.enrollment), 1]}).to_parquet(cohort / "attrition.parquet")"""


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(PARAMS)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "tiny"
    with DatasetWriter(out, {"name": "tiny", "source": "test"}) as w:
        w.write(
            "enrollment",
            pd.DataFrame(
                {
                    "person_id": ["p1"],
                    "household_id": ["h1"],
                    "sex": ["F"],
                    "birth_date": pd.to_datetime(["1960-05-01"]),
                    "enroll_start": pd.to_datetime(["2019-04-01"]),
                    "enroll_end": pd.to_datetime([None]),
                    "death_date": pd.to_datetime([None]),
                    "exit_reason": [None],
                }
            ),
        )
        for t in ("checkups", "claims", "claim_diagnoses"):
            w.write(t, arrow_schema(t).empty_table().to_pandas())
    return out


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, dataset):
    nbdir = tmp_path_factory.mktemp("nb")
    runs = tmp_path_factory.mktemp("runs")
    nb = _notebook(nbdir / "01_demo.ipynb", STEP)
    settings = pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023, seed=11)
    run_dir = pipeline.run_pipeline(
        settings, runs_dir=runs, notebooks=[nb], report_notebook=None, progress=False
    )
    return run_dir, settings, nb, runs


def test_run_writes_artifacts_and_manifest_last(good_run):
    run_dir, settings, nb, runs = good_run
    assert run_dir.parent.name == "FY2023"
    man = read_manifest(run_dir)
    assert man["parameters"]["seed"] == 11 and man["seed"] == 11
    assert man["manifest_version"] == mf.MANIFEST_VERSION
    assert man["dataset"]["files"]["enrollment.parquet"]
    assert man["environment"]["packages"]["papermill"]
    assert (run_dir / "notebooks" / "01_demo.ipynb").exists()
    numbers = json.loads((run_dir / "artifacts/01_demo/key_numbers.json").read_text())
    assert numbers["fiscal_year"] == 2023 and numbers["persons"] == 1
    assert pipeline.list_runs(runs)[0]["status"] == "complete"


def test_manifest_covers_every_file_of_the_run_with_both_hashes(good_run):
    run_dir = good_run[0]
    files = read_manifest(run_dir)["files"]
    on_disk = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    assert set(files) == on_disk - {"manifest.json"}
    assert {"params.json", "notebooks/01_demo.ipynb", "cohorts/demo/attrition.parquet",
            "artifacts/01_demo/histogram.png", "artifacts/01_demo/quantiles.meta.json",
            "artifacts/01_demo/key_numbers.json"} <= set(files)  # fmt: skip
    for rel, record in files.items():
        assert record["sha256"] == mf.file_sha256(run_dir / rel), rel
        assert record["canonical_sha256"] == mf.canonical_sha256(run_dir / rel), rel
    executed = files["notebooks/01_demo.ipynb"]["canonical_sha256"]
    assert executed == read_manifest(run_dir)["notebooks"]["01_demo.ipynb"]  # same cells ran


def test_fresh_run_verifies(good_run):
    run_dir = good_run[0]
    report = pipeline.verify_run(run_dir)
    assert report.ok, report.problems
    assert {r.status for r in report.rows} == {"same"}
    files = set(read_manifest(run_dir)["files"])
    assert {r.item for r in report.rows if r.check == "file"} == files
    assert {r.item for r in report.rows if r.check == "re-run"} == files


def _copy(good_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(good_run[0], run_dir)
    return run_dir


def _verify_cli(run_dir) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["verify", str(run_dir)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout


def _flip_middle_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _replace_by_pipe(path):
    path.unlink()
    os.mkfifo(path)


TAMPERING = {
    "parquet (cohort table)": ("cohorts/demo/attrition.parquet", _flip_middle_byte, "differs"),
    "parquet (artifact)": ("artifacts/01_demo/quantiles.parquet", _flip_middle_byte, "differs"),
    "json": ("artifacts/01_demo/key_numbers.json", _flip_middle_byte, "differs"),
    "json sidecar": ("artifacts/01_demo/histogram.meta.json", _flip_middle_byte, "differs"),
    "png": ("artifacts/01_demo/histogram.png", _flip_middle_byte, "differs"),
    "notebook": ("notebooks/01_demo.ipynb", _flip_middle_byte, "differs"),
    "params": ("params.json", _flip_middle_byte, "differs"),
    "deleted": ("artifacts/01_demo/quantiles.parquet", os.remove, "missing"),
    "extra file": ("artifacts/01_demo/extra.parquet", lambda p: p.write_bytes(b"PAR1"), "extra"),
    "extra hidden file": ("cohorts/.notes", lambda p: p.write_text("x"), "extra"),
    "extra report file": ("report/ja/report.md", lambda p: p.write_text("x"), "extra"),
    "not a file": ("cohorts/demo/attrition.parquet", _replace_by_pipe, "unreadable"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_every_tampered_file_is_named_and_fails_verify(good_run, tmp_path, case):
    rel, tamper, status = TAMPERING[case]
    run_dir = _copy(good_run, tmp_path)
    (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    tamper(run_dir / rel)
    code, out = _verify_cli(run_dir)
    assert code == 1, out
    problems = [
        line for line in out.splitlines() if line.startswith("file ") and " same " not in line
    ]
    assert len(problems) == 1 and problems[0].split()[1:3] == [status, rel], out
    assert out.splitlines()[-1] == f"FAILED: 1 problem(s): file {rel} {status}"
    assert "note: re-run skipped" in out


def test_a_tampered_input_table_is_named_and_fails_verify(good_run, dataset, tmp_path):
    data_copy = tmp_path / "data"
    shutil.copytree(dataset, data_copy)
    run_dir = _copy(good_run, tmp_path)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["dataset"]["path"] = str(data_copy)
    (run_dir / "manifest.json").write_text(json.dumps(man))
    _flip_middle_byte(data_copy / "enrollment.parquet")
    (data_copy / "notes.txt").write_text("added after the run")
    code, out = _verify_cli(run_dir)
    assert code == 1
    assert out.splitlines()[-1] == (
        "FAILED: 2 problem(s): input enrollment.parquet differs; input notes.txt extra"
    )


def _rewrite_value(run_dir, rel, row, value):
    """Change one float of a table and record the new file in the manifest, as if the run
    had been made on another machine."""
    path = run_dir / rel
    df = pd.read_parquet(path)
    df.loc[row, "value"] = value(df.loc[row, "value"])
    df.to_parquet(path, index=False)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["files"][rel] = mf.file_record(path)
    (run_dir / "manifest.json").write_text(json.dumps(man))


def test_a_one_ulp_difference_reproduces_within_tolerance(good_run, tmp_path):
    run_dir = _copy(good_run, tmp_path)
    rel = "artifacts/01_demo/quantiles.parquet"
    _rewrite_value(run_dir, rel, 1, lambda v: np.nextafter(v, np.inf))
    (run_dir / "report" / "en").mkdir(parents=True)
    (run_dir / "report" / "en" / "report.pdf").write_bytes(b"%PDF-1.7")
    report = pipeline.verify_run(run_dir)
    assert report.ok, report.problems
    rows = {(r.check, r.item): r for r in report.rows}
    assert rows["re-run", rel].status == "within tolerance"
    assert "at row 1, column value" in rows["re-run", rel].detail
    assert rows["file", "report/en/report.pdf"].status == "not covered"
    lines = pipeline.format_verify_report(report, run_dir)
    assert lines[-1].startswith("verified: every file matches (")
    assert "1 not covered" in lines[-1] and "1 within tolerance" in lines[-1]


def test_changed_result_on_rerun_is_reported_with_first_difference(good_run, tmp_path):
    run_dir = _copy(good_run, tmp_path)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["parameters"]["seed"] = 12  # a re-run with another seed draws other numbers
    (run_dir / "manifest.json").write_text(json.dumps(man))
    report = pipeline.verify_run(run_dir)
    bad = {r.item: r.detail for r in report.problems}
    assert bad["artifacts/01_demo/key_numbers.json"].startswith("key mean:")
    assert "column value" in bad["artifacts/01_demo/quantiles.parquet"]
    assert "pixel(s) differ" in bad["artifacts/01_demo/histogram.png"]
    assert "params.json" in bad  # the re-run's parameters are the manifest's


def test_a_failing_rerun_fails_verify(good_run, tmp_path):
    run_dir = _copy(good_run, tmp_path)
    bad = _notebook(tmp_path / "01_demo.ipynb", 'raise ValueError("planted failure")')
    man = json.loads((run_dir / "manifest.json").read_text())
    man["notebook_paths"] = [str(bad)]
    (run_dir / "manifest.json").write_text(json.dumps(man))
    report = pipeline.verify_run(run_dir)
    assert [(r.check, r.status) for r in report.problems] == [("re-run", "failed")]
    assert "planted failure" in report.problems[0].detail


def test_old_or_broken_manifests_are_refused_in_one_line(good_run, tmp_path, mvm_eval):
    run_dir = _copy(good_run, tmp_path)
    man = json.loads((run_dir / "manifest.json").read_text())
    old = {k: v for k, v in man.items() if k != "files"} | {"manifest_version": 1,
                                                           "artifacts": {}}  # fmt: skip
    (run_dir / "manifest.json").write_text(json.dumps(old))
    code, err = mvm_eval("verify", run_dir)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "manifest version 1 cannot be verified" in err and "mvm-eval run" in err
    (run_dir / "manifest.json").write_text('{"manifest_version": 2')
    code, err = mvm_eval("verify", run_dir)
    assert code == 2 and "not a readable manifest" in err and len(err.strip().splitlines()) == 1
    del man["dataset"]["files"]
    (run_dir / "manifest.json").write_text(json.dumps(man))
    code, err = mvm_eval("verify", run_dir)
    assert code == 2 and "not a complete manifest (no dataset.files)" in err
    (run_dir / "manifest.json").unlink()
    code, err = mvm_eval("verify", run_dir)
    assert code == 2 and "no manifest" in err


def test_failing_notebook_stops_without_manifest(tmp_path, dataset):
    bad = _notebook(tmp_path / "02_bad.ipynb", 'raise ValueError("planted failure")')
    settings = pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023)
    with pytest.raises(
        pipeline.NotebookFailed,
        match="02_bad.ipynb failed in cell .*planted failure.*partial notebook",
    ):
        pipeline.run_pipeline(
            settings,
            runs_dir=tmp_path / "runs",
            notebooks=[bad],
            report_notebook=None,
            progress=False,
        )
    (run,) = pipeline.list_runs(tmp_path / "runs")
    assert run["status"] == "incomplete"
    assert not (tmp_path / "runs" / "FY2023" / run["run_id"] / "manifest.json").exists()


def test_runs_never_overwrite_and_bad_settings_are_named(tmp_path, dataset, good_run):
    nb = good_run[2]
    settings = pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023)
    kw = dict(runs_dir=tmp_path, notebooks=[nb], report_notebook=None, progress=False, run_id="r1")
    (tmp_path / "FY2023" / "r1").mkdir(parents=True)
    with pytest.raises(UserError, match="never overwritten"):
        pipeline.run_pipeline(settings, **kw)
    with pytest.raises(UserError, match="--engine"):
        pipeline.run_pipeline(
            pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023, engine="oracle"), **kw
        )
    with pytest.raises(UserError, match="--data"):
        pipeline.run_pipeline(pipeline.RunSettings(dataset=str(tmp_path), fiscal_year=2023), **kw)


def test_a_dataset_that_breaks_the_contract_is_refused_before_running(tmp_path, good_run):
    from analysis.errors import ValidationFailed

    bad = tmp_path / "bad"
    with DatasetWriter(bad, {"name": "bad", "source": "test"}) as w:
        w.write(
            "enrollment",
            pd.DataFrame(
                {
                    "person_id": ["p1"],
                    "household_id": ["h1"],
                    "sex": ["X"],
                    "birth_date": pd.to_datetime(["1960-05-01"]),
                    "enroll_start": pd.to_datetime(["2019-04-01"]),
                    "enroll_end": pd.to_datetime([None]),
                    "death_date": pd.to_datetime([None]),
                    "exit_reason": [None],
                }
            ),
        )
        for t in ("checkups", "claims", "claim_diagnoses"):
            w.write(t, arrow_schema(t).empty_table().to_pandas())
    settings = pipeline.RunSettings(dataset=str(bad), fiscal_year=2023)
    with pytest.raises(ValidationFailed, match="enrollment"):
        pipeline.run_pipeline(
            settings,
            runs_dir=tmp_path / "runs",
            notebooks=[good_run[2]],
            report_notebook=None,
            progress=False,
        )
    assert not (tmp_path / "runs").exists()


def test_pool_from_reaches_only_the_notebooks_that_declare_it(tmp_path, dataset, good_run):
    import json

    demo = good_run[2]
    body = ('from analysis.runs.artifacts import save_numbers\n'
            'save_numbers({"pool_from": pool_from}, run_dir, "02_pool")')  # fmt: skip
    nb = tmp_path / "02_pool.ipynb"
    _notebook(nb, body)
    parsed = nbformat.read(nb, as_version=4)
    parsed.cells[0].source += "\npool_from: int = 0  # First pooled year"
    nbformat.write(parsed, nb)
    settings = pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023, pool_from=2021)
    run_dir = pipeline.run_pipeline(settings, runs_dir=tmp_path / "runs", notebooks=[demo, nb],
                                    report_notebook=None, progress=False)  # fmt: skip
    numbers = json.loads(next((run_dir / "artifacts" / "02_pool").glob("*.json")).read_text())
    assert numbers["pool_from"] == 2021
    executed_demo = (run_dir / "notebooks" / demo.name).read_text(encoding="utf-8")
    assert "pool_from = " not in executed_demo  # not injected where it is not declared
    man = read_manifest(run_dir)
    assert man["parameters"]["pool_from"] == 2021
    assert man["command"][-2:] == ["--pool-from", "2021"]


@pytest.mark.parametrize("pool_from", [2023, 2030, 1999])
def test_a_pool_start_that_is_not_an_earlier_year_is_refused(tmp_path, dataset, pool_from):
    settings = pipeline.RunSettings(dataset=str(dataset), fiscal_year=2023, pool_from=pool_from)
    with pytest.raises(UserError, match="--pool-from must be a fiscal year before --fiscal-year"):
        pipeline.run_pipeline(settings, runs_dir=tmp_path, notebooks=[], report_notebook=None,
                              progress=False)  # fmt: skip

"""Runs on tiny notebooks: execution, manifest, verification, failure handling."""

import json

import nbformat
import pandas as pd
import pytest

from analysis.runs import pipeline
from analysis.data import DatasetWriter
from analysis.data.contract import arrow_schema
from analysis.errors import UserError
from analysis.runs.manifest import read_manifest

PARAMS = """dataset: str = ""  # Dataset directory
fiscal_year: int = 2000  # Fiscal year
run_dir: str = ""  # Run directory
engine: str = "duckdb"  # Engine
seed: int = 0  # Seed
lang: str = "ja"  # Language"""

STEP = """import pandas as pd
from analysis.runs.artifacts import save_numbers, save_table
from analysis.data import load_dataset
from analysis.seeds import rng
ds = load_dataset(dataset)
draws = rng(seed, "demo").normal(size=1000)
save_numbers({"mean": float(draws.mean()), "fiscal_year": fiscal_year,
              "persons": len(ds.enrollment)}, run_dir, "01_demo")
save_table(pd.DataFrame({"q": [0.1, 0.5, 0.9], "value": pd.Series(draws).quantile([0.1, 0.5, 0.9]).values}),
           run_dir, "01_demo", "quantiles")"""


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
    assert set(man["artifacts"]) >= {
        "artifacts/01_demo/key_numbers.json",
        "artifacts/01_demo/quantiles.parquet",
    }
    assert man["dataset"]["files"]["enrollment.parquet"]
    assert man["environment"]["packages"]["papermill"]
    assert (run_dir / "notebooks" / "01_demo.ipynb").exists()
    numbers = json.loads((run_dir / "artifacts/01_demo/key_numbers.json").read_text())
    assert numbers["fiscal_year"] == 2023 and numbers["persons"] == 1
    assert pipeline.list_runs(runs)[0]["status"] == "complete"


def test_fresh_run_verifies(good_run):
    run_dir = good_run[0]
    report = pipeline.verify_run(run_dir)
    assert report.ok, report.rows
    assert {s for _, s, _ in report.rows} == {"same"}


def test_tampered_artifact_fails_verification_naming_it(good_run, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(good_run[0], run_dir)
    p = run_dir / "artifacts/01_demo/key_numbers.json"
    p.write_text(p.read_text().replace('"fiscal_year": 2023', '"fiscal_year": 2024'))
    report = pipeline.verify_run(run_dir)
    assert not report.ok
    assert [item for item, s, _ in report.rows if s != "same"] == [
        "recorded artifacts/01_demo/key_numbers.json"
    ]


def test_tampered_input_fails_verification_naming_it(good_run, dataset, tmp_path):
    import shutil

    data_copy = tmp_path / "data"
    shutil.copytree(dataset, data_copy)
    run_dir = tmp_path / "run"
    shutil.copytree(good_run[0], run_dir)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["dataset"]["path"] = str(data_copy)
    (run_dir / "manifest.json").write_text(json.dumps(man))
    with open(data_copy / "enrollment.parquet", "ab") as f:
        f.write(b"\0")
    report = pipeline.verify_run(run_dir)
    assert [item for item, s, _ in report.rows if s != "same"] == ["input enrollment.parquet"]


def test_changed_result_on_rerun_is_reported_with_first_difference(good_run, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(good_run[0], run_dir)
    man = json.loads((run_dir / "manifest.json").read_text())
    man["parameters"]["seed"] = 12  # a re-run with another seed draws other numbers
    (run_dir / "manifest.json").write_text(json.dumps(man))
    report = pipeline.verify_run(run_dir)
    bad = {item: detail for item, s, detail in report.rows if s != "same"}
    assert "artifacts/01_demo/key_numbers.json" in bad
    assert bad["artifacts/01_demo/key_numbers.json"].startswith("key mean:")
    assert "column value" in bad["artifacts/01_demo/quantiles.parquet"]


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

"""Runs: execute the step notebooks with papermill, write the manifest, verify a run.

``run_pipeline`` executes ``notebooks/NN_*.ipynb`` in order into
``runs/FY<year>/<run-id>/notebooks/``, then the report notebook into ``report/``, and
writes ``manifest.json`` last. A failing notebook stops the run with the failing cell's
error and the path of the partial notebook; no manifest is written, so the run stays
marked incomplete. Runs never overwrite each other.

``verify_run`` re-executes a run from its manifest in a scratch directory and compares
every artifact's canonical hash; it also re-hashes the inputs and the run's own
artifacts, so a tampered input or artifact fails verification.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from analysis.runs import manifest as mf
from analysis.config import DEFAULT_DATASET, DEFAULT_SEED, NOTEBOOKS_DIR, REPORTS_DIR, RUNS_DIR
from analysis.errors import UserError

STEPS = ("01_cohort", "02_risk", "03_effect_exercise", "04_effect_costs", "05_targeting")
"""The step notebooks, in execution order (``notebooks/<step>.ipynb``)."""
REPORT_NOTEBOOK = REPORTS_DIR / "annual_report.ipynb"
ENGINES = ("duckdb", "spark")
LANGS = ("ja", "en")


class NotebookFailed(UserError):
    """A step notebook raised; the message names the notebook, the cell error and the path."""


def step_notebooks() -> list[Path]:
    """Paths of the step notebooks that exist, in order."""
    return [NOTEBOOKS_DIR / f"{s}.ipynb" for s in STEPS if (NOTEBOOKS_DIR / f"{s}.ipynb").exists()]


def _new_run_id(parameters: dict[str, Any]) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:6]
    return f"{stamp}-{digest}"


def _execute(
    nb_in: Path, nb_out: Path, parameters: dict[str, Any], cwd: Path, progress: bool
) -> None:
    import papermill as pm

    from analysis.runs.kernels import IPCKernelManager

    try:
        pm.execute_notebook(
            str(nb_in),
            str(nb_out),
            parameters=parameters,
            cwd=str(cwd),
            kernel_name="python3",
            progress_bar=progress,
            log_output=False,
            request_save_on_cell_execute=True,
            kernel_manager_class=IPCKernelManager,
        )
    except pm.PapermillExecutionError as e:
        raise NotebookFailed(
            f"{nb_in.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue} "
            f"(partial notebook: {nb_out})"
        ) from None


@dataclass
class RunSettings:
    """Everything that determines a run's results (saved as ``params.json``)."""

    dataset: str
    fiscal_year: int
    engine: str = "duckdb"
    lang: str = "ja"
    seed: int = DEFAULT_SEED

    def check(self) -> None:
        if self.engine not in ENGINES:
            raise UserError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.engine == "spark":
            from analysis.cohort.engine import require_spark

            require_spark()
        if self.lang not in LANGS:
            raise UserError(f"--lang must be one of {', '.join(LANGS)}, got {self.lang!r}")
        if not (Path(self.dataset) / "dataset.json").exists():
            raise UserError(f"--data {self.dataset}: not a dataset directory (no dataset.json)")


def execute_run(
    settings: RunSettings,
    run_dir: Path,
    *,
    notebooks: list[Path],
    report_notebook: Path | None,
    progress: bool = True,
) -> list[Path]:
    """Execute the notebooks of a run into ``run_dir`` (which must exist and be empty)."""
    from rich.progress import Progress

    params = {
        "dataset": str(Path(settings.dataset).resolve()),
        "fiscal_year": settings.fiscal_year,
        "run_dir": str(run_dir.resolve()),
        "engine": settings.engine,
        "seed": settings.seed,
        "lang": settings.lang,
    }
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    executed = []
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("run", total=len(notebooks) + (report_notebook is not None))
        for nb in notebooks:
            bar.update(task, description=f"{nb.stem}")
            out = run_dir / "notebooks" / nb.name
            _execute(nb, out, params, run_dir, progress)
            executed.append(out)
            bar.advance(task)
        if report_notebook is not None:
            bar.update(task, description="report")
            (run_dir / "report").mkdir(exist_ok=True)
            out = run_dir / "report" / report_notebook.name
            _execute(
                report_notebook,
                out,
                {"run_dir": params["run_dir"], "lang": settings.lang},
                run_dir,
                progress,
            )
            executed.append(out)
            bar.advance(task)
    return executed


def run_pipeline(
    settings: RunSettings,
    *,
    runs_dir: Path = RUNS_DIR,
    notebooks: list[Path] | None = None,
    report_notebook: Path | None = REPORT_NOTEBOOK,
    progress: bool = True,
    run_id: str | None = None,
) -> Path:
    """Execute a complete run and write its manifest; return the run directory.

    Raises
    ------
    UserError
        Bad settings, a dataset that breaks the table contract (``ValidationFailed``), an
        existing run directory, or a failing notebook (``NotebookFailed``).
    """
    settings.check()
    from analysis.data.validation import ensure_valid

    ensure_valid(settings.dataset)  # once per run; the notebooks connect with validate=False
    notebooks = step_notebooks() if notebooks is None else notebooks
    if not notebooks:
        raise UserError("no step notebooks found; expected notebooks/01_cohort.ipynb …")
    if report_notebook is not None and not report_notebook.exists():
        report_notebook = None
    params = settings.__dict__ | {"dataset": str(Path(settings.dataset).resolve())}
    run_id = run_id or _new_run_id(params)
    run_dir = Path(runs_dir) / f"FY{settings.fiscal_year}" / run_id
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise UserError(f"{run_dir} exists; runs are never overwritten") from None
    (run_dir / "params.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    sources = list(notebooks) + ([report_notebook] if report_notebook else [])
    execute_run(
        settings,
        run_dir,
        notebooks=list(notebooks),
        report_notebook=report_notebook,
        progress=progress,
    )
    manifest = mf.build_manifest(
        run_dir,
        run_id=run_id,
        parameters=params,
        dataset_dir=Path(settings.dataset).resolve(),
        notebooks=sources,
        command=[
            "mvm-eval",
            "run",
            "--data",
            str(settings.dataset),
            "--fiscal-year",
            str(settings.fiscal_year),
            "--engine",
            settings.engine,
            "--lang",
            settings.lang,
            "--seed",
            str(settings.seed),
        ],
    )
    manifest["notebook_paths"] = [str(p) for p in sources]
    mf.write_manifest(run_dir, manifest)
    return run_dir


@dataclass
class VerifyReport:
    """Outcome of ``verify_run``: one row per artifact or input, plus environment warnings."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (item, status, detail)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(status == "same" for _, status, _ in self.rows)

    def add(self, item: str, status: str, detail: str = "") -> None:
        self.rows.append((item, status, detail))


def _first_difference(a: Path, b: Path) -> str:
    """Describe where two artifacts first differ (tables: row and column; JSON: key)."""
    import pandas as pd

    try:
        if a.suffix == ".parquet":
            x, y = pd.read_parquet(a), pd.read_parquet(b)
            if list(x.columns) != list(y.columns) or len(x) != len(y):
                return f"shape {x.shape} vs {y.shape}"
            for col in x.columns:
                xs = mf.canonical_table_bytes(x[[col]]).splitlines()
                ys = mf.canonical_table_bytes(y[[col]]).splitlines()
                for i, (u, v) in enumerate(zip(xs, ys, strict=False)):
                    if u != v:
                        return f"row {i - 1}, column {col}: {v.decode()} (recorded run) vs {u.decode()} (re-run)"
        if a.suffix == ".json":
            x, y = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
            if isinstance(x, dict) and isinstance(y, dict):
                for k in sorted(set(x) | set(y)):
                    if mf.canonical_json_bytes(x.get(k)) != mf.canonical_json_bytes(y.get(k)):
                        return f"key {k}: {y.get(k)!r} (recorded run) vs {x.get(k)!r} (re-run)"
    except Exception as e:  # a description must never break verification
        return f"content differs ({type(e).__name__})"
    return "content differs"


def verify_run(
    run_dir: str | os.PathLike, *, scratch: Path | None = None, progress: bool = False
) -> VerifyReport:
    """Re-execute a run from its manifest and compare every artifact.

    Parameters
    ----------
    run_dir : path
        A complete run directory (with ``manifest.json``).
    scratch : path, optional
        Where to re-execute; a temporary directory (removed afterwards) by default.
    """
    run_dir = Path(run_dir)
    man = mf.read_manifest(run_dir)
    report = VerifyReport()
    report.warnings = mf.environment_differences(man["environment"], mf.environment())

    data_dir = Path(man["dataset"]["path"])
    for name, digest in man["dataset"]["files"].items():
        p = data_dir / name
        status = (
            "missing" if not p.exists() else ("same" if mf.file_sha256(p) == digest else "differs")
        )
        report.add(
            f"input {name}", status, "" if status == "same" else "input file changed since the run"
        )
    recorded = man["artifacts"]
    current = mf.hash_artifacts(run_dir)
    for item, digest in recorded.items():
        if current.get(item) != digest:
            report.add(
                f"recorded {item}",
                "differs" if item in current else "missing",
                "artifact in the run directory no longer matches its manifest hash",
            )
    if not report.ok:
        return report  # no point re-executing against tampered inputs or artifacts

    p = man["parameters"]
    settings = RunSettings(
        dataset=p["dataset"],
        fiscal_year=p["fiscal_year"],
        engine=p["engine"],
        lang=p["lang"],
        seed=p["seed"],
    )
    sources = [Path(s) for s in man.get("notebook_paths", [])]
    for s in sources:
        if not s.exists() or mf.notebook_sha256(s) != man["notebooks"].get(s.name):
            report.warnings.append(f"notebook {s.name} differs from the one the run used")
    report_nb = next((s for s in sources if s.parent.name == "reports"), None)
    steps = [s for s in sources if s is not report_nb]
    own = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="mvm-verify-")) if own else Path(scratch)
    try:
        rerun = scratch / man["run_id"]
        rerun.mkdir(parents=True, exist_ok=False)
        execute_run(settings, rerun, notebooks=steps, report_notebook=report_nb, progress=progress)
        again = mf.hash_artifacts(rerun)
        for item in sorted(set(recorded) | set(again)):
            if item not in again:
                report.add(item, "missing", "not produced by the re-run")
            elif item not in recorded:
                report.add(item, "extra", "produced by the re-run but not in the manifest")
            elif again[item] == recorded[item]:
                report.add(item, "same")
            else:
                report.add(item, "differs", _first_difference(rerun / item, run_dir / item))
    finally:
        if own:
            shutil.rmtree(scratch, ignore_errors=True)
    return report


def list_runs(runs_dir: Path = RUNS_DIR) -> list[dict[str, Any]]:
    """Every run directory under ``runs_dir`` with its status (complete / incomplete)."""
    rows = []
    for d in sorted(Path(runs_dir).glob("FY*/*")):
        if not d.is_dir():
            continue
        params = {}
        if (d / "params.json").exists():
            params = json.loads((d / "params.json").read_text())
        complete = (d / mf.MANIFEST).exists()
        rows.append(
            {
                "fiscal_year": d.parent.name,
                "run_id": d.name,
                "status": "complete" if complete else "incomplete",
                "dataset": Path(params.get("dataset", "?")).name,
                "path": str(d),
            }
        )
    return rows


# ---------------------------------------------------------------- command line


def run_command(
    data: Annotated[Path, typer.Option("--data", help="Dataset directory.")] = DEFAULT_DATASET,
    fiscal_year: Annotated[
        int, typer.Option("--fiscal-year", help="Fiscal year to evaluate.")
    ] = 2023,
    engine: Annotated[str, typer.Option(help="duckdb (embedded) or spark.")] = "duckdb",
    lang: Annotated[str, typer.Option(help="Report language: ja or en.")] = "ja",
    seed: Annotated[int, typer.Option(help="The run's seed.")] = DEFAULT_SEED,
    runs_dir: Annotated[Path, typer.Option(help="Where run directories go.")] = RUNS_DIR,
) -> None:
    """Execute the evaluation notebooks into runs/FY<year>/<run-id>/ and write its manifest.

    The run directory is printed as the last line of standard output.
    """
    settings = RunSettings(
        dataset=str(data), fiscal_year=fiscal_year, engine=engine, lang=lang, seed=seed
    )
    run_dir = run_pipeline(settings, runs_dir=runs_dir, progress=sys.stderr.isatty())
    print(run_dir)


def verify_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with manifest.json.")],
) -> None:
    """Re-execute a run from its manifest and report every artifact that differs."""
    from rich.console import Console
    from rich.table import Table

    if not (run_dir / mf.MANIFEST).exists():
        raise UserError(f"{run_dir}: no manifest.json; not a complete run directory")
    report = verify_run(run_dir, progress=sys.stderr.isatty())
    console = Console()
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] environment differs: {w}")
    table = Table("item", "status", "detail", title=f"verify {run_dir.name}")
    for item, status, detail in report.rows:
        colour = "green" if status == "same" else "red"
        table.add_row(item, f"[{colour}]{status}[/{colour}]", detail)
    console.print(table)
    n_bad = sum(s != "same" for _, s, _ in report.rows)
    console.print(
        "verified: all artifacts match" if report.ok else f"FAILED: {n_bad} item(s) differ"
    )
    raise typer.Exit(0 if report.ok else 1)


def runs_command(
    runs_dir: Annotated[Path, typer.Option(help="Where run directories are.")] = RUNS_DIR,
) -> None:
    """List runs with their status."""
    from rich.console import Console
    from rich.table import Table

    table = Table("fiscal year", "run id", "status", "dataset")
    for r in list_runs(runs_dir):
        table.add_row(r["fiscal_year"], r["run_id"], r["status"], r["dataset"])
    Console().print(table)

"""Runs: execute the step notebooks with papermill, write the manifest, verify a run.

``run_pipeline`` executes ``notebooks/NN_*.ipynb`` in order into
``runs/FY<year>/<run-id>/notebooks/``, then the report notebook into ``report/``, and
writes ``manifest.json`` last. A failing notebook stops the run with the failing cell's
error and the path of the partial notebook; no manifest is written, so the run stays
marked incomplete. Runs never overwrite each other.

``verify_run`` first checks the inputs and every file of the run directory against the
SHA-256 hashes in the manifest (tamper evidence), then re-executes the run from its
manifest in a scratch directory and compares every file the re-run writes with the
recorded one, numbers within a stated tolerance (:mod:`analysis.runs.compare`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from analysis.config import DEFAULT_DATASET, DEFAULT_SEED, NOTEBOOKS_DIR, REPORTS_DIR, RUNS_DIR
from analysis.errors import UserError
from analysis.runs import manifest as mf
from analysis.runs.compare import (
    ABS_TOLERANCE,
    EXTRA,
    FAILED,
    MISSING,
    PIXEL_TOLERANCE,
    REL_TOLERANCE,
    Row,
    check_record,
    compare_files,
)

STEPS = (
    "01_cohort",
    "02_risk",
    "03_effect_exercise",
    "04_effect_costs",
    "05_targeting",
    "06_pooled",
)
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
    pool_from: int = 0
    """First fiscal year of the pooled evaluation (``06_pooled``); 0: none."""

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
        if self.pool_from and not 2000 <= self.pool_from < self.fiscal_year:
            raise UserError(
                f"--pool-from must be a fiscal year before --fiscal-year {self.fiscal_year}, "
                f"got {self.pool_from}"
            )


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
        "pool_from": settings.pool_from,
    }
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    executed = []
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task("run", total=len(notebooks) + (report_notebook is not None))
        for nb in notebooks:
            bar.update(task, description=f"{nb.stem}")
            out = run_dir / "notebooks" / nb.name
            _execute(nb, out, _declared(nb, params), run_dir, progress)
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


def _declared(nb: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The run's parameters a notebook declares in its ``parameters`` cell (papermill would
    inject the others too, as unknown parameters)."""
    import papermill as pm

    names = set(pm.inspect_notebook(str(nb)))
    return {k: v for k, v in params.items() if k in names}


def _write_params(run_dir: Path, params: dict[str, Any]) -> None:
    (run_dir / "params.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")


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
    _write_params(run_dir, params)
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
            *(("--pool-from", str(settings.pool_from)) if settings.pool_from else ()),
        ],
    )
    manifest["notebook_paths"] = [str(p) for p in sources]
    mf.write_manifest(run_dir, manifest)
    return run_dir


@dataclass
class VerifyReport:
    """Outcome of ``verify_run``: one row per input and per file, plus notes and warnings.

    Attributes
    ----------
    rows : list of Row
        Inputs and run files against the manifest, then the re-run against the run
        (:class:`analysis.runs.compare.Row`).
    warnings : list of str
        Differences between the installed environment and the manifest's.
    notes : list of str
        What was not done and why (a skipped re-run).
    manifest_sha256 : str
        SHA-256 of ``manifest.json``, to compare with a copy kept elsewhere.
    """

    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest_sha256: str = ""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def problems(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]


def _manifest_for_verify(run_dir: Path) -> dict[str, Any]:
    """The manifest, refused in one line when it is older than per-file hashes or broken."""
    man = mf.read_manifest(run_dir)
    version = man.get("manifest_version")
    path = run_dir / mf.MANIFEST
    if version != mf.MANIFEST_VERSION:
        raise UserError(
            f"{path}: manifest version {version} cannot be verified by this mvm-eval "
            f"(version {mf.MANIFEST_VERSION} needed: hashes of every file of the run); "
            "re-run the evaluation with `mvm-eval run` to get a verifiable run"
        )
    required = {
        "": ("run_id", "dataset", "parameters", "files", "environment", "notebooks"),
        "dataset": ("path", "files"),
        "parameters": ("dataset", "fiscal_year", "engine", "lang", "seed"),
    }
    for section, keys in required.items():
        part = man.get(section, {}) if section else man
        missing = [k for k in keys if not isinstance(part, dict) or k not in part]
        if missing:
            names = ", ".join(f"{section}.{k}" if section else k for k in missing)
            raise UserError(f"{path}: not a complete manifest (no {names})")
    return man


def _check_inputs(man: dict[str, Any], report: VerifyReport) -> None:
    data_dir = Path(man["dataset"]["path"])
    present = {}
    if data_dir.is_dir():
        present = {p.name: p for p in sorted(data_dir.iterdir()) if not p.is_dir()}
    else:
        report.notes.append(f"dataset directory {data_dir} not found")
    recorded = {name: {"sha256": digest} for name, digest in man["dataset"]["files"].items()}
    report.rows += check_record("input", recorded, present)


def _rerun(man: dict[str, Any], run_dir: Path, scratch: Path, progress: bool) -> list[Row]:
    """Re-execute the run into ``scratch`` and compare every file with the recorded one."""
    p = man["parameters"]
    settings = RunSettings(dataset=p["dataset"], fiscal_year=p["fiscal_year"],
                           engine=p["engine"], lang=p["lang"], seed=p["seed"],
                           pool_from=p.get("pool_from", 0))  # fmt: skip
    sources = [Path(s) for s in man.get("notebook_paths", [])]
    report_nb = next((s for s in sources if s.parent.name == "reports"), None)
    steps = [s for s in sources if s is not report_nb]
    rerun = scratch / man["run_id"]
    rerun.mkdir(parents=True, exist_ok=False)
    _write_params(rerun, p)
    try:
        execute_run(settings, rerun, notebooks=steps, report_notebook=report_nb, progress=progress)
    except Exception as e:  # a failing notebook or kernel: the run does not reproduce
        detail = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {e}"
        return [Row("re-run", "notebooks", FAILED, detail)]
    recorded, again = set(man["files"]), mf.run_files(rerun)
    rows = []
    for item in sorted(recorded | set(again)):
        if item not in again:
            rows.append(Row("re-run", item, MISSING, "not written by the re-run"))
        elif item not in recorded:
            rows.append(Row("re-run", item, EXTRA, "written by the re-run but not in the manifest"))
        else:
            c = compare_files(run_dir / item, again[item])
            rows.append(Row("re-run", item, c.status, c.detail))
    return rows


def verify_run(
    run_dir: str | os.PathLike, *, scratch: Path | None = None, progress: bool = False
) -> VerifyReport:
    """Check a run against its manifest, then re-execute it and compare every file.

    1. Tamper evidence: every input file and every file under the run directory is
       checked against the SHA-256 of its bytes in the manifest; files missing,
       unreadable, altered or not in the manifest are rows that fail. Rendered reports
       (``report/<lang>/report.*``, written after the manifest) are listed as
       ``not covered``.
    2. Reproduction, only when step 1 passed: the run is re-executed from its manifest
       and every file compared with the recorded one (:func:`analysis.runs.compare.compare_files`:
       numbers within ``REL_TOLERANCE`` / ``ABS_TOLERANCE``).

    Parameters
    ----------
    run_dir : path
        A complete run directory (with ``manifest.json``).
    scratch : path, optional
        Where to re-execute; a temporary directory (removed afterwards) by default.
    progress : bool
        Show a progress bar while re-executing.

    Returns
    -------
    VerifyReport

    Raises
    ------
    UserError
        No manifest, an unreadable one, or one older than per-file hashes.
    """
    run_dir = Path(run_dir)
    man = _manifest_for_verify(run_dir)
    report = VerifyReport(manifest_sha256=mf.file_sha256(run_dir / mf.MANIFEST))
    report.warnings = mf.environment_differences(man["environment"], mf.environment())
    for s in map(Path, man.get("notebook_paths", [])):
        if not s.exists() or mf.notebook_sha256(s) != man["notebooks"].get(s.name):
            report.warnings.append(f"notebook {s.name} differs from the one the run used")
    _check_inputs(man, report)
    report.rows += check_record(
        "file", man["files"], mf.run_files(run_dir), after_manifest=mf.rendered_after_manifest
    )
    if not report.ok:
        report.notes.append("re-run skipped: the inputs or the run directory do not match "
                            "the manifest")  # fmt: skip
        return report
    own = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="mvm-verify-")) if own else Path(scratch)
    try:
        report.rows += _rerun(man, run_dir, scratch, progress)
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
    pool_from: Annotated[
        int,
        typer.Option(
            "--pool-from",
            help="Also evaluate the offers of this fiscal year to --fiscal-year pooled "
            "(e.g. 2021); 0: the single year only.",
        ),
    ] = 0,
    runs_dir: Annotated[Path, typer.Option(help="Where run directories go.")] = RUNS_DIR,
) -> None:
    """Execute the evaluation notebooks into runs/FY<year>/<run-id>/ and write its manifest.

    The run directory is printed as the last line of standard output.
    """
    settings = RunSettings(
        dataset=str(data),
        fiscal_year=fiscal_year,
        engine=engine,
        lang=lang,
        seed=seed,
        pool_from=pool_from,
    )
    run_dir = run_pipeline(settings, runs_dir=runs_dir, progress=sys.stderr.isatty())
    print(run_dir)


def format_verify_report(report: VerifyReport, run_dir: Path) -> list[str]:
    """The lines ``mvm-eval verify`` prints: a header, one line per file, a verdict."""
    lines = [
        f"verify {run_dir}",
        f"manifest.json sha256 {report.manifest_sha256}",
        f"re-run tolerance: numbers relative {REL_TOLERANCE:g} or absolute {ABS_TOLERANCE:g}, "
        f"figures {PIXEL_TOLERANCE} colour level per pixel",
    ]
    lines += [f"warning: environment differs: {w}" for w in report.warnings]
    width = max((len(r.item) for r in report.rows), default=0)
    for r in report.rows:
        line = f"{r.check:<6}  {r.status:<16}  {r.item:<{width}}  {r.detail}"
        lines.append(line.rstrip())
    lines += [f"note: {n}" for n in report.notes]
    counts = Counter(r.status for r in report.rows)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if report.ok:
        lines.append(f"verified: every file matches ({summary})")
    else:
        named = "; ".join(f"{r.check} {r.item} {r.status}" for r in report.problems)
        lines.append(f"FAILED: {len(report.problems)} problem(s): {named}")
    return lines


def verify_command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with manifest.json.")],
) -> None:
    """Check every file of a run against its manifest, re-execute the run and compare.

    Prints one line per input and per file (same / within tolerance / differs / missing /
    extra / unreadable / not covered) and exits with status 1 if anything fails.
    """
    report = verify_run(run_dir, progress=sys.stderr.isatty())
    for line in format_verify_report(report, run_dir):
        print(line)
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

"""``mvm-eval bench cohort``: time the three cohorts on an engine against plain pandas."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from analysis.errors import UserError

DEFAULT_MEMORY_LIMIT = "1GB"
"""DuckDB's memory limit in the benchmark (the engine spills beyond it)."""

_BYTES_PER_CELL = 48
"""Rough pandas footprint of one cell (strings as Python objects) for the memory budget."""


def _peak_rss_mb(proc: subprocess.Popen, interval: float = 0.1) -> tuple[int, float]:
    """Wait for ``proc``; return its exit code and the peak RSS of it and its children (MB)."""
    import psutil

    peak = 0
    try:
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                rss = p.memory_info().rss + sum(
                    c.memory_info().rss for c in p.children(recursive=True)
                )
            except psutil.Error:
                rss = 0
            peak = max(peak, rss)
            time.sleep(interval)
    except psutil.NoSuchProcess:
        pass
    return proc.wait(), peak / 2**20


def _phase(
    kind: str,
    dataset: str,
    engine: str,
    fiscal_year: int,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> dict:
    """Run one timed phase in a subprocess; return its JSON result plus ``peak_rss_mb``."""
    code = (
        "from analysis.cohort.cli import run_phase; "
        f"run_phase({kind!r}, {dataset!r}, {engine!r}, {fiscal_year}, {memory_limit!r}, "
        f"{threads!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out_lines: list[str] = []
    import threading

    reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout))
    reader.start()
    rc, peak = _peak_rss_mb(proc)
    reader.join()
    if rc != 0:
        raise UserError(f"bench cohort: the {kind} phase failed (exit {rc})")
    result = json.loads(out_lines[-1])
    result["peak_rss_mb"] = round(peak)
    return result


def run_phase(
    kind: str,
    dataset: str,
    engine: str,
    fiscal_year: int,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> None:
    """Build the three default cohorts with ``kind`` (``engine`` or ``pandas``); print JSON.

    The time runs from opening the Parquet files to the last person-level table; library
    imports (pandas, the Ibis backend's modules) come before it.
    """
    from analysis.cohort.spec import default_specs

    specs = default_specs(fiscal_year)
    if kind == "engine" and engine == "duckdb":
        import ibis

        ibis.duckdb  # noqa: B018  (load the backend's modules before the clock starts)
    t0 = time.perf_counter()
    if kind == "engine":
        from analysis.cohort import build_cohorts, connect

        con = connect(
            dataset, engine=engine, validate=False, memory_limit=memory_limit, threads=threads
        )
        cohorts = build_cohorts(con, specs)
    else:
        from analysis.cohort.reference import build_cohort_pandas, read_tables

        tabs = read_tables(dataset)
        cohorts = {k: build_cohort_pandas(tabs, s) for k, s in specs.items()}
    seconds = time.perf_counter() - t0
    counts = {k: c.attrition.final for k, c in cohorts.items()}
    tables = [
        getattr(c, t) for c in cohorts.values() for t in ("baseline", "outcomes", "panel_monthly")
    ]
    results = sum(int(df.memory_usage(index=True).sum()) for df in tables) / 2**20
    print(
        json.dumps({"seconds": seconds, "cohort_sizes": counts, "results_mb": results}), flush=True
    )


def _pandas_footprint_mb(dataset: Path) -> float:
    import pyarrow.parquet as pq

    cells = 0
    for p in dataset.glob("*.parquet"):
        md = pq.read_metadata(p)
        cells += md.num_rows * md.num_columns
    return cells * _BYTES_PER_CELL / 2**20


def bench_cohort(
    population: Annotated[int, typer.Option(help="Residents of the simulated city.")] = 200_000,
    engine: Annotated[str, typer.Option(help="duckdb or spark.")] = "duckdb",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
    fiscal_year: Annotated[int, typer.Option(help="Fiscal year of the cohorts.")] = 2023,
    seed: Annotated[int, typer.Option(help="Seed of the simulated city.")] = 42,
    dataset: Annotated[
        Path | None, typer.Option(help="Use this dataset instead of simulating one.")
    ] = None,
    pandas_budget_mb: Annotated[
        int, typer.Option(help="Skip the pandas baseline above this estimated memory.")
    ] = 6000,
    memory_limit: Annotated[
        str | None,
        typer.Option(help="DuckDB memory limit (spills to a temporary directory beyond it)."),
    ] = DEFAULT_MEMORY_LIMIT,
    threads: Annotated[
        int | None, typer.Option(help="DuckDB worker threads (default: all cores).")
    ] = None,
) -> None:
    """Build the three cohorts on a synthetic city; compare with the plain-pandas baseline.

    Each phase runs in its own process so that its peak memory (with Spark's JVM) is
    measured alone. DuckDB works within ``--memory-limit`` and spills beyond it, so
    that its share of the peak stays flat as the data grows; the pandas results
    themselves (one row per person, 36 per person in the panel) grow with the cohorts.
    The last line (with ``--json``) is one JSON object: ``population, enrollees,
    claim_rows, engine, engine_seconds, pandas_seconds, speedup, peak_rss_mb`` and more;
    ``results_mb`` is the memory of the returned tables themselves (person-id strings,
    shared between a person's rows, not counted), the part of the peak that grows with
    the cohorts whatever the engine.
    """
    from analysis.cohort.engine import ENGINES, require_spark

    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "spark":
        require_spark()
    if population <= 0:
        raise UserError(f"--population must be positive, got {population}")
    from analysis.data.synthetic.cli import bench_dataset

    with tempfile.TemporaryDirectory(prefix="mvm-bench-cohort-") as tmp:
        path = bench_dataset(dataset, population, seed, tmp)
        result = _bench(
            path, population, engine, fiscal_year, pandas_budget_mb, memory_limit, threads
        )
    if dataset is not None:
        result["population"] = _meta_population(Path(dataset))
    for key, value in result.items():
        if key != "cohort_sizes":
            typer.echo(f"{key:>22}: {value}")
    if json_out:
        typer.echo(json.dumps(result))


def _meta_population(path: Path) -> int | None:
    from analysis.data import load_dataset

    meta = load_dataset(path).meta
    return meta.get("population", meta.get("parameters", {}).get("population"))


def _bench(
    path: Path,
    population: int,
    engine: str,
    fy: int,
    budget_mb: int,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> dict:
    import pyarrow.parquet as pq

    from analysis.data import load_dataset

    ds = load_dataset(path)
    enrollees = pq.read_table(ds.path / "enrollment.parquet", columns=["person_id"])
    n_enrollees = len(set(enrollees.column("person_id").to_pylist()))
    rows = ds.meta.get("rows", {})
    eng = _phase("engine", str(path), engine, fy, memory_limit, threads)
    footprint = _pandas_footprint_mb(path)
    pandas = None
    if footprint <= budget_mb:
        pandas = _phase("pandas", str(path), engine, fy)
    pandas_seconds = None if pandas is None else round(pandas["seconds"], 2)
    return {
        "population": population,
        "enrollees": n_enrollees,
        "claim_rows": rows.get("claims"),
        "diagnosis_rows": rows.get("claim_diagnoses"),
        "engine": engine,
        "memory_limit": memory_limit if engine == "duckdb" else None,
        "threads": threads if engine == "duckdb" else None,
        "engine_seconds": round(eng["seconds"], 2),
        "pandas_seconds": pandas_seconds,
        "speedup": None if pandas is None else round(pandas["seconds"] / eng["seconds"], 2),
        "peak_rss_mb": eng["peak_rss_mb"],
        "results_mb": round(eng["results_mb"], 2),
        "pandas_peak_rss_mb": None if pandas is None else pandas["peak_rss_mb"],
        "pandas_skipped_estimate_mb": None if pandas is not None else round(footprint),
        "cohort_sizes": eng["cohort_sizes"],
        "sizes_match": None if pandas is None else eng["cohort_sizes"] == pandas["cohort_sizes"],
    }

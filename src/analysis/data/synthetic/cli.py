"""Command-line entry points: ``mvm-eval simulate`` and ``mvm-eval bench simulate``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from analysis.config import DEFAULT_DATASET, DEFAULT_POPULATION, DEFAULT_SEED
from analysis.data.synthetic.programs import HIDDEN_CONFOUNDING
from analysis.errors import UserError


def parse_years(years: str) -> tuple[int, int]:
    """Parse ``"2019-2024"`` (or a single year ``"2023"``) into ``(first, last)``.

    Raises
    ------
    UserError
        If the text is not a year range with first <= last.
    """
    m = re.fullmatch(r"\s*(\d{4})\s*(?:[-–]\s*(\d{4})\s*)?", years or "")
    if not m:
        raise UserError(f"--years must look like 2019-2024, got {years!r}")
    first = int(m.group(1))
    last = int(m.group(2) or first)
    if first > last:
        raise UserError(f"--years: first year {first} is after last year {last}")
    return first, last


def simulate(
    population: Annotated[int, typer.Option(help="Residents of the city (NHI is about 22%).")] = (
        DEFAULT_POPULATION
    ),
    years: Annotated[str, typer.Option(help="Fiscal years, first-last.")] = "2019-2024",
    seed: Annotated[int, typer.Option(help="Seed of every random stream.")] = DEFAULT_SEED,
    out: Annotated[Path, typer.Option(help="Dataset directory to write.")] = DEFAULT_DATASET,
    uptake: Annotated[
        float, typer.Option(help="Multiplies the odds of program uptake (1 = Kashima FY2023).")
    ] = 1.0,
    hidden_confounding: Annotated[
        float,
        typer.Option(
            help="Uptake log-odds per SD of the unobserved motivation (default 0.4: modest "
            "unmeasured confounding; 0: participation depends only on the recorded "
            "baseline, so adjusted estimates are unbiased)."
        ),
    ] = HIDDEN_CONFOUNDING,
    replace: Annotated[bool, typer.Option(help="Overwrite an existing dataset.")] = False,
) -> None:
    """Write the synthetic municipality (all contract tables, truth.json, truth_risk.parquet)."""
    from analysis.data.dataset import prepare_output_dir
    from analysis.data.synthetic.city import simulate as run

    first, last = parse_years(years)
    prepare_output_dir(out, replace=replace)  # one-line errors before any work
    t0 = time.perf_counter()
    path = run(
        population=population,
        years=(first, last),
        seed=seed,
        out=out,
        uptake=uptake,
        hidden_confounding=hidden_confounding,
        replace=replace,
        progress=sys.stderr.isatty(),
    )
    meta = json.loads((path / "dataset.json").read_text(encoding="utf-8"))
    rows = meta["rows"]
    typer.echo(
        f"wrote {path} in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in rows.items())
    )


def _peak_rss_mb(proc: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``proc`` while polling its resident memory; return (exit code, peak MB)."""
    import psutil

    peak = 0
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = p.memory_info().rss
            rss += sum(c.memory_info().rss for c in p.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    return proc.returncode, peak / 2**20


def bench_simulate(
    populations: Annotated[str, typer.Option(help="Comma-separated city sizes.")] = (
        "70000,1000000"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
) -> None:
    """Time ``simulate`` for each size in a subprocess; print wall time, peak RSS and rows."""
    try:
        sizes = [int(s) for s in populations.split(",") if s.strip()]
    except ValueError:
        raise UserError(
            f"--populations must be comma-separated integers, got {populations!r}"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise UserError(f"--populations must be positive integers, got {populations!r}")
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="mvm-bench-") as tmp:
            out = Path(tmp) / "city"
            code = (
                "from analysis.data.synthetic import simulate; "
                f"simulate(population={size}, out={str(out)!r})"
            )
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", code])
            rc, peak = _peak_rss_mb(proc)
            wall = time.perf_counter() - t0
            if rc != 0:
                raise UserError(f"simulate failed for population {size} (exit {rc})")
            meta = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
        persons = meta["rows"]["enrollment"]
        r = {
            "population": size,
            "seconds": round(wall, 1),
            "peak_rss_mb": round(peak),
            "enrollment_rows": persons,
            "rows": meta["rows"],
        }
        results.append(r)
        typer.echo(
            f"population {size:>9,}: {wall:7.1f} s, peak RSS {peak:7.0f} MB, "
            f"enrollment rows {persons:,}, claims {meta['rows'].get('claims', 0):,}, "
            f"diagnoses {meta['rows'].get('claim_diagnoses', 0):,}"
        )
    if json_out:
        typer.echo(json.dumps({"bench": "simulate", "results": results}))


def bench_dataset(dataset: Path | None, population: int, seed: int, tmp: str | Path) -> Path:
    """The dataset a benchmark runs on: ``dataset`` if given, else a city of
    ``population`` simulated into ``tmp`` (its time printed)."""
    if dataset is not None:
        return Path(dataset)
    from analysis.data.synthetic import simulate

    path = Path(tmp) / "city"
    t0 = time.perf_counter()
    simulate(population=population, seed=seed, out=path)
    typer.echo(f"simulated population {population:,} in {time.perf_counter() - t0:.1f} s")
    return path

"""Command-line entry points of the data area: ``import``, ``export``, ``validate``,
``bench import`` and ``bench validate``. Heavy libraries are imported inside the functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from analysis.errors import UserError

FORMATS_IN = ("csv",)
FORMATS_OUT = ("csv-ja",)


def _tables_option(values: list[str] | None) -> dict[str, str]:
    out = {}
    for v in values or []:
        name, sep, file = v.partition("=")
        if not sep or not name or not file:
            raise UserError(f"--table {v!r}: expected NAME=FILE, e.g. --table checkups=kenshin.csv")
        out[name.strip()] = file.strip()
    return out


def import_command(
    in_dir: Annotated[
        Path, typer.Option("--in", help="Directory of CSV exports (never modified).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Dataset directory to create, e.g. data/city.")
    ],
    format: Annotated[str, typer.Option("--format", help="Input format.")] = "csv",
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Header mapping YAML (merged over the default)."),
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help="NAME=FILE for a file whose name does not tell the table."),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing --out.")] = False,
) -> None:
    """Import municipal CSV exports (UTF-8 or CP932, Japanese headers, 和暦) with pseudonymised ids.

    The key for the keyed hashes is read from MVM_EVAL_PSEUDONYM_KEY. Rows that break a
    rule are written to OUT/rejects/<table>.csv with their line number and reason.
    """
    from analysis.data.importer import import_csv

    if format not in FORMATS_IN:
        raise UserError(f"--format {format!r}: expected one of {', '.join(FORMATS_IN)}")
    result = import_csv(in_dir, out, mapping=mapping, tables=_tables_option(table), replace=replace)
    _print_import(result)


def _print_import(result) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"import → {result.out}")
    for c, just in [
        ("table", "left"),
        ("file", "left"),
        ("encoding", "left"),
        ("read", "right"),
        ("imported", "right"),
        ("rejected", "right"),
        ("reasons", "left"),
    ]:
        t.add_column(c, justify=just)
    for i in result.tables.values():
        reasons = "; ".join(
            f"{n:,} {r}" for r, n in sorted(i.rejects_by_rule.items(), key=lambda kv: -kv[1])[:3]
        )
        t.add_row(
            i.table,
            i.file,
            i.encoding,
            f"{i.read:,}",
            f"{i.imported:,}",
            f"{i.rejected:,}",
            reasons,
        )
    Console().print(t)
    for i in result.tables.values():
        if i.placed_by == "headers":
            print(f"{i.file}: recognised as {i.table} by its headers")
    for i in result.tables.values():
        if i.ignored:
            print(f"{i.file}: ignored column(s) not in the mapping: {i.ignored_text()}")
    if result.skipped:
        print(f"skipped (not imported): {', '.join(result.skipped)}")
    if any(i.ignored for i in result.tables.values()):
        print("to import an ignored column, add its header to a mapping file (--mapping FILE)")
    if any(i.rejected for i in result.tables.values()):
        print(f"rejected rows are listed in {result.out / 'rejects'}")


def _is_export_dir(path: Path) -> bool:
    """Whether ``path`` holds only files an earlier csv-ja export writes (one per table)."""
    from analysis.data.contract import TABLES

    names = {f"{t.ja}.csv" for t in TABLES.values()}
    return all(p.is_file() and p.name in names for p in path.iterdir())


def export_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory to export.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the CSV files to.")],
    format: Annotated[str, typer.Option("--format", help="Output format.")] = "csv-ja",
    date_style: Annotated[
        str, typer.Option("--date-style", help="和暦 style: kanji (令和5年4月1日), short, padded.")
    ] = "kanji",
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing --out.")] = False,
) -> None:
    """Export a dataset as CP932 CSV with Japanese headers and 和暦 dates (csv-ja)."""
    from analysis.data.dataset import prepare_output_dir
    from analysis.data.export import export_csv_ja
    from analysis.data.validation import open_dataset

    if format not in FORMATS_OUT:
        raise UserError(f"--format {format!r}: expected one of {', '.join(FORMATS_OUT)}")
    ds = open_dataset(dataset)
    prepare_output_dir(out, replace=replace, replaceable=_is_export_dir, what="a csv-ja export")
    try:
        files = export_csv_ja(ds, out, date_style=date_style, replace=replace)
    except OSError as e:
        raise UserError(f"--out {out}: {e.strerror or e}") from None
    for name, path in files.items():
        print(f"{name:<20} {path}")


def validate_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory to check.")],
) -> None:
    """Check a dataset against the table contract; exit 0 when valid, 1 otherwise."""
    from rich.console import Console
    from rich.table import Table

    from analysis.data.validation import validate_dataset

    report = validate_dataset(dataset)
    console = Console()
    console.print(report.summary().splitlines()[0])
    if report.ok:
        return
    t = Table(show_lines=False)
    for c in ("table", "rule", "rows", "first examples"):
        t.add_column(c, justify="right" if c == "rows" else "left")
    for f in report.findings:
        t.add_row(f.table, f.rule, f"{f.n_rows:,}", ", ".join(f.examples))
    console.print(t)
    raise typer.Exit(1)


def bench_import(
    rows: Annotated[
        int, typer.Option("--rows", help="Rows of the generated claims CSV.")
    ] = 1_000_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Generate a CP932 claims CSV with Japanese headers and time its import (rows/s, peak RSS)."""
    if rows < 1000:
        raise UserError("--rows must be at least 1000")
    figures = _run_import_bench(rows)
    if json_out:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    for k, v in figures.items():
        print(f"{k:<24} {v:,.2f}" if isinstance(v, float) else f"{k:<24} {v}")


_BENCH_PERSONS = 15_000
_BENCH_CHILD = """
import json, sys, time
from analysis.data.importer import import_csv
t0, c0 = time.perf_counter(), time.process_time()
res = import_csv(sys.argv[1], sys.argv[2])
t1, c1 = time.perf_counter(), time.process_time()
from analysis.data.validation import validate_dataset
rep = validate_dataset(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "import_cpu_s": c1 - c0, "validate_s": t2 - t1, "valid": rep.ok,
                  "imported": res.tables["claims"].imported,
                  "rejected": res.tables["claims"].rejected}))
"""


def _write_bench_csv(in_dir: Path, rows: int, seed: int = 0) -> None:
    """Enrollment, one checkup and one diagnosis per person, and ``rows`` claims (CP932)."""
    import numpy as np
    import pandas as pd

    from analysis.seeds import rng

    g = rng(seed, "bench", "import")
    n = _BENCH_PERSONS
    pid = np.array([f"{i:08d}" for i in range(1, n + 1)])
    birth = pd.Timestamp("1950-01-01") + pd.to_timedelta(g.integers(0, 365 * 30, n), unit="D")
    pd.DataFrame(
        {
            "被保険者番号": pid,
            "世帯番号": [f"H{i // 2:07d}" for i in range(n)],
            "性別": g.integers(1, 3, n),
            "生年月日": birth.strftime("%Y/%m/%d"),
            "資格取得日": "平成20年4月1日",
            "資格喪失日": "",
        }
    ).to_csv(in_dir / "資格.csv", index=False, encoding="cp932")
    exam_age_ok = (pd.Timestamp("2023-06-01") - birth).days // 365 <= 74
    pd.DataFrame(
        {
            "被保険者番号": pid[exam_age_ok],
            "健診受診日": "R5.6.1",
            "身長": "１６０．５",
            "体重": "55.0",
            "HbA1c": "5.6",
            "尿蛋白": "－",
        }
    ).to_csv(in_dir / "健診.csv", index=False, encoding="cp932")
    months = np.array([f"R{y}.{m}" for y in (2, 3, 4, 5) for m in range(1, 13)])
    settings = np.array(["入院", "入院外", "調剤", "歯科"])
    claim_id = np.char.add("K", np.char.zfill(np.arange(rows).astype(str), 9))
    pd.DataFrame(
        {
            "レセプト番号": claim_id,
            "被保険者番号": pid[g.integers(0, n, rows)],
            "診療年月": months[g.integers(0, len(months), rows)],
            "入外区分": settings[g.integers(0, 4, rows)],
            "点数": g.integers(0, 20_000, rows),
            "診療実日数": g.integers(0, 31, rows),
        }
    ).to_csv(in_dir / "レセプト.csv", index=False, encoding="cp932")
    pd.DataFrame(
        {"レセプト番号": claim_id[: min(rows, n)], "傷病名コード": "E11.9", "主傷病": "1"}
    ).to_csv(in_dir / "傷病名.csv", index=False, encoding="cp932")


def _run_import_bench(rows: int) -> dict:
    import os
    import resource
    import subprocess
    import tempfile
    import time

    from analysis.config import PSEUDONYM_KEY_ENV

    with tempfile.TemporaryDirectory(prefix="mvm-bench-import-") as tmp:
        in_dir = Path(tmp) / "in"
        in_dir.mkdir()
        t0 = time.perf_counter()
        _write_bench_csv(in_dir, rows)
        gen_s = time.perf_counter() - t0
        size_mb = (in_dir / "レセプト.csv").stat().st_size / 1e6
        env = dict(os.environ, **{PSEUDONYM_KEY_ENV: "benchmark key, not for real data"})
        proc = subprocess.run(
            [sys.executable, "-c", _BENCH_CHILD, str(in_dir), str(Path(tmp) / "out")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise UserError(f"bench import failed: {proc.stderr.strip().splitlines()[-1]}")
        child = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    total_rows = rows + 2 * _BENCH_PERSONS + min(rows, _BENCH_PERSONS)
    return {
        "claims_rows": rows,
        "claims_csv_mb": round(size_mb, 1),
        "generate_s": round(gen_s, 2),
        "import_s": round(child["import_s"], 2),
        "import_cpu_s": round(child["import_cpu_s"], 2),
        "claims_rows_per_s": round(rows / child["import_s"]),
        "all_rows_per_s": round(total_rows / child["import_s"]),
        "peak_rss_mb": round(peak_mb),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "validate_s": round(child["validate_s"], 2),
        "valid": child["valid"],
        "claims_imported": child["imported"],
        "claims_rejected": child["rejected"],
    }


# The child reports its own peak: VmHWM is this process image's high-water mark, whereas
# the rusage maximum of a child carries over the parent's resident size from before exec.
_VALIDATE_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from analysis.data.validation import validate_dataset
t1 = time.perf_counter()
rep = validate_dataset(sys.argv[1], memory_limit=sys.argv[2])
t2 = time.perf_counter()
try:
    with open("/proc/self/status") as f:
        peak = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": t2 - t1, "import_seconds": t1 - t0, "valid": rep.ok,
                  "rules": rep.n_rules, "rows": sum(rep.rows.values()), "peak_mb": peak,
                  "findings": [[f.table, f.rule, f.n_rows] for f in rep.findings]}))
"""


def bench_validate(
    population: Annotated[int, typer.Option(help="Residents of the simulated city.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated city.")] = 42,
    dataset: Annotated[
        Path | None, typer.Option(help="Validate this dataset instead of simulating one.")
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(help="DuckDB memory limit while validating (default: the validator's)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
) -> None:
    """Time ``mvm-eval validate`` (the check every ``mvm-eval run`` starts with) on a city.

    The validation runs in a process of its own, which reports its peak resident memory;
    ``seconds`` is the validation itself, after the library's imports.
    """
    import tempfile

    from analysis.data.synthetic.cli import bench_dataset
    from analysis.data.validation import MEMORY_LIMIT

    if population <= 0:
        raise UserError(f"--population must be positive, got {population}")
    if dataset is not None and not (dataset / "dataset.json").is_file():
        raise UserError(f"--dataset {dataset}: not a dataset directory (no dataset.json)")
    with tempfile.TemporaryDirectory(prefix="mvm-bench-validate-") as tmp:
        path = bench_dataset(dataset, population, seed, tmp)
        figures = _validate_in_child(path, memory_limit or MEMORY_LIMIT)
    if dataset is not None:
        meta = json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))
        population = meta.get("parameters", {}).get("population")
    figures = {"population": population} | figures
    for k, v in figures.items():
        if k != "findings":
            typer.echo(f"{k:>22}: {v}")
    if json_out:
        typer.echo(json.dumps(figures))


def _validate_in_child(path: Path, memory_limit: str) -> dict:
    import os
    import subprocess
    import time

    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _VALIDATE_CHILD, str(path), memory_limit],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise UserError(f"bench validate: validating {path} failed (exit {proc.returncode})")
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "rows": child["rows"],
        "rules": child["rules"],
        "valid": child["valid"],
        "seconds": round(child["seconds"], 2),
        "process_seconds": round(wall, 2),
        "peak_rss_mb": round(child["peak_mb"]),
        "memory_limit": memory_limit,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "findings": child["findings"],
    }

"""Run manifests: what an auditor needs to re-run a result and check it is the same.

``manifest.json`` is written last into a run directory (atomic rename), so its presence
marks a complete run. It records input file hashes, parameters and seed, package versions
and the lock-file hash, the git commit and dirty flag, the hashes of the source notebooks
(their cell sources: committed preview outputs do not change what a run executes), and
two hashes of *every file in the run directory* (``files``):

- ``sha256``: of the file's bytes, the tamper evidence: any change to a file is seen;
- ``canonical_sha256``: of its *canonical form*: tables and JSON numbers rounded to
  ``SIGNIFICANT_DIGITS`` significant digits, executed notebooks reduced to the cells that
  ran (outputs and papermill's injected parameters left out), other files as bytes.
  Equal canonical hashes mean equal results to that precision, so two runs can be
  compared by hash alone; a value that falls on a rounding boundary can still make them
  differ by noise, which is why ``verify`` compares a re-run's values with a tolerance
  (:mod:`analysis.runs.compare`).

Files the report renderer writes later (``report/<lang>/report.<format>``) cannot be in
the manifest; :func:`rendered_after_manifest` names them.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import stat
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.config import PROJ_ROOT
from analysis.data.dataset import file_sha256
from analysis.errors import UserError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2
"""Version 2: ``files`` holds both hashes of every file of the run (version 1 only had
canonical hashes of ``artifacts/``)."""
SIGNIFICANT_DIGITS = 6
"""Precision of the canonical form of artifact tables and numbers (stated in the manifest)."""

KEY_PACKAGES = (
    "mvm-eval",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "lifelines",
    "scikit-survival",
    "econml",
    "duckdb",
    "ibis-framework",
    "pyspark",
    "pandera",
    "rdrobust",
    "matplotlib",
    "papermill",
    "nbconvert",
    "pypandoc-binary",
    "typst",
)


def _round_value(x: Any) -> Any:
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return repr(x)
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(x, dict):
        return {str(k): _round_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round_value(v) for v in x]
    return x


def canonical_table_bytes(df: pd.DataFrame) -> bytes:
    """CSV bytes of a table with floats rounded to ``SIGNIFICANT_DIGITS`` significant digits."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g", lineterminator="\n")
    cols = ",".join(f"{c}:{t}" for c, t in df.dtypes.astype(str).items())
    return (cols + "\n" + buf.getvalue()).encode("utf-8")


def canonical_json_bytes(obj: Any) -> bytes:
    return json.dumps(_round_value(obj), sort_keys=True, ensure_ascii=False).encode("utf-8")


def canonical_sha256(path: Path) -> str:
    """Hash of a file's canonical form: tables, JSON, executed notebooks; other files as bytes."""
    if path.suffix == ".parquet":
        data = canonical_table_bytes(pd.read_parquet(path))
    elif path.suffix == ".json":
        data = canonical_json_bytes(json.loads(path.read_text(encoding="utf-8")))
    elif path.suffix == ".ipynb":
        return notebook_sha256(path)
    else:
        return file_sha256(path)
    return hashlib.sha256(data).hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """What the manifest records of one file: size, SHA-256 of the bytes, canonical hash."""
    return {
        "size": path.stat().st_size,
        "sha256": file_sha256(path),
        "canonical_sha256": canonical_sha256(path),
    }


def run_files(run_dir: Path) -> dict[str, Path]:
    """Every entry under a run directory that is not a directory, ``manifest.json``
    excepted, keyed by its path relative to the run (``/``-separated).

    Hidden files and entries that are not regular files (links to directories, pipes)
    are included, so that nothing in a run directory goes unlisted.
    """
    run_dir = Path(run_dir)
    out = {}
    for root, dirs, files in os.walk(run_dir):
        here = Path(root)
        dirs.sort()
        names = files + [d for d in dirs if (here / d).is_symlink()]
        for name in names:
            rel = (here / name).relative_to(run_dir).as_posix()
            if rel != MANIFEST:
                out[rel] = here / name
    return dict(sorted(out.items()))


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is (or links to) a regular file, which can be read without blocking."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def hash_run_files(run_dir: Path) -> dict[str, dict[str, Any]]:
    """:func:`file_record` of every file of a run (:func:`run_files`).

    Raises
    ------
    UserError
        If an entry is not a regular file or cannot be read or parsed, naming it.
    """
    records = {}
    for rel, path in run_files(run_dir).items():
        if not is_regular_file(path):
            raise UserError(f"{path}: not a regular file; a run writes only files")
        try:
            records[rel] = file_record(path)
        except Exception as e:
            raise UserError(f"{path}: cannot be hashed: {type(e).__name__}: {e}") from None
    return records


def rendered_after_manifest(rel: str) -> bool:
    """Whether a run-relative path is a rendered report (``report/<lang>/report.<format>``),
    which ``mvm-eval report`` writes after the manifest."""
    from analysis.report.i18n import LANGS
    from analysis.report.render import EXECUTED, FORMATS

    parts = rel.split("/")
    return (
        len(parts) == 3
        and parts[0] == EXECUTED.parent.name
        and parts[1] in LANGS
        and parts[2] in {f"report.{fmt}" for fmt in FORMATS}
    )


def git_state(root: Path = PROJ_ROOT) -> dict[str, Any]:
    """Commit and dirty flag of the code, or ``None`` values outside a git checkout."""

    def _git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def environment() -> dict[str, Any]:
    """Python, platform, versions of the key packages and the lock-file hash."""
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    lock = PROJ_ROOT / "uv.lock"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "packages": versions,
        "lock_file_sha256": file_sha256(lock) if lock.exists() else None,
        "blas_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def environment_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human-readable differences between a manifest's environment and this one."""
    diffs = []
    if recorded.get("lock_file_sha256") != current.get("lock_file_sha256"):
        diffs.append("lock file differs from the one the run used")
    if recorded.get("python") != current.get("python"):
        diffs.append(f"python {recorded.get('python')} → {current.get('python')}")
    for pkg, ver in (recorded.get("packages") or {}).items():
        now = (current.get("packages") or {}).get(pkg)
        if now != ver:
            diffs.append(f"{pkg} {ver} → {now}")
    return diffs


def notebook_cells(nb: dict[str, Any]) -> list[list[str]]:
    """Type and source of each cell of a notebook, in order, papermill's
    ``injected-parameters`` cell left out: what a notebook executes."""
    return [
        [c.get("cell_type"), "".join(c.get("source", ""))]
        for c in nb.get("cells", [])
        if "injected-parameters" not in c.get("metadata", {}).get("tags", [])
    ]


def notebook_sha256(path: Path) -> str:
    """SHA-256 of a notebook's cells (:func:`notebook_cells`), outputs and metadata
    excluded: what a run executes, not what a previous execution showed. A notebook
    executed by papermill hashes like its source."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    payload = json.dumps(notebook_cells(nb), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def build_manifest(
    run_dir: Path,
    *,
    run_id: str,
    parameters: dict[str, Any],
    dataset_dir: Path,
    notebooks: list[Path],
    command: list[str],
) -> dict[str, Any]:
    """Assemble the manifest of a finished run (does not write it)."""
    inputs = {p.name: file_sha256(p) for p in sorted(dataset_dir.iterdir()) if p.is_file()}
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "parameters": parameters,
        "seed": parameters.get("seed"),
        "dataset": {"path": str(dataset_dir), "files": inputs},
        "code": git_state(),
        "environment": environment(),
        "notebooks": {p.name: notebook_sha256(p) for p in notebooks},
        "canonical_form": {
            "tables": f"CSV, floats to {SIGNIFICANT_DIGITS} significant digits",
            "json": f"numbers to {SIGNIFICANT_DIGITS} significant digits",
            "notebooks": "type and source of the cells executed",
            "other": "raw bytes",
        },
        "files": hash_run_files(run_dir),
    }


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest.json`` atomically (temp file + rename): the run's completion mark."""
    path = run_dir / MANIFEST
    tmp = run_dir / f".{MANIFEST}.tmp"
    tmp.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)
    return path


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of a run.

    Raises
    ------
    UserError
        If the run has no manifest or it is not a JSON object.
    """
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise UserError(f"{path}: no manifest; the run is incomplete or not a run directory")
    try:
        man = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not a readable manifest ({type(e).__name__}: {e})") from None
    if not isinstance(man, dict):
        raise UserError(f"{path}: not a readable manifest (not a JSON object)")
    return man

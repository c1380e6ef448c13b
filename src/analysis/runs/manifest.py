"""Run manifests: what an auditor needs to re-run a result and check it is the same.

``manifest.json`` is written last into a run directory (atomic rename), so its presence
marks a complete run. It records input file hashes, parameters and seed, package versions
and the lock-file hash, the git commit and dirty flag, the hashes of the source notebooks
(their cell sources: committed preview outputs do not change what a run executes),
and a hash of every artifact computed on a *canonical form*: tables and JSON numbers are
rounded to ``SIGNIFICANT_DIGITS`` significant digits before hashing, so harmless
floating-point noise (BLAS order, platform) does not break a reproduction, while any real
change does.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.config import PROJ_ROOT
from analysis.data.dataset import file_sha256

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
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


def artifact_hash(path: Path) -> str:
    """Hash of an artifact's canonical form (tables, JSON) or of its bytes (figures, other)."""
    if path.suffix == ".parquet":
        data = canonical_table_bytes(pd.read_parquet(path))
    elif path.suffix == ".json":
        data = canonical_json_bytes(json.loads(path.read_text(encoding="utf-8")))
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


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


def hash_artifacts(run_dir: Path) -> dict[str, str]:
    """Canonical hashes of every file under ``RUN_DIR/artifacts`` (keys relative to the run)."""
    base = run_dir / "artifacts"
    if not base.exists():
        return {}
    return {
        str(p.relative_to(run_dir)): artifact_hash(p)
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


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
            "other": "raw bytes",
        },
        "artifacts": hash_artifacts(run_dir),
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
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no manifest; the run is incomplete or not a run directory"
        )
    return json.loads(path.read_text(encoding="utf-8"))

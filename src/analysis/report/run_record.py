"""What the report knows about runs: fiscal year, the previous year's run, the run record.

Used by the report's year-over-year table (section 1) and its reproducibility section
(section 10). Paths shown to readers are relative (``runs/FY2023/<run-id>``) or folder
names, never machine-specific.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from analysis.config import RUNS_DIR
from analysis.runs import artifacts as art


def fiscal_year_of(run_dir: str | os.PathLike) -> int | None:
    """The run's fiscal year: ``params.json``, else the parent folder ``FY<year>``."""
    run_dir = Path(run_dir)
    params = run_dir / "params.json"
    if params.is_file():
        year = json.loads(params.read_text(encoding="utf-8")).get("fiscal_year")
        if year is not None:
            return int(year)
    m = re.fullmatch(r"FY(\d{4})", run_dir.resolve().parent.name)
    return int(m.group(1)) if m else None


def previous_run(run_dir: str | os.PathLike) -> Path | None:
    """The latest complete run (has ``manifest.json``) of the previous fiscal year.

    Looked for in ``<runs>/FY<year-1>/`` beside the run's own ``FY<year>`` folder.
    """
    run_dir = Path(run_dir).resolve()
    year = fiscal_year_of(run_dir)
    if year is None:
        return None
    folder = run_dir.parent.parent / f"FY{year - 1}"
    if not folder.is_dir():
        return None
    done = [p for p in folder.iterdir() if (p / "manifest.json").is_file()]
    return max(done, key=lambda p: ((p / "manifest.json").stat().st_mtime, p.name), default=None)


def wareki_fiscal_year(year: int) -> str:
    """Japanese era name of a fiscal year: 2023 -> ``令和5年度``, 2019 -> ``令和元年度``."""
    era, n = ("令和", year - 2018) if year >= 2019 else ("平成", year - 1988)
    return f"{era}{'元' if n == 1 else n}年度"


def effect_labels(run_dir: str | os.PathLike, lang: str) -> dict[str, str]:
    """``{outcome: label}`` of the run's effect tables in ``lang``."""
    labels: dict[str, str] = {}
    for step in ("03_effect_exercise", "04_effect_costs"):
        if art.has_artifact(run_dir, step, "effects"):
            eff = art.load_table(run_dir, step, "effects")
            labels.update(zip(eff["outcome"], eff[f"label_{lang}"], strict=True))
    return labels


def key_figures(run_dir: str | os.PathLike) -> dict[str, float | None]:
    """The figures compared year over year: counts, uptake, headline effects, ROI.

    Keys: ``n_enrolled``, ``n_examined``, ``program_n_offered``, ``program_n_enrolled``,
    ``effect:<outcome>`` (headline estimates; None when withheld) and ``roi``.
    """
    run_dir = Path(run_dir)
    out: dict[str, float | None] = {}
    if art.has_artifact(run_dir, "01_cohort", "key_numbers"):
        kn = art.load_numbers(run_dir, "01_cohort", "key_numbers")
        out["n_enrolled"], out["n_examined"] = kn.get("n_enrolled"), kn.get("n_examined")
    if art.has_artifact(run_dir, "03_effect_exercise", "participation"):
        part = art.load_table(run_dir, "03_effect_exercise", "participation")
        for col in ("n_offered", "n_enrolled"):
            # published counts are text ("3,939", "<10", "x"); hidden ones make the sum unknown
            vals = pd.to_numeric(part[col].astype(str).str.replace(",", ""), errors="coerce")
            out[f"program_{col}"] = None if vals.isna().any() else float(vals.sum())
    for step in ("03_effect_exercise", "04_effect_costs"):
        if art.has_artifact(run_dir, step, "effects"):
            eff = art.load_table(run_dir, step, "effects")
            for _, r in eff[eff["headline"].astype(bool)].iterrows():
                out[f"effect:{r['outcome']}"] = float(r["estimate"]) if bool(r["passed"]) else None
    if art.has_artifact(run_dir, "04_effect_costs", "roi"):
        roi = art.load_numbers(run_dir, "04_effect_costs", "roi")
        out["roi"] = roi.get("roi") if roi.get("passed") else None
    return out


def verify_command_text(run_dir: str | os.PathLike) -> str:
    """The exact command an auditor runs, with the run path relative to the project.

    ``runs/FY<year>/<run-id>`` when the run sits under a ``runs`` folder (the usual case),
    else ``FY<year>/<run-id>`` or the run folder name: never a machine-specific path.
    """
    path = Path(run_dir).resolve()
    try:
        rel = path.relative_to(RUNS_DIR.resolve())
        shown = f"runs/{rel.as_posix()}"
    except ValueError:
        parts = path.parts
        shown = (
            "/".join(parts[parts.index("runs") :])
            if "runs" in parts
            else "/".join(parts[-2:])
            if path.parent.name.startswith("FY")
            else path.name
        )
    return f"mvm-eval verify {shown}"


PROVENANCE_KEYS = ("run_id", "fiscal_year", "dataset", "data_hashes", "code_version",
                   "git_commit", "python", "packages", "lock_hash", "seed")  # fmt: skip


def _code_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("mvm-eval")
    except metadata.PackageNotFoundError:
        return None


def run_provenance(run_dir: str | os.PathLike) -> dict | None:
    """What section 10 shows about a run: ids, data hashes, code and environment.

    Read, in order of preference, from the run's ``manifest.json`` (when the report is
    executed after the run completed), else from ``params.json`` plus the dataset's file
    hashes and the running environment (``analysis.runs.manifest``), which is what the
    manifest will record for this run. Keys: :data:`PROVENANCE_KEYS`. ``None`` when the
    run has neither file. Dataset paths are shown by folder name only.
    """
    from analysis.runs import manifest as mf

    run_dir = Path(run_dir)
    if (run_dir / "manifest.json").is_file():
        man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        env, params = man.get("environment", {}), man.get("parameters", {})
        return {"run_id": man.get("run_id"), "fiscal_year": params.get("fiscal_year"),
                "dataset": Path(man.get("dataset", {}).get("path", "")).name,
                "data_hashes": man.get("dataset", {}).get("files", {}),
                "code_version": _code_version(), "git_commit": man.get("code", {}).get("commit"),
                "python": env.get("python"), "packages": env.get("packages", {}),
                "lock_hash": env.get("lock_file_sha256"), "seed": man.get("seed")}  # fmt: skip
    if not (run_dir / "params.json").is_file():
        return None
    params = json.loads((run_dir / "params.json").read_text(encoding="utf-8"))
    data_dir = Path(params["dataset"]) if params.get("dataset") else None
    hashes = {}
    if data_dir is not None and data_dir.is_dir():
        hashes = {p.name: mf.file_sha256(p) for p in sorted(data_dir.iterdir()) if p.is_file()}
    env = mf.environment()
    return {"run_id": run_dir.name, "fiscal_year": params.get("fiscal_year"),
            "dataset": data_dir.name if data_dir else None, "data_hashes": hashes,
            "code_version": _code_version(), "git_commit": mf.git_state()["commit"],
            "python": env["python"], "packages": env["packages"],
            "lock_hash": env["lock_file_sha256"], "seed": params.get("seed")}  # fmt: skip

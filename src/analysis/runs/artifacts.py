"""Run artifacts: the only way numbers travel from a step notebook to the report.

A run directory looks like this::

    runs/FY2023/<run-id>/
        params.json                 run parameters (dataset, fiscal year, seed, engine, lang)
        notebooks/NN_<step>.ipynb   executed step notebooks
        artifacts/<step>/<name>.parquet      tables
        artifacts/<step>/<name>.png          figures
        artifacts/<step>/<name>.json         key numbers
        artifacts/<step>/<name>.meta.json    caption, alt text, population, period (ja / en)
        cohorts/<name>/*.parquet|json        person-level cohort tables for the later steps
        report/annual_report.ipynb           the executed report notebook
        manifest.json                        written last: hashes of everything above
        report/<lang>/report.html|.pdf|.docx rendered later by `mvm-eval report` (not hashed)

Each save function writes the artifact and a ``.meta.json`` sidecar, so the report can
caption every table and figure in both languages and state its population and period.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

ARTIFACTS = "artifacts"
_TEXT = dict[str, str] | str | None


def artifact_dir(run_dir: str | os.PathLike, step: str) -> Path:
    """``RUN_DIR/artifacts/<step>``, created if needed."""
    if not step or "/" in step or step.startswith("."):
        raise ValueError(f"step must be a plain name such as '01_cohort', got {step!r}")
    d = Path(run_dir) / ARTIFACTS / step
    d.mkdir(parents=True, exist_ok=True)
    return d


def _bilingual(text: _TEXT) -> dict[str, str] | None:
    if text is None:
        return None
    if isinstance(text, str):
        return {"ja": text, "en": text}
    missing = {"ja", "en"} - set(text)
    if missing:
        raise ValueError(f"text needs both 'ja' and 'en'; missing {sorted(missing)}")
    return {"ja": text["ja"], "en": text["en"]}


def _write_meta(path: Path, kind: str, **fields: Any) -> None:
    meta = {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}
    path.with_suffix(".meta.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def save_table(
    df: pd.DataFrame,
    run_dir: str | os.PathLike,
    step: str,
    name: str,
    *,
    caption: _TEXT = None,
    population: _TEXT = None,
    period: _TEXT = None,
    published: bool = False,
) -> Path:
    """Write a table artifact as Parquet (index dropped) with its metadata.

    ``published=True`` marks tables that the report shows; they must already have passed
    small-cell suppression.
    """
    path = artifact_dir(run_dir, step) / f"{name}.parquet"
    df.reset_index(drop=True).to_parquet(path, index=False)
    _write_meta(
        path,
        "table",
        caption=_bilingual(caption),
        population=_bilingual(population),
        period=_bilingual(period),
        published=published,
        rows=len(df),
        columns=[str(c) for c in df.columns],
    )
    return path


def save_figure(
    fig,
    run_dir: str | os.PathLike,
    step: str,
    name: str,
    *,
    caption: _TEXT = None,
    alt: _TEXT = None,
    dpi: int = 150,
) -> Path:
    """Write a matplotlib figure as PNG with caption and alt text (ja / en)."""
    path = artifact_dir(run_dir, step) / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    _write_meta(path, "figure", caption=_bilingual(caption), alt=_bilingual(alt))
    return path


def save_figure_editions(fig, run_dir, step: str, name: str, *, caption, alt) -> list:
    """Save ``fig`` as artifact ``name`` and, when it can be redrawn (:func:`analysis.report.i18n.with_editions`),
    an edition ``name_<lang>`` in every other report language (its figure closed, so a
    notebook does not show it). Returns the paths written."""
    import matplotlib.pyplot as plt

    from analysis.report.i18n import LANGS

    paths = [save_figure(fig, run_dir, step, name, caption=caption, alt=alt)]
    drawn, draw = getattr(fig, "edition_lang", None), getattr(fig, "redraw_in", None)
    if drawn is None or draw is None:
        return paths
    for lang in (code for code in LANGS if code != drawn):
        other = draw(lang).figure
        try:
            paths.append(save_figure(other, run_dir, step, f"{name}_{lang}",
                                         caption=caption, alt=alt))  # fmt: skip
        finally:
            plt.close(other)
    return paths


def save_numbers(
    numbers: dict[str, Any], run_dir: str | os.PathLike, step: str, name: str = "key_numbers"
) -> Path:
    """Write a small JSON of key numbers (plain JSON types only)."""
    path = artifact_dir(run_dir, step) / f"{name}.json"
    path.write_text(
        json.dumps(numbers, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=True) + "\n",
        encoding="utf-8",
    )
    _write_meta(path, "numbers")
    return path


def _existing(run_dir: str | os.PathLike, step: str, name: str, suffix: str) -> Path:
    path = Path(run_dir) / ARTIFACTS / step / f"{name}{suffix}"
    if not path.exists():
        raise FileNotFoundError(f"{path}: artifact {step}/{name}{suffix} not found in the run")
    return path


def load_table(run_dir: str | os.PathLike, step: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(_existing(run_dir, step, name, ".parquet"))


def load_numbers(run_dir: str | os.PathLike, step: str, name: str = "key_numbers") -> dict:
    return json.loads(_existing(run_dir, step, name, ".json").read_text(encoding="utf-8"))


def figure_path(run_dir: str | os.PathLike, step: str, name: str) -> Path:
    return _existing(run_dir, step, name, ".png")


def artifact_meta(run_dir: str | os.PathLike, step: str, name: str) -> dict:
    """The ``.meta.json`` sidecar of an artifact."""
    return json.loads(_existing(run_dir, step, name, ".meta.json").read_text(encoding="utf-8"))


def has_artifact(run_dir: str | os.PathLike, step: str, name: str) -> bool:
    return (Path(run_dir) / ARTIFACTS / step / f"{name}.meta.json").exists()


def list_artifacts(run_dir: str | os.PathLike) -> list[Path]:
    """Every artifact file of a run (sidecars included), sorted, relative to the run."""
    root = Path(run_dir)
    base = root / ARTIFACTS
    if not base.exists():
        return []
    return sorted(p.relative_to(root) for p in base.rglob("*") if p.is_file())

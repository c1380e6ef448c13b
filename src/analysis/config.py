"""Project paths and environment settings (CohortMethod's "environment" group).

Study design never lives here: only where things are and how to reach them.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[2]
"""Repository root when the package is installed in development mode."""

DATA_DIR = Path(os.environ.get("MVM_EVAL_DATA_DIR", PROJ_ROOT / "data"))
RUNS_DIR = Path(os.environ.get("MVM_EVAL_RUNS_DIR", PROJ_ROOT / "runs"))
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
REPORTS_DIR = PROJ_ROOT / "reports"

DEFAULT_DATASET = DATA_DIR / "synthetic"
"""The embedded default: the synthetic municipality written by ``mvm-eval simulate``."""

DEFAULT_SEED = 42
DEFAULT_POPULATION = 70_000
DEFAULT_YEARS = (2019, 2024)

PSEUDONYM_KEY_ENV = "MVM_EVAL_PSEUDONYM_KEY"
"""Environment variable holding the key for keyed pseudonymisation (never written out)."""

MIN_CELL_COUNT = 10
"""Cells below this count are suppressed in anything published (NDB publication rule)."""

SPARK_MASTER = os.environ.get("MVM_EVAL_SPARK_MASTER", "local[2]")
"""``spark.master`` URL; a real cluster is configured here, never in a spec."""


def use_project_root() -> Path:
    """Make the project root the working directory and return it.

    The step notebooks' parameter defaults (``data/synthetic``, ``runs/dev``) are relative
    to the project root, but a JupyterLab kernel starts in ``notebooks/``. Runs pass
    absolute paths, so this changes nothing for them.
    """
    os.chdir(PROJ_ROOT)
    return PROJ_ROOT

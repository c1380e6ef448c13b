"""Datasets: the table contract, reading and writing, import, validation, synthetic data."""

from __future__ import annotations

import importlib

from analysis.data.contract import TABLES, table
from analysis.data.dataset import Dataset, DatasetWriter, load_dataset

_LAZY = {
    "simulate": "analysis.data.synthetic",
    "validate_dataset": "analysis.data.validation",
    "ensure_valid": "analysis.data.validation",
    "import_csv": "analysis.data.importer",
    "export_csv_ja": "analysis.data.export",
}

__all__ = ["TABLES", "Dataset", "DatasetWriter", "load_dataset", "table", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'analysis.data' has no attribute {name!r}")

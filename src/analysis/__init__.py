"""mvm-eval: evaluation toolkit for municipal preventive-health programs on NHI data.

The public interface is re-exported here lazily, so ``import analysis`` is fast and
``from analysis import estimate_effect`` works as documented in the README.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_dataset": "analysis.data.dataset",
    "simulate": "analysis.data.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")

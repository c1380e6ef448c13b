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
    "validate_dataset": "analysis.data.validation",
    "connect": "analysis.cohort",
    "build_cohort": "analysis.cohort",
    "build_cohorts": "analysis.cohort",
    "default_specs": "analysis.cohort",
    "load_spec": "analysis.cohort",
    "stratify": "analysis.risk",
    "fit_risk_model": "analysis.risk",
    "estimate_effect": "analysis.causal",
    "balance": "analysis.causal",
    "did_effect": "analysis.causal",
    "rd_effect": "analysis.causal",
    "iv_effect": "analysis.causal",
    "e_value": "analysis.causal",
    "combine_results": "analysis.causal",
    "suppress_small_counts": "analysis.report.publish",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")

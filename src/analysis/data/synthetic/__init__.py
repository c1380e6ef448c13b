"""The synthetic municipality: a Kashima-sized NHI population with planted program effects.

``simulate`` writes every table of the contract plus ``truth.json`` and
``truth_risk.parquet``; ``Effects`` sets the planted effect sizes.
"""

from analysis.data.synthetic.city import simulate
from analysis.data.synthetic.effects import Effects

__all__ = ["Effects", "simulate"]

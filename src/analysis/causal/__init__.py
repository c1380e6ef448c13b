"""Causal evaluation: did the programs change exercise, health and costs, and for whom?

Estimators take a pandas DataFrame and return result objects with ``summary()``,
``to_frame()``, ``plot()`` and ``diagnostics`` (named pass/fail gates):

- ``estimate_effect`` — regression, IPW, AIPW, matching, DML, causal forest; ATE / ATT.
- ``did_effect`` — staggered difference-in-differences (Callaway & Sant'Anna), event study.
- ``rd_effect`` — sharp or fuzzy regression discontinuity with a density test.
- ``iv_effect`` — the randomised letter as an instrument (ITT, first stage, LATE).
- ``weighted_km`` / ``weighted_cox`` / ``rmst_difference`` — time to severe event.
- ``balance``, ``plot_balance``, ``plot_overlap`` — covariate balance and overlap.
- ``e_value``, ``robustness_value``, ``calibrate``, ``plasmode`` — sensitivity and method checks.
- ``subgroup_effects``, ``uplift_curve``, ``targeting_gain`` — heterogeneity and targeting.
- ``minimum_detectable_effect``, ``required_sample_size`` — power.
"""

from analysis.causal.balance import balance, balance_table, plot_balance
from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.did import DidResult, did_effect
from analysis.causal.estimate import estimate_effect
from analysis.causal.heterogeneity import (
    dr_scores,
    out_of_fold_cate,
    plot_uplift,
    subgroup_effects,
    targeting_gain,
    uplift_curve,
)
from analysis.causal.iv import IVResult, iv_effect
from analysis.causal.multiplicity import adjust_pvalues, benjamini_hochberg, holm
from analysis.causal.negative_controls import calibrate, fit_empirical_null
from analysis.causal.overlap import effective_sample_size, plot_overlap
from analysis.causal.plasmode import plasmode, simulate_confounded
from analysis.causal.power import (
    minimum_detectable_cost_reduction,
    minimum_detectable_effect,
    required_sample_size,
    required_sample_size_for_cost,
)
from analysis.causal.propensity import fit_propensity
from analysis.causal.rd import RDResult, density_test, rd_effect
from analysis.causal.result import EffectResult, combine_results
from analysis.causal.sensitivity import e_value, placebo_outcomes, robustness_value
from analysis.causal.survival import (
    SurvivalEffectResult,
    plot_survival,
    rmst_difference,
    weighted_cox,
    weighted_km,
)

__all__ = [
    "Check",
    "Diagnostics",
    "DidResult",
    "EffectResult",
    "IVResult",
    "RDResult",
    "SurvivalEffectResult",
    "adjust_pvalues",
    "balance",
    "balance_table",
    "benjamini_hochberg",
    "calibrate",
    "combine_results",
    "density_test",
    "did_effect",
    "dr_scores",
    "e_value",
    "effective_sample_size",
    "estimate_effect",
    "fit_empirical_null",
    "fit_propensity",
    "holm",
    "iv_effect",
    "minimum_detectable_cost_reduction",
    "minimum_detectable_effect",
    "out_of_fold_cate",
    "placebo_outcomes",
    "plasmode",
    "plot_balance",
    "plot_overlap",
    "plot_survival",
    "plot_uplift",
    "rd_effect",
    "required_sample_size",
    "required_sample_size_for_cost",
    "rmst_difference",
    "robustness_value",
    "simulate_confounded",
    "subgroup_effects",
    "targeting_gain",
    "uplift_curve",
    "weighted_cox",
    "weighted_km",
]

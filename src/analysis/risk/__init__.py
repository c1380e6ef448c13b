"""Risk: MHLW rule sets (階層化, 受診勧奨判定値, 糖尿病性腎症), survival risk models, tiers.

- ``stratify`` assigns the 特定保健指導 level of each checkup; ``referral_flags`` and
  ``dkd_targets`` apply the referral thresholds and the DKD programme's target criteria.
- ``fit_risk_model`` fits a penalised Cox (or gradient-boosted) model of the time to the
  first severe event; ``RiskModel.evaluate`` validates it; ``temporal_validation`` fits
  on early fiscal years and validates on later ones.
- ``assign_tiers`` and ``next_year_offers`` turn predicted risk into program offers;
  ``tier_counts`` publishes how many people each tier holds (small cells suppressed).
"""

from analysis.risk.evaluation import RiskEvaluation, evaluate_predictions
from analysis.risk.model import EPVWarning, RiskModel, fit_risk_model
from analysis.risk.nephropathy import diabetes_treatment_status, dkd_targets
from analysis.risk.referral import REFERRAL_THRESHOLDS, referral_flags, referral_table
from analysis.risk.rules import LEVEL_JA, LEVELS, stratify
from analysis.risk.tiers import (
    age_band,
    assign_tiers,
    next_year_offers,
    tier_counts,
)
from analysis.risk.validation import (
    TemporalValidation,
    observed_risk_by_group,
    rule_comparison,
    temporal_validation,
)

__all__ = [
    "EPVWarning",
    "LEVELS",
    "LEVEL_JA",
    "REFERRAL_THRESHOLDS",
    "RiskEvaluation",
    "RiskModel",
    "TemporalValidation",
    "age_band",
    "assign_tiers",
    "diabetes_treatment_status",
    "dkd_targets",
    "evaluate_predictions",
    "fit_risk_model",
    "next_year_offers",
    "observed_risk_by_group",
    "referral_flags",
    "referral_table",
    "rule_comparison",
    "stratify",
    "temporal_validation",
    "tier_counts",
]

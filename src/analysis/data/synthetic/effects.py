"""The program effects the generator plants, and their definitions for ``truth.json``.

All effects act through separate terms that are added to (or multiply) the natural
course of each person, so that switching one effect to zero changes only the outcome it
names, for the same people, by the stated amount (``dataclasses.replace(Effects(),
mystar_hba1c=0.0)``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Effects:
    """Effect sizes planted by the synthetic generator.

    Attributes
    ----------
    letter_nudge_uptake_or : float
        Odds ratio of taking part after a nudge letter versus a plain letter (both programs).
    vitality_steps : float
        Extra steps per day during the 12 program weeks, for a participant aged 40-64 in the
        low risk tier.
    vitality_steps_age65_ratio : float
        Multiplier of ``vitality_steps`` for participants aged 65-74 at the offer.
    vitality_steps_middle_ratio : float
        Multiplier of ``vitality_steps`` for participants in the middle risk tier.
    vitality_steps_half_life_weeks : float
        After the program ends the step effect halves every this many weeks.
    vitality_exercise_habit : float
        Risk difference in ``exercise_habit`` at the checkup of the next fiscal year.
    vitality_cost : float
        Relative change of the participant's claim costs (all settings) during the 12
        months from the program start month (e.g. -0.04 = 4% lower).
    mystar_hba1c : float
        Change in HbA1c (NGSP %-points) at the checkup of the fiscal year after the
        program, for a participant whose offer risk score is below ``mystar_high_risk_score``.
    mystar_sbp : float
        Change in systolic blood pressure (mmHg), same definition (DBP moves by half).
    mystar_weight_kg : float
        Change in body weight (kg), same definition; BMI and waist (0.8 cm/kg) follow.
    mystar_high_risk_ratio : float
        Multiplier of the three checkup effects above when the offer risk score is at or
        above ``mystar_high_risk_score`` (heterogeneity by baseline risk).
    mystar_high_risk_score : float
        Risk-score threshold of that heterogeneity.
    mystar_persistence : float
        Share of the checkup effects that remains at each further fiscal year.
    mystar_event_hr : float
        Hazard ratio of severe events (dialysis start, stroke, MI, heart-failure admission)
        in the three fiscal years after the program year.
    mystar_cost : float
        Relative change of the participant's claim costs during the 24 months from the
        program start month.
    """

    letter_nudge_uptake_or: float = 1.6
    vitality_steps: float = 1200.0
    vitality_steps_age65_ratio: float = 0.6
    vitality_steps_middle_ratio: float = 1.4
    vitality_steps_half_life_weeks: float = 6.0
    vitality_exercise_habit: float = 0.12
    vitality_cost: float = -0.04
    mystar_hba1c: float = -0.30
    mystar_sbp: float = -5.0
    mystar_weight_kg: float = -2.5
    mystar_high_risk_ratio: float = 1.5
    mystar_high_risk_score: float = 0.08
    mystar_persistence: float = 0.5
    mystar_event_hr: float = 0.75
    mystar_cost: float = -0.06

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"Effects.{f.name} must be a finite number, got {v!r}")
        for name in ("letter_nudge_uptake_or", "mystar_event_hr", "vitality_steps_half_life_weeks"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Effects.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.mystar_persistence <= 1:
            raise ValueError(
                f"Effects.mystar_persistence must be in [0, 1], got {self.mystar_persistence!r}"
            )
        for name in ("vitality_cost", "mystar_cost"):
            if getattr(self, name) <= -1:
                raise ValueError(f"Effects.{name} must be > -1, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, float]:
        """The effect sizes as a plain dict (for ``truth.json`` and ``dataset.json``)."""
        return {k: float(v) for k, v in asdict(self).items()}

    def steps_effect(self, age65: bool, middle_tier: bool) -> float:
        """Extra steps/day during the program for one subgroup."""
        r = self.vitality_steps_age65_ratio if age65 else 1.0
        r *= self.vitality_steps_middle_ratio if middle_tier else 1.0
        return self.vitality_steps * r


DEFINITIONS: dict[str, dict[str, str]] = {
    "letter_nudge_uptake_or": {
        "unit": "odds ratio",
        "definition": "Odds of taking part given a nudge letter over a plain letter, all else "
        "equal (letters are randomised within each fiscal year).",
    },
    "vitality_steps": {
        "unit": "steps/day",
        "definition": "Added to the steps/day each Vitality participant walks during the 12 "
        "program weeks (age 40-64, low tier; other subgroups: times the ratios). After the "
        "program the added steps halve every vitality_steps_half_life_weeks weeks. The "
        "recorded weekly steps_per_day is what the device saw: weeks worn on a few days only "
        "record a share of the steps walked (and of the effect), unworn weeks 0 or nothing.",
    },
    "vitality_exercise_habit": {
        "unit": "risk difference",
        "definition": "Added to the probability of exercise_habit = True at the participant's "
        "checkup in the fiscal year after the program year.",
    },
    "vitality_cost": {
        "unit": "relative change",
        "definition": "Multiplies by (1 + value) every claim cost of the participant in the 12 "
        "months from the program start month.",
    },
    "mystar_hba1c": {
        "unit": "%-points",
        "definition": "Added to HbA1c at the participant's checkup in the fiscal year after "
        "the program year (times mystar_high_risk_ratio if the offer risk score is at or "
        "above mystar_high_risk_score); times mystar_persistence for each further year.",
    },
    "mystar_sbp": {"unit": "mmHg", "definition": "As mystar_hba1c, for systolic BP."},
    "mystar_weight_kg": {
        "unit": "kg",
        "definition": "As mystar_hba1c, for body weight; BMI and waist (0.8 cm per kg) follow.",
    },
    "mystar_event_hr": {
        "unit": "hazard ratio",
        "definition": "Multiplies the severe-event hazard (dialysis start, stroke, MI, "
        "heart-failure admission) in the three fiscal years after the program year.",
    },
    "mystar_cost": {
        "unit": "relative change",
        "definition": "Multiplies by (1 + value) every claim cost of the participant in the 24 "
        "months from the program start month.",
    },
    "vitality_steps_age65_ratio": {
        "unit": "ratio",
        "definition": "Multiplies vitality_steps for participants aged 65-74 at the offer.",
    },
    "vitality_steps_middle_ratio": {
        "unit": "ratio",
        "definition": "Multiplies vitality_steps for participants in the middle risk tier.",
    },
    "vitality_steps_half_life_weeks": {
        "unit": "weeks",
        "definition": "Half-life of the step effect after the 12 program weeks.",
    },
    "mystar_high_risk_ratio": {
        "unit": "ratio",
        "definition": "Multiplies the Mystar checkup effects (HbA1c, SBP, weight) when the "
        "offer risk_score is at or above mystar_high_risk_score.",
    },
    "mystar_high_risk_score": {
        "unit": "risk score",
        "definition": "Threshold of program_offers.risk_score for mystar_high_risk_ratio.",
    },
    "mystar_persistence": {
        "unit": "share per year",
        "definition": "Share of the Mystar checkup effects left at each further fiscal year.",
    },
}
"""Definitions of every effect and modifier (written into ``truth.json``)."""

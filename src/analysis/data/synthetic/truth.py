"""``truth.json``: the planted effects, their definitions and what they amounted to.

Planted values are the structural parameters (``Effects``). Realised values are averages
over the people who actually took part, computed from the individual effect terms the
generator applied (the average treatment effect on the treated, ATT, by construction).
"""

from __future__ import annotations

import numpy as np

from analysis.data.synthetic.effects import DEFINITIONS, Effects
from analysis.data.synthetic.programs import HIDDEN_CONFOUNDING, SELECTION


class TruthAccumulator:
    """Adds up per-chunk sums and turns them into ``truth.json``."""

    def __init__(
        self,
        effects: Effects,
        first_fy: int,
        last_fy: int,
        uptake: float,
        hidden_confounding: float = HIDDEN_CONFOUNDING,
    ):
        self.effects = effects
        self.first_fy, self.last_fy, self.uptake = first_fy, last_fy, uptake
        self.hidden_confounding = hidden_confounding
        self.sums: dict[str, dict[str, float]] = {}

    def add(self, res) -> None:
        for key, d in res.truth.items():
            acc = self.sums.setdefault(key, {})
            for k, v in d.items():
                acc[k] = acc.get(k, 0) + v
        p = res.participants
        if not p:
            return
        habit = np.asarray(p["exercise_habit_effect"], float)
        for fy in np.unique(p["fy"]):
            sel = (np.asarray(p["fy"]) == fy) & (np.asarray(p["program"]) == 0)
            sel &= np.isfinite(habit)
            acc = self.sums.setdefault(f"vitality:{int(fy)}", {})
            acc["habit_effect_sum"] = acc.get("habit_effect_sum", 0.0) + float(habit[sel].sum())
            acc["habit_effect_n"] = acc.get("habit_effect_n", 0) + int(sel.sum())

    def result(self) -> dict:
        e = self.effects
        planted = {name: {"value": v, **DEFINITIONS[name]} for name, v in e.to_dict().items()}
        realised: dict = {"vitality": {}, "mystar": {}}
        for key in sorted(self.sums):
            prog, fy = key.split(":")
            s = self.sums[key]
            n = int(s.get("n", 0))
            cost = s.get("cost_change_yen", 0.0)
            r = {
                "participants": n,
                "offers_by_letter": {
                    v: {
                        "offered": int(s.get(f"offered_{v}", 0)),
                        "took_part": int(s.get(f"took_part_{v}", 0)),
                    }
                    for v in ("plain", "nudge")
                },
                "cost_change_yen_total": round(cost),
                "cost_change_yen_per_participant": round(cost / n, 1) if n else None,
                "cost_change_yen_per_participant_12m": (
                    round(s.get("cost_change_yen_12m", 0.0) / n, 1) if n else None
                ),
            }
            if prog == "vitality":
                r["steps_during_att"] = _mean(s.get("steps_effect_sum", 0.0), n)
                # The planted risk difference, less where p + effect was clipped at 1;
                # the planted value when no participant has a next fiscal year.
                habit = _mean(s.get("habit_effect_sum", 0.0), s.get("habit_effect_n", 0))
                r["exercise_habit_att"] = e.vitality_exercise_habit if habit is None else habit
                r["steps_during_by_subgroup"] = {
                    g: {
                        "n": int(s.get(f"n_{g}", 0)),
                        "att": _mean(s.get(f"steps_effect_sum_{g}", 0.0), s.get(f"n_{g}", 0)),
                    }
                    for g in ("age40_64", "age65", "low", "middle")
                }
            else:
                het = _mean(s.get("het_sum", 0.0), n)
                r["lab_effect_multiplier_mean"] = het
                for lab, val in (
                    ("hba1c", e.mystar_hba1c),
                    ("sbp", e.mystar_sbp),
                    ("weight_kg", e.mystar_weight_kg),
                ):
                    r[f"{lab}_next_year_att"] = None if het is None else round(val * het, 6)
                r["event_hr"] = e.mystar_event_hr
            realised[prog][fy] = r
        return {
            "description": "Effects planted by the synthetic generator. 'planted' holds the "
            "structural parameters with their definitions; 'realised' the "
            "average effect on the people who took part, by program and "
            "fiscal year (ATT), computed from the individual effect terms.",
            "years": [self.first_fy, self.last_fy],
            "uptake_multiplier": self.uptake,
            "selection": {
                "recorded": "uptake depends on age, sex and the latest checkup's exercise "
                "habit, walking habit, smoking, blood-pressure and glucose medication",
                "log_odds": dict(SELECTION),
                "hidden_confounding": self.hidden_confounding,
                "hidden_confounding_default": HIDDEN_CONFOUNDING,
                "unrecorded": "hidden_confounding is the uptake log-odds per SD of the "
                "unobserved health motivation, which also raises exercise and lowers costs "
                "and risks; > 0 biases adjusted estimates (towards benefit), 0 makes "
                "participation ignorable given the recorded baseline",
                "ignorable_given_recorded": self.hidden_confounding == 0,
            },
            "planted": planted,
            "realised": realised,
        }


def _mean(total: float, n: float) -> float | None:
    return round(total / n, 6) if n else None

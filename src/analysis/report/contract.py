"""The artifacts the annual report reads: the contract with the step notebooks.

:data:`REPORT_ARTIFACTS` lists every artifact a report section reads, with its kind and
the columns (tables) or keys (numbers) it must carry. The step notebooks write exactly
these with ``analysis.runs.artifacts.save_table / save_figure / save_numbers``.

Conventions for table artifacts:

- text shown to readers comes in pairs of columns ``<name>_ja`` / ``<name>_en``;
- count columns hold whole numbers (or ``"<10"`` / ``"x"`` when already suppressed);
  the report suppresses them again before display (:mod:`analysis.report.publish`);
- effect tables carry ``passed`` and ``reason`` from ``Diagnostics``: an estimate that
  failed its diagnostics is shown as 判定保留 (withheld) with the reason; a primary row
  also carries what it could detect (``mde``, ``reference_effect``, ``n_required``,
  ``years_required``; :mod:`analysis.study.detectable`), stated when it is withheld or
  its interval includes zero;
- ``save_table(..., caption=, population=, period=)`` gives caption, population and
  period in both languages; ``save_figure(..., caption=, alt=)`` caption and alt text.

Section 10 reads no artifact: it shows the run's own record (:mod:`analysis.report.run_record`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ArtifactSpec:
    """One artifact the report reads.

    Attributes
    ----------
    step, name : str
        Where it lives: ``RUN_DIR/artifacts/<step>/<name>.*``.
    kind : {"table", "figure", "numbers"}
    sections : tuple of int
        Report sections that show it.
    fields : tuple of str
        Required columns (table) or keys (numbers).
    counts : tuple of str
        Count columns, suppressed before display.
    """

    step: str
    name: str
    kind: str
    sections: tuple[int, ...]
    fields: tuple[str, ...] = ()
    counts: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.step}/{self.name}"


_EFFECT_COLUMNS = (
    "outcome", "label_ja", "label_en", "unit_ja", "unit_en", "method", "estimate",
    "ci_low", "ci_high", "p_value", "n_treated", "n_control", "passed", "reason", "headline",
    "role", "mde", "reference_effect", "n_required", "years_required",
)  # fmt: skip

REPORT_ARTIFACTS: tuple[ArtifactSpec, ...] = (
    ArtifactSpec("01_cohort", "key_numbers", "numbers", (1, 3),
                 ("n_enrolled", "n_eligible", "n_examined", "period_start", "period_end")),
    ArtifactSpec("01_cohort", "attrition", "table", (3,),
                 ("label_ja", "label_en", "n_remaining", "n_excluded"),
                 ("n_remaining", "n_excluded")),
    ArtifactSpec("01_cohort", "attrition_flow", "figure", (3,)),
    ArtifactSpec("01_cohort", "table1", "table", (3,),
                 ("variable_ja", "variable_en", "participants", "comparison", "smd")),
    ArtifactSpec("01_cohort", "checkup_participation", "table", (3,),
                 ("age_band", "sex_ja", "sex_en", "n_enrolled", "n_examined", "rate_pct"),
                 ("n_enrolled", "n_examined")),
    ArtifactSpec("02_risk", "tiers", "table", (4,),
                 ("age_band", "sex_ja", "sex_en", "n_low", "n_middle", "n_high"),
                 ("n_low", "n_middle", "n_high")),
    ArtifactSpec("02_risk", "validation", "numbers", (4,),
                 ("c_index", "c_index_ci_low", "c_index_ci_high", "calibration_slope",
                  "n_events", "horizon_years")),
    ArtifactSpec("02_risk", "calibration", "figure", (4,)),
    ArtifactSpec("02_risk", "model_comparison", "table", (4,),
                 ("model_ja", "model_en", "harrell_c", "calibration_slope", "brier", "events")),
    ArtifactSpec("02_risk", "decision_curve", "figure", (4,)),
    ArtifactSpec("03_effect_exercise", "participation", "table", (1, 5),
                 ("program_ja", "program_en", "n_offered", "n_enrolled", "n_completed",
                  "uptake_pct", "completion_pct"),
                 ("n_offered", "n_enrolled", "n_completed")),
    ArtifactSpec("03_effect_exercise", "letter_experiment", "table", (5,),
                 ("variant_ja", "variant_en", "n_offered", "n_enrolled", "uptake_pct",
                  "diff_pct", "ci_low", "ci_high"),
                 ("n_offered", "n_enrolled")),
    ArtifactSpec("03_effect_exercise", "reach", "table", (5,),
                 ("program", "program_ja", "program_en", "dimension", "dimension_ja",
                  "dimension_en", "group_ja", "group_en", "n_offered", "n_enrolled",
                  "n_completed", "uptake_pct", "uptake_ci_low", "uptake_ci_high",
                  "completion_pct", "completion_ci_low", "completion_ci_high"),
                 ("n_offered", "n_enrolled", "n_completed")),
    ArtifactSpec("03_effect_exercise", "reach_uptake", "figure", (5,)),
    ArtifactSpec("03_effect_exercise", "events_summary", "numbers", (5,),
                 ("n_events", "n_attendances", "n_attendees_nhi", "n_repeat")),
    ArtifactSpec("03_effect_exercise", "events_reach", "table", (5,),
                 ("dimension", "dimension_ja", "dimension_en", "group_ja", "group_en",
                  "n_enrollees", "n_attendees", "n_repeat", "reach_pct", "reach_ci_low",
                  "reach_ci_high", "repeat_pct", "repeat_ci_low", "repeat_ci_high"),
                 ("n_enrollees", "n_attendees", "n_repeat")),
    ArtifactSpec("03_effect_exercise", "events_reach_rate", "figure", (5,)),
    ArtifactSpec("03_effect_exercise", "event_association", "table", (5,),
                 ("group", "group_ja", "group_en", "n", "share_with_habit"), ("n",)),
    ArtifactSpec("03_effect_exercise", "event_association_adjusted", "numbers", (5,),
                 ("estimate", "ci_low", "ci_high", "n_attended", "n_not_attended",
                  "covariates", "method", "error")),
    ArtifactSpec("03_effect_exercise", "steps", "figure", (6,)),
    ArtifactSpec("03_effect_exercise", "effects", "table", (1, 6), _EFFECT_COLUMNS,
                 ("n_treated", "n_control")),
    ArtifactSpec("03_effect_exercise", "love_plot", "figure", (9,)),
    ArtifactSpec("03_effect_exercise", "overlap", "figure", (9,)),
    ArtifactSpec("03_effect_exercise", "sensitivity", "table", (9,),
                 ("label_ja", "label_en", "e_value", "e_value_ci", "robustness_value")),
    ArtifactSpec("03_effect_exercise", "negative_controls", "table", (9,),
                 ("label_ja", "label_en", "estimate", "ci_low", "ci_high", "p_value",
                  "passed")),
    ArtifactSpec("03_effect_exercise", "method_check", "table", (9,),
                 ("method", "true_effect", "mean_estimate", "bias", "rmse", "coverage")),
    ArtifactSpec("04_effect_costs", "effects", "table", (1, 7), _EFFECT_COLUMNS,
                 ("n_treated", "n_control")),
    ArtifactSpec("04_effect_costs", "event_study", "figure", (7,)),
    ArtifactSpec("04_effect_costs", "severe_events_km", "figure", (7,)),
    ArtifactSpec("04_effect_costs", "roi", "numbers", (1, 2, 7),
                 ("budget_yen", "cost_yen", "savings_yen", "savings_ci_low",
                  "savings_ci_high", "roi", "roi_ci_low", "roi_ci_high",
                  "break_even_years", "passed", "reason")),
    ArtifactSpec("05_targeting", "subgroups", "table", (8,),
                 ("subgroup_ja", "subgroup_en", "n", "estimate", "ci_low", "ci_high",
                  "passed", "reason"),
                 ("n",)),
    ArtifactSpec("05_targeting", "forest", "figure", (8,)),
    ArtifactSpec("06_pooled", "effects", "table", (7,),
                 ("outcome", "label_ja", "label_en", "unit_ja", "unit_en", "method", "role",
                  "single_years", "pooled_years",
                  *(f"{side}_{f}" for side in ("single", "pooled")
                    for f in ("estimate", "ci_low", "ci_high", "passed", "reason", "n_treated",
                              "n_control"))),
                 ("single_n_treated", "single_n_control", "pooled_n_treated",
                  "pooled_n_control")),
    ArtifactSpec("05_targeting", "recommendation", "numbers", (8,),
                 ("text_ja", "text_en")),
)  # fmt: skip
"""Every artifact the report reads: the contract the step notebooks write to."""

SECTIONS = tuple(range(1, 11))


def contract_frame() -> pd.DataFrame:
    """:data:`REPORT_ARTIFACTS` as a table (step, name, kind, sections, fields, counts)."""
    return pd.DataFrame(
        [
            {
                "step": a.step,
                "name": a.name,
                "kind": a.kind,
                "sections": ",".join(map(str, a.sections)),
                "fields": ", ".join(a.fields),
                "counts": ", ".join(a.counts),
            }
            for a in REPORT_ARTIFACTS
        ]
    )


def artifact_spec(step: str, name: str) -> ArtifactSpec:
    """The contract entry of ``step/name``."""
    for a in REPORT_ARTIFACTS:
        if (a.step, a.name) == (step, name):
            return a
    raise KeyError(f"{step}/{name} is not in REPORT_ARTIFACTS")

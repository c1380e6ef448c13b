"""The logic model of the programs: inputs → activities → outputs → outcomes → impact.

Municipal evaluation reports set a program out as a logic model (ロジックモデル) with one
measured indicator per level and its change from the previous year. Every indicator is
read from the run's published artifacts (:data:`analysis.report.contract.REPORT_ARTIFACTS`);
an effect that is withheld, or a count that was suppressed, gives ``None``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from analysis.runs import artifacts as art

LEVELS = ("inputs", "activities", "outputs", "outcomes", "impact")
"""The levels of the logic model, in order."""
COUNT_LEVELS = ("activities", "outputs")
"""Levels whose indicator is a count of people (suppressed under 10 when shown)."""


def _sum_counts(run_dir: Path, column: str) -> float | None:
    if not art.has_artifact(run_dir, "03_effect_exercise", "participation"):
        return None
    part = art.load_table(run_dir, "03_effect_exercise", "participation")
    vals = pd.to_numeric(part[column].astype(str).str.replace(",", ""), errors="coerce")
    return None if vals.isna().any() else float(vals.sum())


def outcome_row(run_dir: str | os.PathLike) -> pd.Series | None:
    """The effects row of the outcome level: the headline primary estimate of step 03
    (the exercise program's effect on the exercise habit next year)."""
    run_dir = Path(run_dir)
    if not art.has_artifact(run_dir, "03_effect_exercise", "effects"):
        return None
    eff = art.load_table(run_dir, "03_effect_exercise", "effects")
    primary = eff["role"] == "primary" if "role" in eff.columns else True
    rows = eff[eff["headline"].astype(bool) & primary]
    return None if rows.empty else rows.iloc[0]


def _outcome(run_dir: Path) -> float | None:
    row = outcome_row(run_dir)
    if row is None or not bool(row["passed"]):
        return None
    return float(row["estimate"])


def logic_model_figures(run_dir: str | os.PathLike) -> dict[str, float | None]:
    """The indicator of each level (:data:`LEVELS`) for one run.

    - inputs: the program budget (thousand yen);
    - activities: people invited to a program;
    - outputs: people who took part in a program (completions are often hidden: with
      tens of participants, the non-completers are fewer than 10);
    - outcomes: the headline effect of the exercise program (:func:`outcome_row`, in its
      own unit; ``None`` when withheld);
    - impact: the expected medical-cost savings (thousand yen; ``None`` while the ROI is
      withheld).
    """
    run_dir = Path(run_dir)
    roi = (
        art.load_numbers(run_dir, "04_effect_costs", "roi")
        if art.has_artifact(run_dir, "04_effect_costs", "roi")
        else {}
    )
    budget = roi.get("budget_yen")
    savings = roi.get("savings_yen") if roi.get("passed") else None
    return {
        "inputs": None if budget is None else float(budget) / 1000,
        "activities": _sum_counts(run_dir, "n_offered"),
        "outputs": _sum_counts(run_dir, "n_enrolled"),
        "outcomes": _outcome(run_dir),
        "impact": None if savings is None else float(savings) / 1000,
    }

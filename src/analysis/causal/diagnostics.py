"""Pass/fail gates recorded on every effect result (CohortMethod's ``unblind`` idea).

Every estimator attaches a ``Diagnostics`` object made of named ``Check`` results with
explicit thresholds. A report shows an estimate plainly only when ``passed`` is true;
otherwise it names the checks that failed (shown as 判定保留 with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Check:
    """One diagnostic gate.

    Attributes
    ----------
    name : str
        Stable snake_case id, e.g. ``"balance_max_abs_smd"``, ``"overlap"``,
        ``"pretrend_p"``, ``"first_stage_f"``.
    value : float
        The measured statistic.
    threshold : float
        The limit the statistic is compared against.
    passed : bool
        Whether the gate holds.
    rule : str
        Human-readable rule, e.g. ``"max |SMD| < 0.1 after weighting"``.
    """

    name: str
    value: float
    threshold: float
    passed: bool
    rule: str


@dataclass(frozen=True)
class Diagnostics:
    """The set of gates of one estimate, plus free-form tables (balance, overlap)."""

    checks: tuple[Check, ...] = ()
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every check passed (and vacuously when there are none)."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def reason(self) -> str:
        """One line naming the failed checks, or ``""`` when all passed."""
        return "; ".join(f"{c.rule} (observed {c.value:.3g})" for c in self.failed)

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, value, threshold, passed, rule."""
        return pd.DataFrame(
            [(c.name, c.value, c.threshold, c.passed, c.rule) for c in self.checks],
            columns=["name", "value", "threshold", "passed", "rule"],
        )

    def with_checks(self, *checks: Check, warnings: tuple[str, ...] = ()) -> Diagnostics:
        """A copy with more checks (and warnings) added."""
        return Diagnostics(self.checks + tuple(checks), dict(self.tables), self.warnings + warnings)

"""What an effects row could have detected: the minimum detectable effect and the sample needed.

When an estimate is withheld or its interval includes zero, the city still needs to know
what the evaluation could have seen: the smallest true effect it detects with 80% power
at this year's numbers (the minimum detectable effect, MDE), and how many participants
(and so how many years at this year's uptake) it would need to detect an effect of the
reference size declared for the outcome (:func:`reference_effects`).

The numbers are those of the two-sample t-test (:mod:`analysis.causal.power`), with the
outcome's standard deviation in the comparison group and no credit for covariate
adjustment: conservative, since the adjusted estimators usually detect somewhat smaller
effects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from analysis.causal.power import minimum_detectable_effect, required_sample_size
from analysis.config import MIN_CELL_COUNT

ALPHA = 0.05
"""Two-sided significance level of the power calculations."""
POWER = 0.8
"""Power of the power calculations."""


@dataclass(frozen=True)
class ReferenceEffect:
    """The effect size an outcome is sized for.

    Attributes
    ----------
    value : float
        The effect in outcome units (``kind="absolute"``) or as a share of the comparison
        group's mean (``kind="relative"``: -0.04 = 4% lower).
    kind : {"absolute", "relative"}
    """

    value: float
    kind: str = "absolute"

    def __post_init__(self):
        if self.kind not in ("absolute", "relative"):
            raise ValueError(f"kind must be 'absolute' or 'relative', got {self.kind!r}")
        if not (np.isfinite(self.value) and self.value != 0):
            raise ValueError(f"a reference effect must be a non-zero number, got {self.value!r}")

    def in_units(self, control_mean: float) -> float:
        """The effect in outcome units (a relative effect times ``control_mean``)."""
        return self.value if self.kind == "absolute" else self.value * control_mean


@lru_cache(maxsize=1)
def reference_effects() -> dict[tuple[str, str], ReferenceEffect]:
    """``{(program, outcome): ReferenceEffect}``: the scale of the effects the synthetic
    generator plants (:class:`analysis.data.synthetic.effects.Effects` defaults).

    The walking habit is sized like the exercise habit; a 24-month cost window of
    Vitality, whose planted cost effect lasts 12 months, like half its 12-month
    reduction. Outcomes without a planted effect (Vitality's checkup values, the
    severe-event time) have none: their rows state only the MDE.
    """
    from analysis.data.synthetic.effects import Effects

    e = Effects()
    return {
        ("vitality", "next_exercise_habit"): ReferenceEffect(e.vitality_exercise_habit),
        ("vitality", "next_walking_habit"): ReferenceEffect(e.vitality_exercise_habit),
        ("vitality", "cost_total_12m"): ReferenceEffect(e.vitality_cost, "relative"),
        ("vitality", "cost_total_24m"): ReferenceEffect(e.vitality_cost / 2, "relative"),
        ("mystar", "next_hba1c"): ReferenceEffect(e.mystar_hba1c),
        ("mystar", "next_sbp"): ReferenceEffect(e.mystar_sbp),
        ("mystar", "next_weight_kg"): ReferenceEffect(e.mystar_weight_kg),
        ("mystar", "cost_total_12m"): ReferenceEffect(e.mystar_cost, "relative"),
        ("mystar", "cost_total_24m"): ReferenceEffect(e.mystar_cost, "relative"),
    }


DETECTABLE_COLUMNS = ["mde", "reference_effect", "n_required", "years_required"]
"""Columns the effects table gets from :func:`detectable`."""


@dataclass(frozen=True)
class Detectable:
    """What a comparison of this size detects.

    Attributes
    ----------
    mde : float
        Minimum detectable effect (outcome units, positive) at the observed group sizes.
    reference_effect : float
        The reference effect in outcome units (signed; NaN when the outcome has none).
    n_required : float
        Participants needed to detect the reference effect, with the comparison group in
        this year's proportion (NaN without a reference effect).
    years_required : float
        ``n_required`` over this year's participants in the analysis.
    """

    mde: float = math.nan
    reference_effect: float = math.nan
    n_required: float = math.nan
    years_required: float = math.nan

    def to_dict(self) -> dict[str, float]:
        return {c: float(getattr(self, c)) for c in DETECTABLE_COLUMNS}


def outcome_scale(
    data: pd.DataFrame, outcome: str, treatment: str = "treat"
) -> tuple[float, float]:
    """Standard deviation and mean of ``outcome`` in the comparison group (``treatment == 0``).

    NaN when fewer than two comparison people have the outcome measured.
    """
    if outcome not in data.columns or treatment not in data.columns:
        return math.nan, math.nan
    y = pd.to_numeric(data.loc[data[treatment].astype(int) == 0, outcome], errors="coerce")
    y = y.dropna().astype(float)
    if len(y) < 2:
        return math.nan, math.nan
    return float(y.std(ddof=1)), float(y.mean())


def ratio_scale(
    data: pd.DataFrame, outcome: str, per: str, treatment: str = "treat"
) -> tuple[float, float]:
    """Standard deviation and mean of ``outcome`` per unit of ``per`` in the comparison group.

    The mean is the ratio ``sum(outcome) / sum(per)``; the standard deviation is that of
    the linearised per-person value ``(outcome - r per) / mean(per)``, whose variance over
    ``n`` is the variance of the ratio (delta method), so that the minimum detectable
    effect of a per-month cost is sized like that of a mean. NaN when fewer than two
    comparison people have both measured.
    """
    if not {outcome, per, treatment} <= set(data.columns):
        return math.nan, math.nan
    d = (
        data.loc[data[treatment].astype(int) == 0, [outcome, per]]
        .apply(pd.to_numeric, errors="coerce")
        .dropna()
    )
    y, m = d[outcome].to_numpy(float), d[per].to_numpy(float)
    if len(y) < 2 or m.sum() <= 0:
        return math.nan, math.nan
    r = y.sum() / m.sum()
    return float(((y - r * m) / m.mean()).std(ddof=1)), float(r)


def detectable(
    n_treated: float,
    n_control: float,
    sd: float,
    control_mean: float = math.nan,
    reference: ReferenceEffect | None = None,
    *,
    min_cell_count: int = MIN_CELL_COUNT,
) -> Detectable:
    """The MDE at ``n_treated`` / ``n_control`` and the participants needed for ``reference``.

    Groups under ``min_cell_count`` give no numbers (they would let a reader work back to
    the hidden count), nor does a missing or zero standard deviation.

    Parameters
    ----------
    n_treated, n_control : float
        Participants and comparison people in the analysis.
    sd, control_mean : float
        Standard deviation and mean of the outcome in the comparison group.
    reference : ReferenceEffect or None
        The effect to size for; ``None`` gives the MDE only.
    min_cell_count : int
        Smallest group size for which the numbers are given.

    Returns
    -------
    Detectable

    Examples
    --------
    >>> round(detectable(64, 64, 1.0).mde, 2)
    0.5
    """
    try:
        n1, n0, sd = float(n_treated), float(n_control), float(sd)
    except (TypeError, ValueError):  # a suppressed count ("<10")
        return Detectable()
    if min(n1, n0) < min_cell_count or not (np.isfinite(sd) and sd > 0):
        return Detectable()
    try:
        mde = minimum_detectable_effect(n1, n0, sd, alpha=ALPHA, power=POWER)
    except ValueError:
        return Detectable()
    if reference is None:
        return Detectable(mde=mde)
    effect = reference.in_units(control_mean)
    if not (np.isfinite(effect) and effect != 0):
        return Detectable(mde=mde)
    try:
        need = required_sample_size(effect, sd, ratio=n0 / n1, alpha=ALPHA, power=POWER)
    except ValueError:  # too small to detect with any realistic sample
        return Detectable(mde=mde, reference_effect=effect, n_required=math.inf,
                          years_required=math.inf)  # fmt: skip
    return Detectable(mde, effect, float(need.n_treated), need.n_treated / n1)

"""Program costs, return on investment, break-even horizon and budget impact.

Conventions: money in yen; an *effect on cost* is the estimated change in medical cost
per participant per year (negative = saving), as estimated by ``analysis.causal``;
savings are discounted at ``discount_rate`` a year and may fade by ``persistence`` (the
share of a year's saving that carries over into the next year; 1 = lasting).

ROI = (present value of savings − program cost) / program cost. Because the program
cost is a fixed budget figure and ROI, net cost and break-even are monotone in the
saving, their 95% intervals are the transforms of the effect's interval bounds.

References
----------
Drummond MF et al. *Methods for the Economic Evaluation of Health Care Programmes*, 4th ed.
Oxford University Press, 2015 (discounting, budget impact).
Sullivan SD et al. Budget impact analysis — principles of good practice (ISPOR 2012 BIA
Task Force). *Value in Health* 17(1):5-14, 2014.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PROGRAM_MONTHS = {"vitality": 3, "mystar": 6}
"""Program length in months (Vitality 3-month exercise program, Mystar 6-month coaching)."""
DEFAULT_INTENSITY = {"vitality": 1.0, "mystar": 3.0}
"""Relative cost per participant-month: personalised coaching by qualified staff costs more
than a gamified app program. An assumption, stated in the report; change it with data."""


def _check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value is None or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}"
        )


def allocate_budget(
    budget_yen: float, participants: dict[str, int], *, intensity: dict[str, float] | None = None
) -> pd.DataFrame:
    """Split a program budget into cost per participant by program.

    The budget is shared in proportion to participant-months weighted by intensity.

    Parameters
    ----------
    budget_yen : float
        Total budget (FY2023: 4,730,000 yen).
    participants : dict
        ``{"vitality": 64, "mystar": 15}``.
    intensity : dict, optional
        Relative cost per participant-month; ``DEFAULT_INTENSITY`` when omitted.

    Returns
    -------
    DataFrame
        One row per program: participants, weight, cost_yen, cost_per_participant.
    """
    _check_positive("budget_yen", budget_yen)
    intensity = DEFAULT_INTENSITY if intensity is None else intensity
    unknown = set(participants) - set(PROGRAM_MONTHS)
    if unknown:
        raise ValueError(f"unknown program(s) {sorted(unknown)}; expected {sorted(PROGRAM_MONTHS)}")
    rows = []
    for prog, n in participants.items():
        if n < 0:
            raise ValueError(f"participants[{prog!r}] must be ≥ 0, got {n}")
        rows.append((prog, n, n * PROGRAM_MONTHS[prog] * intensity[prog]))
    df = pd.DataFrame(rows, columns=["program", "participants", "weight"])
    if df["weight"].sum() <= 0:
        raise ValueError("participants: no participants to share the budget among")
    df["cost_yen"] = budget_yen * df["weight"] / df["weight"].sum()
    df["cost_per_participant"] = np.where(
        df["participants"] > 0,
        df["cost_yen"] / df["participants"].where(df["participants"] > 0),
        np.nan,
    )
    return df


def present_value_of_savings(
    annual_saving: float | np.ndarray,
    years: int,
    *,
    discount_rate: float = 0.02,
    persistence: float = 1.0,
):
    """Present value of a saving in year 1 that fades by ``persistence`` each later year.

    PV = Σ_{k=1..years} s · persistence^(k−1) / (1 + r)^(k−1)  (year 1 undiscounted).
    """
    _check_positive("discount_rate", discount_rate, allow_zero=True)
    if not 0 <= persistence <= 1:
        raise ValueError(f"persistence must lie in [0, 1], got {persistence!r}")
    k = np.arange(years)
    factor = float(np.sum((persistence**k) / (1 + discount_rate) ** k))
    return (
        np.asarray(annual_saving, dtype=float) * factor
        if np.ndim(annual_saving)
        else annual_saving * factor
    )


def break_even_years(
    annual_saving: float,
    cost: float,
    *,
    discount_rate: float = 0.02,
    persistence: float = 1.0,
    max_years: int = 30,
) -> float:
    """Years until cumulative discounted savings repay the cost (``inf`` if never).

    Interpolates linearly within the year in which the cost is repaid.
    """
    _check_positive("cost", cost, allow_zero=True)
    if annual_saving <= 0:
        return float("inf")
    cum = 0.0
    for k in range(max_years):
        this_year = annual_saving * persistence**k / (1 + discount_rate) ** k
        if cum + this_year >= cost:
            return k + (cost - cum) / this_year
        cum += this_year
    return float("inf")


@dataclass(frozen=True)
class EconomicEvaluation:
    """ROI and break-even of one program, with 95% intervals from the cost effect.

    Attributes
    ----------
    program : str
    participants : int
    cost_per_participant : float
    saving : tuple
        Annual saving per participant (estimate, ci_low, ci_high); saving = −effect.
    pv_saving : tuple
        Present value of savings over ``horizon_years`` (estimate, low, high).
    net_cost : tuple
        Cost minus PV of savings per participant (estimate, low, high).
    roi : tuple
        (PV savings − cost) / cost (estimate, low, high).
    break_even_years : tuple
        (estimate, optimistic, pessimistic); ``inf`` when never repaid.
    horizon_years, discount_rate, persistence : assumptions used.
    """

    program: str
    participants: int
    cost_per_participant: float
    saving: tuple[float, float, float]
    pv_saving: tuple[float, float, float]
    net_cost: tuple[float, float, float]
    roi: tuple[float, float, float]
    break_even_years: tuple[float, float, float]
    horizon_years: int
    discount_rate: float
    persistence: float

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity with estimate, ci_low and ci_high (tidy)."""
        rows = [
            ("saving_per_participant_year", *self.saving),
            ("pv_saving_per_participant", *self.pv_saving),
            ("net_cost_per_participant", *self.net_cost),
            ("roi", *self.roi),
            ("break_even_years", *self.break_even_years),
        ]
        df = pd.DataFrame(rows, columns=["quantity", "estimate", "ci_low", "ci_high"])
        df.insert(0, "program", self.program)
        return df

    def __repr__(self) -> str:
        return (
            f"<EconomicEvaluation program={self.program!r} n={self.participants} "
            f"roi={self.roi[0]:.2f} [{self.roi[1]:.2f}, {self.roi[2]:.2f}]>"
        )


def evaluate_roi(
    effect: float,
    ci_low: float,
    ci_high: float,
    *,
    program: str,
    participants: int,
    cost_per_participant: float,
    horizon_years: int = 3,
    discount_rate: float = 0.02,
    persistence: float = 1.0,
) -> EconomicEvaluation:
    """Return on investment of a program from its estimated effect on annual cost.

    Parameters
    ----------
    effect, ci_low, ci_high : float
        Estimated change in medical cost per participant per year (yen; negative = saving)
        and its 95% interval.
    cost_per_participant : float
        Program cost per participant (see ``allocate_budget``).

    Examples
    --------
    >>> ev = evaluate_roi(-30000, -60000, 0, program="mystar", participants=15,
    ...                   cost_per_participant=60000, horizon_years=2, discount_rate=0.0)
    >>> ev.roi
    (0.0, -1.0, 1.0)
    """
    _check_positive("cost_per_participant", cost_per_participant)
    if not ci_low <= effect <= ci_high:
        raise ValueError(f"effect {effect} must lie within its interval [{ci_low}, {ci_high}]")
    savings = (-effect, -ci_high, -ci_low)  # best case = most negative effect = largest saving
    pv = tuple(
        float(
            present_value_of_savings(
                s, horizon_years, discount_rate=discount_rate, persistence=persistence
            )
        )
        for s in savings
    )
    pv_est, pv_lo, pv_hi = pv[0], pv[1], pv[2]
    c = cost_per_participant
    be = tuple(
        break_even_years(s, c, discount_rate=discount_rate, persistence=persistence)
        for s in (savings[0], -ci_low, -ci_high)
    )
    return EconomicEvaluation(
        program=program,
        participants=participants,
        cost_per_participant=c,
        saving=(savings[0], savings[1], savings[2]),
        pv_saving=(pv_est, pv_lo, pv_hi),
        net_cost=(c - pv_est, c - pv_hi, c - pv_lo),
        roi=((pv_est - c) / c, (pv_lo - c) / c, (pv_hi - c) / c),
        break_even_years=be,
        horizon_years=horizon_years,
        discount_rate=discount_rate,
        persistence=persistence,
    )


def budget_impact(
    *,
    population: int,
    nhi_share: float,
    eligible_share: float,
    uptake: float,
    cost_per_participant: float,
    saving_per_participant_year: float,
    years: int = 5,
    discount_rate: float = 0.02,
    persistence: float = 1.0,
) -> pd.DataFrame:
    """Budget impact of running a program each year in a city of another size.

    A new cohort of ``population × nhi_share × eligible_share × uptake`` participants
    starts every year; each cohort's saving fades by ``persistence`` a year.

    Returns
    -------
    DataFrame
        One row per year: participants, program_cost, savings, net_cost, cumulative_net_cost
        (undiscounted per year; ``discounted_net_cost`` discounts to year 1).
    """
    for name, v in (
        ("nhi_share", nhi_share),
        ("eligible_share", eligible_share),
        ("uptake", uptake),
    ):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")
    _check_positive("population", population)
    n = population * nhi_share * eligible_share * uptake
    rows, cum = [], 0.0
    for y in range(years):
        savings = sum(
            n * saving_per_participant_year * persistence ** (y - c) for c in range(y + 1)
        )
        cost = n * cost_per_participant
        net = cost - savings
        cum += net
        rows.append((y + 1, n, cost, savings, net, cum, net / (1 + discount_rate) ** y))
    return pd.DataFrame(
        rows,
        columns=[
            "year",
            "participants",
            "program_cost",
            "savings",
            "net_cost",
            "cumulative_net_cost",
            "discounted_net_cost",
        ],
    )

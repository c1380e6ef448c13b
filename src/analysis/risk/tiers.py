"""Risk tiers and next year's program offers.

High-risk people are offered the 6-month coaching program (Mystar), low- and middle-risk
people the 3-month gamified exercise program (Vitality). The high tier is cut either at a
risk threshold or at the number of coaching places the budget buys (``capacity``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.data.contract import RISK_TIER_LABELS, RISK_TIERS
from analysis.report import publish
from analysis.seeds import rng

PROGRAM_BY_TIER = {"low": "vitality", "middle": "vitality", "high": "mystar"}
TIER_JA = {k: v["ja"] for k, v in RISK_TIER_LABELS.items()}
AGE_EDGES = (40, 45, 50, 55, 60, 65, 70, 75)
"""5-year age bands of the published tier table (40-44 ... 70-74)."""


def age_band(age, edges=AGE_EDGES) -> pd.Series:
    """Age band labels such as ``"40-44"``; ages outside the edges get ``"<40"`` or ``"75+"``."""
    a = pd.Series(age, dtype=float)
    if a.isna().any():
        raise ValueError(f"age_band: {int(a.isna().sum())} missing age(s)")
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    out = pd.cut(a, list(edges), right=False, labels=labels).astype(object)
    out[a < edges[0]] = f"<{edges[0]}"
    out[a >= edges[-1]] = f"{edges[-1]}+"
    return out.astype(str)


def assign_tiers(
    risk: pd.Series,
    *,
    thresholds: tuple[float, float] = (0.05, 0.15),
    capacity: int | None = None,
) -> pd.Series:
    """Cut predicted risk into ``"low"``, ``"middle"`` and ``"high"`` tiers.

    Parameters
    ----------
    risk : pandas.Series
        Predicted risk (probability) per person.
    thresholds : (float, float), default (0.05, 0.15)
        Risk at which the middle and the high tier start (``risk >= cut``).
    capacity : int, optional
        Number of high-tier (coaching) places: the ``capacity`` highest risks are
        ``"high"`` whatever ``thresholds[1]`` says; ties at the boundary are broken by
        the order of ``risk`` (stable), so the result is deterministic.

    Returns
    -------
    pandas.Series
        Tier per person, same index, categorical with categories low < middle < high.

    Raises
    ------
    ValueError
        Missing or out-of-range risks, thresholds not increasing in (0, 1), negative
        capacity.
    """
    r = pd.Series(risk, dtype=float)
    if r.isna().any() or ((r < 0) | (r > 1)).any():
        raise ValueError(
            "assign_tiers: risk must be probabilities in [0, 1] without missing values"
        )
    lo, hi = (float(x) for x in thresholds)
    if not 0 < lo < hi < 1:
        raise ValueError(
            f"assign_tiers: thresholds must satisfy 0 < middle < high < 1, got {thresholds}"
        )
    tier = np.where(r >= lo, "middle", "low").astype(object)
    if capacity is None:
        tier[r.to_numpy() >= hi] = "high"
    else:
        if (
            isinstance(capacity, bool)
            or not isinstance(capacity, (int, np.integer))
            or capacity < 0
        ):
            raise ValueError(
                f"assign_tiers: capacity must be a non-negative integer, got {capacity!r}"
            )
        order = np.argsort(-r.to_numpy(), kind="stable")
        tier[order[: int(capacity)]] = "high"
    return pd.Series(
        pd.Categorical(tier, categories=list(RISK_TIERS), ordered=True),
        index=r.index,
        name="risk_tier",
    )


def next_year_offers(
    people: pd.DataFrame,
    risk: pd.Series,
    tiers: pd.Series,
    *,
    fiscal_year: int,
    horizon_years: float = 5,
    offer_date: dt.date | None = None,
    nudge_share: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """Next fiscal year's ``program_offers`` rows, with the reason for each offer.

    Parameters
    ----------
    people : pandas.DataFrame
        One row per person with ``person_id`` (pseudonymous), aligned with ``risk`` and
        ``tiers`` by index.
    risk, tiers : pandas.Series
        Predicted risk and tier per person (see :func:`assign_tiers`).
    fiscal_year : int
        The offer year.
    horizon_years : float, default 5
        Horizon of ``risk`` (for the reason text).
    offer_date : datetime.date, optional
        Date of the letters; default 1 April of ``fiscal_year``.
    nudge_share : float, default 0.5
        Probability of the nudge letter (randomised per person).
    seed : int, default 0
        Seed of the letter randomisation (stream ``risk/letter_variant/<year>``).

    Returns
    -------
    pandas.DataFrame
        The ``program_offers`` contract columns (``person_id, fiscal_year, program,
        risk_tier, risk_score, offer_date, letter_variant``) plus ``reason`` (Japanese) and
        ``reason_en``; sorted by descending risk. For staff only: holds pseudonymous ids.
    """
    if "person_id" not in people.columns:
        raise ValueError("next_year_offers: people has no 'person_id' column")
    if people["person_id"].duplicated().any():
        raise ValueError("next_year_offers: person_id must be unique (one row per person)")
    if not 0 <= nudge_share <= 1:
        raise ValueError(f"next_year_offers: nudge_share must be in [0, 1], got {nudge_share}")
    r = pd.Series(risk, dtype=float).reindex(people.index)
    tr = pd.Series(tiers).reindex(people.index).astype(object)
    if r.isna().any() or tr.isna().any() or not tr.isin(RISK_TIERS).all():
        raise ValueError(
            "next_year_offers: risk and tiers must cover every person (index of people)"
        )
    date = offer_date or dt.date(int(fiscal_year), 4, 1)
    nudge = rng(seed, "risk", "letter_variant", int(fiscal_year)).random(len(people)) < nudge_share
    pct = (100 * r).round(1).astype(str)
    h = f"{horizon_years:g}"
    out = pd.DataFrame(
        {
            "person_id": people["person_id"].to_numpy(),
            "fiscal_year": int(fiscal_year),
            "program": tr.map(PROGRAM_BY_TIER).to_numpy(),
            "risk_tier": tr.to_numpy(),
            "risk_score": r.to_numpy(),
            "offer_date": date,
            "letter_variant": np.where(nudge, "nudge", "plain"),
            "reason": (f"予測{h}年リスク " + pct + "%: " + tr.map(TIER_JA)).to_numpy(),
            "reason_en": (f"predicted {h}-year risk " + pct + "%: " + tr + " tier").to_numpy(),
        }
    )
    out = out.sort_values("risk_score", ascending=False, kind="stable").reset_index(drop=True)
    return out


def tier_counts(
    tiers: pd.Series, sex: pd.Series, age, *, min_cell_count: int | None = MIN_CELL_COUNT
) -> pd.DataFrame:
    """How many people each tier holds, by 5-year age band and sex, small cells suppressed.

    Returns
    -------
    pandas.DataFrame
        Rows (``age_band``, ``sex``), one column per tier (low, middle, high), as text fit
        to publish (``analysis.report.publish.suppress_small_counts``): counts from 1 to
        ``min_cell_count - 1`` show as ``"<10"``, and neighbours that would reveal them by
        subtraction from the row or column totals as ``"x"``. No margins are included.
        With ``min_cell_count=None`` (or 1) the raw integer counts, for further processing.
    """
    t = pd.Series(tiers).astype(object).to_numpy()
    band = age_band(age).to_numpy()
    s = pd.Series(sex).to_numpy()
    if not (len(t) == len(band) == len(s)):
        raise ValueError("tier_counts: tiers, sex and age must have the same length")
    table = pd.crosstab([pd.Series(band, name="age_band"), pd.Series(s, name="sex")],
                        pd.Series(t, name="risk_tier"))  # fmt: skip
    table = table.reindex(columns=list(RISK_TIERS), fill_value=0)
    table.columns.name = None
    if min_cell_count is None or min_cell_count <= 1:
        return table  # nothing to suppress: raw integer counts (not fit to publish)
    return publish.suppress_small_counts(table, list(RISK_TIERS), min_cell_count)

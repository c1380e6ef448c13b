"""Small-cell suppression of the tables the steps publish (parquet-friendly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.report import publish


def suppress(
    df: pd.DataFrame,
    counts: Sequence[str],
    *,
    derived: Mapping[str, Sequence[str]] | None = None,
    nested: Sequence[str] | None = None,
    known_totals: str = "both",
    complementary: bool = True,
    min_cell_count: int = MIN_CELL_COUNT,
) -> pd.DataFrame:
    """``publish.suppress_small_counts`` with numeric derived columns kept numeric.

    Count columns become text (``"<10"`` / ``"x"`` where hidden); a derived column (a
    rate computed from counts) is missing (NaN) where one of its counts is hidden, so the
    table stays storable as Parquet. A table that cannot be protected hides every count
    and every derived value. ``nested``: count columns nested within a row, outermost
    first (see ``publish.suppress_small_counts``). ``df`` is not modified.
    """
    derived = dict(derived or {})
    try:
        out = publish.suppress_small_counts(
            df,
            list(counts),
            min_cell_count,
            complementary=complementary,
            known_totals=known_totals,
            derived=derived or None,
            nested=nested,
        )
    except publish.UnprotectableTable:
        out = df.copy()
        for c in counts:
            out[c] = publish.COMPLEMENT_MARK
        for c in derived:
            out[c] = np.nan
        return out
    for c in derived:
        out[c] = pd.to_numeric(out[c].where(out[c] != publish.COMPLEMENT_MARK), errors="coerce")
    return out

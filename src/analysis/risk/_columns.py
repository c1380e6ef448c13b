"""Input checks shared by the rule sets: required columns, numeric values, yes/no flags."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def require_columns(data: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming every column of ``columns`` missing from ``data``."""
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}")


def numeric(data: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """Column as a float array (missing values as NaN); non-numeric values raise ``ValueError``."""
    s = data[column]
    if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
        raise ValueError(f"{what}: column {column!r} must be numeric, got booleans")
    try:
        return pd.to_numeric(s, errors="raise").astype("float64").to_numpy()
    except (ValueError, TypeError):
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
        raise ValueError(
            f"{what}: column {column!r} has {len(bad)} non-numeric value(s), e.g. {bad.iloc[0]!r}"
        ) from None


def flag(data: pd.DataFrame, column: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """A yes/no column as ``(is_true, is_missing)`` boolean arrays.

    Accepts bool, pandas ``boolean``, 0/1 numbers and missing values; anything else raises
    ``ValueError`` naming the column.
    """
    s = data[column]
    missing = s.isna().to_numpy()
    try:
        b = s.astype("boolean")
    except (ValueError, TypeError):
        b = None
    if b is None or not s[~missing].isin([True, False, 0, 1]).all():
        bad = s[~missing & ~s.isin([True, False, 0, 1]).to_numpy()]
        raise ValueError(
            f"{what}: column {column!r} must hold True/False (or 1/0), "
            f"got {len(bad)} other value(s), e.g. {bad.iloc[0]!r}"
        )
    return b.fillna(False).to_numpy(dtype=bool), missing

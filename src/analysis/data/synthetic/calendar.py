"""Dates as integer day numbers (days since 1970-01-01) and fiscal-year helpers."""

from __future__ import annotations

import datetime as dt

import numpy as np

EPOCH = dt.date(1970, 1, 1)


def day(y: int, m: int = 1, d: int = 1) -> int:
    """Day number of a calendar date."""
    return (dt.date(y, m, d) - EPOCH).days


def fy_start(fy: int) -> int:
    """Day number of April 1 of fiscal year ``fy``."""
    return day(fy, 4, 1)


def fy_end(fy: int) -> int:
    """Day number of March 31 closing fiscal year ``fy``."""
    return day(fy + 1, 4, 1) - 1


def iso(d: int) -> str:
    """ISO string of a day number."""
    return (EPOCH + dt.timedelta(days=int(d))).isoformat()


def to_date64(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Day numbers as ``datetime64[D]``; positions in ``missing`` become NaT."""
    out = np.asarray(days, dtype="int64").astype("datetime64[D]")
    if missing is not None:
        out = out.copy()
        out[missing] = np.datetime64("NaT")
    return out


def month_starts(first_fy: int, last_fy: int) -> np.ndarray:
    """Day numbers of the first day of every month from April ``first_fy`` to March ``last_fy + 1``."""
    months = np.arange(
        np.datetime64(f"{first_fy}-04", "M"), np.datetime64(f"{last_fy + 1}-04", "M")
    )
    return months.astype("datetime64[D]").astype("int64")


def _md(d: np.ndarray) -> np.ndarray:
    """Month * 100 + day of ``datetime64[D]`` values."""
    m = d.astype("datetime64[M]")
    return (m.astype(int) % 12 + 1) * 100 + (d - m.astype("datetime64[D]")).astype(int) + 1


def age_at(birth: np.ndarray, when: np.ndarray | int) -> np.ndarray:
    """Age in completed years at day ``when`` (vectorised; day numbers or dates)."""
    b = (
        np.asarray(birth).astype("datetime64[D]")
        if np.asarray(birth).dtype.kind == "M"
        else (np.asarray(birth).astype("int64").astype("datetime64[D]"))
    )
    w = np.asarray(when)
    w = (
        w.astype("datetime64[D]")
        if w.dtype.kind == "M"
        else w.astype("int64").astype("datetime64[D]")
    )
    by = b.astype("datetime64[Y]").astype(int)
    wy = w.astype("datetime64[Y]").astype(int)
    return wy - by - (_md(w) < _md(b))


def birthday(birth: np.ndarray, years: int) -> np.ndarray:
    """Day number of the ``years``-th birthday (Feb 29 births: March 1 in common years)."""
    b = np.asarray(birth).astype("int64").astype("datetime64[D]")
    y = b.astype("datetime64[Y]")
    doy = (b - y).astype(int)
    target = (y + years).astype("datetime64[D]")
    # Day of year past Feb in a leap birth year shifts by one in a common target year.
    by = y.astype(int) + 1970
    ty = by + years
    leap_b = (by % 4 == 0) & ((by % 100 != 0) | (by % 400 == 0))
    leap_t = (ty % 4 == 0) & ((ty % 100 != 0) | (ty % 400 == 0))
    adj = np.where(leap_b & ~leap_t & (doy > 59), -1, 0)
    adj = np.where(~leap_b & leap_t & (doy >= 59), 1, adj)
    return (target + doy + adj).astype("int64")

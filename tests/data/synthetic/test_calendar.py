"""Day numbers, fiscal years, ages and birthdays."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analysis.data.synthetic.calendar import (
    age_at,
    birthday,
    day,
    fy_end,
    fy_start,
    iso,
    month_starts,
    to_date64,
)


def test_fiscal_year_bounds():
    assert iso(fy_start(2023)) == "2023-04-01"
    assert iso(fy_end(2023)) == "2024-03-31"
    assert fy_end(2023) + 1 == fy_start(2024)


def test_month_starts_cover_the_window():
    m = month_starts(2019, 2024)
    assert len(m) == 72
    assert iso(m[0]) == "2019-04-01" and iso(m[-1]) == "2025-03-01"


@pytest.mark.parametrize(
    ("birth", "when", "age"),
    [
        ((1950, 5, 3), (2025, 5, 2), 74),
        ((1950, 5, 3), (2025, 5, 3), 75),
        ((1960, 2, 29), (2035, 2, 28), 74),
        ((1960, 2, 29), (2035, 3, 1), 75),
        ((1960, 2, 29), (2036, 2, 29), 76),
    ],
)
def test_age_at_matches_calendar_arithmetic(birth, when, age):
    assert age_at(np.array([day(*birth)]), day(*when))[0] == age


def test_75th_birthday_is_the_first_day_at_age_75():
    rng = np.random.default_rng(0)
    births = rng.integers(day(1940, 1, 1), day(1960, 12, 31), 2000)
    b75 = birthday(births, 75)
    assert (age_at(births, b75) == 75).all()
    assert (age_at(births, b75 - 1) == 74).all()


def test_to_date64_marks_missing():
    d = to_date64(np.array([day(2020, 1, 1), 0]), missing=np.array([False, True]))
    assert d[0] == np.datetime64(dt.date(2020, 1, 1))
    assert np.isnat(d[1])

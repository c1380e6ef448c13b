"""Query helpers on DuckDB memtables: ages, enrollment islands, month ordinals, ranking."""

import datetime as dt

import ibis
import pandas as pd
import pytest

from analysis.cohort.criteria import enrollment_islands
from analysis.cohort.expr import FAR_FUTURE, age_years, first_row, month_date, month_ord


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def _dates(values):
    return pd.to_datetime(pd.Series(values)).dt.date


@pytest.mark.parametrize(
    ("birth", "at", "age"),
    [
        ("1948-07-01", "2023-06-30", 74),  # the day before the 75th birthday
        ("1948-07-01", "2023-07-01", 75),  # the birthday itself
        ("1948-07-02", "2023-07-01", 74),
        ("1960-02-29", "2023-02-28", 62),  # leap-day births turn older on 1 March
        ("1960-02-29", "2023-03-01", 63),
        ("1960-02-29", "2024-02-29", 64),
        ("1983-04-01", "2023-03-31", 39),  # fiscal-year boundary
        ("1983-04-01", "2023-04-01", 40),
    ],
)
def test_age_years(con, birth, at, age):
    t = ibis.memtable(pd.DataFrame({"b": _dates([birth]), "a": _dates([at])}))
    assert con.execute(age_years(t.b, t.a).name("age")).iloc[0] == age


def test_month_ordinals_round_trip(con):
    days = ["2023-03-31", "2023-04-01", "2024-02-29", "2019-12-15"]
    t = ibis.memtable(pd.DataFrame({"d": _dates(days)}))
    out = con.execute(t.mutate(o=month_ord(t.d)).mutate(m=lambda s: month_date(s.o)))
    assert list(out["o"]) == [2023 * 12 + 2, 2023 * 12 + 3, 2024 * 12 + 1, 2019 * 12 + 11]
    assert [d.strftime("%Y-%m-%d") for d in out["m"]] == [
        "2023-03-01", "2023-04-01", "2024-02-01", "2019-12-01",
    ]  # fmt: skip


def test_enrollment_islands(con):
    spells = pd.DataFrame(
        {
            "person_id": ["p", "p", "p", "p", "q", "q", "r"],
            "enroll_start": _dates(
                [
                    "2010-01-01",
                    "2012-01-01",
                    "2011-06-01",
                    "2015-01-01",
                    "2010-01-01",
                    "2010-07-02",
                    "2020-01-01",
                ]
            ),  # fmt: skip
            "enroll_end": _dates(
                ["2011-12-31", "2013-05-31", "2011-08-31", None, "2010-06-30", None, "2020-12-31"]
            ),  # fmt: skip
        }
    )
    # p: the first three spells touch or overlap (one island 2010-01-01..2013-05-31), then a
    # gap and an open spell; q: a one-day gap (1 July) splits two islands; r: one spell.
    out = con.execute(enrollment_islands(ibis.memtable(spells)))
    got = sorted(
        (r.person_id, str(r.island_start.date()), str(r.island_end.date()))
        for r in out.itertuples()
    )
    far = str(FAR_FUTURE)
    assert got == [
        ("p", "2010-01-01", "2013-05-31"),
        ("p", "2015-01-01", far),
        ("q", "2010-01-01", "2010-06-30"),
        ("q", "2010-07-02", far),
        ("r", "2020-01-01", "2020-12-31"),
    ]


def test_first_row_breaks_ties_by_key_and_is_stable(con):
    df = pd.DataFrame({"person_id": ["b", "a", "a", "b"], "d": _dates(["2023-01-01"] * 4),
                       "v": [1, 2, 3, 4]})  # fmt: skip
    t = ibis.memtable(df)
    first = con.execute(first_row(t, "person_id", [ibis.desc(t.d)]).order_by("person_id"))
    assert list(first["person_id"]) == ["a", "b"]
    latest = ibis.memtable(
        df.assign(d=_dates(["2023-01-01", "2023-02-01", "2023-03-01", "2022-01-01"]))
    )
    got = con.execute(first_row(latest, "person_id", [ibis.desc(latest.d)]).order_by("person_id"))
    assert list(got["v"]) == [3, 1]
    assert got["d"].iloc[0].date() == dt.date(2023, 3, 1)

"""The query runner: dropping each cached table after its last reader changes no table,
leaves no table behind, and a failing query surfaces as itself."""

import duckdb
import pandas as pd
import pytest

import analysis.cohort.build as build
from analysis.cohort import build_cohorts, connect, default_specs
from analysis.cohort.runner import SyncRunner, runner


def _temp_tables(con) -> set[str]:
    rows = con.con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return {r[0] for r in rows}


def test_early_release_gives_the_same_tables_and_drops_every_table(micro_path, monkeypatch):
    con = connect(micro_path, validate=False)
    dropped: list[str] = []
    release = SyncRunner.release

    def spy(self, table):
        dropped.append(table.op().name)
        release(self, table)

    monkeypatch.setattr(SyncRunner, "release", spy)
    early = build_cohorts(con, default_specs(2023))
    assert dropped and not _temp_tables(con)  # tables dropped during the build and after
    monkeypatch.setattr(build, "runner", lambda c: SyncRunner(c, early_release=False))
    late = build_cohorts(connect(micro_path, validate=False), default_specs(2023))
    for key, e in early.items():
        k = late[key]
        pd.testing.assert_frame_equal(e.attrition.to_frame(), k.attrition.to_frame())
        for name in ("baseline", "outcomes", "panel_monthly"):
            pd.testing.assert_frame_equal(getattr(e, name), getattr(k, name), obj=name)


def test_a_released_table_is_gone_at_once_on_duckdb(micro_path):
    con = connect(micro_path, validate=False)
    with runner(con) as run:
        cached = run.cache(con.table("enrollment").select("person_id"))
        assert cached.op().name in _temp_tables(con)
        run.release(cached)
        assert cached.op().name not in _temp_tables(con)


def test_a_failing_query_raises_its_own_error_and_drops_the_tables(micro_path):
    con = connect(micro_path, validate=False)
    enrollment = con.table("enrollment")
    with pytest.raises(duckdb.ConversionException):
        with runner(con) as run:
            ok = run.cache(enrollment.select("person_id"))
            run.cache(ok.mutate(n=ok.person_id.cast("int64")))  # fails when run
    assert not _temp_tables(con)
    assert con.execute(enrollment.count()) > 0  # the connection stays usable


def test_cached_tables_keep_the_expression_types(micro_path):
    import ibis

    con = connect(micro_path, validate=False)
    t = con.table("enrollment")
    expr = t.select("person_id", one=ibis.literal(1, type="int8"), day=t.birth_date)
    with runner(con) as run:
        cached = run.cache(expr)
        assert cached.schema() == expr.schema()
        got = run.arrow(cached.order_by("person_id")).result()
    assert got.equals(con.to_pyarrow(expr.order_by("person_id")))

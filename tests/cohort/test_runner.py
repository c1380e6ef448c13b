"""The query runners: a build queued on DuckDB's worker thread equals the same build run
synchronously; a failing query surfaces as itself and leaves no table behind."""

import duckdb
import ibis
import pandas as pd
import pytest

import analysis.cohort.build as build
from analysis.cohort import build_cohorts, connect, default_specs
from analysis.cohort.runner import QueueRunner, SyncRunner, runner


def _temp_tables(con) -> set[str]:
    rows = con.con.sql("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    return {r[0] for r in rows}


def test_queued_build_equals_synchronous_build(micro_path, monkeypatch):
    con = connect(micro_path, validate=False)
    assert isinstance(runner(con), QueueRunner)
    queued = build_cohorts(con, default_specs(2023))
    monkeypatch.setattr(build, "runner", SyncRunner)
    synced = build_cohorts(connect(micro_path, validate=False), default_specs(2023))
    for key, q in queued.items():
        s = synced[key]
        pd.testing.assert_frame_equal(q.attrition.to_frame(), s.attrition.to_frame())
        for name in ("baseline", "outcomes", "panel_monthly"):
            pd.testing.assert_frame_equal(getattr(q, name), getattr(s, name), obj=name)
    assert not _temp_tables(con)  # every cached table dropped


def test_backend_not_made_by_connect_runs_synchronously():
    con = ibis.duckdb.connect()
    assert isinstance(runner(con), SyncRunner)


def test_a_failing_query_raises_its_own_error_and_drops_the_tables(micro_path):
    con = connect(micro_path, validate=False)
    enrollment = con.table("enrollment")
    with pytest.raises(duckdb.ConversionException):
        with runner(con) as run:
            ok = run.cache(enrollment.select("person_id"))
            bad = run.cache(ok.mutate(n=ok.person_id.cast("int64")))  # fails when run
            later = run.arrow(bad.select("n"))  # never runs
            later.result()
    assert not _temp_tables(con)
    # the connection stays usable
    assert con.execute(enrollment.count()) > 0


def test_cached_tables_keep_the_expression_types(micro_path):
    con = connect(micro_path, validate=False)
    t = con.table("enrollment")
    expr = t.select("person_id", one=ibis.literal(1, type="int8"), day=t.birth_date)
    with runner(con) as run:
        cached = run.cache(expr)
        assert cached.schema() == expr.schema()
        got = run.arrow(cached.order_by("person_id")).result()
    want = con.to_pyarrow(expr.order_by("person_id"))
    assert got.equals(want)


def test_an_error_in_the_caller_stops_the_queue_and_drops_the_tables(micro_path):
    con = connect(micro_path, validate=False)
    enrollment = con.table("enrollment")
    with pytest.raises(KeyError, match="caller"):
        with runner(con) as run:
            cached = run.cache(enrollment.select("person_id"))
            run.cache(cached.mutate(n=cached.person_id.length()))
            raise KeyError("caller")
    assert not _temp_tables(con)
    assert con.execute(enrollment.count()) > 0

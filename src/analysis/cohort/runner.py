"""Run the queries of a cohort build: on DuckDB in order on one worker thread.

A build is a chain of Ibis expressions, each materialised (cached) for the next ones or
fetched as a result. Building and compiling an expression is Python work; running it
is the engine's, and DuckDB releases the interpreter while it runs. ``QueueRunner``
therefore hands each compiled query to one worker thread and returns at once: the next
expression is built and compiled against the cached table's name and schema while the
engine still fills it. The worker runs the queries one after another in the order given,
so every query finds the tables it reads; only the worker touches the connection while
the runner is open. ``SyncRunner`` runs everything at once in the calling thread (Spark,
whose session does its own scheduling).

Both give the same tables: the SQL is the one Ibis compiles, and a cached table is
created with the column types of its expression's schema, as Ibis's ``cache`` does.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
from collections.abc import Callable

import ibis
import ibis.expr.operations as ops

_names = itertools.count()


class _Skipped(Exception):
    """A query not run because an earlier one failed (``QueueRunner`` raises that one)."""


class Done:
    """A result available now (the ``SyncRunner``'s answer to ``submit``)."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class SyncRunner:
    """Run every query at once in the calling thread (any Ibis backend)."""

    def __init__(self, con):
        self.con = con
        self._cached: list = []

    def cache(self, expr) -> ibis.Table:
        t = expr.cache()
        self._cached.append(t)
        return t

    def release(self, table) -> None:
        """Kept until ``close``: an engine that caches lazily (Spark) may not have
        materialised the tables read from ``table`` yet."""

    def submit(self, fn: Callable, *args) -> Done:
        """Run ``fn(con, *args)`` now; its value is ``.result()``."""
        return Done(fn(self.con, *args))

    def arrow(self, expr) -> Done:
        """The result of ``expr`` as an Arrow table (``.result()``)."""
        return Done(self.con.to_pyarrow(expr))

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb) -> None:
        self.close()

    def close(self) -> None:
        """Release every table still cached (also after an error)."""
        for t in reversed(self._cached):
            t.release()
        self._cached = []


class QueueRunner:
    """Run the queries on DuckDB in order on one worker thread (see the module docstring).

    Use as a context manager: leaving it waits for the queries submitted, drops the
    tables still cached and raises the first error any query met.
    """

    def __init__(self, con):
        self.con = con
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cohort-duckdb")
        self._cached: list[str] = []
        self._error: BaseException | None = None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None or issubclass(kind, _Skipped):
            # the worker's first error is the one to see, not that a later query skipped
            self.close()
        else:  # an error here (or an interrupt): stop the engine, keep that error
            self.close(raise_error=False, cancel=True)

    def _run(self, fn: Callable, *args) -> cf.Future:
        def task():
            if self._error is not None:  # an earlier query failed: its tables are missing
                raise _Skipped()
            try:
                return fn(*args)
            except BaseException as e:
                self._error = e
                raise

        return self._pool.submit(task)  # held by the caller only: a result is freed with it

    def cache(self, expr) -> ibis.Table:
        """Queue creating a temporary table from ``expr``; return it as a table now."""
        con = self.con
        name = f"_cohort_{next(_names)}"
        schema = expr.schema()
        columns = ", ".join(d.sql(con.dialect) for d in schema.to_sqlglot_column_defs(con.dialect))
        query = con.compile(expr)
        names = ", ".join(_quote(c) for c in schema.names)

        def create():
            raw = con.con
            raw.execute(f"CREATE TEMPORARY TABLE {_quote(name)} ({columns})")
            raw.execute(f"INSERT INTO {_quote(name)} ({names}) {query}")

        self._cached.append(name)
        self._run(create)
        op = ops.DatabaseTable(
            name,
            schema=schema,
            source=con,
            namespace=ops.Namespace(catalog="temp", database="main"),
        )
        return op.to_expr()

    def release(self, table) -> None:
        """Queue dropping a table made by ``cache`` (after the queries before it; also
        after an error)."""
        name = table.op().name
        self._cached.remove(name)
        self._pool.submit(self._drop, name)

    def _drop(self, name: str) -> None:
        self.con.con.execute(f"DROP TABLE IF EXISTS temp.main.{_quote(name)}")

    def submit(self, fn: Callable, *args) -> cf.Future:
        """Queue ``fn(con, *args)`` (it may query the connection); a future of its value."""
        return self._run(fn, self.con, *args)

    def arrow(self, expr) -> cf.Future:
        """Queue ``expr``; a future of its result as an Arrow table (as Ibis's
        ``to_pyarrow`` gives it)."""
        con = self.con
        query = con.compile(expr)

        def fetch():
            from ibis.backends.duckdb.converter import DuckDBPyArrowData

            table = con.con.sql(query).to_arrow_table()
            return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)

        return self._run(fetch)

    def close(self, *, raise_error: bool = True, cancel: bool = False) -> None:
        """Wait for the queries, drop the tables still cached, raise the first error.

        ``cancel``: drop the queries not yet started and interrupt the running one.
        """
        if cancel:
            self._pool.shutdown(wait=False, cancel_futures=True)
            with contextlib.suppress(Exception):
                self.con.con.interrupt()
        self._pool.shutdown(wait=True)
        for name in reversed(self._cached):  # the worker is done: this thread may query
            try:
                self._drop(name)
            except Exception:
                if not cancel:
                    raise
        self._cached = []
        if raise_error and self._error is not None:
            raise self._error


def runner(con):
    """The runner for ``con``: ``QueueRunner`` on a DuckDB backend made by ``connect``
    (whose tables are looked up once, so that building expressions never queries the
    connection), else ``SyncRunner``.

    Every table of the data contract is looked up here, before any query is queued.
    """
    from analysis.cohort.engine import engine_name, source
    from analysis.data.contract import TABLES

    if engine_name(con) != "duckdb" or getattr(con, "_mvm_eval_tables", None) is None:
        return SyncRunner(con)
    for name in TABLES:
        source(con, name)
    return QueueRunner(con)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

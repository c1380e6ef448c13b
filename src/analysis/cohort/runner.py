"""Run the queries of a cohort build, dropping each cached table after its last reader.

A build is a chain of Ibis expressions, each materialised (cached) for the next ones or
fetched as a result. ``SyncRunner`` runs them one after another in the calling thread,
on any backend. On DuckDB, whose ``cache`` materialises at once, ``release`` drops a
table as soon as the build says it is no longer read, so that the engine holds only the
tables still needed; on Spark, which caches lazily, tables are dropped when the build
ends. A runner that queued the queries on a worker thread (compiling the next query
while DuckDB ran one) measured no gain over this one and was removed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import ibis

_names = itertools.count()


class Done:
    """A result available now: ``.result()`` (the interface the build reads results by)."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class SyncRunner:
    """Run every query at once in the calling thread (any Ibis backend).

    Use as a context manager: leaving it drops the tables still cached (also after an
    error).
    """

    def __init__(self, con, *, early_release: bool | None = None):
        self.con = con
        self._cached: list = []
        self._duckdb = getattr(con, "name", None) == "duckdb"
        self._early = self._duckdb if early_release is None else early_release

    def cache(self, expr) -> ibis.Table:
        """Materialise ``expr`` as a temporary table; return that table.

        On DuckDB the table is created here under a name of the runner's, so that a
        query failing halfway leaves no empty table behind; elsewhere Ibis's ``cache``.
        """
        if not self._duckdb:
            t = expr.cache()
        else:
            name = f"_cohort_{next(_names)}"
            try:
                t = self.con.create_table(name, expr, temp=True)
            except BaseException:
                self.con.drop_table(name, force=True)
                raise
        self._cached.append(t)
        return t

    def _drop(self, table) -> None:
        if self._duckdb:
            self.con.drop_table(table.op().name, force=True)
        else:
            table.release()

    def release(self, table) -> None:
        """Drop ``table`` now on DuckDB; keep it until ``close`` on an engine that caches
        lazily (Spark), which may not have materialised the tables read from it yet."""
        if self._early:
            self._cached = [t for t in self._cached if t is not table]
            self._drop(table)

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
        """Release every table still cached."""
        for t in reversed(self._cached):
            self._drop(t)
        self._cached = []


def runner(con) -> SyncRunner:
    """The runner for a build on ``con``."""
    return SyncRunner(con)

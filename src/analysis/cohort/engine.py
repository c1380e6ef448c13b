"""Ibis backends over a dataset directory: DuckDB embedded (default) or PySpark.

``connect`` registers every Parquet table of a dataset as a view named after the table,
so that the cohort queries (plain Ibis expressions) run unchanged on either engine.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from analysis.data.contract import TABLES, arrow_schema
from analysis.errors import UserError

ENGINES = ("duckdb", "spark")


def connect(
    dataset_path: str | os.PathLike,
    engine: str = "duckdb",
    *,
    validate: bool = True,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike | None = None,
    shuffle_partitions: int | None = None,
):
    """Open an Ibis backend with the dataset's tables registered as views.

    Parameters
    ----------
    dataset_path : str or PathLike
        A dataset directory (``dataset.json`` plus one Parquet file per table).
    engine : {"duckdb", "spark"}
        DuckDB in-process (default), or PySpark with a session started in-process
        (``spark.master`` from ``analysis.config.SPARK_MASTER``).
    validate : bool
        Refuse a dataset that breaks the table contract (``ValidationFailed``). Turn off
        only for benchmarks on data just written by the generator.
    threads : int, optional
        DuckDB worker threads (default: all cores).
    memory_limit : str, optional
        DuckDB memory limit such as ``"4GB"`` (default: 80% of RAM); beyond it DuckDB
        spills to disk.
    temp_directory : str or PathLike, optional
        Where DuckDB spills (default: a fresh directory under the system's temporary
        directory, removed by DuckDB when the connection closes).
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions`` (default: 2 per local core).

    Returns
    -------
    ibis.backends.BaseBackend

    Raises
    ------
    UserError
        Unknown engine, missing dataset, or a table whose columns break the contract.
    ValidationFailed
        The dataset fails validation.

    Examples
    --------
    >>> con = connect("data/synthetic")  # doctest: +SKIP
    >>> con.table("claims").count().execute()  # doctest: +SKIP
    """
    if engine not in ENGINES:
        raise UserError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "spark":
        require_spark()
    path = Path(dataset_path)
    dataset = _open_dataset(path)
    if validate:
        _ensure_valid(dataset)
    if engine == "duckdb":
        import duckdb
        import ibis

        config: dict[str, Any] = {}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        config["temp_directory"] = str(temp_directory or _spill_directory())
        con = ibis.duckdb.connect(**config)
        try:  # keep standard output for results (bench JSON, run directory)
            con.raw_sql("SET enable_progress_bar = false")
        except duckdb.Error:
            # In a Jupyter kernel DuckDB refuses to touch the setting without ipywidgets;
            # it shows no console bar there anyway.
            pass
    else:
        con = _spark_backend(shuffle_partitions)
    for name in dataset.tables:
        con.read_parquet(str((path / f"{name}.parquet").resolve()), table_name=name)
    for name in (t for t in TABLES if t not in dataset.tables):
        _register_empty(con, name)
    con._mvm_eval_tables = {}  # memo for ``source``: looking a table up queries its schema
    return con


def _spill_directory() -> Path:
    """A not yet existing directory under the system's temporary directory for DuckDB."""
    import tempfile
    import uuid

    return Path(tempfile.gettempdir()) / f"mvm-eval-duckdb-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _register_empty(con, name: str) -> None:
    """Register an absent optional table as an empty view with the contract's schema."""
    schema = arrow_schema(name)
    if con.name == "pyspark":
        session = con._session
        session.createDataFrame([], _spark_schema(schema)).createOrReplaceTempView(name)
    else:
        con.con.register(name, schema.empty_table())


def _spark_schema(schema):
    from pyspark.sql import types as T

    kinds = {"string": T.StringType(), "int64": T.LongType(), "double": T.DoubleType(),
             "date32[day]": T.DateType(), "bool": T.BooleanType()}  # fmt: skip
    return T.StructType([T.StructField(f.name, kinds[str(f.type)], True) for f in schema])


def _open_dataset(path: Path):
    from analysis.data import load_dataset

    try:
        dataset = load_dataset(path)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    _check_columns(dataset)
    return dataset


def _check_columns(dataset) -> None:
    """Every table present has the contract's columns (a cheap check on Parquet footers)."""
    import pyarrow.parquet as pq

    for name in dataset.tables:
        p = dataset.path / f"{name}.parquet"
        have = set(pq.read_schema(p).names)
        missing = [c for c in TABLES[name].column_names if c not in have]
        if missing:
            raise UserError(f"{p}: missing column(s) {', '.join(missing)}")


def _ensure_valid(dataset) -> None:
    from analysis.data.validation import ensure_valid

    ensure_valid(dataset)


def spark_session(shuffle_partitions: int | None = None):
    """The in-process SparkSession (created on first use, reused afterwards).

    Logs are quiet (errors only), the web UI and console progress bars are off, and the
    session time zone is UTC so that dates never shift.
    """
    from pyspark.sql import SparkSession

    from analysis.config import SPARK_MASTER

    partitions = shuffle_partitions or 2 * (os.cpu_count() or 1)
    session = (
        SparkSession.builder.master(SPARK_MASTER)
        .appName("mvm-eval")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.driver.memory", os.environ.get("MVM_EVAL_SPARK_DRIVER_MEMORY", "2g"))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return session


SPARK_MISSING = (
    "engine 'spark' needs PySpark, an optional extra: install it with "
    "pip install 'mvm-eval[spark]' (or uv sync --extra spark)"
)


def require_spark() -> None:
    """Check that the Spark engine can start: PySpark installed and a Java runtime found.

    Raises
    ------
    UserError
        One line saying what is missing (PySpark is the optional extra ``spark``).
    """
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        raise UserError(SPARK_MISSING)
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError("engine 'spark' needs a Java runtime (java not on PATH, JAVA_HOME unset)")


def _spark_backend(shuffle_partitions: int | None):
    import ibis

    require_spark()
    return ibis.pyspark.connect(spark_session(shuffle_partitions))


def engine_name(con) -> str:
    """``"duckdb"`` or ``"spark"`` for a backend made by ``connect``."""
    return "spark" if con.name == "pyspark" else con.name


def source(con, name: str):
    """The registered table ``name`` (``connect`` registers absent ones as empty views).

    On a backend made by ``connect`` each table is looked up once: every lookup asks the
    engine for the schema, which adds up over the few dozen queries of a cohort build.
    """
    memo = getattr(con, "_mvm_eval_tables", None)
    if memo is None:
        return con.table(name)
    if name not in memo:
        memo[name] = con.table(name)
    return memo[name]


def claim_month_range(con) -> tuple[dt.date, dt.date]:
    """First days of the first and last service months in ``claims``.

    Raises
    ------
    UserError
        If ``claims`` has no rows.
    """
    claims = source(con, "claims")
    row = con.execute(
        claims.aggregate(first=claims.service_month.min(), last=claims.service_month.max())
    )
    first, last = row["first"].iloc[0], row["last"].iloc[0]
    if first is None or last != last or first != first:
        raise UserError("claims table is empty: no claim months to build a cohort on")
    return _as_date(first), _as_date(last)


def _as_date(value) -> dt.date:
    import pandas as pd

    return pd.Timestamp(value).date()

"""Dataset directories: one Parquet file per table plus ``dataset.json``.

A dataset is written into a temporary sibling directory and renamed into place only when
complete, so a crash never leaves half a dataset. ``dataset.json`` records the name,
source, creation time, generator and seed (synthetic data), row counts and the SHA-256 of
every file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data.contract import CONTRACT_VERSION, REQUIRED_TABLES, TABLES, arrow_schema
from analysis.errors import UserError

METADATA_FILE = "dataset.json"


class OutputExists(UserError, FileExistsError):
    """The output directory exists and may not be replaced (a one-line user error)."""


def is_dataset_dir(path: Path) -> bool:
    """Whether ``path`` is a directory written by :class:`DatasetWriter` (has ``dataset.json``)."""
    return (path / METADATA_FILE).is_file()


def prepare_output_dir(
    out: str | os.PathLike,
    *,
    replace: bool = False,
    replaceable: Callable[[Path], bool] = is_dataset_dir,
    what: str = "a dataset",
    option: str = "--out",
) -> Path:
    """Check that ``out`` may be (re)written and create its parent directory.

    An existing ``out`` is replaced only with ``replace`` and only if it is an empty
    directory or ``replaceable(out)`` holds (by default: it is a dataset), so that a
    mistyped path never deletes unrelated files.

    Parameters
    ----------
    out : str or PathLike
        The directory to write.
    replace : bool
        Whether an existing ``out`` may be replaced.
    replaceable : callable
        Tells whether an existing non-empty directory holds output of this kind.
    what : str
        Name of that kind of output, for the message.
    option : str
        The command-line option that named ``out``, for the message.

    Returns
    -------
    Path

    Raises
    ------
    OutputExists
        If ``out`` exists and may not be replaced.
    UserError
        If ``out`` is not a directory or its parent cannot be created.
    """
    out = Path(out)
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            kind = "a symbolic link" if out.is_symlink() else "not a directory"
            raise UserError(f"{option} {out}: exists and is {kind}")
        if not replace:
            raise OutputExists(f"{option} {out} exists; pass --replace to overwrite it")
        if any(out.iterdir()) and not replaceable(out):
            raise OutputExists(
                f"{option} {out} is not {what} and not empty; refusing to replace it "
                "(choose a new directory or empty it first)"
            )
    blocker = next((a for a in out.parents if a.exists() and not a.is_dir()), None)
    if blocker is not None:
        raise UserError(f"{option} {out}: {blocker} is a file, not a directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(
            f"{option} {out}: cannot create {out.parent} ({e.strerror or type(e).__name__})"
        ) from None
    if not out.parent.is_dir():
        raise UserError(f"{option} {out}: {out.parent} is not a directory")
    return out


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a contract Parquet file as pandas with date columns as ``datetime64[ns]``.

    Arrow ``date32`` columns would otherwise arrive as Python ``date`` objects, which do not
    compare with ``pd.Timestamp``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    tbl = pq.read_table(path, columns=columns)
    dates = [f.name for f in tbl.schema if pa.types.is_date(f.type)]
    df = tbl.to_pandas(date_as_object=False)
    for col in dates:
        df[col] = df[col].astype("datetime64[ns]")
    return df


@dataclass
class Dataset:
    """A dataset directory opened for reading.

    Tables are read lazily on first access and cached: ``ds["checkups"]`` or
    ``ds.checkups``.

    Attributes
    ----------
    path : Path
        The dataset directory.
    meta : dict
        The parsed ``dataset.json``.
    """

    path: Path
    meta: dict[str, Any]
    _cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def tables(self) -> list[str]:
        """Names of the tables present, in contract order."""
        return [t for t in TABLES if (self.path / f"{t}.parquet").exists()]

    def table_path(self, name: str) -> Path:
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
        p = self.path / f"{name}.parquet"
        if not p.exists():
            raise FileNotFoundError(f"{p}: table {name!r} is not in this dataset")
        return p

    def read(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read one table as pandas (dates as ``datetime64[ns]``)."""
        if columns is None and name in self._cache:
            return self._cache[name]
        df = read_table(self.table_path(name), columns=columns)
        if columns is None:
            self._cache[name] = df
        return df

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.read(name)

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in TABLES:
            return self.read(name)
        raise AttributeError(name)

    def verify_hashes(self) -> list[str]:
        """Names of files whose SHA-256 differs from ``dataset.json`` (empty if all match)."""
        bad = []
        for fname, digest in self.meta.get("files", {}).items():
            p = self.path / fname
            if not p.exists() or file_sha256(p) != digest:
                bad.append(fname)
        return bad

    @property
    def fingerprint(self) -> str:
        """One hash over all file hashes: identifies the exact data a run used."""
        files = self.meta.get("files", {})
        blob = json.dumps(files, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def __repr__(self) -> str:
        rows = self.meta.get("rows", {})
        return (
            f"<Dataset {self.meta.get('name', self.path.name)!r} source={self.meta.get('source')!r} "
            f"persons={rows.get('enrollment', '?')} tables={len(self.tables)}>"
        )


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset directory.

    Parameters
    ----------
    path : str or PathLike
        Directory holding ``dataset.json`` and one Parquet file per table.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        If the directory or its ``dataset.json`` is missing.
    ValueError
        If a required table is missing.
    """
    p = Path(path)
    meta_path = p / METADATA_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: not a dataset directory (no {METADATA_FILE})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    missing = [t for t in REQUIRED_TABLES if not (p / f"{t}.parquet").exists()]
    if missing:
        raise ValueError(f"{p}: required table(s) missing: {', '.join(missing)}")
    return Dataset(path=p, meta=meta)


class DatasetWriter:
    """Write a dataset atomically.

    Use as a context manager. Tables are written with the contract's Arrow schema into a
    temporary directory beside ``out``; on a clean exit ``dataset.json`` is written and the
    directory is renamed to ``out``. On an exception the temporary directory is removed.

    Parameters
    ----------
    out : path
        Target dataset directory.
    meta : dict
        Metadata to record (``name``, ``source``, ``generator``, ``seed``, ...).
    replace : bool
        Replace an existing ``out`` (only an empty directory or a dataset: see
        :func:`prepare_output_dir`); otherwise refuse with :class:`OutputExists`, a
        ``FileExistsError`` and ``UserError``. Every problem with ``out`` (a file in the
        way, a parent that cannot be created) is a one-line ``UserError`` naming ``--out``.

    Examples
    --------
    >>> with DatasetWriter(tmp / "ds", {"name": "demo", "source": "test"}) as w:  # doctest: +SKIP
    ...     w.write("enrollment", enrollment_df)
    """

    def __init__(self, out: str | os.PathLike, meta: dict[str, Any], *, replace: bool = False):
        self.out = Path(out)
        self.meta = dict(meta)
        self.replace = replace
        self._writers: dict[str, Any] = {}
        self._rows: dict[str, int] = {}
        self.tmp: Path | None = None

    def __enter__(self) -> DatasetWriter:
        prepare_output_dir(self.out, replace=self.replace)
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        except OSError as e:
            raise UserError(
                f"--out {self.out}: cannot write in {self.out.parent} "
                f"({e.strerror or type(e).__name__})"
            ) from None
        return self

    def _to_arrow(self, name: str, df: pd.DataFrame):
        import pyarrow as pa

        schema = arrow_schema(name)
        missing = [c for c in schema.names if c not in df.columns]
        if missing:
            raise ValueError(f"table {name!r}: missing column(s) {', '.join(missing)}")
        return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)

    def append(self, name: str, df: pd.DataFrame) -> None:
        """Append a chunk of rows to a table (streaming writes for large datasets)."""
        import pyarrow.parquet as pq

        assert self.tmp is not None, "use DatasetWriter as a context manager"
        tbl = self._to_arrow(name, df)
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(
                self.tmp / f"{name}.parquet", tbl.schema, compression="zstd"
            )
            self._rows[name] = 0
        self._writers[name].write_table(tbl)
        self._rows[name] += tbl.num_rows

    def write(self, name: str, df: pd.DataFrame) -> None:
        """Write a whole table (may be called once per table, or after ``append`` calls)."""
        self.append(name, df)

    def write_json(self, filename: str, obj: Any) -> None:
        """Write an extra JSON file (e.g. ``truth.json``) into the dataset, hashed like the tables."""
        assert self.tmp is not None
        (self.tmp / filename).write_text(
            json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )

    def extra_path(self, filename: str) -> Path:
        """Path inside the temporary dataset for an extra file the caller writes itself."""
        assert self.tmp is not None
        return self.tmp / filename

    def __exit__(self, exc_type, exc, tb) -> None:
        for w in self._writers.values():
            w.close()
        assert self.tmp is not None
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        files = {p.name: file_sha256(p) for p in sorted(self.tmp.iterdir()) if p.is_file()}
        meta = {
            "contract_version": CONTRACT_VERSION,
            **self.meta,
            "rows": {t: self._rows[t] for t in TABLES if t in self._rows},
            "files": files,
        }
        (self.tmp / METADATA_FILE).write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        try:
            # Checked again: the directory may have changed while the tables were written.
            prepare_output_dir(self.out, replace=self.replace)
            if self.out.exists():
                shutil.rmtree(self.out)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        os.replace(self.tmp, self.out)

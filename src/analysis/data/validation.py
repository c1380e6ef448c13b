"""Dataset validation: the full contract check behind ``mvm-eval validate``.

Two layers, both derived from ``analysis.data.contract`` and both run by DuckDB over
the Parquet files, so that no table is loaded into memory (DuckDB works within
``MEMORY_LIMIT`` and spills beyond it):

- column rules (type, missing values, plausible range, allowed codes): the Arrow type of
  every Parquet file, then the rules of the pandera schemas of
  :mod:`analysis.data.schemas`, one aggregate query per table
  (:func:`analysis.data.schemas.column_failures`);
- row and cross-table rules (keys unique, foreign keys, claims only while enrolled, no
  claims after death, checkups at ages 40-74 inside an enrollment spell, end ≥ start,
  cost_yen = points × 10, ...) written once in SQL. The importer runs the same SQL rules
  to reject rows. The validator first tries to prove key and foreign-key rules from the
  order of the rows, reading sorted files as a merge (:func:`proven_by_order`); their SQL
  decides whenever the proof does not go through.

Each rule selects the offending rows of one table as ``(_row, example)``: ``_row`` is the
row's position (file row number in a dataset, input order on import) and ``example`` a
short text that shows the problem without identifiers.

Checkup eligibility follows 特定健診: a person is examined in a fiscal year in which they
are 40 or older at its end (31 March), while still under 75 on the day of the checkup.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.data.contract import REQUIRED_TABLES, TABLES, arrow_schema
from analysis.data.dataset import Dataset, load_dataset
from analysis.errors import UserError, ValidationFailed

EXAMPLES = 3
"""Examples shown per finding."""

MEMORY_LIMIT = "512MB"
"""DuckDB's memory limit while validating; joins and aggregations spill to disk beyond it,
so that the process stays under 1 GB whatever the size of the dataset."""


@dataclass(frozen=True)
class Rule:
    """One rule: the table it checks, a name, the tables it needs and its SQL."""

    table: str
    name: str
    sql: str
    needs: tuple[str, ...] = ()
    key: bool = False
    """A primary-key rule: evaluated last on import (on rows no other rule rejected)."""
    order: tuple[str, ...] = ()
    """The primary key, or the foreign key and the parent's column: the validator first
    tries to prove the rule from the order of the rows (:func:`proven_by_order`)."""

    def query(self, position: str = "row") -> str:
        """The SQL, with row positions in examples labelled ``position`` (row or line)."""
        return self.sql.replace("$pos", f"'{position} '")


MACROS = """
CREATE OR REPLACE MACRO age_at(b, d) AS
    year(d) - year(b) - CASE WHEN month(d) * 100 + day(d) < month(b) * 100 + day(b)
                             THEN 1 ELSE 0 END;
CREATE OR REPLACE MACRO fy_of(d) AS CASE WHEN month(d) >= 4 THEN year(d) ELSE year(d) - 1 END;
"""

_OPEN_END = "coalesce(e.enroll_end, DATE '9999-12-31')"


def _key_rule(table: str) -> Rule:
    cols = TABLES[table].primary_key
    keys = ", ".join(f'"{k}"' for k in cols)
    # Only keys seen more than once go through the window (cheap when keys are unique).
    sql = f"""
        SELECT _row, 'same key as ' || $pos || first AS example FROM (
            SELECT _row, row_number() OVER w AS rn, first_value(_row) OVER w AS first
            FROM {table} SEMI JOIN (
                SELECT {keys} FROM {table} GROUP BY ALL HAVING count(*) > 1
            ) USING ({keys})
            WINDOW w AS (PARTITION BY {keys} ORDER BY _row)) WHERE rn > 1"""
    return Rule(table, "unique key (" + ", ".join(cols) + ")", sql, key=True, order=cols)


def _fk_rule(table: str, column: str, target: str) -> Rule:
    parent, pcol = target.split(".")
    sql = f"""
        SELECT t._row, $pos || t._row AS example FROM {table} t
        ANTI JOIN {parent} p ON p."{pcol}" = t."{column}"
        WHERE t."{column}" IS NOT NULL"""
    return Rule(table, f"{column} exists in {parent}", sql, needs=(parent,), order=(column, pcol))


def _where(table: str, name: str, cond: str, example: str, needs: tuple[str, ...] = ()) -> Rule:
    sql = f"SELECT t._row, {example} AS example FROM {table} t WHERE {cond}"
    return Rule(table, name, sql, needs=needs)


def _d(col: str) -> str:
    return f"strftime(t.{col}, '%Y-%m-%d')"


def _future(table: str, cols: list[str]) -> list[Rule]:
    return [_where(table, f"{c} not in the future", f"t.{c} > $today", _d(c)) for c in cols]


def _custom_rules() -> list[Rule]:
    r: list[Rule] = []
    # enrollment
    r += [
        _where(
            "enrollment",
            "enroll_end >= enroll_start",
            "t.enroll_end < t.enroll_start",
            _d("enroll_start") + " || ' > ' || " + _d("enroll_end"),
        ),
        _where(
            "enrollment",
            "enroll_start >= birth_date",
            "t.enroll_start < t.birth_date",
            _d("birth_date") + " || ' > ' || " + _d("enroll_start"),
        ),
        _where(
            "enrollment",
            "death_date >= birth_date",
            "t.death_date < t.birth_date",
            _d("death_date"),
        ),
        *_future("enrollment", ["birth_date", "enroll_start", "death_date"]),
        Rule(
            "enrollment",
            "enrollment spells do not overlap",
            """
            SELECT t._row, 'overlaps ' || $pos || min(e._row) AS example FROM enrollment t
            JOIN enrollment e ON e.person_id = t.person_id AND e._row < t._row
             AND e.enroll_start <= coalesce(t.enroll_end, DATE '9999-12-31')
             AND t.enroll_start <= coalesce(e.enroll_end, DATE '9999-12-31')
            GROUP BY t._row""",
        ),
        Rule(
            "enrollment",
            "same sex and birth date in every spell",
            """
            SELECT t._row, 'differs from ' || $pos || min(e._row) AS example FROM enrollment t
            JOIN enrollment e ON e.person_id = t.person_id AND e._row < t._row
             AND (e.sex <> t.sex OR e.birth_date <> t.birth_date)
            GROUP BY t._row""",
        ),
    ]
    # checkups
    person = (
        "(SELECT person_id, min(birth_date) AS birth_date, max(death_date) AS death_date "
        "FROM enrollment GROUP BY person_id)"
    )
    r += [
        _where(
            "checkups",
            "fiscal_year matches exam_date",
            "t.fiscal_year <> fy_of(t.exam_date)",
            "t.fiscal_year || ' vs ' || " + _d("exam_date"),
        ),
        _where("checkups", "dbp < sbp", "t.dbp >= t.sbp", "t.sbp || '/' || t.dbp"),
        *_future("checkups", ["exam_date"]),
        Rule(
            "checkups",
            "age 40-74 at checkup",
            f"""
            SELECT t._row, 'age ' || age_at(p.birth_date, t.exam_date) AS example
            FROM checkups t JOIN {person} p USING (person_id)
            WHERE age_at(p.birth_date, make_date(t.fiscal_year + 1, 3, 31)) < 40
               OR age_at(p.birth_date, t.exam_date) > 74""",
            needs=("enrollment",),
        ),
        Rule(
            "checkups",
            "checkup within an enrollment spell",
            """
            SELECT t._row, strftime(t.exam_date, '%Y-%m-%d') AS example FROM checkups t
            SEMI JOIN (SELECT DISTINCT person_id FROM enrollment) p ON p.person_id = t.person_id
            ANTI JOIN enrollment e ON e.person_id = t.person_id
                AND t.exam_date BETWEEN e.enroll_start AND """
            + _OPEN_END,
            needs=("enrollment",),
        ),
        Rule(
            "checkups",
            "no checkup after death",
            f"""
            SELECT t._row, strftime(t.exam_date, '%Y-%m-%d') AS example
            FROM checkups t JOIN {person} p USING (person_id)
            WHERE t.exam_date > p.death_date""",
            needs=("enrollment",),
        ),
    ]
    # claims
    r += [
        _where(
            "claims",
            "cost_yen = points × 10",
            "t.cost_yen <> t.points * 10",
            "t.points || ' 点, ' || t.cost_yen || ' 円'",
        ),
        _where(
            "claims",
            "service_month is the first of a month",
            "day(t.service_month) <> 1",
            _d("service_month"),
        ),
        *_future("claims", ["service_month"]),
        Rule(
            "claims",
            "claim while enrolled",
            """
            SELECT t._row, strftime(t.service_month, '%Y-%m') AS example FROM claims t
            SEMI JOIN (SELECT DISTINCT person_id FROM enrollment) p ON p.person_id = t.person_id
            ANTI JOIN enrollment e ON e.person_id = t.person_id
                AND e.enroll_start <= last_day(t.service_month)
                AND t.service_month <= """
            + _OPEN_END,
            needs=("enrollment",),
        ),
        Rule(
            "claims",
            "no claim after death",
            f"""
            SELECT t._row, strftime(t.service_month, '%Y-%m') AS example
            FROM claims t JOIN {person} p USING (person_id)
            WHERE t.service_month > p.death_date""",
            needs=("enrollment",),
        ),
    ]
    # programs, activity, events
    r += [
        _where(
            "program_enrollments",
            "end_date >= start_date",
            "t.end_date < t.start_date",
            _d("start_date") + " || ' > ' || " + _d("end_date"),
        ),
        *_future("program_offers", ["offer_date"]),
        *_future("program_enrollments", ["start_date"]),
        _where("activity", "week_start is a Monday", "isodow(t.week_start) <> 1", _d("week_start")),
        *_future("activity", ["week_start"]),
    ]
    return r


def all_rules() -> list[Rule]:
    """Every SQL rule, in table order: foreign keys, custom rules, then the primary key."""
    custom = _custom_rules()
    out: list[Rule] = []
    for name, t in TABLES.items():
        out += [_fk_rule(name, c, target) for c, target in t.references.items()]
        out += [r for r in custom if r.table == name]
        out.append(_key_rule(name))
    return out


def rules_for(table: str) -> list[Rule]:
    """The SQL rules of one table."""
    return [r for r in all_rules() if r.table == table]


@dataclass(frozen=True)
class Finding:
    """One broken rule: the table, the rule, how many rows break it, first examples."""

    table: str
    rule: str
    n_rows: int
    examples: tuple[str, ...] = ()


@dataclass
class ValidationReport:
    """The result of :func:`validate_dataset`.

    Attributes
    ----------
    path : Path
        The dataset directory.
    findings : list of Finding
        Every broken rule (empty when the dataset is valid).
    rows : dict
        Rows per table checked.
    n_rules : int
        Number of rules evaluated.
    """

    path: Path
    findings: list[Finding] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    n_rules: int = 0

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.findings

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: ``table, rule, n_rows, examples``."""
        return pd.DataFrame(
            [(f.table, f.rule, f.n_rows, ", ".join(f.examples)) for f in self.findings],
            columns=["table", "rule", "n_rows", "examples"],
        )

    def summary(self) -> str:
        """A readable multi-line report."""
        head = (
            f"{self.path}: {len(self.rows)} tables, {sum(self.rows.values()):,} rows, "
            f"{self.n_rules} rules checked: "
        )
        if self.ok:
            return head + "valid"
        lines = [head + f"{len(self.findings)} rule(s) broken"]
        for f in self.findings:
            ex = f"  e.g. {', '.join(f.examples)}" if f.examples else ""
            lines.append(f"  {f.table:<20} {f.rule:<45} {f.n_rows:>10,} rows{ex}")
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self) -> str:
        return f"<ValidationReport {self.path.name!r} ok={self.ok} findings={len(self.findings)}>"

    def _repr_html_(self) -> str:
        return f"<p>{self.summary().splitlines()[0]}</p>" + self.to_frame().to_html(index=False)


def open_dataset(path: str | os.PathLike, *, incomplete: bool = False) -> Dataset:
    """Open a dataset directory; every problem is a one-line ``UserError`` naming the file.

    Parameters
    ----------
    path : str or PathLike
        The dataset directory.
    incomplete : bool
        Open it even if required tables are missing (the validator reports them).

    Raises
    ------
    UserError
        If the directory or its ``dataset.json`` is missing, or ``dataset.json`` is not
        a valid JSON object (damaged or truncated).
    """
    import json

    from analysis.data.dataset import METADATA_FILE

    p = Path(path)
    meta_path = p / METADATA_FILE
    meta: object = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise UserError(
                f"{meta_path}: damaged, not valid JSON (line {e.lineno}); re-create the dataset"
            ) from None
        except (UnicodeDecodeError, OSError) as e:
            raise UserError(f"{meta_path}: cannot be read ({type(e).__name__})") from None
        if not isinstance(meta, dict):
            raise UserError(f"{meta_path}: damaged, expected a JSON object")
    try:
        return load_dataset(p)
    except FileNotFoundError as e:
        raise UserError(str(e)) from None
    except ValueError as e:
        if not incomplete:
            raise UserError(str(e)) from None
        return Dataset(path=p, meta=meta)


def _open(path_or_dataset: str | os.PathLike | Dataset) -> Dataset:
    if isinstance(path_or_dataset, Dataset):
        return path_or_dataset
    return open_dataset(path_or_dataset, incomplete=True)


def _unreadable(name: str, path: Path, e: Exception) -> Finding:
    """A Parquet file that pyarrow cannot open (truncated or not Parquet)."""
    return Finding(name, "file readable", 1, (f"{path.name}: {type(e).__name__}",))


def _arrow_findings(name: str, path: Path) -> list[Finding]:
    import pyarrow.parquet as pq

    actual = pq.read_schema(path)
    expected = arrow_schema(name)
    out = []
    missing = [f.name for f in expected if f.name not in actual.names]
    if missing:
        out.append(
            Finding(name, "contract columns present", len(missing), tuple(missing[:EXAMPLES]))
        )
    wrong = [
        f"{f.name}: {actual.field(f.name).type} (expected {f.type})"
        for f in expected
        if f.name in actual.names and not actual.field(f.name).type.equals(f.type)
    ]
    if wrong:
        out.append(Finding(name, "column types", len(wrong), tuple(wrong[:EXAMPLES])))
    return out


def _schema_findings(name: str, path: Path) -> list[Finding]:
    """Columns the table has but the contract does not, and the reverse (pandera's
    ``strict``), named as pandera names them."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    expected = TABLES[name].column_names
    out = []
    extra = [c for c in names if c not in expected]
    if extra:
        out.append(Finding(name, f"{name}: column_in_schema", len(extra), tuple(extra[:EXAMPLES])))
    missing = [c for c in expected if c not in names]
    if missing:
        out.append(
            Finding(name, f"{name}: column_in_dataframe", len(missing), tuple(missing[:EXAMPLES]))
        )
    return out


def _column_findings(con, name: str, path: Path) -> tuple[list[Finding], bool]:
    """The column rules of one table on the engine; also whether its data could be read.

    Columns missing or of the wrong Arrow type are left out (the Arrow check reports
    them once).
    """
    import duckdb
    import pyarrow.parquet as pq

    from analysis.data.schemas import column_failures

    actual = pq.read_schema(path)
    columns = [
        f.name
        for f in arrow_schema(name)
        if f.name in actual.names and actual.field(f.name).type.equals(f.type)
    ]
    out = _schema_findings(name, path)
    try:
        failures = column_failures(con, name, name, columns, examples=EXAMPLES)
    except duckdb.Error as e:  # a damaged data page in a readable file
        return [
            *out,
            Finding(name, "file readable", 1, (f"{path.name}: {type(e).__name__}",)),
        ], False
    return out + [Finding(name, rule, n, ex) for rule, n, ex in failures], True


def _connect(ds: Dataset, skip: set[str] = frozenset(), memory_limit: str = MEMORY_LIMIT):
    """A DuckDB connection with a view per readable table (``_row`` = file row number).

    DuckDB's ``statistics_propagation`` optimizer is off: it takes a Parquet column whose
    statistics show no NaN for one without NaN, and would fold the rules on such values.
    """
    import tempfile

    import duckdb

    spill = Path(tempfile.gettempdir()) / f"mvm-eval-validate-{os.getpid()}-{id(ds):x}"
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(spill)})
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # inside a Jupyter kernel duckdb ties this setting to ipywidgets
        pass
    con.execute("SET disabled_optimizers = 'statistics_propagation'")
    con.execute("SET preserve_insertion_order = false")  # examples are ordered explicitly
    con.execute(MACROS)
    for name in ds.tables:
        if name in skip:
            continue
        p = str(ds.path / f"{name}.parquet").replace("'", "''")
        con.execute(
            f"CREATE VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
            f"CAST(file_row_number AS BIGINT) + 1 AS _row "
            f"FROM read_parquet('{p}', file_row_number = true)"
        )
    return con


def run_rule(con, rule: Rule, today: dt.date) -> tuple[int, tuple[str, ...]]:
    """Count the rows breaking ``rule`` on a DuckDB connection; return (n, first examples)."""
    params = {"today": today} if "$today" in rule.sql else {}
    n, ex = con.execute(
        f"SELECT count(*), min_by(example, _row, {EXAMPLES}) FROM ({rule.query()})", params
    ).fetchone()
    return int(n), tuple(str(x) for x in (ex or []))


# Key rules proven from the order of the rows. A dataset written sorted by its keys (as
# the simulator writes them) proves its keys unique row group by row group, and its
# foreign keys by a merge with the parent's sorted values: no hash table, which on tens
# of millions of ids costs far more than reading them. Only a proof counts; anything
# else leaves the rule to its SQL, which counts the rows and finds the examples.

ORDER_MAX_RUN = 64
"""Most rows with one value of a key's first column that are compared pairwise, and most
segments of ids in a row group (:func:`_ids`); beyond, the rule is left to SQL."""

ORDER_MAX_WIDTH = 64
"""Widest ids (bytes) proven from their order: 32-hex-digit pseudonyms and more."""


class _Unproven(Exception):
    """The rows are not in an order that proves the rule."""


_UNPROVEN = (_Unproven, pa.ArrowException, OSError, KeyError, ValueError)


def _array(col: pa.ChunkedArray) -> pa.Array:
    """One array (``combine_chunks`` copies even a single chunk)."""
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _ids(col: pa.ChunkedArray) -> tuple[int, list[tuple[int, int, np.ndarray]]]:
    """Strings of one width (at most ``ORDER_MAX_WIDTH`` bytes, all present) as keys in
    the same order.

    Returns the width and segments ``(start row, head, keys)``. Up to 16 bytes, rows whose
    strings share the bytes before the last 8 (their ``head``, big-endian; 0 up to 8
    bytes), with the ``keys`` of those 8 bytes as big-endian integers: pairs ``(head, key)``
    are then equal and ordered as the strings are. Wider strings (pseudonyms, whose first
    bytes are all different, would make a segment per row) are one segment of fixed-width
    bytes (numpy ``S``, compared as ``memcmp``, see :func:`_steps` and :func:`_contains`).
    """
    arr = _array(col)
    if not pa.types.is_string(arr.type) or arr.null_count or not len(arr):
        raise _Unproven
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], np.int32, n + 1, arr.offset * 4)
    width, start = int(offsets[1] - offsets[0]), int(offsets[0])
    if not 0 < width <= ORDER_MAX_WIDTH or np.any(np.diff(offsets) != width):
        raise _Unproven
    data = arr.buffers()[2]
    if width > 16:
        return width, [(0, 0, np.frombuffer(data, f"S{width}", n, start))]
    if width <= 8:
        padded = np.zeros((n, 8), np.uint8)
        padded[:, :width] = np.frombuffer(data, np.uint8, n * width, start).reshape(n, width)
        return width, [(0, 0, padded.view(">u8").ravel().astype(np.uint64))]
    # heads are only compared for equality: the low bytes of a little-endian integer will do
    head = np.ndarray((n,), "<u8", data, start, (width,)) & ((1 << 8 * (width - 8)) - 1)
    keys = np.ndarray((n,), ">u8", data, start + width - 8, (width,)).astype(np.uint64)
    cuts = [0, *(np.flatnonzero(head[1:] != head[:-1]) + 1).tolist(), n]
    if len(cuts) - 1 > ORDER_MAX_RUN:  # segments
        raise _Unproven
    raw = memoryview(data)
    return width, [
        (
            a,
            int.from_bytes(raw[start + a * width : start + a * width + width - 8], "big"),
            keys[a:b],
        )
        for a, b in zip(cuts, cuts[1:], strict=False)
    ]


def _words(keys: np.ndarray, at: int) -> np.ndarray:
    """Bytes ``at`` to ``at + 8`` of fixed-width byte strings as big-endian integers (a
    view: compared in the order of the bytes)."""
    keys = np.ascontiguousarray(keys)
    return np.ndarray(len(keys), ">u8", keys, at, (keys.itemsize,))


def _offsets(width: int) -> list[int]:
    """Where the 8-byte words of a string of ``width`` > 8 bytes start; the last may overlap
    the one before (bytes already equal decide nothing)."""
    return [min(at, width - 8) for at in range(0, width, 8)]


def _steps(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each key is below the previous one, and where equal to it.

    Wide byte strings are compared 8 bytes at a time as integers, the next 8 only where
    all before tie: 32-byte pseudonyms mostly differ in their first 8, and a row-by-row
    ``memcmp`` costs several integer comparisons.
    """
    if keys.dtype.kind != "S":
        return keys[1:] < keys[:-1], keys[1:] == keys[:-1]
    first = _words(keys, 0).astype(np.uint64)
    down, same = first[1:] < first[:-1], first[1:] == first[:-1]
    tie = np.flatnonzero(same)
    for at in _offsets(keys.itemsize)[1:]:
        if not len(tie):
            break
        words = _words(keys, at)
        before, after = words[tie], words[tie + 1]
        equal = after == before
        if not equal.all():
            differ = ~equal
            down[tie[differ]] = after[differ].astype(np.uint64) < before[differ].astype(np.uint64)
            same[tie[differ]] = False
            tie = tie[equal]
    return down, same


def _contains(keys: np.ndarray, values: np.ndarray) -> bool:
    """Every one of the sorted ``values`` is among the sorted ``keys`` (none above the last).

    Wide byte strings are first looked up by their first 8 bytes as integers and compared
    8 bytes at a time; only those not found there (several keys share their first bytes)
    are searched as strings.
    """
    if keys.dtype.kind != "S":
        return np.array_equal(keys[np.searchsorted(keys, values)], values)
    at = np.searchsorted(_words(keys, 0).astype(np.uint64), _words(values, 0).astype(np.uint64))
    at = np.minimum(at, len(keys) - 1)
    found = np.ones(len(values), bool)
    for offset in _offsets(keys.itemsize):
        found &= _words(keys, offset)[at] == _words(values, offset)
    if found.all():
        return True
    values = values[~found]
    at = np.searchsorted(keys, values)
    return np.array_equal(keys[np.minimum(at, len(keys) - 1)], values)


def _codes(col: pa.ChunkedArray) -> np.ndarray:
    """Integers equal where the values of a column are (dates, integers, strings)."""
    if col.null_count:
        raise _Unproven
    if pa.types.is_dictionary(col.type):
        if col.num_chunks == 1:
            dictionary = col.chunk(0).dictionary
            if len(pc.unique(dictionary)) == len(dictionary):
                return col.chunk(0).indices.to_numpy()
        col = col.cast(col.type.value_type)
    arr = _array(col)
    if pa.types.is_string(arr.type):
        arr = pc.dictionary_encode(arr).indices  # a hash table that compares the values
    elif pa.types.is_date32(arr.type):
        arr = arr.view(pa.int32())
    elif not pa.types.is_integer(arr.type):
        raise _Unproven
    return arr.to_numpy()


class _RowGroup:
    """One row group of a table, each column converted once for all the checks."""

    def __init__(self, t: pa.Table):
        self.t = t
        self._ids: dict[str, tuple | None] = {}
        self._codes: dict[str, np.ndarray] = {}

    def ids(self, column: str) -> tuple[int, list[tuple[int, int, np.ndarray, np.ndarray]]]:
        """The width and sorted segments of :func:`_ids`, each with where a key equals the
        next: ``(start, head, keys, same)``."""
        if column not in self._ids:
            width, segments = _ids(self.t.column(column))
            heads = [h for _, h, _ in segments]
            stepped = [(a, h, k, *_steps(k)) for a, h, k in segments]
            ordered = heads == sorted(set(heads)) and not any(x[3].any() for x in stepped)
            segments = [(a, h, k, same) for a, h, k, _, same in stepped]
            self._ids[column] = (width, segments) if ordered else None
        if self._ids[column] is None:
            raise _Unproven
        return self._ids[column]

    def codes(self, column: str) -> np.ndarray:
        if column not in self._codes:
            self._codes[column] = _codes(self.t.column(column))
        return self._codes[column]


class _UniqueKey:
    """A primary key is unique: rows sorted by its first column (strictly, if it is the
    only one), and the rest of the key differs between the rows of each run of it."""

    def __init__(self, key: tuple[str, ...]):
        self.columns = key
        self.width = None
        self.last = None  # (head, key) of the last row so far
        self.tail: list[tuple] = []  # and the rest of the key in its run

    def feed(self, rg: _RowGroup) -> None:
        width, segments = rg.ids(self.columns[0])
        if self.width not in (None, width):
            raise _Unproven
        self.width = width
        for start, head, ids, same in segments:
            self._segment(rg, start, head, ids, same)

    def _segment(self, rg: _RowGroup, start: int, head: int, ids, same) -> None:
        if self.last is not None and (head, ids[0]) < self.last:
            raise _Unproven
        goes_on = (head, ids[0]) == self.last
        self.last = (head, ids[-1])
        if len(self.columns) == 1:
            if goes_on or same.any():
                raise _Unproven
            return
        # rows k apart in one run, for k = 1, 2, ... (runs are short); most are next rows
        codes = [rg.codes(c)[start : start + len(ids)] for c in self.columns[1:]]
        equal = same.copy()
        for c in codes:
            equal &= c[1:] == c[:-1]
        if equal.any():
            raise _Unproven
        rows, k = np.flatnonzero(same[1:] & same[:-1]) + 2, 2
        if len(rows):  # where the run of each row starts: ids[r - k] == ids[r] if r - k ≥ it
            starts = np.flatnonzero(np.concatenate([[True], ~same]))
            run_start = np.repeat(starts, np.diff(np.append(starts, len(ids))))
        while len(rows):
            if k >= ORDER_MAX_RUN:
                raise _Unproven
            equal = np.ones(len(rows), bool)
            for c in codes:
                equal &= c[rows] == c[rows - k]
            if equal.any():
                raise _Unproven
            k += 1
            rows = rows[rows - k >= run_start[rows]]
        # the run that goes on from the previous row group, on the values
        ends = np.flatnonzero(~same)
        first = int(ends[0]) + 1 if len(ends) else len(ids)
        run = self._rest(rg, start, first) + (self.tail if goes_on else [])
        if len(set(run)) < len(run) or len(run) > ORDER_MAX_RUN:
            raise _Unproven
        last = int(ends[-1]) + 1 if len(ends) else 0
        self.tail = self._rest(rg, start + last, len(ids) - last) if len(ends) else run

    def _rest(self, rg: _RowGroup, start: int, n: int) -> list[tuple]:
        rest = (rg.t.column(c).slice(start, n).to_pylist() for c in self.columns[1:])
        return list(zip(*rest, strict=True))


class _ForeignKey:
    """Each value of a column is in the parent's column: a merge of both, sorted."""

    def __init__(self, column: str, parent: Path, pcol: str):
        self.columns = (column,)
        self.parent = self._segments(parent, pcol)
        self.p: tuple | None = None  # the parent's current segment: (width, head, keys)

    @staticmethod
    def _segments(path: Path, column: str):
        for t in _read(path, (column,)):
            width, segments = _RowGroup(t).ids(column)
            for _, head, keys, _ in segments:
                yield width, head, keys

    def feed(self, rg: _RowGroup) -> None:
        width, segments = rg.ids(self.columns[0])
        for _, head, ids, same in segments:
            values = ids[np.flatnonzero(np.concatenate([[True], ~same]))]
            while len(values):
                while self.p is None or (self.p[1], self.p[2][-1]) < (head, values[0]):
                    self.p = next(self.parent, None)
                    if self.p is None or self.p[0] != width:
                        raise _Unproven
                if self.p[1] != head:
                    raise _Unproven
                keys = self.p[2]
                k = int(np.searchsorted(values, keys[-1], side="right"))  # ≥ 1
                if not _contains(keys, values[:k]):
                    raise _Unproven
                values = values[k:]


def _read(path: Path, columns, dictionary: tuple[str, ...] = ()):
    """The row groups of a Parquet file that have rows, ``dictionary`` columns
    dictionary-encoded; the next one is read in a thread while the caller works.

    ``columns`` is a tuple, or a function giving the columns still needed when the next
    row group is read (a rule that failed no longer reads its 32-byte pseudonyms).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    needed = columns if callable(columns) else lambda: columns
    f = pq.ParquetFile(path, read_dictionary=list(dictionary))
    n = f.num_row_groups
    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(f.read_row_group, 0, list(needed())) if n else None
        for i in range(n):
            t = ahead.result()
            if i + 1 < n:
                ahead = pool.submit(f.read_row_group, i + 1, list(needed()))
            if t.num_rows:
                yield t


def proven_by_order(ds: Dataset, rules: list[Rule]) -> set[Rule]:
    """The key and foreign-key rules that provably hold from the order of the rows.

    Each table is read once, row group by row group, for all its rules; a foreign key
    also reads its parent's column.
    """
    proven: set[Rule] = set()
    for table in dict.fromkeys(r.table for r in rules if r.order):
        proven |= _proven_in(ds, table, rules)
    return proven


def _proven_in(ds: Dataset, table: str, rules: list[Rule]) -> set[Rule]:
    """The rules of one table that :func:`proven_by_order` proves."""
    checks: dict[Rule, _UniqueKey | _ForeignKey] = {}
    for r in rules:
        if r.table == table and r.order and r.key:
            checks[r] = _UniqueKey(r.order)
        elif r.table == table and r.order:
            column, pcol = r.order
            checks[r] = _ForeignKey(column, ds.path / f"{r.needs[0]}.parquet", pcol)

    def columns() -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for check in checks.values() for c in check.columns))

    ids = {check.columns[0] for check in checks.values()}
    dictionary = tuple(c for c in columns() if c not in ids)
    try:
        for t in _read(ds.path / f"{table}.parquet", columns, dictionary):
            rg = _RowGroup(t)
            for r, check in list(checks.items()):
                try:
                    check.feed(rg)
                except _UNPROVEN:
                    del checks[r]
            if not checks:
                break
    except _UNPROVEN:
        return set()
    return set(checks)


def validate_dataset(
    path_or_dataset: str | os.PathLike | Dataset,
    *,
    today: dt.date | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> ValidationReport:
    """Check a dataset against the whole contract.

    Parameters
    ----------
    path_or_dataset : str, PathLike or Dataset
        A dataset directory (with ``dataset.json``) or an opened :class:`Dataset`.
    today : datetime.date, optional
        Reference date for the "not in the future" rules (default: today).
    memory_limit : str
        DuckDB's memory limit (``MEMORY_LIMIT``); beyond it DuckDB spills to a temporary
        directory, so that memory stays flat whatever the size of the dataset.

    Returns
    -------
    ValidationReport
        ``.ok`` is true when every rule holds.

    Raises
    ------
    UserError
        If the path is not a dataset directory or its ``dataset.json`` is damaged. A
        Parquet file that cannot be read is a finding (rule ``file readable``).

    Examples
    --------
    >>> report = validate_dataset("data/synthetic")  # doctest: +SKIP
    >>> report.ok, report.to_frame().columns.tolist()  # doctest: +SKIP
    (True, ['table', 'rule', 'n_rows', 'examples'])
    """
    import duckdb
    import pyarrow.parquet as pq

    ds = _open(path_or_dataset)
    today = today or dt.date.today()
    report = ValidationReport(path=Path(ds.path))
    present = ds.tables
    for name in REQUIRED_TABLES:
        if name not in present:
            report.findings.append(Finding(name, "required table present", 0, (f"{name}.parquet",)))
    changed = ds.verify_hashes()
    if changed:
        report.findings.append(
            Finding(
                "dataset", "files match dataset.json (SHA-256)", len(changed), tuple(changed[:3])
            )
        )
    broken: set[str] = set()
    unreadable: set[str] = set()
    arrow: dict[str, list[Finding]] = {}
    for name in present:
        path = ds.path / f"{name}.parquet"
        report.n_rules += 1
        try:
            report.rows[name] = pq.read_metadata(path).num_rows
            arrow[name] = _arrow_findings(name, path)
        except (pa.ArrowException, OSError) as e:
            report.findings.append(_unreadable(name, path, e))
            broken.add(name)
            unreadable.add(name)
    con = _connect(ds, skip=unreadable, memory_limit=memory_limit)
    try:
        for name, found in arrow.items():
            columns, readable = _column_findings(con, name, ds.path / f"{name}.parquet")
            report.findings += found + columns
            report.n_rules += len(TABLES[name].columns)
            if found or not readable:
                broken.add(name)
        rules = [
            rule
            for rule in all_rules()
            if all(t in present for t in (rule.table, *rule.needs))
            and not any(t in broken for t in (rule.table, *rule.needs))
        ]
        proven = proven_by_order(ds, rules)
        for rule in rules:
            report.n_rules += 1
            if rule in proven:
                continue
            try:
                n, ex = run_rule(con, rule, today)
            except duckdb.Error as e:  # a damaged data page in a readable file
                n, ex = 1, (f"not evaluated: {type(e).__name__}",)
            if n:
                report.findings.append(Finding(rule.table, rule.name, n, ex))
    finally:
        con.close()
    return report


def ensure_valid(path_or_dataset: str | os.PathLike | Dataset) -> None:
    """Raise ``ValidationFailed`` unless the dataset passes :func:`validate_dataset`.

    Raises
    ------
    ValidationFailed
        Naming the first failing table and rule; ``.report`` holds the full report.
    """
    report = validate_dataset(path_or_dataset)
    if not report.ok:
        f = report.findings[0]
        more = f" (and {len(report.findings) - 1} more)" if len(report.findings) > 1 else ""
        raise ValidationFailed(
            f"{report.path}: table {f.table!r} breaks rule '{f.rule}' in {f.n_rows:,} rows{more}; "
            "run `mvm-eval validate` for the full report",
            report,
        )

"""Import municipal CSV exports into a contract dataset (``mvm-eval import --format csv``).

For each CSV file: recognise the table (file name or alias, dates around it ignored;
else the headers; or ``--table``), detect the encoding (UTF-8, UTF-8 with BOM, CP932;
ISO-2022-JP and EUC-JP are named as such and refused), map the headers
(:mod:`analysis.data.mapping`), then stream the rows through pyarrow's CSV reader in batches. Every cell is normalised
(:mod:`analysis.data.normalise`) and checked against its contract column; identifiers are
replaced by keyed hashes (:mod:`analysis.data.pseudonym`). Rows that survive are staged
as in-memory Arrow tables (typed, so far smaller than the text), on which DuckDB applies
the row and cross-table rules shared with the validator (:mod:`analysis.data.validation`),
tables in dependency order; each table is then written to Parquet, sorted by its primary
key. Every input row ends either in the dataset or in ``rejects/<table>.csv`` with its
line number, the rule it broke and the reason; nothing is fixed silently. When a key
repeats, the first line is kept and later ones are rejected with a pointer to it. Only
点数 → 医療費 (× 10) and the fiscal year of a checkup date are derived when a file lacks
them. The dataset is written to a temporary directory and renamed at the end
(:class:`analysis.data.dataset.DatasetWriter`).

One physical line is one row: a quoted value may not span lines. A file in which some
line has an unbalanced quote is read line by line with Python's CSV module instead of
pyarrow, so that such lines are rejected ("quoted field spans lines") and the line
numbers of the others stay exact; ``read`` is always the number of data lines.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analysis.data import normalise as nz
from analysis.data.contract import REQUIRED_TABLES, TABLES, Column, arrow_schema
from analysis.data.dataset import DatasetWriter, file_sha256
from analysis.data.mapping import Mapping, TableMapping, load_mapping
from analysis.data.pseudonym import Pseudonymiser, key_from_env
from analysis.errors import UserError

ID_KINDS = {"person_id": "person", "household_id": "household", "claim_id": "claim"}
"""Columns holding real identifiers, replaced by keyed hashes on import."""

DERIVED = {("claims", "cost_yen"), ("checkups", "fiscal_year")}
"""Columns computed when the file lacks them: 点数 × 10 and the fiscal year of the exam date."""

BLOCK_BYTES = 8 << 20
CACHE_LIMIT = 200_000
LINE_BATCH = 50_000
REJECT_COLUMNS = ["line", "rule", "column", "value", "reason"]
QUOTE_RULE = "quoted field spans lines"
WORKBOOKS = (".xlsx", ".xlsm", ".xls")
_BINARY_MAGIC = {
    b"PK\x03\x04": "an Excel .xlsx workbook or a zip archive",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"PAR1": "a Parquet file",
}


# ---------------------------------------------------------------------------- results
@dataclass
class TableImport:
    """What happened to one input file."""

    table: str
    file: str
    encoding: str
    delimiter: str
    columns: dict[str, str]
    ignored: list[str]
    derived: list[str]
    nearest: dict[str, str] = field(default_factory=dict)
    """Ignored header → the contract column it resembles most ("" if none)."""
    placed_by: str = "name"
    """How the file was recognised: ``name`` (file name or alias), ``headers`` or ``option``
    (``--table``)."""
    read: int = 0
    imported: int = 0
    rejected: int = 0
    rejects_by_rule: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def ignored_text(self) -> str:
        """The ignored headers, each with the column it resembles (e.g. ``HbA1c値 (hba1c?)``)."""
        return ", ".join(
            f"{h} ({self.nearest[h]}?)" if self.nearest.get(h) else f"{h} (no similar column)"
            for h in self.ignored
        )


@dataclass
class ImportResult:
    """The outcome of :func:`import_csv`: per-table counts and where the dataset went."""

    out: Path
    tables: dict[str, TableImport]
    skipped: list[str] = field(default_factory=list)
    """Files in the input directory that were not read (not CSV, or not a table)."""

    def to_frame(self):
        """One row per table: file, encoding, read, imported, rejected."""
        import pandas as pd

        return pd.DataFrame(
            [
                (t.table, t.file, t.encoding, t.read, t.imported, t.rejected)
                for t in self.tables.values()
            ],
            columns=["table", "file", "encoding", "read", "imported", "rejected"],
        )

    def summary(self) -> str:
        lines = [f"imported into {self.out}:"]
        for t in self.tables.values():
            lines.append(
                f"  {t.table:<20} {t.file:<24} {t.encoding:<10} read {t.read:>9,}  "
                f"imported {t.imported:>9,}  rejected {t.rejected:>7,}"
            )
            if t.placed_by == "headers":
                lines.append(f"      recognised as {t.table} by its headers")
            for rule, n in sorted(t.rejects_by_rule.items(), key=lambda kv: -kv[1]):
                lines.append(f"      rejected {n:>7,}  {rule}")
            if t.ignored:
                lines.append(f"      ignored columns: {t.ignored_text()}")
        if self.skipped:
            lines.append(f"  skipped files: {', '.join(self.skipped)}")
        return "\n".join(lines)

    __str__ = summary

    def __repr__(self) -> str:
        n = sum(t.imported for t in self.tables.values())
        r = sum(t.rejected for t in self.tables.values())
        return f"<ImportResult {self.out.name!r} imported={n:,} rejected={r:,}>"


# ---------------------------------------------------------------------------- files
def detect_encoding(path: Path) -> str:
    """The encoding of a CSV file: ``utf-8``, ``utf-8-sig`` (BOM) or ``cp932``.

    The whole file is decoded once, in blocks, so that a bad byte anywhere is caught
    before anything is imported.

    Raises
    ------
    UserError
        If the file is empty, binary (not a CSV), or neither UTF-8 nor CP932.
    """
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise UserError(f"{path.name}: the file is empty")
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise UserError(f"{path.name}: not a CSV file (looks like {what}); save it as CSV")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path.name}: UTF-16 is not supported; save the file as UTF-8 or CP932")
    if b"\x00" in head:
        raise UserError(f"{path.name}: not a CSV file (binary data)")
    if _has_jis_escapes(path):  # 7-bit: it would decode as UTF-8, into escape codes
        raise UserError(_unsupported(path, "ISO-2022-JP (JIS)"))
    for enc in ("utf-8", "cp932"):
        if _decodes(path, enc):
            if enc == "cp932" and _reads_as_euc_jp(head):
                raise UserError(_unsupported(path, "EUC-JP"))
            if enc == "utf-8" and head.startswith(codecs.BOM_UTF8):
                return "utf-8-sig"
            return enc
    if _decodes(path, "euc_jp"):
        raise UserError(_unsupported(path, "EUC-JP"))
    raise UserError(f"{path.name}: unknown encoding (neither UTF-8 nor Shift_JIS/CP932)")


def _unsupported(path: Path, encoding: str) -> str:
    return (
        f"{path.name}: encoded in {encoding}, which is not read; "
        "save it as UTF-8 or Shift_JIS (CP932)"
    )


_JIS_ESCAPE = re.compile(rb"\x1b[$(][@A-Z]|\x1b\$\([A-Z]")
"""The escape sequences that switch ISO-2022-JP between ASCII, JIS X 0208 and the rest."""


def _has_jis_escapes(path: Path) -> bool:
    """True if the file holds ISO-2022-JP escape sequences (read in blocks)."""
    tail = b""
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            if _JIS_ESCAPE.search(tail + block):
                return True
            tail = block[-3:]
    return False


_CJK = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


def _reads_as_euc_jp(head: bytes) -> bool:
    """True if the first line is EUC-JP rather than CP932: it decodes as EUC-JP, into more
    kana and kanji than CP932 makes of it (CP932 reads EUC-JP kanji as half-width kana)."""
    first = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]
    try:
        euc = first.decode("euc_jp")
    except UnicodeDecodeError:
        return False
    return len(_CJK.findall(euc)) > len(_CJK.findall(first.decode("cp932", errors="replace")))


_SUSPECT = re.compile("[\x80-\x9f\ue000-\uf8ff]")
"""C1 controls and private-use characters: what CP932 makes of bytes from another encoding."""


def _decodes(path: Path, encoding: str) -> bool:
    """True if the whole file decodes; the first block must also look like text."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as f:
            first = True
            while block := f.read(BLOCK_BYTES):
                text = dec.decode(block)
                if first and _SUSPECT.search(text):
                    return False
                first = False
            dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def read_header(path: Path, encoding: str) -> tuple[list[str], str]:
    """The header fields and the delimiter (comma, or tab when the header has tabs only)."""
    with open(path, "rb") as f:
        raw = f.read(1 << 20)
    text = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    fields = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    if not any(f.strip() for f in fields):
        raise UserError(f"{path.name}: the first line holds no column headers")
    return fields, delimiter


def scan_lines(path: Path) -> tuple[int, bool]:
    """Count the physical lines of a file and tell whether a line has an odd number of quotes.

    Lines end at ``\\r\\n``, ``\\n`` or a lone ``\\r`` (as for pyarrow and Python); a last
    line without a terminator counts. The scan is vectorised over blocks of bytes; the
    quote byte never occurs inside a CP932 or UTF-8 multi-byte character.

    Returns
    -------
    tuple of (int, bool)
        The number of lines (header included) and whether some line has an odd number
        of ``"`` characters (a quoted value left open or spanning lines).
    """
    lines, odd, carry, prev_cr, tail = 0, False, 0, False, False
    with open(path, "rb") as f:
        while block := f.read(BLOCK_BYTES):
            lines += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if prev_cr and block[:1] == b"\n":
                lines -= 1
            prev_cr = block[-1:] == b"\r"
            tail = block[-1:] not in (b"\n", b"\r")
            if b'"' not in block:
                if carry % 2 and (b"\n" in block or b"\r" in block):
                    odd = True
                continue
            a = np.frombuffer(block, dtype=np.uint8)
            cum = np.cumsum(a == 34, dtype=np.int64)
            ends = np.flatnonzero((a == 10) | (a == 13))
            if len(ends):
                per_line = np.diff(cum[ends], prepend=0)
                per_line[0] += carry
                odd = odd or bool((per_line % 2).any())
                carry = int(cum[-1] - cum[ends[-1]])
            else:
                carry += int(cum[-1])
    if tail:
        lines += 1
    return lines, odd or bool(carry % 2)


def missing_required(table: str, present: set[str]) -> list[Column]:
    """The required columns of ``table`` not among ``present`` (derived ones aside)."""
    return [
        c
        for c in TABLES[table].columns
        if not c.nullable and c.name not in present and (table, c.name) not in DERIVED
    ]


def place_by_headers(path: Path, mapping: Mapping) -> str:
    """The table a file holds, judged by its headers: the one table whose required
    columns are all there.

    Raises
    ------
    UserError
        One line saying why the file cannot be placed: its encoding, or that its headers
        fit no table (naming the closest one and what it lacks) or several.
    """
    headers, _ = read_header(path, detect_encoding(path))
    found = {
        name: {hit[0] for h in headers if (hit := tm.lookup(h)) is not None}
        for name, tm in mapping.tables.items()
    }
    fits = [name for name, cols in found.items() if not missing_required(name, cols)]
    if len(fits) == 1:
        return fits[0]
    why = f"{path.name}: cannot tell which table this file holds: its name is no table's name or alias"
    fix = "rename it (e.g. 資格.csv, 健診.csv, レセプト.csv, 傷病名.csv) or pass --table NAME=FILE"
    if fits:
        raise UserError(f"{why} and its headers fit several tables ({', '.join(fits)}); {fix}")
    closest = max(found, key=lambda name: len(found[name]))
    if not found[closest]:
        raise UserError(f"{why}, and none of its headers is a column of the contract; {fix}")
    lacks = ", ".join(
        f"{c.ja or c.name} ({c.name})" for c in missing_required(closest, found[closest])
    )
    raise UserError(
        f"{why}, and its headers fit no table (closest: {closest}, which needs {lacks}); {fix}"
    )


# ---------------------------------------------------------------------------- cells
@dataclass
class _ColumnPlan:
    column: Column
    index: int
    header: str
    unit: str
    parse: Any
    cache: dict = field(default_factory=dict)


def _parse_fn(table: str, col: Column, unit: str, mapping: Mapping, pseudo: Pseudonymiser):
    name = col.name
    if name in ID_KINDS:
        return nz.parse_id  # not used: identifiers take the vectorised path
    if col.kind == "date":
        return nz.parse_month if name == "service_month" else nz.parse_date
    if name == "fiscal_year":
        return nz.parse_fiscal_year
    if name == "sex":
        return nz.parse_sex
    if name == "urine_protein":
        return nz.parse_urine_protein
    if name == "icd10":
        return nz.parse_icd10
    if col.kind == "bool":
        return nz.parse_bool
    if col.kind == "int":
        return nz.parse_int
    if col.kind == "float":
        if name == "hba1c" and unit == "mmol/mol":
            return lambda s: (lambda x: None if x is None else nz.hba1c_ifcc_to_ngsp(x))(
                nz.parse_number(s)
            )
        return nz.parse_number
    if col.allowed is not None:
        codes = {str(a).lower(): str(a) for a in col.allowed} | mapping.values.get(name, {})
        return lambda s: nz.parse_code(s, codes)
    return nz.parse_string


def _check_cell(col: Column, value: Any) -> tuple[str, str] | None:
    if value is None:
        return None if col.nullable else ("not_null", "required value is empty")
    if col.allowed is not None and value not in col.allowed:
        return "allowed_codes", "not an allowed code"
    if col.kind in ("int", "float"):
        if col.min is not None and value < col.min:
            return "in_range", f"below the plausible minimum {col.min:g}"
        if col.max is not None and value > col.max:
            return "in_range", f"above the plausible maximum {col.max:g}"
    return None


def _cell(plan: _ColumnPlan, raw: str) -> tuple[Any, tuple[str, str] | None]:
    hit = plan.cache.get(raw)
    if hit is not None:
        return hit
    try:
        value = plan.parse(raw)
        out = (value, _check_cell(plan.column, value))
    except ValueError as e:
        out = (None, ("format", str(e)))
    if len(plan.cache) >= CACHE_LIMIT:
        plan.cache.clear()
    plan.cache[raw] = out
    return out


_ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


# ---------------------------------------------------------------------------- one table
class _TableReader:
    """Streams one CSV file into a staging Parquet file plus row-level rejects."""

    def __init__(self, table: str, path: Path, mapping: Mapping, pseudo: Pseudonymiser):
        self.table = table
        self.path = path
        self.pseudo = pseudo
        self.encoding = detect_encoding(path)
        self.headers, self.delimiter = read_header(path, self.encoding)
        tm = mapping.tables[table]
        matches, ignored = tm.match(self.headers)
        values = {h for h in self.headers if nz.looks_like_value(h)}
        if not matches and values:
            raise UserError(
                f"{path.name}: the first line looks like data, not column headers (no header "
                "row?); export the file with its header line"
            )
        self.plans = [
            _ColumnPlan(
                TABLES[table].column(m.column),
                self.headers.index(m.header),
                m.header,
                m.unit,
                _parse_fn(table, TABLES[table].column(m.column), m.unit, mapping, pseudo),
            )
            for m in matches
        ]
        self.plans.sort(key=lambda p: TABLES[table].column_names.index(p.column.name))
        self._require(tm, values)
        present = {p.column.name for p in self.plans}
        self.derived = [
            c for c in TABLES[table].column_names if c not in present and (table, c) in DERIVED
        ]
        self.info = TableImport(
            table=table,
            file=path.name,
            encoding=self.encoding,
            delimiter="tab" if self.delimiter == "\t" else "comma",
            columns={p.header: p.column.name for p in self.plans},
            ignored=[
                f"column {self.headers.index(h) + 1} (looks like a value)" if h in values else h
                for h in ignored
            ],
            derived=self.derived,
            nearest={h: tm.nearest_column(h) or "" for h in ignored if h not in values},
        )
        self.rejects: list[tuple] = []
        self._bad_lines: list[int] = []
        n_lines, self.odd_quotes = scan_lines(path)
        self.data_lines = max(0, n_lines - 1)

    def _require(self, tm: TableMapping, values: set[str]) -> None:
        missing = missing_required(self.table, {p.column.name for p in self.plans})
        if missing:
            names = ", ".join(f"{c.ja or c.name} ({c.name})" for c in missing)
            names_only = [h for h in self.headers if h not in values]  # never echo a value
            hints = [h for c in missing if (h := tm.closest(c.name, names_only))]
            hint = f"; closest header found: {hints[0]!r}" if hints else ""
            raise UserError(
                f"{self.path.name}: missing required column(s) for table {self.table!r}: "
                f"{names}{hint}"
            )

    def _invalid_row(self, row) -> str:
        if row.number is None:  # pyarrow lost track of lines: read the file line by line
            raise pa.ArrowInvalid("row without a line number")
        self._bad_lines.append(row.number)
        self.info.read += 1
        self.rejects.append(
            (
                row.number,
                "malformed_row",
                "",
                "",
                f"{row.actual_columns} fields, expected {row.expected_columns}",
            )
        )
        return "skip"

    def stage(self) -> pa.Table:
        """All rows that pass the cell rules, typed, with ``_row`` = line number.

        pyarrow's reader is used when every line has balanced quotes; if it still reads
        a different number of rows than there are data lines (or fails), the file is read
        again line by line, so that no line is lost or merged with the next.
        """
        schema = arrow_schema(self.table).append(pa.field("_row", pa.int64()))
        if not self.odd_quotes:
            try:
                parts = [tbl.cast(schema) for tbl in self.batches()]
                if self.info.read == self.data_lines:
                    return pa.concat_tables(parts) if parts else schema.empty_table()
            except pa.ArrowInvalid:
                pass
            self.rejects, self._bad_lines, self.info.read = [], [], 0
        try:
            parts = [tbl.cast(schema) for tbl in self.line_batches()]
        except (UnicodeDecodeError, csv.Error, pa.ArrowInvalid) as e:
            raise UserError(
                f"{self.path.name}: cannot be read as CSV ({type(e).__name__})"
            ) from None
        return pa.concat_tables(parts) if parts else schema.empty_table()

    def line_batches(self):
        """Like :meth:`batches`, one physical line per row, parsed by Python's CSV module.

        A line whose quote is left open (a value that would continue on the next line)
        is rejected with the rule ``quoted field spans lines``, and so is the line that
        closes it; every other line is parsed on its own.
        """
        n = len(self.headers)
        keep = [p.index for p in self.plans]
        enc = "utf-8-sig" if self.encoding.startswith("utf-8") else self.encoding
        cols: list[list[str]] = [[] for _ in keep]
        lines: list[int] = []
        opened = 0  # line number of a quote left open, 0 if none
        with open(self.path, encoding=enc, newline="") as f:
            f.readline()
            for number, raw in enumerate(f, start=2):
                line = raw[:-2] if raw.endswith("\r\n") else raw.rstrip("\r\n")
                fields, problem = self._parse_line(line, n)
                if line.count('"') % 2:
                    if opened:
                        span = f"a quoted value spans lines {opened}-{number}"
                        problem, opened = (QUOTE_RULE, span), 0
                    elif problem is not None and problem[0] == QUOTE_RULE:
                        opened = number
                if problem is not None:
                    self.info.read += 1
                    self.rejects.append((number, problem[0], "", "", problem[1]))
                    continue
                for c, i in zip(cols, keep, strict=True):
                    c.append(fields[i])
                lines.append(number)
                if len(lines) >= LINE_BATCH:
                    yield self._line_batch(cols, lines)
                    cols, lines = [[] for _ in keep], []
        if lines:
            yield self._line_batch(cols, lines)

    def _parse_line(self, line: str, n: int) -> tuple[list[str], tuple[str, str] | None]:
        if line == "":
            return [""] * n, None
        try:
            fields = next(csv.reader([line], delimiter=self.delimiter, strict=True))
        except csv.Error:
            if line.count('"') % 2:
                return [], (QUOTE_RULE, "a quoted value is not closed on this line")
            fields = next(csv.reader([line], delimiter=self.delimiter))
        if len(fields) != n:
            return [], ("malformed_row", f"{len(fields)} fields, expected {n}")
        return fields, None

    def _line_batch(self, cols: list[list[str]], lines: list[int]) -> pa.Table:
        names = [f"c{p.index}" for p in self.plans]
        batch = pa.record_batch([pa.array(c, pa.string()) for c in cols], names=names)
        return self._convert(batch, np.array(lines, dtype=np.int64))

    def batches(self):
        """Yield (typed Arrow table with ``_row`` = line number) per input batch."""
        import pyarrow.csv as pacsv

        names = [f"c{i}" for i in range(len(self.headers))]
        enc = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=BLOCK_BYTES,
                column_names=names,
                skip_rows=1,
                encoding=enc,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=self.delimiter,
                invalid_row_handler=self._invalid_row,
                ignore_empty_lines=False,
                newlines_in_values=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=[names[p.index] for p in self.plans],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        seen = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            lines = self._lines(seen, batch.num_rows)
            seen += batch.num_rows
            yield self._convert(batch, lines)

    def _lines(self, start: int, n: int) -> np.ndarray:
        k = np.arange(start, start + n, dtype=np.int64)
        bad = np.array(sorted(self._bad_lines), dtype=np.int64)
        adj = bad - 2 - np.arange(len(bad), dtype=np.int64)
        return k + 2 + np.searchsorted(adj, k, side="right")

    def _convert(self, batch: pa.RecordBatch, lines: np.ndarray) -> pa.Table:
        n = batch.num_rows
        self.info.read += n
        rejected = np.zeros(n, dtype=bool)
        raw_cols = {p.column.name: batch.column(f"c{p.index}") for p in self.plans}
        empty = np.ones(n, dtype=bool)
        for arr in raw_cols.values():  # a row is empty only if every column is blank
            blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0)
            if not pc.any(blank).as_py():
                empty[:] = False
                break
            empty &= blank.to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(empty):
            self.rejects.append((int(lines[i]), "empty_row", "", "", "the line holds no values"))
        rejected |= empty
        typed: dict[str, pa.Array] = {}
        for plan in self.plans:
            typed[plan.column.name] = self._column(
                plan, raw_cols[plan.column.name], lines, rejected
            )
        keep = ~rejected
        cols = {}
        for col in TABLES[self.table].columns:
            arr = typed.get(col.name)
            cols[col.name] = arr.filter(keep) if arr is not None else None
        m = int(keep.sum())
        self._derive(cols)
        out = {
            c.name: cols[c.name] if cols[c.name] is not None else pa.nulls(m, _ARROW_TYPES[c.kind])
            for c in TABLES[self.table].columns
        }
        out["_row"] = pa.array(lines[keep])
        return pa.table(out)

    def _column(self, plan: _ColumnPlan, raw: pa.Array, lines: np.ndarray, rejected: np.ndarray):
        if plan.column.name in ID_KINDS:
            return self._id_column(plan, raw, lines, rejected)
        enc = pc.dictionary_encode(raw)
        uniques = enc.dictionary.to_pylist()
        results = [_cell(plan, s) for s in uniques]
        values = pa.array([r[0] for r in results], type=_ARROW_TYPES[plan.column.kind])
        bad_pos = [i for i, r in enumerate(results) if r[1] is not None]
        if bad_pos:
            idx = enc.indices.to_numpy(zero_copy_only=False)
            is_bad = np.isin(idx, bad_pos) & ~rejected
            for i in np.flatnonzero(is_bad):
                rule, reason = results[idx[i]][1]
                self.rejects.append(
                    (
                        int(lines[i]),
                        f"{plan.column.name}: {rule}",
                        plan.header,
                        uniques[idx[i]][:60],
                        reason,
                    )
                )
            rejected |= is_bad
        return values.take(enc.indices)

    def _id_column(self, plan: _ColumnPlan, raw: pa.Array, lines, rejected) -> pa.Array:
        """Identifiers, vectorised: trim, NFKC only where not ASCII, then keyed hash."""
        ids = pc.utf8_trim_whitespace(raw)
        if not pc.all(pc.string_is_ascii(ids)).as_py():
            enc = pc.dictionary_encode(ids)
            uniques = [nz.parse_id(s) or "" for s in enc.dictionary.to_pylist()]
            ids = pa.array(uniques, pa.string()).take(enc.indices)
        empty = pc.equal(pc.utf8_length(ids), 0).to_numpy(zero_copy_only=False)
        is_bad = empty & ~rejected
        for i in np.flatnonzero(is_bad):
            self.rejects.append(
                (
                    int(lines[i]),
                    f"{plan.column.name}: not_null",
                    plan.header,
                    "",
                    "required value is empty",
                )
            )
        rejected |= is_bad
        distinct = TABLES[self.table].primary_key == (plan.column.name,)
        hashed = self.pseudo.array(ID_KINDS[plan.column.name], ids, distinct=distinct)
        return pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), hashed)

    def _derive(self, cols: dict[str, pa.Array | None]) -> None:
        if self.table == "claims" and cols["cost_yen"] is None:
            cols["cost_yen"] = pc.multiply(cols["points"], 10)
        if self.table == "checkups" and cols["fiscal_year"] is None:
            d = cols["exam_date"]
            y = pc.year(d)
            cols["fiscal_year"] = pc.if_else(
                pc.greater_equal(pc.month(d), 4), y, pc.subtract(y, 1)
            ).cast(pa.int64())


# ---------------------------------------------------------------------------- dataset
class _Writer(DatasetWriter):
    """DatasetWriter that also takes Arrow tables (no round trip through pandas)."""

    def _to_arrow(self, name, df):
        if isinstance(df, pa.Table):
            schema = arrow_schema(name)
            return df.select(schema.names).cast(schema)
        return super()._to_arrow(name, df)


def resolve_files(
    in_dir: Path, mapping: Mapping, tables: dict[str, str | os.PathLike] | None = None
) -> dict[str, Path]:
    """Which file holds which table: names and aliases (dates around the name ignored),
    else the headers (:func:`place_by_headers`), overridden by ``tables``.

    Only ``.csv`` and ``.txt`` files are read; any other file is skipped (see
    :func:`skipped_files`), and so is a CSV file named after a table given in ``tables``.

    Raises
    ------
    UserError
        For a missing directory or file, a CSV file that cannot be placed (saying why),
        two files for one table, a required table without a file, or an Excel workbook
        named after a table.
    """
    if not in_dir.is_dir():
        raise UserError(f"{in_dir}: input directory not found")
    given = {}
    for name, f in (tables or {}).items():
        if name not in TABLES:
            raise UserError(
                f"--table {name}=...: unknown table; expected one of {', '.join(TABLES)}"
            )
        p = Path(f) if Path(f).is_absolute() else in_dir / f
        if not p.is_file():
            raise UserError(f"--table {name}={f}: file not found")
        given[name] = p
    found: dict[str, Path] = {}
    claimed = {p.resolve() for p in given.values()}
    for p in sorted(in_dir.iterdir()):
        if not p.is_file() or p.resolve() in claimed:
            continue
        if p.suffix.lower() in WORKBOOKS and mapping.table_for_file(p) is not None:
            raise UserError(
                f"{p.name}: an Excel workbook is not read; save it as CSV "
                f"({p.stem}.csv, UTF-8 or Shift_JIS)"
            )
        if p.suffix.lower() not in (".csv", ".txt"):
            continue
        t = mapping.table_for_file(p) or place_by_headers(p, mapping)
        if t in given:  # --table NAME=FILE takes precedence over a file named after NAME
            continue
        if t in found:
            raise UserError(
                f"{p.name} and {found[t].name} both hold table {t!r}; import one at a time"
            )
        found[t] = p
    found.update(given)
    missing = [t for t in REQUIRED_TABLES if t not in found]
    if missing:
        raise UserError(
            f"{in_dir}: no file for required table(s) {', '.join(missing)} "
            "(name files after the table or a mapping alias, or pass --table NAME=FILE)"
        )
    for t in found:
        for target in TABLES[t].references.values():
            parent = target.split(".")[0]
            if parent not in found:
                raise UserError(
                    f"{found[t].name}: table {t!r} refers to {parent!r}, which has no file"
                )
    return {t: found[t] for t in TABLES if t in found}


def skipped_files(in_dir: Path, files: dict[str, Path]) -> list[str]:
    """Names of the entries of ``in_dir`` that are not imported (sorted)."""
    used = {p.resolve() for p in files.values()}
    return sorted(
        p.name + ("/" if p.is_dir() else "") for p in in_dir.iterdir() if p.resolve() not in used
    )


def import_csv(
    in_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    mapping: str | os.PathLike | None = None,
    tables: dict[str, str | os.PathLike] | None = None,
    replace: bool = False,
    pseudonymiser: Pseudonymiser | None = None,
    today: dt.date | None = None,
) -> ImportResult:
    """Import a directory of CSV exports into a dataset directory.

    Parameters
    ----------
    in_dir : str or PathLike
        Directory of CSV files (never modified).
    out : str or PathLike
        Dataset directory to create.
    mapping : str or PathLike, optional
        Header mapping YAML merged over the default (``mappings/default.yaml``).
    tables : dict, optional
        ``{table: file}`` for files whose name does not tell the table.
    replace : bool
        Replace an existing ``out``.
    pseudonymiser : Pseudonymiser, optional
        Defaults to the key in ``MVM_EVAL_PSEUDONYM_KEY``; the import refuses to run
        without one.
    today : datetime.date, optional
        Reference date for "not in the future" (default: today).

    Returns
    -------
    ImportResult
        Per-table read / imported / rejected counts (``read`` = data lines of the file
        = imported + rejected), ignored headers with their nearest contract column, and
        the files of ``in_dir`` that were skipped.

    Raises
    ------
    UserError
        With a one-line message for every problem the user can fix (no key, missing
        columns, a first line that looks like data rather than headers, empty or binary
        file, an Excel workbook named after a table, unknown encoding, bad mapping,
        existing output). Messages name files and headers, never data cells.
    """
    pseudo = pseudonymiser or key_from_env()
    maps = load_mapping(mapping)
    in_dir, out = Path(in_dir), Path(out)
    files = resolve_files(in_dir, maps, tables)
    readers = {t: _TableReader(t, p, maps, pseudo) for t, p in files.items()}
    for t, r in readers.items():
        if t in (tables or {}):
            r.info.placed_by = "option"
        elif maps.table_for_file(files[t]) is None:
            r.info.placed_by = "headers"
    if out.resolve() == in_dir.resolve() or in_dir.resolve() in out.resolve().parents:
        raise UserError(f"{out}: the output must not be inside the input directory")
    meta = {
        "name": out.name,
        "source": "csv import",
        "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pseudonymisation": "HMAC-SHA256 (key from MVM_EVAL_PSEUDONYM_KEY)",
        "mapping": Path(maps.source).name,
        "inputs": {
            t: {"file": p.name, "sha256": file_sha256(p), "encoding": readers[t].encoding}
            for t, p in files.items()
        },
    }
    with _Writer(out, meta, replace=replace) as w:
        staged = _stage_all(readers)
        _apply_rules(readers, staged, w, today or dt.date.today())
        _write_rejects(readers, w.extra_path("rejects"))
        result = ImportResult(
            out=out,
            tables={t: r.info for t, r in readers.items()},
            skipped=skipped_files(in_dir, files),
        )
        w.write_json("import_report.json", {t: i.to_dict() for t, i in result.tables.items()})
    return result


def _stage_all(readers: dict[str, _TableReader]) -> dict[str, pa.Table]:
    """Every table's rows that pass the cell rules, in memory (typed Arrow tables)."""
    return {t: r.stage() for t, r in readers.items()}


def _apply_rules(readers, staged: dict[str, pa.Table], w: _Writer, today: dt.date) -> None:
    """Run the SQL rules table by table (parents first); write the rows that pass.

    Staged Arrow tables are registered with DuckDB without copying. The relation named
    after a table is a view of its rows not yet rejected, so a child's foreign keys see
    only the parent rows that were imported.
    """
    import duckdb

    from analysis.data.validation import MACROS, all_rules

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(MACROS)
    try:
        for t, r in readers.items():
            stage = staged.pop(t)
            con.register(f"stage_{t}", stage)
            con.execute(f"CREATE TABLE rej_{t} (_row BIGINT, rule VARCHAR, example VARCHAR)")
            con.execute(
                f"CREATE VIEW {t} AS SELECT * FROM stage_{t} ANTI JOIN rej_{t} USING (_row)"
            )
            rules = [x for x in all_rules() if x.table == t and all(n in readers for n in x.needs)]
            for rule in sorted(rules, key=lambda x: x.key):
                _reject(con, t, rule, today)
            rejected = con.execute(
                f"SELECT _row, rule, example FROM rej_{t} ORDER BY _row"
            ).fetchall()
            for line, rule, example in rejected:
                r.rejects.append((int(line), rule, "", example or "", rule))
            if rejected:
                drop = pa.array([x[0] for x in rejected], pa.int64())
                stage = stage.filter(pc.invert(pc.is_in(stage.column("_row"), drop)))
                con.unregister(f"stage_{t}")
                con.register(f"stage_{t}", stage)
            w.append(t, _key_order(t, stage).drop_columns(["_row"]))
            r.info.imported = stage.num_rows
    finally:
        con.close()


def _key_order(table: str, stage: pa.Table) -> pa.Table:
    """The rows sorted by the table's primary key (input line as the last key).

    A dataset in key order lets the validator prove its key and foreign-key rules from
    the order of the rows (:func:`analysis.data.validation.proven_by_order`) instead of
    hashing tens of millions of pseudonyms; input order carries no meaning, since rejects
    and the report refer to line numbers taken before. The same rows, only reordered.
    """
    keys = [(k, "ascending") for k in (*TABLES[table].primary_key, "_row")]
    return stage.sort_by(keys)


def _reject(con, table: str, rule, today: dt.date) -> None:
    params = {"rule": rule.name} | ({"today": today} if "$today" in rule.sql else {})
    con.execute(
        f"INSERT INTO rej_{table} SELECT q._row, $rule, q.example "
        f"FROM ({rule.query('line')}) q ANTI JOIN rej_{table} r USING (_row)",
        params,
    )


def _write_rejects(readers: dict[str, _TableReader], rejects_dir: Path) -> None:
    rejects_dir.mkdir(exist_ok=True)
    for t, r in readers.items():
        r.rejects.sort(key=lambda x: x[0])
        r.info.rejected = len(r.rejects)
        r.info.rejects_by_rule = dict(Counter(x[1] for x in r.rejects))
        with open(rejects_dir / f"{t}.csv", "w", encoding="utf-8-sig", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(REJECT_COLUMNS)
            wr.writerows(r.rejects)

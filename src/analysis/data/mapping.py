"""Header mapping: which CSV file holds which table, which header is which column.

The documented default lives in ``mappings/default.yaml`` beside this module; a user file
(``--mapping FILE``) is merged in front of it (or replaces it with
``replace_default: true``): a header, alias or coded value keeps the meaning of the
first layer that lists it. The contract's own column names and Japanese item names are
recognised last, so the mapping only lists the other spellings (and may override them).
"""

from __future__ import annotations

import difflib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from analysis.data.contract import TABLES
from analysis.errors import UserError

DEFAULT_MAPPING = Path(__file__).with_name("mappings") / "default.yaml"
UNITS = ("mmol/mol",)
"""Units a header may declare (HbA1c in IFCC mmol/mol is converted to NGSP %)."""


_BRACKETS = str.maketrans("[【〔<〈《]】〕>〉》", "(((((())))))")


def header_key(header: str) -> str:
    """Comparison form of a header: NFKC, no whitespace or quotes, lower case, every kind
    of bracket as round brackets.

    Examples
    --------
    >>> header_key(" 服薬１（血圧） ") == header_key("服薬1【血圧】") == "服薬1(血圧)"
    True
    """
    s = unicodedata.normalize("NFKC", header).translate(_BRACKETS)
    return re.sub(r"[\s\"'\ufeff]", "", s).lower()


def unit_key(unit: str) -> str:
    """Comparison form of a unit: as :func:`header_key`, with 分 as min and ^ dropped.

    Examples
    --------
    >>> unit_key("mL/min/1.73m²") == unit_key("ｍｌ／分／1.73㎡") == "ml/min/1.73m2"
    True
    """
    return header_key(unit).replace("分", "min").replace("^", "")


_UNIT_SUFFIX = re.compile(r"^(?P<base>.+?)\((?P<unit>[^()]*)\)$")
_SAME_UNITS = {"kg/m2": ("kg/m2",), "%": ("%", "ngsp%", "%(ngsp)")}
"""Spellings of a contract unit beyond its own (after :func:`unit_key`)."""


def split_unit(key: str) -> tuple[str, str] | None:
    """Split a trailing bracketed unit off a header key: ``身長(cm)`` → (``身長``, ``cm``).

    Examples
    --------
    >>> split_unit(header_key("収縮期血圧（ｍｍＨｇ）"))
    ('収縮期血圧', 'mmhg')
    >>> split_unit("身長") is None
    True
    """
    m = _UNIT_SUFFIX.match(key)
    return None if m is None else (m["base"], unit_key(m["unit"]))


def unit_fits(unit: str, column_unit: str) -> bool:
    """Whether a header's unit (:func:`unit_key` form) is the contract column's unit."""
    own = unit_key(column_unit)
    return bool(own) and unit in (own, *_SAME_UNITS.get(own, ()))


@dataclass(frozen=True)
class HeaderMatch:
    """A CSV header recognised as a contract column."""

    header: str
    column: str
    unit: str = ""


@dataclass
class TableMapping:
    """Aliases and header spellings of one table."""

    name: str
    aliases: list[str] = field(default_factory=list)
    headers: dict[str, tuple[str, str]] = field(default_factory=dict)
    """``header_key`` → (contract column, unit)."""

    def lookup(self, header: str) -> tuple[str, str] | None:
        """The contract column and unit of one header, or ``None``.

        A header not in the mapping is also recognised with its unit in brackets, when
        the unit is the contract column's (``身長（ｃｍ）``, ``ＨｂＡ１ｃ（ＮＧＳＰ）（％）``,
        ``収縮期血圧[mmHg]``); a header with another unit (``身長(m)``) is not.

        Examples
        --------
        >>> load_mapping().tables["checkups"].lookup("ＨｂＡ１ｃ（ＮＧＳＰ）（％）")
        ('hba1c', '')
        >>> load_mapping().tables["checkups"].lookup("身長(m)") is None
        True
        """
        key = header_key(header)
        hit = self.headers.get(key)
        if hit is None and (parts := split_unit(key)) is not None:
            base, unit = parts
            hit = self.headers.get(base)
            if hit is not None and (hit[1] or not unit_fits(unit, TABLES[self.name].column(hit[0]).unit)):
                hit = None  # a unit of its own (mmol/mol) or another unit than the contract's
        return hit

    def match(self, headers: list[str]) -> tuple[list[HeaderMatch], list[str]]:
        """Recognise ``headers``; return the matches and the headers left unmapped.

        Raises
        ------
        UserError
            If two headers map to the same contract column.
        """
        matches: list[HeaderMatch] = []
        seen: dict[str, str] = {}
        ignored = []
        for h in headers:
            hit = self.lookup(h)
            if hit is None:
                ignored.append(h)
                continue
            column, unit = hit
            if column in seen:
                raise UserError(
                    f"headers {seen[column]!r} and {h!r} both map to column {column!r} "
                    f"of table {self.name!r}; rename one or edit the mapping"
                )
            seen[column] = h
            matches.append(HeaderMatch(h, column, unit))
        return matches, ignored

    def nearest_column(self, header: str) -> str | None:
        """The contract column whose spelling is most similar to an unmapped header.

        Examples
        --------
        >>> load_mapping().tables["checkups"].nearest_column("HbA1c値")
        'hba1c'
        """
        key = header_key(header)
        best, score = None, 0.0
        for k, (c, _) in self.headers.items():
            r = difflib.SequenceMatcher(None, key, k).ratio()
            if r > score:
                best, score = c, r
        return best if score >= 0.6 else None

    def closest(self, column: str, headers: list[str]) -> str | None:
        """The header most similar to any spelling of ``column`` (for error messages)."""
        names = [k for k, (c, _) in self.headers.items() if c == column]
        best, score = None, 0.0
        for h in headers:
            for n in names:
                r = difflib.SequenceMatcher(None, header_key(h), n).ratio()
                if r > score:
                    best, score = h, r
        return best if score >= 0.4 else None


@dataclass
class Mapping:
    """The whole mapping: per-table header spellings and coded values."""

    tables: dict[str, TableMapping]
    values: dict[str, dict[str, str]]
    source: str
    aliases: dict[str, str] = field(default_factory=dict)
    """``header_key`` of a file name (without suffix) → table; the first layer wins."""

    def table_for_file(self, path: str | os.PathLike) -> str | None:
        """The table a file holds, from its name (alias or contract name), or ``None``.

        Dates and years before or after the name are ignored, as exports carry them:
        ``特定健診結果_令和5年度.csv``, ``資格_20240331.csv``, ``2023_claims.csv``.

        Examples
        --------
        >>> m = load_mapping()
        >>> m.table_for_file("特定健診結果（R5年度）.csv"), m.table_for_file("memo.csv")
        ('checkups', None)
        """
        stem = header_key(Path(path).stem)
        for key in dict.fromkeys((stem, _undated(stem))):
            if key in self.aliases:
                return self.aliases[key]
            if key in self.tables:
                return key
        return None


_DATE_TOKEN = re.compile(r"(?:fy|令和|平成|r|h)?(?:\d{1,8}(?:年度|年|月|日|分)*)+")


def _undated(stem: str) -> str:
    """A file name's key without the dates and years before or after the name (tokens
    between ``_``, ``-``, ``.`` or brackets)."""
    tokens = [t for t in re.split(r"[-_.()]+", stem) if t]
    while tokens and _DATE_TOKEN.fullmatch(tokens[-1]):
        tokens.pop()
    while tokens and _DATE_TOKEN.fullmatch(tokens[0]):
        tokens.pop(0)
    return "_".join(tokens)


def _fail(source: str, where: str, what: str) -> UserError:
    return UserError(f"{source}: mapping error at {where}: {what}")


def _claim(seen: dict, key: str, owner: str, source: str, where: str, what: str) -> None:
    """Record that ``owner`` claims ``key`` in one mapping layer; a second owner is a
    mapping error (``what`` is completed with the first owner's name)."""
    if seen.setdefault(key, owner) != owner:
        raise _fail(source, where, f"{what} {seen[key]!r}")


def _read_yaml(path: Path) -> dict:
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: mapping file not found") from None
    except (UnicodeDecodeError, OSError) as e:
        raise UserError(f"{path}: cannot read mapping file ({e.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise UserError(f"{path}: mapping file is not valid YAML ({where})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(str(path), "top level", "expected a mapping with 'tables' and 'values'")
    return data


def _check(data: dict, source: str) -> None:
    unknown = set(data) - {"version", "tables", "values", "replace_default"}
    if unknown:
        raise _fail(source, "top level", f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    tables = data.get("tables") or {}
    if not isinstance(tables, dict):
        raise _fail(source, "tables", "expected a mapping of table names")
    for t, spec in tables.items():
        if t not in TABLES:
            raise _fail(
                source, f"tables.{t}", f"unknown table; expected one of {', '.join(TABLES)}"
            )
        if not isinstance(spec, dict) or set(spec) - {"aliases", "columns"}:
            raise _fail(source, f"tables.{t}", "expected 'aliases' and/or 'columns'")
        aliases = spec.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _fail(source, f"tables.{t}.aliases", "expected a list of names")
        columns = spec.get("columns") or {}
        if not isinstance(columns, dict):
            raise _fail(source, f"tables.{t}.columns", "expected column: [headers]")
        names = TABLES[t].column_names
        for c, headers in columns.items():
            if c not in names:
                raise _fail(source, f"tables.{t}.columns.{c}", "not a column of the contract")
            if not isinstance(headers, list):
                raise _fail(source, f"tables.{t}.columns.{c}", "expected a list of headers")
            for h in headers:
                _check_header(h, source, f"tables.{t}.columns.{c}")
    values = data.get("values") or {}
    if not isinstance(values, dict):
        raise _fail(source, "values", "expected column: {value: code}")
    coded = coded_columns()
    for c, codes in values.items():
        if c not in coded:
            raise _fail(
                source,
                f"values.{c}",
                f"not a coded column; expected one of {', '.join(sorted(coded))}",
            )
        if not isinstance(codes, dict):
            raise _fail(source, f"values.{c}", "expected {value: code}")
        for k, v in codes.items():
            if str(v) not in coded[c]:
                raise _fail(
                    source,
                    f"values.{c}.{k}",
                    f"{v!r} is not a code of {c} ({', '.join(sorted(coded[c]))})",
                )


def coded_columns() -> dict[str, set[str]]:
    """Columns whose values a mapping may translate (``values:``) → their allowed codes.

    String columns with a fixed code list, except 性別 (read by its own rule: 1/2, 男/女).
    """
    out: dict[str, set[str]] = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.kind == "string" and c.allowed is not None and c.name != "sex":
                out.setdefault(c.name, set()).update(str(a) for a in c.allowed)
    return out


def _check_header(h, source: str, where: str) -> None:
    if isinstance(h, str):
        return
    if isinstance(h, dict) and isinstance(h.get("header"), str) and set(h) <= {"header", "unit"}:
        if h.get("unit", "") in ("", *UNITS):
            return
        raise _fail(source, where, f"unit {h.get('unit')!r} not supported ({', '.join(UNITS)})")
    raise _fail(source, where, f"header {h!r} must be a string or {{header: ..., unit: ...}}")


def load_mapping(path: str | os.PathLike | None = None) -> Mapping:
    """Load the default mapping, merged with a user file if given.

    Parameters
    ----------
    path : str or PathLike, optional
        A YAML file in the format of ``mappings/default.yaml``.

    Returns
    -------
    Mapping

    Raises
    ------
    UserError
        If the file is missing, not YAML, or names an unknown table, column or unit
        (the message names the file and the entry).
    """
    layers = []
    source = str(DEFAULT_MAPPING.name)
    if path is not None:
        user = _read_yaml(Path(path))
        _check(user, str(path))
        layers.append((str(path), user))
        source = str(path)
    if path is None or not user.get("replace_default"):
        default = _read_yaml(DEFAULT_MAPPING)
        _check(default, DEFAULT_MAPPING.name)
        layers.append((DEFAULT_MAPPING.name, default))
    return _build(layers, source)


def _contract_layer() -> dict:
    """The contract's own column names and 項目名, as the last (lowest-priority) layer."""
    return {
        "tables": {
            name: {
                "columns": {
                    c.name: list(dict.fromkeys(h for h in (c.name, c.ja) if h)) for c in t.columns
                }
            }
            for name, t in TABLES.items()
        }
    }


def _build(layers: list[tuple[str, dict]], source: str) -> Mapping:
    """Merge layers, first layer first: a header or alias keeps its first meaning.

    Within one layer a header claimed by two columns of a table, an alias claimed by two
    tables, or a value mapped to two codes is a mapping error. The contract's names come
    last, so a mapping file may give a contract name another meaning (or a unit).
    """
    tables = {name: TableMapping(name) for name in TABLES}
    aliases: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    for where, layer in [*layers, ("the contract", _contract_layer())]:
        seen_alias: dict[str, str] = {}
        for name, spec in (layer.get("tables") or {}).items():
            tm = tables[name]
            for a in spec.get("aliases") or []:
                key = header_key(a)
                _claim(seen_alias, key, name, where, f"tables.{name}.aliases",
                       f"{a!r} is also an alias of table")  # fmt: skip
                if aliases.setdefault(key, name) == name and a not in tm.aliases:
                    tm.aliases.append(a)
            seen: dict[str, str] = {}
            for col, headers in (spec.get("columns") or {}).items():
                for h in headers:
                    header, unit = (
                        (h, "") if isinstance(h, str) else (h["header"], h.get("unit", ""))
                    )
                    key = header_key(header)
                    _claim(seen, key, col, where, f"tables.{name}.columns.{col}",
                           f"header {header!r} is also listed for column")  # fmt: skip
                    tm.headers.setdefault(key, (col, unit or ""))
        for col, codes in (layer.get("values") or {}).items():
            target = values.setdefault(col, {})
            layer_codes: dict[str, str] = {}
            for k, v in codes.items():
                key = unicodedata.normalize("NFKC", str(k)).strip().lower()
                if layer_codes.setdefault(key, str(v)) != str(v):
                    raise _fail(where, f"values.{col}", f"{k!r} is mapped to two codes")
                target.setdefault(key, str(v))
    return Mapping(tables=tables, values=values, source=source, aliases=aliases)

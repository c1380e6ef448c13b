"""Disclosure control for anything published: small-cell suppression, the dominance rule
for magnitudes, and output scanners.

Rules for counts (the NDB publication rule, ``analysis.config.MIN_CELL_COUNT`` = 10):

- a count from 1 to ``min_cell_count - 1`` is shown as ``"<10"`` (primary suppression);
- 0 is shown as ``"0"``: an empty cell describes nobody, and it is never hidden;
- complementary (secondary) suppression: the reader is assumed to know the row and
  column totals of the count block (``known_totals``), except totals that are
  themselves from 1 to ``min_cell_count - 1`` (never published). A suppressed cell that
  is the only suppressed cell of such a line could be recovered by subtraction, so the
  smallest non-zero shown cell of that line is hidden as well, repeated until no line
  has exactly one. An audit then solves the reader's linear program (shown cells,
  known totals, ``"<10"`` means 1-9 and ``"x"`` means at least 10) and hides more
  cells while any suppressed value is still recoverable. Complementary cells are
  shown as ``"x"`` (the e-Stat sign for 秘匿), never as ``"<10"``: their value is 10 or
  more.

Rule for magnitudes (a total or mean of per-person values, such as medical costs by
group): a cell passing the count rule can still disclose one person when one or two
people make most of it (one dialysis patient among ten). :func:`dominated` applies the
two rules statistical offices use (Hundepool et al., *Statistical Disclosure Control*,
Wiley 2012, section 4.2.2), and a cell breaking either is suppressed:

- the (n, k) dominance rule: the ``n`` largest contributions make more than ``k`` of the
  total (n = 2, k = 85 %);
- the p % rule: the second largest contributor, subtracting its own value from the
  total, would learn the largest to within ``p`` (p = 10 %): the rest of the total, after
  the two largest, is under ``p`` times the largest. With the defaults it flags nothing
  the (2, 85 %) rule lets through; it matters where ``k`` is raised or ``n`` = 1.

The scanners (:func:`check_published_html` and friends) are used by tests and by
:func:`analysis.report.render.render_report` on the rendered HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT

COMPLEMENT_MARK = "x"
"""Shown for a cell hidden only so that a suppressed neighbour cannot be derived, and for
a magnitude hidden by the dominance rule (the e-Stat sign for 秘匿)."""

DOMINANCE_N, DOMINANCE_K = 2, 0.85
"""The (n, k) dominance rule: the two largest contributions may make at most 85 % of a cell."""

P_PERCENT = 0.10
"""The p % rule: no contributor may be estimated by another to within 10 %."""


class UnprotectableTable(ValueError):
    """A small count stays recoverable from the known totals whatever else is hidden."""


def small_count_mark(min_cell_count: int = MIN_CELL_COUNT) -> str:
    """The text shown for a primary-suppressed count, e.g. ``"<10"``."""
    return f"<{min_cell_count}"


def _count_columns(df: pd.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is None:
        return [
            c
            for c in df.columns
            if pd.api.types.is_integer_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
        ]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"suppress_small_counts: columns {missing} not in the table")
    return list(columns)


def _parse_counts(df: pd.DataFrame, columns: list[str], mark: str) -> tuple[np.ndarray, np.ndarray]:
    """Values (NaN where already suppressed) and the already-suppressed mask."""
    values = np.zeros((len(df), len(columns)), dtype=float)
    pre = np.zeros_like(values, dtype=bool)
    for j, col in enumerate(columns):
        for i, v in enumerate(df[col].tolist()):
            if isinstance(v, str) and v.strip() in {mark, COMPLEMENT_MARK}:
                values[i, j], pre[i, j] = np.nan, True
                continue
            if isinstance(v, str):
                v = v.replace(",", "").strip()
            try:
                num = float(v)
            except (TypeError, ValueError):
                num = np.nan
            if not np.isfinite(num) or num < 0 or num != int(num):
                raise ValueError(
                    f"suppress_small_counts: column {col!r} row {i} holds {v!r}, "
                    "not a non-negative whole count"
                )
            values[i, j] = num
    return values, pre


_TOTALS = {"both": (1, 0), "rows": (1,), "columns": (0,)}


def _known_lines(values: np.ndarray, axis: int, min_cell_count: int) -> np.ndarray:
    """Per line (axis 1: rows, 0: columns): whether a reader may know its total.

    A total of 1 to ``min_cell_count - 1`` is itself a small count and is never
    published; a line of one cell has no total besides the cell itself.
    """
    vals = values if axis == 1 else values.T
    if vals.shape[1] < 2:
        return np.zeros(vals.shape[0], dtype=bool)
    totals = vals.sum(axis=1)
    return np.isnan(totals) | (totals == 0) | (totals >= min_cell_count)


def _grow(values: np.ndarray, hidden: np.ndarray, axes, min_cell_count: int) -> np.ndarray:
    """Grow ``hidden`` until no line with a known total has exactly one hidden cell.

    The complement is the smallest non-zero open cell of the line. Zeros are never used:
    a reader knows a hidden ``"x"`` is 0 or at least ``min_cell_count``, so a hidden zero
    protects nothing.
    """
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for axis in axes:
            lines = hidden if axis == 1 else hidden.T  # a view: writes reach ``hidden``
            vals = values if axis == 1 else values.T
            known = _known_lines(values, axis, min_cell_count)
            for k in np.flatnonzero(known & (lines.sum(axis=1) == 1)):
                pool = [c for c in np.flatnonzero(~lines[k]) if vals[k, c] > 0]
                if pool:
                    lines[k, min(pool, key=lambda c: (vals[k, c], c))] = True
                    changed = True
    return hidden


def _derivable(values, hidden, primary, axes, min_cell_count) -> list[tuple[int, int]]:
    """Primary cells whose value follows from the shown cells and the known line totals.

    The reader's problem is a linear program: unknowns are the hidden cells (1 to
    ``min_cell_count - 1`` for ``"<10"``, at least ``min_cell_count`` for ``"x"``), one
    equation per line with a known total. Row-column constraint matrices are totally
    unimodular, so the LP bounds are whole numbers and a range narrower than 1 means the
    value is exactly recoverable.
    """
    from scipy.optimize import linprog

    cells = [c for c in zip(*np.nonzero(hidden), strict=True) if not np.isnan(values[c])]
    if not any(primary[c] for c in cells):
        return []
    index = {c: k for k, c in enumerate(cells)}
    a_eq, b_eq = [], []
    for axis in axes:
        known = _known_lines(values, axis, min_cell_count)
        for line in np.flatnonzero(known):
            vals = values[line, :] if axis == 1 else values[:, line]
            if np.isnan(vals).any():
                continue
            members = [c for c in cells if c[0 if axis == 1 else 1] == line]
            if not members:
                continue
            row = np.zeros(len(cells))
            row[[index[c] for c in members]] = 1.0
            a_eq.append(row)
            b_eq.append(sum(vals[c[1 if axis == 1 else 0]] for c in members))
    if not a_eq:
        return []
    bounds = [(1, min_cell_count - 1) if primary[c] else (min_cell_count, None) for c in cells]
    found = []
    for c in cells:
        if not primary[c]:
            continue
        target = np.zeros(len(cells))
        target[index[c]] = 1.0
        lo = linprog(target, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        hi = linprog(-target, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if lo.status == 0 and hi.status == 0 and -hi.fun - lo.fun < 1 - 1e-9:
            found.append(c)
    return found


def _complement(values, primary, known_totals: str, min_cell_count: int, columns) -> np.ndarray:
    """Complementary suppression, audited: grow, then hide more while any cell is derivable.

    Raises
    ------
    ValueError
        When a suppressed count stays recoverable with every other count hidden: the
        known totals themselves give it away, and the table needs coarser groups.
    """
    axes = _TOTALS[known_totals]
    hidden = _grow(values, primary, axes, min_cell_count)
    while bad := _derivable(values, hidden, primary, axes, min_cell_count):
        i, j = bad[0]
        line_cells = [(i, c) for c in range(values.shape[1])] if 1 in axes else []
        line_cells += [(r, j) for r in range(values.shape[0])] if 0 in axes else []
        pool = [c for c in line_cells if not hidden[c] and values[c] > 0]
        pool = pool or [c for c in zip(*np.nonzero(~hidden & (values > 0)), strict=True)]
        if not pool:
            raise UnprotectableTable(
                f"suppress_small_counts: the count in row {i}, column {columns[j]!r} can be "
                f"recovered from the {known_totals} totals even with every other count hidden; "
                "merge small groups before publishing"
            )
        hidden[min(pool, key=lambda c: (values[c], c))] = True
        hidden = _grow(values, hidden, axes, min_cell_count)
    return hidden


def _nested_hidden(values, hidden, cols, nested, min_cell_count: int) -> np.ndarray:
    """Inner counts of ``nested`` columns to hide so that no two shown counts of a row
    differ by 1 to ``min_cell_count - 1`` (see :func:`suppress_small_counts`)."""
    extra = np.zeros_like(hidden)
    if not nested:
        return extra
    unknown = [c for c in nested if c not in cols]
    if unknown:
        raise ValueError(f"suppress_small_counts: nested columns {unknown} are not count columns")
    idx = [cols.index(c) for c in nested]
    for i in range(values.shape[0]):
        changed = True
        while changed:
            changed = False
            shown = [j for j in idx if not (hidden[i, j] or extra[i, j])]
            for a, b in zip(shown, shown[1:], strict=False):
                if 1 <= values[i, a] - values[i, b] < min_cell_count:
                    extra[i, b] = changed = True
                    break
    return extra


def shown_count(value) -> int | None:
    """A published count cell as a whole number (``"1,234"`` -> 1234, ``12`` -> 12);
    ``None`` when it is hidden (``"<10"``, ``"x"``) or not a count."""
    text = str(value).replace(",", "").strip()
    return int(text) if text.isdigit() else None


def suppress_small_counts(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    min_cell_count: int = MIN_CELL_COUNT,
    *,
    complementary: bool = True,
    known_totals: str = "both",
    derived: Mapping[str, str | Sequence[str]] | None = None,
    nested: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` fit to publish: small counts hidden, counts as strings.

    Parameters
    ----------
    df : pandas.DataFrame
        The table. Not modified.
    columns : sequence of str, optional
        The count columns forming the block whose row and column totals are assumed
        known. Default: every integer column. Cells may already hold ``"<10"`` or ``"x"``
        (treated as hidden).
    min_cell_count : int
        Counts from 1 to ``min_cell_count - 1`` are shown as ``"<{min_cell_count}"``.
    complementary : bool
        Apply complementary suppression (see the module docstring). Default True.
    known_totals : {"both", "rows", "columns"}
        Which margins a reader may know: ``"both"`` for a cross-table whose rows and
        columns add up (tiers by age band); ``"columns"`` when only the column totals
        are sums, as in a table of nested counts per row (invited, enrolled, completed).
    derived : mapping, optional
        ``{derived_column: count_column(s)}``: a rate or mean computed from a count is
        hidden (``"x"``) in every row where one of its count cells is hidden.
    nested : sequence of str, optional
        Count columns that nest within each row, outermost first (invited, enrolled,
        completed). The difference of two shown counts of a row is a count too (the
        people invited who did not enrol): where it is 1 to ``min_cell_count - 1``, the
        inner count is hidden (``"x"``) before complementary suppression, until no two
        shown counts of a row differ by a small number.

    Returns
    -------
    pandas.DataFrame
        Same shape and index; the count columns (and hidden derived cells) become strings:
        ``"1,234"``, ``"0"``, ``"<10"`` or ``"x"``.

    Raises
    ------
    ValueError
        If a count cell is missing, negative, fractional or not a number, naming the
        column and row; if a named column does not exist.
    UnprotectableTable
        A ``ValueError``: a small count cannot be protected because the known totals
        alone reveal it (merge groups first).

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["a", "b"], "men": [3, 40], "women": [25, 31]})
    >>> suppress_small_counts(t)[["men", "women"]].values.tolist()
    [['<10', 'x'], ['x', 'x']]
    >>> suppress_small_counts(t, known_totals="columns")[["men", "women"]].values.tolist()
    [['<10', '25'], ['x', '31']]
    """
    if isinstance(min_cell_count, bool) or int(min_cell_count) != min_cell_count:
        raise ValueError(f"min_cell_count must be a whole number, got {min_cell_count!r}")
    if min_cell_count < 1:
        raise ValueError(f"min_cell_count must be at least 1, got {min_cell_count}")
    if known_totals not in _TOTALS:
        raise ValueError(f"known_totals must be one of {sorted(_TOTALS)}; got {known_totals!r}")
    mark = small_count_mark(min_cell_count)
    cols = _count_columns(df, columns)
    values, pre = _parse_counts(df, cols, mark)
    primary = pre | ((values >= 1) & (values < min_cell_count))
    start = primary | _nested_hidden(values, primary, cols, nested, min_cell_count)
    hidden = (
        _complement(values, start, known_totals, min_cell_count, cols) if complementary else start
    )
    out = df.copy()
    for j, col in enumerate(cols):
        texts = []
        for i in range(len(df)):
            if primary[i, j]:
                raw = df[col].iloc[i]
                texts.append(raw.strip() if isinstance(raw, str) else mark)
            elif hidden[i, j]:
                texts.append(COMPLEMENT_MARK)
            else:
                texts.append(f"{int(values[i, j]):,}")
        out[col] = pd.Series(texts, index=df.index, dtype=object)
    for target, sources in (derived or {}).items():
        sources = [sources] if isinstance(sources, str) else list(sources)
        unknown = [s for s in [target, *sources] if s not in df.columns]
        if unknown:
            raise ValueError(f"suppress_small_counts: derived columns {unknown} not in the table")
        idx = [cols.index(s) for s in sources if s in cols]
        mask = hidden[:, idx].any(axis=1) if idx else np.zeros(len(df), dtype=bool)
        col = out[target].astype(object)
        col[mask] = COMPLEMENT_MARK
        out[target] = col
    return out


def suppress_attrition(
    df: pd.DataFrame,
    remaining: str = "n_remaining",
    excluded: str = "n_excluded",
    min_cell_count: int = MIN_CELL_COUNT,
) -> pd.DataFrame:
    """Suppress an attrition table, where ``remaining[k] = remaining[k-1] - excluded[k]``.

    Row and column totals mean nothing here; the chain does. A step excluding 1 to
    ``min_cell_count - 1`` people opens a hidden run of steps: its excluded count is
    ``"<10"``, the following remaining counts are ``"x"``, and the run extends (hiding the
    next excluded counts as well) until it spans at least two steps excluding at least
    ``min_cell_count`` people in all; the remaining count closing the run is shown again.
    A run still open at the last step hides the last remaining count too.

    Returns
    -------
    pandas.DataFrame
        A copy with both count columns as strings.
    """
    for col in (remaining, excluded):
        if col not in df.columns:
            raise ValueError(f"suppress_attrition: column {col!r} not in the table")
    mark = small_count_mark(min_cell_count)
    rem, pre_rem = _parse_counts(df, [remaining], mark)
    exc, pre_exc = _parse_counts(df, [excluded], mark)
    rem, exc = rem[:, 0], exc[:, 0]
    hide_rem = pre_rem[:, 0].copy()  # cells already hidden stay hidden (idempotent)
    hide_exc = pre_exc[:, 0].copy()
    k = 0
    while k < len(df):
        if not 0 < exc[k] < min_cell_count:
            k += 1
            continue
        start, total = k, 0.0
        while k < len(df):
            hide_exc[k] = True
            total += exc[k]
            if k > start and total >= min_cell_count:
                break
            hide_rem[k] = True
            k += 1
        k += 1
    out = df.copy()
    out[remaining] = [
        (str(df[remaining].iloc[i]).strip() if pre_rem[i, 0] else COMPLEMENT_MARK)
        if hide_rem[i]
        else f"{int(rem[i]):,}"
        for i in range(len(df))
    ]
    out[excluded] = [
        (
            str(df[excluded].iloc[i]).strip()
            if pre_exc[i, 0]
            else mark
            if 0 < exc[i] < min_cell_count
            else COMPLEMENT_MARK
        )
        if hide_exc[i]
        else f"{int(exc[i]):,}"
        for i in range(len(df))
    ]
    return out


# --------------------------------------------------------------------------- magnitudes


def dominated(
    contributions,
    *,
    n: int = DOMINANCE_N,
    k: float = DOMINANCE_K,
    p: float | None = P_PERCENT,
) -> bool:
    """Whether a magnitude cell (a total or mean of ``contributions``) must be suppressed.

    A cell is sensitive when its ``n`` largest contributions make more than ``k`` of its
    total, or (p % rule, unless ``p`` is None) when the total less its two largest
    contributions is under ``p`` times the largest. Contributions are taken by size
    (absolute values); missing values contribute nothing; a cell whose total is 0
    discloses nothing.

    Parameters
    ----------
    contributions : array-like of float
        The per-person values the cell adds up or averages (e.g. yen per person).
    n : int
        Contributors counted by the dominance rule.
    k : float
        Largest share of the total the ``n`` largest may make, in (0, 1].
    p : float or None
        Precision (as a fraction of the largest contribution) within which no
        contributor may be estimated; None applies the (n, k) rule alone.

    Returns
    -------
    bool
        True if the cell must be suppressed.

    Raises
    ------
    ValueError
        If ``n`` is not a positive whole number or ``k`` or ``p`` lies outside (0, 1].

    Examples
    --------
    >>> dominated([100, 100, 100, 100, 100, 100, 100, 100, 100, 100])
    False
    >>> dominated([6_000_000] + [50_000] * 9)  # one dialysis patient among ten
    True
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"dominated: n must be a positive whole number, got {n!r}")
    for name, value in (("k", k), ("p", p)):
        if value is not None and not 0 < value <= 1:
            raise ValueError(f"dominated: {name} must lie in (0, 1], got {value!r}")
    x = np.abs(pd.to_numeric(pd.Series(contributions, dtype=object), errors="raise"))
    x = np.sort(x.dropna().to_numpy(dtype=float))[::-1]
    total = x.sum()
    if total <= 0:
        return False
    if x[: int(n)].sum() > k * total:
        return True
    return bool(p is not None and total - x[:2].sum() < p * x[0])


def dominated_cells(
    data: pd.DataFrame,
    value: str,
    by: str | Sequence[str],
    *,
    n: int = DOMINANCE_N,
    k: float = DOMINANCE_K,
    p: float | None = P_PERCENT,
) -> pd.Series:
    """The cells of a magnitude table (``value`` summed or averaged by ``by``) that
    :func:`dominated` says must be suppressed.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per contributor (person), with ``value`` and the grouping columns.
    value : str
        The per-person magnitude (e.g. ``"cost_total_prior"``).
    by : str or sequence of str
        The columns defining the cells.
    n, k, p
        As for :func:`dominated`.

    Returns
    -------
    pandas.Series of bool
        Indexed by the groups of ``by``; True where the cell must be hidden.

    Raises
    ------
    ValueError
        If ``value`` or a grouping column is not in ``data``.

    Examples
    --------
    >>> d = pd.DataFrame({"group": ["a"] * 10 + ["b"] * 10,
    ...                   "cost": [50_000] * 10 + [6_000_000] + [50_000] * 9})
    >>> dominated_cells(d, "cost", "group").to_dict()
    {'a': False, 'b': True}
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [value, *keys] if c not in data.columns]
    if missing:
        raise ValueError(f"dominated_cells: columns {missing} not in the table")
    return data.groupby(keys, sort=True)[value].apply(lambda x: dominated(x, n=n, k=k, p=p))


# --------------------------------------------------------------------------- scanners


@dataclass(frozen=True)
class Finding:
    """One problem found in a published output.

    Attributes
    ----------
    kind : str
        ``"small_count"``, ``"identifier"`` or ``"external_reference"``.
    location : str
        Where: ``"table 2, row 3, column '人数'"`` or a character offset.
    text : str
        The offending text.
    """

    kind: str
    location: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.location}: {self.text!r}"


class _TableParser(HTMLParser):
    """Collect the cells of every ``<table>``: (table, row, column, header, text, is_th)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cells: list[tuple[int, int, int, str, str, bool]] = []
        self._table = -1
        self._depth = 0
        self._row = -1
        self._col = -1
        self._cell: list[str] | None = None
        self._is_th = False
        self._headers: dict[int, str] = {}

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._depth += 1
            if self._depth == 1:
                self._table += 1
                self._row = -1
                self._headers = {}
        elif tag == "tr" and self._depth:
            self._row += 1
            self._col = -1
        elif tag in {"td", "th"} and self._depth:
            self._col += 1
            self._cell = []
            self._is_th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "table" and self._depth:
            self._depth -= 1
        elif tag in {"td", "th"} and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._is_th:
                self._headers[self._col] = text
            header = self._headers.get(self._col, "")
            self.cells.append((self._table, self._row, self._col, header, text, self._is_th))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


_INTEGER = re.compile(r"^\d{1,3}(,\d{3})+$|^\d+$")


def table_cells(html: str) -> list[tuple[int, int, int, str, str, bool]]:
    """Every table cell of an HTML document: (table, row, column, header, text, is_header)."""
    parser = _TableParser()
    parser.feed(html)
    return parser.cells


def find_small_counts(html: str, min_cell_count: int = MIN_CELL_COUNT) -> list[Finding]:
    """Data cells of HTML tables holding a whole number from 1 to ``min_cell_count - 1``.

    Every cell whose whole text is an unsigned integer (``"7"``, ``"1,234"``) is taken as
    a count; published tables therefore write other small integers with words or units.
    Signed numbers (``"+7"``, ``"-7"``) are differences and estimates, not counts.
    """
    found = []
    for table, row, col, header, text, is_th in table_cells(html):
        if is_th or not _INTEGER.match(text):
            continue
        value = int(text.replace(",", ""))
        if 0 < value < min_cell_count:
            where = f"table {table + 1}, row {row}, column {header or col!r}"
            found.append(Finding("small_count", where, text))
    return found


def find_identifiers(
    text: str, ids: Iterable[str] = (), patterns: Iterable[str | re.Pattern] = ()
) -> list[Finding]:
    """Occurrences in ``text`` of any of ``ids`` (exact strings) or regex ``patterns``."""
    found = []
    for ident in ids:
        ident = str(ident)
        if ident and (pos := text.find(ident)) >= 0:
            found.append(Finding("identifier", f"offset {pos}", ident))
    for pat in patterns:
        for m in re.finditer(pat, text):
            found.append(Finding("identifier", f"offset {m.start()}", m.group(0)))
    return found


_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//[^\s"'>]+)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//[^)]+\))"""
    r"""|(?:@import\s+["']?(?:https?:)?//[^\s;"']+)""",
    re.IGNORECASE,
)
_SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["']?(?!data:)""", re.IGNORECASE)


def find_external_references(html: str) -> list[Finding]:
    """Links that make a browser fetch from the network, and ``<script src=...>`` files.

    A script embedded as a ``data:`` URI (Quarto's self-contained HTML) is not reported.

    Plain hyperlinks to web pages (``<a href="https://...">``) are reported as well: a
    published report links nothing outside itself. XML namespace declarations are not
    fetched and are ignored.
    """
    found = [
        Finding("external_reference", f"offset {m.start()}", m.group(0)[:120])
        for m in _EXTERNAL.finditer(html)
    ]
    found += [
        Finding("external_reference", f"offset {m.start()}", m.group(0))
        for m in _SCRIPT_SRC.finditer(html)
    ]
    return found


def check_published_html(
    path: str | Path,
    id_patterns: Iterable[str | re.Pattern] = (),
    *,
    ids: Iterable[str] = (),
    min_cell_count: int = MIN_CELL_COUNT,
) -> list[Finding]:
    """Scan a rendered HTML file for small counts, identifiers and network references.

    Returns
    -------
    list of Finding
        Empty when the file is fit to publish.
    """
    html = Path(path).read_text(encoding="utf-8")
    return (
        find_small_counts(html, min_cell_count)
        + find_identifiers(html, ids, id_patterns)
        + find_external_references(html)
    )

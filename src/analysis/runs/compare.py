"""Comparisons behind ``mvm-eval verify``: a run against its manifest, and against a re-run.

*Tamper evidence* (:func:`check_record`): every file on disk is checked against the
SHA-256 of its bytes in the manifest; a file that is missing, unreadable, altered, or
present but not in the manifest is named.

*Reproduction* (:func:`compare_files`): the run is re-executed and every file the re-run
writes is compared with the recorded one, within stated tolerances rather than bit for
bit, so that floating-point noise from another machine (another BLAS kernel, another
summation order) is not reported as a changed result:

- two floats agree when ``|a - b| <= ABS_TOLERANCE + REL_TOLERANCE * max(|a|, |b|)``;
  NaN agrees with NaN and an infinity with the same infinity;
- integers, booleans, strings, dates and column types must be equal;
- figures (PNG) must have the same size and no colour channel of any pixel may differ by
  more than ``PIXEL_TOLERANCE`` levels;
- executed notebooks must have run the same cells (their outputs hold timings and paths);
- any other file must have the same bytes.

Each comparison says ``same`` (identical), ``within tolerance`` (with the largest
difference) or ``differs`` (with the first differing value).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REL_TOLERANCE = 1e-5
"""Relative tolerance on floats. One ulp is 2.2e-16 relative, but a result computed
through iterative fits carries a last-bit difference much further: re-running a
6,000-resident town with another OpenBLAS kernel changed an AIPW estimate by 3.6e-7
relative and a bias (a difference of two close numbers) by 1.0e-6. 1e-5 leaves a margin
over that and is still far below the 3-4 significant digits the report shows; a real
change (another seed, other data, changed code) moves estimates by orders of magnitude
more."""
ABS_TOLERANCE = 1e-6
"""Absolute tolerance, for values that are zero up to noise (a difference of two close
numbers, a coefficient that vanishes), where a relative difference means nothing; far
below what the report shows of any quantity (yen, mmHg, percentage points, p-values)."""
PIXEL_TOLERANCE = 1
"""Largest difference of a colour channel (0-255) of a figure's pixel still counted as the
same figure: a line moved by a millionth of a pixel flips the rounding of a few
antialiased pixels by one level (another OpenBLAS kernel: at most 7 pixels, by 1)."""

SAME, WITHIN, DIFFERS = "same", "within tolerance", "differs"
MISSING, EXTRA, UNREADABLE, NOT_COVERED = "missing", "extra", "unreadable", "not covered"
FAILED = "failed"
GOOD = (SAME, WITHIN, NOT_COVERED)
"""Statuses that do not fail a verification."""


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing a recorded file with the re-run's.

    Attributes
    ----------
    status : {"same", "within tolerance", "differs"}
    detail : str
        Empty when identical; the largest relative difference when within tolerance; the
        first differing value (recorded run vs re-run) when different.
    """

    status: str
    detail: str = ""


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``; 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def floats_close(a: float, b: float) -> bool:
    """Whether two floats agree within the tolerance (NaN with NaN, ±inf with itself)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= ABS_TOLERANCE + REL_TOLERANCE * max(abs(a), abs(b))


class _Tally:
    """The first difference found and the largest relative difference within tolerance."""

    def __init__(self) -> None:
        self.first: str | None = None
        self.n_differs = 0
        self.largest = 0.0
        self.where = ""
        self.gap = 0.0

    def differ(self, where: str, recorded: Any, rerun: Any, count: int = 1) -> None:
        if self.first is None:
            self.first = f"{where}: {recorded!r} (recorded run) vs {rerun!r} (re-run)"
        self.n_differs += count

    def near(self, where: str, recorded: float, rerun: float) -> None:
        rel = relative_difference(recorded, rerun)
        if rel > self.largest or not self.where:
            self.largest, self.where, self.gap = rel, where, abs(recorded - rerun)

    def result(self) -> Comparison:
        if self.first is not None:
            more = f" (and {self.n_differs - 1} more)" if self.n_differs > 1 else ""
            return Comparison(DIFFERS, self.first + more)
        if self.where:
            return Comparison(
                WITHIN,
                f"largest relative difference {self.largest:.1e} "
                f"(absolute {self.gap:.1e}) at {self.where}",
            )
        return Comparison(SAME)


def _is_float(x: Any) -> bool:
    return isinstance(x, (float, np.floating))


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _walk(recorded: Any, rerun: Any, where: str, tally: _Tally) -> None:
    """Compare two JSON-like values (or cells of a table) recursively."""
    if _is_float(recorded) or _is_float(rerun):
        if not all(_is_float(x) or _is_int(x) for x in (recorded, rerun)):
            tally.differ(where, recorded, rerun)
        elif not floats_close(float(recorded), float(rerun)):
            tally.differ(where, recorded, rerun)
        elif not (recorded == rerun or (math.isnan(recorded) and math.isnan(rerun))):
            tally.near(where, float(recorded), float(rerun))
    elif isinstance(recorded, dict) and isinstance(rerun, dict):
        for key in sorted(set(recorded) | set(rerun), key=str):
            sub = f"{where}.{key}" if where else f"key {key}"
            if key not in recorded or key not in rerun:
                tally.differ(sub, recorded.get(key, "<absent>"), rerun.get(key, "<absent>"))
            else:
                _walk(recorded[key], rerun[key], sub, tally)
    elif isinstance(recorded, (list, tuple, np.ndarray)) and isinstance(
        rerun, (list, tuple, np.ndarray)
    ):
        if len(recorded) != len(rerun):
            tally.differ(f"{where} length", len(recorded), len(rerun))
            return
        for i, (u, v) in enumerate(zip(recorded, rerun, strict=True)):
            _walk(u, v, f"{where}[{i}]", tally)
    elif not (recorded is rerun or _scalar_equal(recorded, rerun)):
        tally.differ(where, recorded, rerun)


def _scalar_equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b) and not (_is_int(a) and _is_int(b)):
        return False
    if pd.api.types.is_scalar(a) and pd.isna(a):
        return pd.api.types.is_scalar(b) and bool(pd.isna(b))
    return bool(a == b)


def compare_json(recorded: Any, rerun: Any) -> Comparison:
    """Compare two parsed JSON documents (numbers within the tolerance).

    Examples
    --------
    >>> compare_json({"roi": 0.61}, {"roi": math.nextafter(0.61, 1)}).status
    'within tolerance'
    >>> compare_json({"n": 64}, {"n": 65}).detail
    'key n: 64 (recorded run) vs 65 (re-run)'
    """
    tally = _Tally()
    _walk(recorded, rerun, "", tally)
    return tally.result()


def _float_column(name: str, x: pd.Series, y: pd.Series, tally: _Tally) -> None:
    a = x.to_numpy(dtype=float, na_value=np.nan)
    b = y.to_numpy(dtype=float, na_value=np.nan)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return
    with np.errstate(invalid="ignore", over="ignore"):
        bound = ABS_TOLERANCE + REL_TOLERANCE * np.maximum(np.abs(a), np.abs(b))
        close = same | (np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= bound))
    bad = np.flatnonzero(~close)
    if bad.size:
        i = int(bad[0])
        tally.differ(f"row {i}, column {name}", float(a[i]), float(b[i]), count=bad.size)
        return
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(same, -1.0, np.abs(a - b) / np.maximum(np.abs(a), np.abs(b)))
    k = int(np.argmax(rel))
    tally.near(f"row {k}, column {name}", float(a[k]), float(b[k]))


def compare_tables(recorded: pd.DataFrame, rerun: pd.DataFrame) -> Comparison:
    """Compare two tables: same columns, types and rows; floats within the tolerance.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [0.1, 0.2]})
    >>> compare_tables(a, a.assign(x=[0.1, np.nextafter(0.2, 1)])).status
    'within tolerance'
    >>> compare_tables(a, a.assign(x=[0.1, 0.3])).detail
    'row 1, column x: 0.2 (recorded run) vs 0.3 (re-run)'
    """
    tally = _Tally()
    if list(recorded.columns) != list(rerun.columns):
        tally.differ("columns", list(recorded.columns), list(rerun.columns))
        return tally.result()
    if len(recorded) != len(rerun):
        tally.differ("rows", len(recorded), len(rerun))
        return tally.result()
    for col in recorded.columns:
        x, y = recorded[col], rerun[col]
        if x.dtype != y.dtype:
            tally.differ(f"type of column {col}", str(x.dtype), str(y.dtype))
        elif x.dtype.kind == "f":
            _float_column(str(col), x, y, tally)
        elif not x.reset_index(drop=True).equals(y.reset_index(drop=True)):
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                _walk(u, v, f"row {i}, column {col}", tally)
    return tally.result()


def _notebook_cells(path: Path) -> list[list[str]]:
    from analysis.runs.manifest import notebook_cells

    return notebook_cells(json.loads(path.read_text(encoding="utf-8")))


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.int16)


def compare_images(recorded: Path, rerun: Path) -> Comparison:
    """Compare two figures pixel by pixel (``PIXEL_TOLERANCE`` levels per channel)."""
    x, y = _pixels(recorded), _pixels(rerun)
    if x.shape != y.shape:
        size = "{1}x{0}".format
        return Comparison(DIFFERS, f"image size {size(*x.shape)} (recorded run) vs "
                                   f"{size(*y.shape)} (re-run)")  # fmt: skip
    levels = np.abs(x - y).max(axis=2)
    n, top = int((levels > 0).sum()), int(levels.max())
    if n == 0:
        return Comparison(SAME, "same pixels (the PNG encoding differs)")
    detail = f"{n:,} pixel(s) differ, by up to {top} colour level(s) of 255"
    return Comparison(WITHIN if top <= PIXEL_TOLERANCE else DIFFERS, detail)


def compare_files(recorded: Path, rerun: Path) -> Comparison:
    """Compare a recorded file with the re-run's, by kind (see the module docstring)."""
    suffix = recorded.suffix
    try:
        if suffix == ".parquet":
            return compare_tables(pd.read_parquet(recorded), pd.read_parquet(rerun))
        if suffix == ".json":
            a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (recorded, rerun))
            return compare_json(a, b)
        if suffix == ".ipynb":
            a, b = _notebook_cells(recorded), _notebook_cells(rerun)
            if a == b:
                return Comparison(SAME)
            i = next((i for i, (u, v) in enumerate(zip(a, b, strict=False)) if u != v), None)
            where = f"cell {i}" if i is not None else f"{len(a)} vs {len(b)} cells"
            return Comparison(DIFFERS, f"the executed cells differ ({where})")
        if suffix == ".png" and recorded.read_bytes() != rerun.read_bytes():
            return compare_images(recorded, rerun)
    except Exception as e:  # a file the re-run wrote but cannot be read: a difference
        return Comparison(DIFFERS, f"not readable as {suffix[1:]}: {type(e).__name__}: {e}")
    a, b = recorded.read_bytes(), rerun.read_bytes()
    if a == b:
        return Comparison(SAME)
    return Comparison(DIFFERS, f"bytes differ ({len(a):,} bytes recorded, {len(b):,} re-run)")


# ------------------------------------------------------------------ tamper evidence


@dataclass(frozen=True)
class Row:
    """One line of a verification: which check, which file, its status and why.

    Attributes
    ----------
    check : {"input", "file", "re-run"}
        The dataset's files against the manifest, the run directory's files against the
        manifest, or the re-run's files against the run's.
    item : str
        File name (inputs) or path relative to the run directory.
    status : str
        ``same``, ``within tolerance``, ``not covered`` (files that pass), or ``differs``,
        ``missing``, ``extra``, ``unreadable``, ``failed``.
    detail : str
    """

    check: str
    item: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in GOOD


_HAS_CANONICAL_FORM = (".parquet", ".json", ".ipynb")


def _against_record(record: dict[str, Any], path: Path) -> tuple[str, str]:
    from analysis.runs.manifest import canonical_sha256, file_sha256, is_regular_file

    if not is_regular_file(path):
        return UNREADABLE, "not a regular file"
    try:
        digest = file_sha256(path)
    except OSError as e:
        return UNREADABLE, f"cannot be read: {e.strerror or type(e).__name__}"
    if digest == record["sha256"]:
        return SAME, ""
    detail = "bytes differ from the manifest's SHA-256"
    size = path.stat().st_size
    if record.get("size") not in (None, size):
        detail += f" ({record['size']:,} bytes recorded, {size:,} now)"
    if "canonical_sha256" in record and path.suffix in _HAS_CANONICAL_FORM:
        try:
            same = canonical_sha256(path) == record["canonical_sha256"]
        except Exception as e:
            detail += f"; no longer readable as {path.suffix[1:]} ({type(e).__name__})"
        else:
            detail += "; canonical form unchanged" if same else "; content differs"
    return DIFFERS, detail


def check_record(
    check: str,
    recorded: dict[str, dict[str, Any]],
    present: dict[str, Path],
    *,
    after_manifest: Callable[[str], bool] | None = None,
) -> list[Row]:
    """Check files on disk against the manifest's record of them, by the hash of their bytes.

    Parameters
    ----------
    check : str
        Label of the check (``"input"`` or ``"file"``).
    recorded : dict
        ``{name: {"sha256": ..., ["size": ..., "canonical_sha256": ...]}}`` from the manifest.
    present : dict
        ``{name: path}`` of what is on disk now.
    after_manifest : callable, optional
        Names of files legitimately written after the manifest: listed as ``not covered``
        rather than ``extra``.

    Returns
    -------
    list of Row
        One per name in either, sorted: ``same``, ``differs``, ``missing``, ``extra``,
        ``unreadable`` or ``not covered``.
    """
    rows = []
    for item in sorted(set(recorded) | set(present)):
        if item not in recorded:
            if after_manifest is not None and after_manifest(item):
                why = "a rendered report (written after the manifest): not hash-checked"
                rows.append(Row(check, item, NOT_COVERED, why))
            else:
                rows.append(Row(check, item, EXTRA, "not in the manifest"))
        elif item not in present:
            rows.append(Row(check, item, MISSING, "in the manifest but not on disk"))
        else:
            rows.append(Row(check, item, *_against_record(recorded[item], present[item])))
    return rows

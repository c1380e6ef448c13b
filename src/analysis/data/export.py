"""Export a dataset as municipal-style CSV (``mvm-eval export --format csv-ja``).

One CP932 (Shift_JIS) file per table, named after the table's Japanese name (資格.csv,
健診.csv, レセプト.csv, 傷病名.csv, ...), with Japanese headers (the contract's 項目名),
和暦 dates, 性別 as 1/2, yes/no answers as はい/いいえ, 尿蛋白 as full-width −/±/+ symbols
and 入外区分 in words: the shape of a real NHI export. Its purpose is the round trip:
importing the export must give back the same tables, with every id replaced by its
pseudonym.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis.data.contract import TABLES, Column
from analysis.data.dataset import Dataset
from analysis.data.normalise import ERAS
from analysis.errors import UserError

DATE_STYLES = ("kanji", "short", "padded")
"""和暦 styles: ``令和5年4月1日``, ``R5.4.1``, ``R05/04/01``."""

SETTING_JA = {"inpatient": "入院", "outpatient": "入院外", "pharmacy": "調剤", "dental": "歯科"}
EXIT_REASON_JA = {
    "age75": "後期高齢者医療へ移行",
    "moved": "転出",
    "employee_insurance": "社保加入",
    "death": "死亡",
    "other": "その他",
}
URINE_PROTEIN_JA = {0: "－", 1: "±", 2: "＋", 3: "2＋", 4: "3＋"}
SEX_CODE = {"M": "1", "F": "2"}
ENCODING = "cp932"


def _era(day: dt.date) -> tuple[str, int] | None:
    for letter, (_, first_year, first, last) in ERAS.items():
        if day >= first and (last is None or day <= last):
            return letter, day.year - first_year + 1
    return None


def wareki(day: dt.date, style: str = "kanji", *, month_only: bool = False) -> str:
    """Write a date (or its month) in 和暦.

    Examples
    --------
    >>> wareki(dt.date(2019, 5, 1)), wareki(dt.date(2019, 4, 30), "short")
    ('令和元年5月1日', 'H31.4.30')
    >>> wareki(dt.date(2023, 4, 1), "padded", month_only=True)
    'R05/04'
    """
    era = _era(day.replace(day=1) if month_only else day)
    if era is None:
        return day.isoformat()[:7] if month_only else day.isoformat()
    letter, y = era
    if style == "kanji":
        name = ERAS[letter][0]
        year = "元" if y == 1 else str(y)
        return f"{name}{year}年{day.month}月" + ("" if month_only else f"{day.day}日")
    if style == "short":
        return f"{letter}{y}.{day.month}" + ("" if month_only else f".{day.day}")
    if style == "padded":
        return f"{letter}{y:02d}/{day.month:02d}" + ("" if month_only else f"/{day.day:02d}")
    raise ValueError(f"date_style must be one of {', '.join(DATE_STYLES)}, got {style!r}")


def _formatter(table: str, col: Column, style: str) -> Callable:
    name = col.name
    if col.kind == "date":
        month = name == "service_month"
        return lambda v: wareki(pd.Timestamp(v).date(), style, month_only=month)
    if name == "fiscal_year":
        return lambda v: wareki(dt.date(int(v), 4, 1), "kanji").split("年")[0] + "年度"
    if name == "sex":
        return SEX_CODE.__getitem__
    if name == "setting":
        return SETTING_JA.__getitem__
    if name == "exit_reason":
        return EXIT_REASON_JA.__getitem__
    if name == "urine_protein":
        return lambda v: URINE_PROTEIN_JA[int(v)]
    if col.kind == "bool":
        if name in ("primary", "completed"):
            return lambda v: "1" if v else "0"
        return lambda v: "はい" if v else "いいえ"
    if col.kind == "int":
        return lambda v: str(int(v))
    return str


def _format_column(s: pd.Series, fn: Callable) -> pd.Series:
    valid = s.notna()
    out = pd.Series("", index=s.index, dtype=object)
    if valid.any():
        codes, uniques = pd.factorize(s[valid])
        mapped = [fn(u) for u in uniques]
        out[valid] = [mapped[c] for c in codes]
    return out


def export_csv_ja(
    dataset: str | os.PathLike | Dataset,
    out_dir: str | os.PathLike,
    *,
    date_style: str = "kanji",
    replace: bool = False,
) -> dict[str, Path]:
    """Write every table of a dataset as a CP932 CSV file with Japanese headers.

    Parameters
    ----------
    dataset : str, PathLike or Dataset
        The dataset to export.
    out_dir : str or PathLike
        Directory to create (written to a temporary sibling and renamed at the end).
    date_style : {"kanji", "short", "padded"}
        和暦 style: ``令和5年4月1日``, ``R5.4.1`` or ``R05/04/01``.
    replace : bool
        Replace an existing ``out_dir``.

    Returns
    -------
    dict
        Table name → written file.

    Raises
    ------
    UserError
        If ``out_dir`` exists (without ``replace``), the style is unknown, the dataset
        cannot be read (naming the damaged file), or a value cannot be written in CP932
        (naming the table and column).
    """
    if date_style not in DATE_STYLES:
        raise UserError(f"--date-style must be one of {', '.join(DATE_STYLES)}, got {date_style!r}")
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        from analysis.data.validation import open_dataset

        ds = open_dataset(dataset)
    out = Path(out_dir)
    if out.exists() and not replace:
        raise UserError(f"{out} exists; pass --replace to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    written = {}
    try:
        for name in ds.tables:
            written[name] = _export_table(ds, name, tmp, date_style)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {t: out / p.name for t, p in written.items()}


def _export_table(ds: Dataset, name: str, tmp: Path, style: str) -> Path:
    import pyarrow as pa

    t = TABLES[name]
    try:
        df = ds.read(name)
    except (pa.ArrowException, OSError) as e:
        raise UserError(
            f"{ds.path / (name + '.parquet')}: cannot be read ({type(e).__name__}: the file is "
            "damaged or not Parquet); run `mvm-eval validate` on the dataset"
        ) from None
    frame = pd.DataFrame(
        {c.ja or c.name: _format_column(df[c.name], _formatter(name, c, style)) for c in t.columns}
    )
    path = tmp / f"{t.ja}.csv"
    try:
        frame.to_csv(path, index=False, encoding=ENCODING, lineterminator="\r\n")
    except UnicodeEncodeError as e:
        bad = e.object[e.start : e.end] if isinstance(e.object, str) else "?"
        raise UserError(f"table {name!r}: character {bad!r} cannot be written in CP932") from None
    return path

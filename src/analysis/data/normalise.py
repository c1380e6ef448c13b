"""Value normalisation for municipal CSV exports.

Each ``parse_*`` function takes one raw cell (already decoded text) and returns the
contract value, or raises ``ValueError`` with a short English reason that the importer
writes to the rejects file. Nothing is guessed: a value that cannot be read exactly is
rejected, never "fixed".

Forms understood
----------------
- Text: Unicode NFKC (full-width digits, letters, slashes and spaces become ASCII),
  surrounding whitespace removed.
- Dates: ISO and Western forms (``2023-04-01``, ``2023/4/1``, ``20230401``,
  ``2023年4月1日``, an Excel ``0:00`` time suffix), and 和暦 in every common form:
  ``R5.4.1``, ``R05/04/01``, ``R050401``, ``令和5年4月1日``, ``令和元年5月1日``,
  ``H31.4.30``, ``平成31年4月30日``, ``S``/``昭和``, ``T``/``大正``, ``M``/``明治``, the
  one-kanji abbreviations (``平31.4.30``, ``令5.4.1``, ``昭35年5月10日``), and the
  7-digit レセプト form with an era code (``5050401`` = 令和5年4月1日; 1 明治 … 5 令和).
  Dates outside their era (``H31.5.1``) are rejected.
- Months (診療年月): the same forms without the day (``R5.4``, ``令和5年4月``, ``202304``,
  ``50504``); a full date is accepted only on the first of the month.
- Fiscal years (年度): ``2023``, ``2023年度``, ``令和5年度``, ``R5``.
- 性別: ``1``/``男``/``男性``/``M`` → ``M``; ``2``/``女``/``女性``/``F`` → ``F``.
- Yes/no answers: ``はい``/``いいえ``, ``1``/``2`` (questionnaire codes), ``1``/``0``,
  ``有``/``無``, ``あり``/``なし``, ``○``/``×``, ``true``/``false``.
- 尿蛋白: ``−``, ``±``, ``+``, ``2+``, ``3+`` in half- or full-width (also ``++``,
  ``+++``, ``(+)``, ``陰性``) → 0 … 4. Bare digits are ambiguous (the 特定健診 XML code
  list starts at 1) and are rejected.
- HbA1c in mmol/mol (IFCC) → NGSP % by the IFCC-NGSP master equation
  ``NGSP = 0.09148 × IFCC + 2.152``, rounded to 0.1 % as reported clinically.
- ICD-10: upper case, dot removed (``E11.9`` → ``E119``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

ERAS: dict[str, tuple[str, int, dt.date, dt.date | None]] = {
    "M": ("明治", 1868, dt.date(1868, 1, 1), dt.date(1912, 7, 29)),
    "T": ("大正", 1912, dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    "S": ("昭和", 1926, dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    "H": ("平成", 1989, dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    "R": ("令和", 2019, dt.date(2019, 5, 1), None),
}
"""Era letter → (kanji name, Gregorian year of 元年, first day, last day or None)."""

_ERA_BY_NAME = {v[0]: k for k, v in ERAS.items()} | {v[0][0]: k for k, v in ERAS.items()}
_ERA_BY_NAME |= {k: k for k in ERAS}
_ERA_BY_CODE = {"1": "M", "2": "T", "3": "S", "4": "H", "5": "R"}
_ERA = r"(?P<era>[MTSHR]|明治|大正|昭和|平成|令和|[明大昭平令])"
_SEP = r"\s*[./\-年]\s*"
_SEP2 = r"\s*[./\-月]\s*"
_TIME = r"(?:\s+0{1,2}:00(?::00)?)?"

_JP_DATE = re.compile(
    rf"^{_ERA}\s*(?P<y>\d{{1,2}}|元){_SEP}(?P<m>\d{{1,2}}){_SEP2}(?P<d>\d{{1,2}})\s*日?{_TIME}$"
)
_JP_DATE_COMPACT = re.compile(r"^(?P<era>[MTSHR])(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
_JP_DATE_CODE = re.compile(r"^(?P<code>[1-5])(?P<y>\d{2})(?P<m>\d{2})(?P<d>\d{2})$")
_W_DATE = re.compile(rf"^(?P<y>\d{{4}}){_SEP}(?P<m>\d{{1,2}}){_SEP2}(?P<d>\d{{1,2}})\s*日?{_TIME}$")
_W_DATE_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")

_JP_MONTH = re.compile(rf"^{_ERA}\s*(?P<y>\d{{1,2}}|元){_SEP}(?P<m>\d{{1,2}})\s*月?$")
_JP_MONTH_COMPACT = re.compile(r"^(?P<era>[MTSHR])(?P<y>\d{2})(?P<m>\d{2})$")
_JP_MONTH_CODE = re.compile(r"^(?P<code>[1-5])(?P<y>\d{2})(?P<m>\d{2})$")
_W_MONTH = re.compile(r"^(?P<y>\d{4})\s*[./\-年]\s*(?P<m>\d{1,2})\s*月?$")
_W_MONTH_COMPACT = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$")

_JP_FY = re.compile(rf"^{_ERA}\s*(?P<y>\d{{1,2}}|元)\s*(?:年度)?$")
_W_FY = re.compile(r"^(?P<y>\d{4})\s*(?:年度)?$")

DATE_NULLS = frozenset({"", "99999999", "9999/12/31", "9999-12-31", "00000000"})
"""Placeholders that NHI systems write for "no date" (e.g. still enrolled)."""

SEX_CODES = {"1": "M", "男": "M", "男性": "M", "m": "M", "male": "M",
             "2": "F", "女": "F", "女性": "F", "f": "F", "female": "F"}  # fmt: skip
YES = frozenset({"1", "はい", "有", "あり", "○", "◯", "true", "t", "yes", "y", "主"})
NO = frozenset({"0", "2", "いいえ", "無", "なし", "×", "false", "f", "no", "n"})
URINE_PROTEIN = {
    **dict.fromkeys(["-", "−", "‐", "–", "ー", "(-)", "(−)", "陰性"], 0),
    **dict.fromkeys(["±", "+-", "(±)"], 1),
    **dict.fromkeys(["+", "1+", "(+)"], 2),
    **dict.fromkeys(["2+", "++", "(2+)"], 3),
    **dict.fromkeys(["3+", "+++", "(3+)"], 4),
}
"""尿蛋白 dipstick symbols (after NFKC) → contract code 0 (−) … 4 (3+)."""

IFCC_SLOPE, IFCC_INTERCEPT = 0.09148, 2.152
"""IFCC-NGSP master equation: NGSP % = 0.09148 × IFCC mmol/mol + 2.152."""

_ICD10 = re.compile(r"^[A-Z][0-9]{2}[0-9A-Z]{0,2}$")


def text(value: str) -> str:
    """NFKC-normalise and strip a cell (full-width digits and spaces become ASCII).

    Examples
    --------
    >>> text("　１２３．５ ")
    '123.5'
    """
    if value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", value).strip()


def _year(era: str, y: str) -> int:
    letter = _ERA_BY_NAME[era.upper() if len(era) == 1 else era]
    n = 1 if y == "元" else int(y)
    if n < 1:
        raise ValueError(f"era year {n} is not valid")
    return ERAS[letter][1] + n - 1


def _make_date(y: int, m: int, d: int, era: str | None = None) -> dt.date:
    try:
        day = dt.date(y, m, d)
    except ValueError:
        raise ValueError(f"no such date {y:04d}-{m:02d}-{d:02d}") from None
    if era is not None:
        letter = _ERA_BY_NAME[era.upper() if len(era) == 1 else era]
        name, _, first, last = ERAS[letter]
        if day < first or (last is not None and day > last):
            raise ValueError(f"{day.isoformat()} is outside the {name} era")
    return day


def parse_date(value: str) -> dt.date | None:
    """Parse a Western or 和暦 date; ``None`` for an empty cell or a no-date placeholder.

    Raises
    ------
    ValueError
        If the text is not a date in a known form, or not a real date.

    Examples
    --------
    >>> parse_date("令和元年5月1日"), parse_date("H31.4.30"), parse_date("R05/04/01")
    (datetime.date(2019, 5, 1), datetime.date(2019, 4, 30), datetime.date(2023, 4, 1))
    """
    s = text(value)
    if s in DATE_NULLS:
        return None
    s = s.upper() if s[:1].isascii() else s
    for pat in (_JP_DATE, _JP_DATE_COMPACT):
        m = pat.match(s)
        if m:
            era = m["era"]
            return _make_date(_year(era, m["y"]), int(m["m"]), int(m["d"]), era)
    m = _JP_DATE_CODE.match(s)
    if m:
        era = _ERA_BY_CODE[m["code"]]
        return _make_date(_year(era, m["y"]), int(m["m"]), int(m["d"]), era)
    for pat in (_W_DATE, _W_DATE_COMPACT):
        m = pat.match(s)
        if m:
            return _make_date(int(m["y"]), int(m["m"]), int(m["d"]))
    raise ValueError("not a date")


def parse_month(value: str) -> dt.date | None:
    """Parse a month (診療年月) to its first day; full dates must be on the 1st.

    Examples
    --------
    >>> parse_month("令和5年4月"), parse_month("202304"), parse_month("R0504")
    (datetime.date(2023, 4, 1), datetime.date(2023, 4, 1), datetime.date(2023, 4, 1))
    """
    s = text(value)
    if s == "":
        return None
    s = s.upper() if s[:1].isascii() else s
    for pat in (_JP_MONTH, _JP_MONTH_COMPACT):
        m = pat.match(s)
        if m:
            era = m["era"]
            return _month_start(_year(era, m["y"]), int(m["m"]), era)
    m = _JP_MONTH_CODE.match(s)
    if m:
        era = _ERA_BY_CODE[m["code"]]
        return _month_start(_year(era, m["y"]), int(m["m"]), era)
    for pat in (_W_MONTH, _W_MONTH_COMPACT):
        m = pat.match(s)
        if m:
            return _month_start(int(m["y"]), int(m["m"]))
    try:
        day = parse_date(s)
    except ValueError:
        raise ValueError("not a month") from None
    if day is not None and day.day != 1:
        raise ValueError("a service month must be a month or the first day of one")
    return day


def _month_start(y: int, m: int, era: str | None = None) -> dt.date:
    if not 1 <= m <= 12:
        raise ValueError(f"no such month {m}")
    day = dt.date(y, m, 1)
    if era is not None:
        letter = _ERA_BY_NAME[era.upper() if len(era) == 1 else era]
        name, _, first, last = ERAS[letter]
        first_month = first.replace(day=1)
        if day < first_month or (last is not None and day > last):
            raise ValueError(f"{day.isoformat()[:7]} is outside the {name} era")
    return day


def parse_fiscal_year(value: str) -> int | None:
    """Parse a fiscal year (年度): ``2023``, ``2023年度``, ``令和5年度``, ``R5``.

    Examples
    --------
    >>> parse_fiscal_year("令和5年度"), parse_fiscal_year("２０２３")
    (2023, 2023)
    """
    s = text(value)
    if s == "":
        return None
    s = s.upper() if s[:1].isascii() else s
    m = _JP_FY.match(s)
    if m:
        return _year(m["era"], m["y"])
    m = _W_FY.match(s)
    if m:
        return int(m["y"])
    raise ValueError("not a fiscal year")


def fiscal_year_of(day: dt.date) -> int:
    """Japanese fiscal year (April–March) of a date: 2024-03-31 → 2023."""
    return day.year if day.month >= 4 else day.year - 1


def parse_number(value: str) -> float | None:
    """Parse a number (full-width digits, thousands separators allowed).

    Examples
    --------
    >>> parse_number("１，２３４．５")
    1234.5
    """
    s = text(value).replace(",", "")
    if s == "":
        return None
    try:
        x = float(s)
    except ValueError:
        raise ValueError("not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return x


def parse_int(value: str) -> int | None:
    """Parse a whole number; ``12.0`` is accepted, ``12.5`` is rejected."""
    x = parse_number(value)
    if x is None:
        return None
    if not x.is_integer():
        raise ValueError("not a whole number")
    return int(x)


def parse_sex(value: str) -> str | None:
    """性別 to ``M``/``F``: ``1``/``男``/``男性``/``M``, ``2``/``女``/``女性``/``F``."""
    s = text(value).lower()
    if s == "":
        return None
    try:
        return SEX_CODES[s]
    except KeyError:
        raise ValueError("not a sex code (1/2, 男/女, M/F)") from None


def parse_bool(value: str) -> bool | None:
    """Yes/no answers: はい/いいえ, 1/2, 1/0, 有/無, あり/なし, ○/×, true/false."""
    s = text(value).lower()
    if s == "":
        return None
    if s in YES:
        return True
    if s in NO:
        return False
    raise ValueError("not a yes/no answer (はい/いいえ, 1/2)")


def parse_urine_protein(value: str) -> int | None:
    """尿蛋白 −/±/+/2+/3+ (half- or full-width) to the contract code 0 … 4."""
    s = text(value).replace(" ", "")
    if s == "":
        return None
    try:
        return URINE_PROTEIN[s]
    except KeyError:
        raise ValueError("not a urine protein result (−, ±, +, 2+, 3+)") from None


def hba1c_ifcc_to_ngsp(mmol_per_mol: float) -> float:
    """Convert HbA1c from IFCC mmol/mol to NGSP %, rounded to 0.1.

    Examples
    --------
    >>> hba1c_ifcc_to_ngsp(48.0)
    6.5
    """
    return round(IFCC_SLOPE * mmol_per_mol + IFCC_INTERCEPT, 1)


def parse_icd10(value: str) -> str | None:
    """ICD-10 code: upper case, dot removed; rejects anything else (e.g. レセ電 codes)."""
    s = text(value).upper().replace(".", "")
    if s == "":
        return None
    if not _ICD10.match(s):
        raise ValueError("not an ICD-10 code")
    return s


def parse_code(value: str, codes: dict[str, str]) -> str | None:
    """Map a coded value through ``codes`` (keys already NFKC-normalised and lower case)."""
    s = text(value)
    if s == "":
        return None
    out = codes.get(s, codes.get(s.lower()))
    if out is None:
        raise ValueError("not an allowed code")
    return out


def parse_id(value: str) -> str | None:
    """An identifier: NFKC and stripped (full-width digits become ASCII)."""
    s = text(value)
    return s or None


def parse_string(value: str) -> str | None:
    """Free text (labels, themes): stripped only, kept as written (no NFKC)."""
    s = value.strip()
    return s or None


def looks_like_value(cell: str) -> bool:
    """True if a header cell reads as a value (a number, date or month), not a column name.

    Used to tell a file without a header row, and never to echo such a cell.

    Examples
    --------
    >>> looks_like_value("平成２７年４月１日"), looks_like_value("0000001"), looks_like_value("身長")
    (True, True, False)
    """
    s = text(cell)
    if s == "":
        return False
    for parse in (parse_number, parse_date, parse_month):
        try:
            parse(s)
        except ValueError:
            continue
        return True
    return False

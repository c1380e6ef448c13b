"""Markdown building blocks of the annual report: numbers, tables, figures, blocks.

Pandoc markdown is the one format that Quarto, nbconvert and pandoc all read, so the
report notebook displays each section as a markdown output; figures are image links to
the run's artifacts (``../artifacts/<step>/<name>.png``, relative to ``RUN_DIR/report``),
with caption, alt text and a ``fig-``/``tbl-`` label for numbering.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analysis.report.i18n import LANGS, check_lang

BLOCK_MIME = "application/vnd.mvm-eval.report-block+json"
"""Notebook output type carrying every language's markdown of one block."""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$@~^])")


def escape(text: Any) -> str:
    """Escape pandoc-markdown punctuation so that data text is shown literally."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def is_missing(x: Any) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return bool(isinstance(x, float) and math.isnan(x))
    except TypeError:
        return False


def fmt_number(x: Any, digits: int | None = None) -> str:
    """A number for prose and tables: thousands separators, sensible decimals, '—' if missing.

    Examples
    --------
    >>> fmt_number(12345.6), fmt_number(1.234), fmt_number(-0.00234), fmt_number(None)
    ('12,346', '1.23', '-0.0023', '—')
    """
    if is_missing(x):
        return "—"
    if isinstance(x, str):
        return x
    x = float(x)
    if digits is None:
        digits = auto_digits(x)
    return f"{x:,.{digits}f}"


def auto_digits(x: Any) -> int:
    """Decimals for ``x``: none from 100, one from 10, two from 1, else two significant."""
    if is_missing(x) or isinstance(x, str) or float(x) == 0:
        return 2
    a = abs(float(x))
    if a >= 100:
        return 0
    if a >= 10:
        return 1
    if a >= 1:
        return 2
    return min(6, 1 - math.floor(math.log10(a)))


def fmt_signed(x: Any, digits: int | None = None) -> str:
    text = fmt_number(x, digits)
    return text if is_missing(x) or float(x) < 0 else f"+{text}"


def fmt_p(p: Any) -> str:
    if is_missing(p):
        return "—"
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def fmt_count(n: Any, min_cell_count: int) -> str:
    """A count for prose: ``"<10"`` when from 1 to ``min_cell_count - 1``."""
    if is_missing(n):
        return "—"
    if isinstance(n, str):
        return n
    n = int(n)
    return f"<{min_cell_count}" if 0 < n < min_cell_count else f"{n:,}"


def label_id(kind: str, step: str, name: str) -> str:
    """A Quarto cross-reference label such as ``fig-01-cohort-attrition-flow``."""
    return f"{kind}-" + re.sub(r"[^a-z0-9]+", "-", f"{step}-{name}".lower()).strip("-")


def pipe_table(
    df: pd.DataFrame,
    headers: Sequence[str],
    caption: str,
    label: str,
    align: Sequence[str] | None = None,
) -> str:
    """A pandoc pipe table with a caption and a ``tbl-`` label; cells are escaped text."""
    if len(headers) != df.shape[1]:
        raise ValueError(f"pipe_table: {len(headers)} headers for {df.shape[1]} columns")
    align = align or ["l"] * df.shape[1]
    head = [escape(h) for h in headers]
    body = [[escape(fmt_number(v)) for v in row] for row in df.itertuples(index=False)]
    widths = column_widths([head, *body])
    rule = [
        {"l": ":" + "-" * w, "r": "-" * w + ":", "c": ":" + "-" * w + ":"}[a]
        for a, w in zip(align, widths, strict=True)
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines) + f"\n\n: {escape(caption)} {{#{label}}}\n"


TABLE_WIDTH = 120
"""Width of the page's text column in half-width characters (2 per CJK character)."""


def column_widths(rows: Sequence[Sequence[str]], total: int = TABLE_WIDTH) -> list[int]:
    """Dashes per column of a pipe table's separator line.

    Pandoc gives a wide pipe table the full text width and splits it in proportion to
    these dashes. Every column gets at least its longest unbreakable piece (a number,
    an English word; CJK text breaks anywhere, but a header keeps four characters on a
    line), so that short headers such as "p値" or "Participants" do not wrap mid-word;
    the room left over goes to the columns with the longest text.
    """
    ncol = len(rows[0])
    natural = [max(display_width(r[j]) for r in rows) + 2 for j in range(ncol)]
    need = [
        min(natural[j], max(_unbreakable(r[j], header=i == 0) for i, r in enumerate(rows)) + 2)
        for j in range(ncol)
    ]
    if sum(natural) <= total:
        return natural
    # the page is only so wide: when the minimums alone fill it, text columns still get
    # a fifth of the table, since their cells wrap over many lines otherwise
    spare = max(total - sum(need), sum(need) // 4)
    extra = [n - m for n, m in zip(natural, need, strict=True)]
    if not sum(extra):
        return need
    return [m + round(spare * e / sum(extra)) for m, e in zip(need, extra, strict=True)]


_RANGE = re.compile(r"[\d.,+\-−]+〜[\d.,+\-−]+")


def _unbreakable(text: str, header: bool = False) -> int:
    """Width of the longest piece of ``text`` that a line cannot break."""
    if _RANGE.fullmatch(text):  # "−0.13〜0.24" reads best on one line ("… to …" may wrap)
        return display_width(text)
    pieces = re.split(r"\s+|(?<=[、。）])|(?=[（])", text)
    widest = 0
    for piece in pieces:
        if any(unicodedata.east_asian_width(c) in "WF" for c in piece):
            width = min(display_width(piece), 8) if header else 2
        else:
            width = display_width(piece)
        widest = max(widest, width)
    return widest


def display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width view: 2 for wide (CJK) characters."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def figure(src: str, caption: str, alt: str, label: str) -> str:
    """An image paragraph: pandoc's figure with caption, ``alt`` and Quarto's ``fig-alt``."""
    alt_attr = alt.replace("\\", "").replace('"', "'")
    return f'![{escape(caption)}]({src}){{#{label} fig-alt="{alt_attr}" alt="{alt_attr}"}}\n'


class ReportBlock:
    """A piece of the report in every language; a notebook shows the chosen one.

    The notebook output carries ``text/markdown`` in ``lang`` and, under
    :data:`BLOCK_MIME`, the markdown of every language, so that one executed notebook
    renders both editions without re-execution.

    Parameters
    ----------
    markdown : mapping of str to str
        ``{"ja": ..., "en": ...}``.
    lang : {"ja", "en"}
        The language shown in the notebook itself.
    """

    def __init__(self, markdown: Mapping[str, str], lang: str = "ja"):
        missing = [code for code in LANGS if code not in markdown]
        if missing:
            raise ValueError(f"ReportBlock needs markdown for {missing}")
        self.markdown = {code: markdown[code] for code in LANGS}
        self.lang = check_lang(lang)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/markdown": self.markdown[self.lang], BLOCK_MIME: dict(self.markdown)}

    def _repr_markdown_(self) -> str:
        return self.markdown[self.lang]

    def __repr__(self) -> str:
        first = self.markdown[self.lang].strip().splitlines()[:1]
        return f"<ReportBlock lang={self.lang} {first[0][:40] if first else ''!r}>"

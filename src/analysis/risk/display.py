"""A small printable summary: header facts, tables and notes, shown in notebooks and Quarto.

Like lifelines' ``Printer``: the numbers live in DataFrames; this object only renders them
as HTML, Markdown, LaTeX or plain text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd


def _fmt(v, decimals: int) -> str:
    if isinstance(v, float):
        return "" if pd.isna(v) else f"{v:.{decimals}f}"
    return "" if v is None else str(v)


def markdown_table(df: pd.DataFrame, decimals: int = 3) -> str:
    """A pipe table of ``df`` (index included when it is named)."""
    show = df.reset_index() if df.index.name else df
    head = "| " + " | ".join(str(c) for c in show.columns) + " |"
    rule = "|" + "|".join("---" for _ in show.columns) + "|"
    rows = ["| " + " | ".join(_fmt(v, decimals) for v in r) + " |" for r in show.itertuples(False)]
    return "\n".join([head, rule, *rows])


@dataclass(frozen=True)
class Summary:
    """Header facts, tables and notes of a result, with notebook representations.

    Attributes
    ----------
    title : str
    facts : list of (str, object)
        Header lines, e.g. ``("events", 812)``.
    tables : list of (str, pandas.DataFrame)
        Captioned tables.
    notes : list of str
        Footer notes.
    decimals : int
    """

    title: str
    facts: list[tuple[str, object]] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    decimals: int = 3

    def _repr_markdown_(self) -> str:
        parts = [f"**{self.title}**", ""]
        parts += [f"- {k}: {_fmt(v, self.decimals)}" for k, v in self.facts]
        for caption, df in self.tables:
            parts += ["", f"*{caption}*", "", markdown_table(df, self.decimals)]
        if self.notes:
            parts += [""] + [f"> {n}" for n in self.notes]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<h4>{esc(self.title)}</h4>", "<ul>"]
        parts += [f"<li>{esc(k)}: {esc(_fmt(v, self.decimals))}</li>" for k, v in self.facts]
        parts.append("</ul>")
        for caption, df in self.tables:
            parts.append(f"<p><em>{esc(caption)}</em></p>")
            parts.append(df.to_html(float_format=lambda x: f"{x:.{self.decimals}f}"))
        parts += [f"<p><small>{esc(n)}</small></p>" for n in self.notes]
        return "\n".join(parts)

    def to_latex(self) -> str:
        """LaTeX tables (one per table, captioned)."""
        return "\n".join(
            df.to_latex(caption=caption, float_format=f"%.{self.decimals}f")
            for caption, df in self.tables
        )

    def __str__(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        lines += [f"{k}: {_fmt(v, self.decimals)}" for k, v in self.facts]
        for caption, df in self.tables:
            lines += ["", caption, df.to_string(float_format=lambda x: f"{x:.{self.decimals}f}")]
        lines += ["", *self.notes] if self.notes else []
        return "\n".join(lines)

    __repr__ = __str__

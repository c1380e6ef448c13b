"""The attrition record of a cohort (CONSORT-style), as a table and a flow diagram."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.config import MIN_CELL_COUNT

_COLUMNS = ("step", "name", "description_ja", "description_en", "remaining", "excluded")


@dataclass(frozen=True)
class Attrition:
    """Persons remaining after each inclusion or exclusion step.

    The first row is the start population (``excluded`` 0); for every later row
    ``remaining = previous remaining - excluded``.

    Attributes
    ----------
    spec_id : str
        The cohort spec the record belongs to.
    rows : tuple of dict
        ``step, name, description_ja, description_en, remaining, excluded``.

    Examples
    --------
    >>> a = Attrition("demo").add("start", "案内送付", "Offered", 120)
    >>> a = a.add("age", "年齢 40–74歳", "Age 40-74", 100)
    >>> a.to_frame(lang="en")[["description", "remaining", "excluded"]].values.tolist()
    [['Offered', 120, 0], ['Age 40-74', 100, 20]]
    """

    spec_id: str
    rows: tuple[dict, ...] = field(default_factory=tuple)

    def add(self, name: str, ja: str, en: str, remaining: int) -> Attrition:
        """A new record with one more step.

        Raises
        ------
        ValueError
            If ``remaining`` is negative or larger than the previous step's count.
        """
        remaining = int(remaining)
        prev = self.rows[-1]["remaining"] if self.rows else remaining
        if remaining < 0 or remaining > prev:
            raise ValueError(
                f"attrition step {name!r}: remaining {remaining} must be within 0..{prev}"
            )
        row = {
            "step": len(self.rows),
            "name": name,
            "description_ja": ja,
            "description_en": en,
            "remaining": remaining,
            "excluded": prev - remaining,
        }
        return Attrition(self.spec_id, (*self.rows, row))

    @property
    def final(self) -> int:
        """Persons in the final cohort."""
        return self.rows[-1]["remaining"] if self.rows else 0

    def to_frame(self, lang: str | None = None) -> pd.DataFrame:
        """One row per step.

        Parameters
        ----------
        lang : {"ja", "en"} or None
            With a language, the two label columns become one ``description`` column.
        """
        df = pd.DataFrame(list(self.rows), columns=list(_COLUMNS))
        df[["step", "remaining", "excluded"]] = df[["step", "remaining", "excluded"]].astype(
            "int64"
        )
        if lang is None:
            return df
        if lang not in ("ja", "en"):
            raise ValueError(f"lang must be 'ja' or 'en', got {lang!r}")
        df = df.rename(columns={f"description_{lang}": "description"})
        return df[["step", "name", "description", "remaining", "excluded"]]

    def published(self, min_cell_count: int = MIN_CELL_COUNT, lang: str = "ja") -> pd.DataFrame:
        """``to_frame(lang)`` with counts from 1 to ``min_cell_count - 1`` suppressed (NA)."""
        df = self.to_frame(lang)
        for col in ("remaining", "excluded"):
            v = df[col].astype("Int64")
            df[col] = v.mask((v > 0) & (v < min_cell_count))
        return df

    def summary(self, lang: str = "ja") -> AttritionSummary:
        """A displayable table (HTML and Markdown in notebooks, LaTeX on request)."""
        return AttritionSummary(self.spec_id, self.to_frame(lang))

    def plot(self, ax=None, lang: str = "ja", min_cell_count: int | None = None):
        """Draw the CONSORT-style flow diagram and return the Axes.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        lang : {"ja", "en"}
        min_cell_count : int, optional
            Show counts below it as ``<n`` (for published figures).
        """
        from analysis.cohort.flowchart import draw_flow
        from analysis.report.i18n import with_editions

        df = self.to_frame(lang) if min_cell_count is None else self.published(min_cell_count, lang)
        ax = draw_flow(df, ax=ax, lang=lang, min_cell_count=min_cell_count)
        return with_editions(
            ax, lang, lambda other: self.plot(lang=other, min_cell_count=min_cell_count)
        )

    def __repr__(self) -> str:
        return f"<Attrition spec={self.spec_id!r} steps={len(self.rows)} final={self.final:,}>"


@dataclass(frozen=True)
class AttritionSummary:
    """Header, the attrition table and a footer; displays itself in notebooks."""

    spec_id: str
    table: pd.DataFrame

    def _header(self) -> str:
        return f"Attrition: {self.spec_id}"

    def __str__(self) -> str:
        return f"{self._header()}\n{self.table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p><b>{self._header()}</b></p>" + self.table.to_html(index=False)

    def _repr_markdown_(self) -> str:
        cols = list(self.table.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in self.table.itertuples(index=False):
            lines.append("| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |")
        return f"**{self._header()}**\n\n" + "\n".join(lines)

    def to_latex(self) -> str:
        return self.table.to_latex(index=False)

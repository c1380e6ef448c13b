"""Report wording in Japanese (first) and English, read from ``reports/strings/<lang>.yaml``.

Every heading and label of the annual report lives in those files, never in code, so
that a translator edits one file. Keys are dotted paths (``"section.1"``,
``"label.estimate"``); values may hold ``str.format`` fields (``"{n:,}人"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from analysis.config import REPORTS_DIR

LANGS = ("ja", "en")
"""Report languages, Japanese first."""

STRINGS_DIR = REPORTS_DIR / "strings"


def with_editions(ax, lang: str, draw):
    """Mark the figure of ``ax`` as drawn in ``lang`` and redrawable by ``draw(lang)``.

    ``analysis.runs.artifacts.save_figure_editions`` then saves one edition per report
    language, so the English report shows English figures although the run drew them in
    Japanese. Returns ``ax``.
    """
    ax.figure.edition_lang = lang
    ax.figure.redraw_in = draw
    return ax


def figure_labels(table: Mapping[str, Mapping[str, str]], lang: str) -> Mapping[str, str]:
    """The labels of ``table`` (language -> labels) for ``lang``; for Japanese the
    Japanese font is registered with matplotlib first, so that the labels draw."""
    if lang not in table:
        raise ValueError(f"lang must be one of {', '.join(table)}; got {lang!r}")
    if lang == "ja":
        from analysis.report.fonts import configure_matplotlib

        configure_matplotlib()
    return table[lang]


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise ``ValueError`` listing the allowed values."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}; got {lang!r}")
    return lang


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = str(value)
    return flat


@lru_cache(maxsize=8)
def _load(lang: str, directory: Path) -> dict[str, str]:
    path = directory / f"{lang}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: report strings for lang {lang!r} not found")
    tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(tree, Mapping):
        raise ValueError(f"{path}: expected a mapping of report strings")
    return _flatten(tree)


class Strings:
    """The report wording of one language.

    Parameters
    ----------
    lang : {"ja", "en"}
    directory : Path, optional
        Where ``<lang>.yaml`` lives; default ``reports/strings``.

    Examples
    --------
    >>> Strings("ja")("section.1")
    '1. 概要'
    >>> Strings("en")("section.1")
    '1. Summary'
    """

    def __init__(self, lang: str, directory: Path | None = None):
        self.lang = check_lang(lang)
        self._table = _load(lang, Path(directory or STRINGS_DIR))

    def keys(self) -> set[str]:
        return set(self._table)

    def __call__(self, key: str, **fields: Any) -> str:
        """The text for ``key`` with ``fields`` filled in.

        Raises
        ------
        KeyError
            If the key is not defined for this language (naming key and language).
        """
        try:
            text = self._table[key]
        except KeyError:
            raise KeyError(f"report string {key!r} missing for lang {self.lang!r}") from None
        return text.format(**fields) if fields else text

    def __repr__(self) -> str:
        return f"<Strings lang={self.lang} keys={len(self._table)}>"

"""The Japanese font used by every figure and every rendered format.

The report must show Japanese text in HTML, PDF (Typst), DOCX and in matplotlib figures.
The font comes from the package index: the IPAexGothic font bundled by
``matplotlib-fontja`` (a project dependency). Where that package is absent, Debian's
Noto Sans CJK (``fonts-noto-cjk``) is used. Nothing is downloaded.

Typst and matplotlib do not fail when a glyph is missing: they print boxes (tofu).
:func:`check_glyph_coverage` therefore compares the report text with the font's
character map and raises :class:`MissingGlyphsError` naming the missing characters.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analysis.errors import UserError

IPAEX_FAMILY = "IPAexGothic"
IPAEX_FILE = "ipaexg.ttf"
NOTO_FAMILY = "Noto Sans CJK JP"
NOTO_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)
"""Where Debian and Fedora install Noto Sans CJK (system fonts, not project paths)."""


class MissingGlyphsError(UserError):
    """The chosen font lacks glyphs for some characters of the report text."""

    def __init__(self, font: str, missing: list[str]):
        shown = ", ".join(f"{c!r} U+{ord(c):04X}" for c in missing[:20])
        more = f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        super().__init__(
            f"font {font} has no glyph for {len(missing)} character(s) of the report: "
            f"{shown}{more}; they would print as boxes"
        )
        self.font = font
        self.missing = missing


@dataclass(frozen=True)
class JapaneseFont:
    """A located Japanese font.

    Attributes
    ----------
    family : str
        Family name as matplotlib and Typst know it.
    path : Path
        The font file (``.ttf`` or ``.ttc``).
    """

    family: str
    path: Path

    @property
    def directory(self) -> Path:
        return self.path.parent


def _ipaex_path() -> Path | None:
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "fonts" / IPAEX_FILE
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def japanese_font() -> JapaneseFont:
    """Locate the Japanese font: IPAexGothic from ``matplotlib-fontja``, else Noto Sans CJK.

    Raises
    ------
    UserError
        If neither font is installed.
    """
    path = _ipaex_path()
    if path is not None:
        return JapaneseFont(IPAEX_FAMILY, path)
    for candidate in NOTO_CANDIDATES:
        if candidate.is_file():
            return JapaneseFont(NOTO_FAMILY, candidate)
    raise UserError(
        "no Japanese font found: install the 'matplotlib-fontja' package (IPAexGothic) "
        "or the Debian package 'fonts-noto-cjk'"
    )


def typst_font_paths() -> list[str]:
    """Directories to pass to ``typst.compile(font_paths=...)``."""
    return [str(japanese_font().directory)]


def configure_matplotlib() -> str:
    """Register the Japanese font with matplotlib and make it the default family.

    Returns
    -------
    str
        The family name now set in ``rcParams["font.family"]``.
    """
    import matplotlib
    from matplotlib import font_manager

    font = japanese_font()
    font_manager.fontManager.addfont(str(font.path))
    matplotlib.rcParams["font.family"] = [font.family]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return font.family


@lru_cache(maxsize=4)
def _cmap(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    kwargs = {"fontNumber": 0} if path.suffix.lower() == ".ttc" else {}
    with TTFont(str(path), lazy=True, **kwargs) as tt:
        return frozenset(tt.getBestCmap().keys())


def _needs_glyph(char: str) -> bool:
    # Control, format and separator characters (newline, zero-width joiners, spaces) draw
    # nothing, so a font need not carry them.
    return unicodedata.category(char)[0] not in {"C", "Z"}


def missing_glyphs(text: str, font: JapaneseFont | None = None) -> list[str]:
    """Characters of ``text`` that ``font`` cannot draw, sorted and unique."""
    font = font or japanese_font()
    cmap = _cmap(font.path)
    return sorted({c for c in text if _needs_glyph(c) and ord(c) not in cmap})


def check_glyph_coverage(text: str, font: JapaneseFont | None = None) -> None:
    """Raise if the font lacks a glyph for any character of ``text``.

    Raises
    ------
    MissingGlyphsError
        Naming the missing characters and their code points.

    Examples
    --------
    >>> check_glyph_coverage("概要 Summary 95%信頼区間")
    """
    font = font or japanese_font()
    missing = missing_glyphs(text, font)
    if missing:
        raise MissingGlyphsError(font.family, missing)

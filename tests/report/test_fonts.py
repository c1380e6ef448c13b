"""The Japanese font: located from installed packages, set for matplotlib and Typst, and
checked against the report text (a missing glyph is an error, not a box)."""

from __future__ import annotations

import warnings

import pytest

from analysis.report.fonts import (
    MissingGlyphsError,
    check_glyph_coverage,
    configure_matplotlib,
    japanese_font,
    missing_glyphs,
    typst_font_paths,
)
from analysis.report.i18n import LANGS, Strings


def test_font_is_a_real_japanese_font_file():
    font = japanese_font()
    assert font.path.is_file()
    assert font.path.stat().st_size > 1_000_000  # a CJK font, not a stub
    assert missing_glyphs("概要 対象者 判定保留 医療費 令和 ABC 0123 %（）〜") == []


def test_every_report_string_is_covered_by_the_font():
    text = "".join(Strings(lang)(key) for lang in LANGS for key in Strings(lang).keys())
    check_glyph_coverage(text)


def test_missing_glyphs_fail_loudly_and_name_the_characters():
    with pytest.raises(MissingGlyphsError) as err:
        check_glyph_coverage("概要 \U0001f600 ok \u0e01")
    message = str(err.value)
    assert "U+1F600" in message and "U+0E01" in message
    assert japanese_font().family in message
    assert err.value.missing == ["\u0e01", "\U0001f600"]


def test_whitespace_and_control_characters_need_no_glyph():
    check_glyph_coverage("概要\n\t\u200b\u3000")


def test_matplotlib_draws_japanese_without_missing_glyph_warnings():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = configure_matplotlib()
    assert matplotlib.rcParams["font.family"] == [family]
    fig, ax = plt.subplots()
    ax.set_title("参加中・参加後の1日の歩数")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert not [w for w in caught if "missing from font" in str(w.message).lower()]


def test_typst_sees_the_font_from_the_given_paths_only():
    import typst

    families = typst.Fonts(include_system_fonts=False, font_paths=typst_font_paths()).families()
    assert japanese_font().family in families

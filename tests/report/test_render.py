"""Rendering the executed report notebook: fallback chain (always), Quarto (when installed)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import zipfile

import nbformat
import pytest

from analysis.errors import UserError
from analysis.report.contract import REPORT_ARTIFACTS
from analysis.report.fonts import MissingGlyphsError, japanese_font
from analysis.report.i18n import LANGS, Strings
from analysis.report.markdown import BLOCK_MIME
from analysis.report.publish import find_external_references, find_small_counts, table_cells
from analysis.report.render import DisclosureError, render_report
from analysis.report.sections import SECTIONS

N_FIGURES = sum(a.kind == "figure" for a in REPORT_ARTIFACTS)
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftotext, pdftoppm) is not installed",
)


def _html(files, lang):
    """The rendered HTML with entities and typographic apostrophes made plain."""
    text = html.unescape(files[(lang, "html")].read_text(encoding="utf-8"))
    return text.replace("\u2019", "'")


def _pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True)
    return re.sub(r"\s+", "", out.stdout)  # pdftotext spaces CJK next to Latin text


def _docx_text(path) -> str:
    with zipfile.ZipFile(path) as z:
        return re.sub(r"<[^>]+>", "", z.read("word/document.xml").decode("utf-8"))


def test_every_language_and_format_is_written(rendered, executed_run):
    files, stderr = rendered
    assert set(files) == {(lang, fmt) for lang in LANGS for fmt in ("html", "pdf", "docx")}
    for (lang, fmt), path in files.items():
        assert path == executed_run / "report" / lang / f"report.{fmt}"
        assert path.stat().st_size > 20_000
    if shutil.which("quarto") is None:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "Quarto is not installed" in lines[0]


def test_html_is_self_contained(rendered):
    files, _ = rendered
    for lang in LANGS:
        page = _html(files, lang)
        assert find_external_references(page) == []
        assert not re.search(r"<script\b[^>]*\bsrc\s*=", page, re.I)
        assert "mathjax" not in page.lower() and "require.js" not in page.lower()
        imgs = re.findall(r"<img\b[^>]*>", page)
        assert len(imgs) == N_FIGURES
        for img in imgs:
            assert re.search(r'src="data:image/png;base64,', img)
            assert re.search(r'alt="[^"]{4,}"', img)


def test_html_has_every_heading_and_captioned_tables(rendered):
    files, _ = rendered
    for lang, pop in (("ja", "対象:"), ("en", "population:")):
        page = _html(files, lang)
        for n in SECTIONS:
            assert Strings(lang)(f"section.{n}") in page
        captions = re.findall(r"<caption>(.*?)</caption>", page, re.S)
        assert len(captions) >= 12 and all(pop in c for c in captions)
        assert len(re.findall(r"<figcaption", page)) == N_FIGURES
    assert "前年度との比較" in _html(files, "ja")
    assert "判定保留" in _html(files, "ja") and "Withheld" in _html(files, "en")


def test_published_outputs_pass_disclosure_control(rendered, planted):
    files, _ = rendered
    for lang in LANGS:
        page = files[(lang, "html")].read_text(encoding="utf-8")
        assert find_small_counts(page) == []
        assert any(text == "<10" for *_, text, _th in table_cells(page))  # suppression is visible
        texts = [page, _docx_text(files[(lang, "docx")])]
        if shutil.which("pdftotext"):
            texts.append(_pdf_text(files[(lang, "pdf")]))
        for text in texts:
            for trap in (*planted.ids, *planted.birth_dates):
                assert trap not in text


@needs_poppler
def test_pdf_text_has_japanese_headings_and_the_font_is_embedded(rendered):
    files, _ = rendered
    ja = _pdf_text(files[("ja", "pdf")])
    for n in SECTIONS:
        assert Strings("ja")(f"section.{n}").replace(" ", "") in ja
    assert "判定保留" in ja and "前年度との比較" in ja
    en = _pdf_text(files[("en", "pdf")])
    assert "1.Summary" in en and "10.Methodsandreproducibility" in en
    fonts = subprocess.run(["pdffonts", str(files[("ja", "pdf")])], capture_output=True, text=True)
    assert japanese_font().family in fonts.stdout


@needs_poppler
def test_pdf_pages_show_text_and_figures(rendered, tmp_path):
    import numpy as np
    from matplotlib.image import imread

    files, _ = rendered
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "2",
                    str(files[("ja", "pdf")]), str(tmp_path / "page")], check=True)  # fmt: skip
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    first, second = (imread(p)[..., :3] for p in pages)
    assert (first.mean(axis=2) < 0.5).mean() > 0.01  # dark text on page 1
    # page 2 holds the cohort-flow figure: matplotlib's default blue line (#1f77b4)
    blue = (second[..., 2] > 0.55) & (second[..., 0] < 0.35) & (second[..., 1] < 0.6)
    assert blue.sum() > 50, "no figure pixels on page 2"
    assert np.isfinite(second).all()


def test_docx_has_headings_and_embedded_figures(rendered):
    files, _ = rendered
    text = _docx_text(files[("ja", "docx")])
    assert "1. 概要" in text and "10. 方法と再現性" in text
    with zipfile.ZipFile(files[("ja", "docx")]) as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
    assert len(media) == N_FIGURES


def _copy_with_extra_block(executed_run, tmp_path, markdown: str):
    run = tmp_path / "FY2023" / "copy"
    shutil.copytree(executed_run, run, ignore=shutil.ignore_patterns("ja", "en"))
    path = run / "report" / "annual_report.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = nb.cells[-1]
    cell.outputs.append(nbformat.v4.new_output(
        "display_data", data={"text/markdown": markdown,
                              BLOCK_MIME: {"ja": markdown, "en": markdown}}))  # fmt: skip
    nbformat.write(nb, path)
    return run


def test_renders_stored_outputs_without_re_execution(executed_run, tmp_path):
    run = _copy_with_extra_block(executed_run, tmp_path, "Marker paragraph 7f3c")
    files = render_report(run, langs=("en",), formats=("html",), renderer="fallback")
    assert "Marker paragraph 7f3c" in files[("en", "html")].read_text(encoding="utf-8")


def test_a_small_count_in_a_rendered_table_stops_publication(executed_run, tmp_path):
    table = "| group | people |\n|:---|---:|\n| a | 7 |\n| b | 120 |\n\n: crafted {#tbl-crafted}\n"
    run = _copy_with_extra_block(executed_run, tmp_path, table)
    with pytest.raises(DisclosureError, match="small_count"):
        render_report(run, langs=("en",), formats=("html",), renderer="fallback")
    assert not (run / "report" / "en" / "report.html").exists()


def test_missing_glyphs_stop_the_pdf(executed_run, tmp_path):
    run = _copy_with_extra_block(executed_run, tmp_path, "Emoji \U0001f600 here")
    with pytest.raises(MissingGlyphsError, match="U\\+1F600"):
        render_report(run, langs=("ja",), formats=("pdf",), renderer="fallback")


def test_bad_requests_are_clear_errors(executed_run, tmp_path):
    with pytest.raises(UserError, match="format must be among"):
        render_report(executed_run, formats=("pdf", "epub"))
    with pytest.raises(UserError, match="lang must be among"):
        render_report(executed_run, langs=("fr",))
    with pytest.raises(UserError, match="renderer must be among"):
        render_report(executed_run, renderer="latex")
    with pytest.raises(UserError, match="executed report notebook not found"):
        render_report(tmp_path)
    if shutil.which("quarto") is None:
        with pytest.raises(UserError, match="quarto binary is not on PATH"):
            render_report(executed_run, renderer="quarto")


@pytest.mark.skipif(shutil.which("quarto") is None, reason="the quarto binary is not installed")
def test_quarto_renders_the_executed_notebook(executed_run, tmp_path):
    run = tmp_path / "FY2023" / "quarto"
    shutil.copytree(executed_run, run, ignore=shutil.ignore_patterns("ja", "en"))
    files = render_report(run, langs=("ja",), formats=("html", "pdf"), renderer="quarto")
    html = files[("ja", "html")].read_text(encoding="utf-8")
    assert "1. 概要" in html and find_external_references(html) == []
    assert files[("ja", "pdf")].stat().st_size > 20_000

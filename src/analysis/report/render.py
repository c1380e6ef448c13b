"""Render the executed report notebook of a run into HTML, PDF and DOCX, in ja and en.

papermill executes ``reports/annual_report.ipynb`` into ``RUN_DIR/report/annual_report.ipynb``.
Each section output carries the markdown of both languages (``ReportBlock``), so one
executed notebook gives both editions without re-execution:

- with Quarto installed (``quarto`` on PATH): ``quarto render <notebook> --to html|typst|docx``
  on the language's copy of the executed notebook (Quarto never re-executes a notebook
  without ``--execute``);
- otherwise, the chain Quarto is built on: nbconvert (markdown and extracted figures) →
  pandoc (the binary shipped in ``pypandoc-binary``) → self-contained HTML, DOCX and
  Typst source → ``typst`` (the Python package) → PDF, with the Japanese font of
  :mod:`analysis.report.fonts`.

Either way the files are ``RUN_DIR/report/<lang>/report.html|.pdf|.docx``. Nothing is
fetched from the network. The rendered HTML is scanned before it is kept: a count under
10 in a table or a reference to the network is an error.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from analysis.config import REPORTS_DIR
from analysis.errors import UserError

FORMATS = ("html", "pdf", "docx")
RENDERERS = ("auto", "quarto", "fallback")
EXECUTED = Path("report") / "annual_report.ipynb"
TEMPLATES_DIR = REPORTS_DIR / "templates"
_QUARTO_TO = {"html": "html", "pdf": "typst", "docx": "docx"}
_FALLBACK_NOTE = (
    "Quarto is not installed; rendering with the fallback chain "
    "nbconvert -> pandoc -> Typst (same outputs)."
)


class DisclosureError(UserError):
    """A rendered output failed the publication checks (small counts, network references)."""


def _check_choice(name: str, values, allowed) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise UserError(
            f"{name} must be among {', '.join(allowed)}; got {', '.join(bad) or 'none'}"
        )
    return tuple(dict.fromkeys(values))


def executed_notebook(run_dir: str | os.PathLike) -> Path:
    """``RUN_DIR/report/annual_report.ipynb``, checked to exist and to hold outputs."""
    import nbformat

    path = Path(run_dir) / EXECUTED
    if not path.is_file():
        raise UserError(
            f"{path}: executed report notebook not found; run the pipeline (mvm-eval run) first"
        )
    nb = nbformat.read(path, as_version=4)
    if not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        raise UserError(f"{path}: the report notebook has no outputs; it was not executed")
    return path


def language_notebook(nb, lang: str):
    """A copy of the executed notebook showing only ``lang``, without logs or raw cells.

    Outputs carrying :data:`~analysis.report.markdown.BLOCK_MIME` become plain
    ``text/markdown`` in ``lang``; standard-error streams are dropped; the raw front
    matter is kept for Quarto (``keep_front_matter``) and removed for pandoc.
    """
    from analysis.report.i18n import check_lang
    from analysis.report.markdown import BLOCK_MIME

    check_lang(lang)
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                continue
            data = o.get("data", {})
            if BLOCK_MIME in data:
                o["data"] = {"text/markdown": data[BLOCK_MIME][lang]}
            outputs.append(o)
        cell["outputs"] = outputs
    return out


# --------------------------------------------------------------------------- fallback

_LINK = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)(\))")


def _collect_images(markdown: str, base: Path, build: Path, run_dir: Path) -> str:
    """Copy every local image the markdown links into ``build`` and relink it there."""

    def relink(m: re.Match) -> str:
        target = m.group(2)
        if target.startswith("data:") or (build / target).is_file():
            return m.group(0)
        if re.match(r"^[a-z]+://", target):
            raise UserError(f"report links a network image {target!r}; only run artifacts allowed")
        src = (base / target).resolve()
        if not src.is_relative_to(run_dir.resolve()) or not src.is_file():
            raise UserError(f"report image {target!r} is missing or outside the run directory")
        name = "img-" + re.sub(r"[^A-Za-z0-9.]+", "-", str(src.relative_to(run_dir.resolve())))
        shutil.copyfile(src, build / name)
        return f"{m.group(1)}{name}{m.group(3)}"

    return _LINK.sub(relink, markdown)


def _pandoc(args: list[str], cwd: Path) -> None:
    import pypandoc

    proc = subprocess.run(
        [pypandoc.get_pandoc_path(), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise UserError(f"pandoc failed ({' '.join(args[:3])} ...): {proc.stderr.strip()[:500]}")


def _add_typst_alt(typ: str, alts: dict[str, str]) -> str:
    """Give each ``image("file")`` of pandoc's Typst output its alt text."""

    def add(m: re.Match) -> str:
        alt = alts.get(m.group(1))
        if not alt:
            return m.group(0)
        return f'image("{m.group(1)}", alt: "{alt.replace(chr(92), "").replace(chr(34), chr(39))}")'

    return re.sub(r'image\("([^"]+)"\)', add, typ)


def _markdown(nb, lang: str, build: Path, run_dir: Path) -> tuple[Path, dict[str, str]]:
    """nbconvert the language notebook to ``build/report.md``; return it and image alt texts."""
    from nbconvert import MarkdownExporter

    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.cell_type != "raw"]
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True)
    body, resources = exporter.from_notebook_node(nb)
    for name, data in (resources.get("outputs") or {}).items():
        (build / name).write_bytes(data)
    body = _collect_images(body, run_dir / EXECUTED.parent, build, run_dir)
    alts = dict(
        (m.group(1), m.group(2))
        for m in re.finditer(r'\]\(([^)\s]+)\)\{[^}]*?\balt="([^"]*)"', body)
    )
    md = build / "report.md"
    md.write_text(body, encoding="utf-8")
    return md, alts


def _render_fallback(nb, run_dir: Path, lang: str, formats, out_dir: Path) -> dict[str, Path]:
    import typst

    from analysis.report.fonts import check_glyph_coverage, japanese_font, typst_font_paths
    from analysis.report.sections import report_title

    title = report_title(run_dir, lang)
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="mvm-report-") as tmp:
        build = Path(tmp)
        md, alts = _markdown(nb, lang, build, run_dir)
        meta = ["-f", "markdown-smart", "--wrap=none", "-M", f"title={title}", "-M", f"lang={lang}"]
        if "html" in formats:
            out = out_dir / "report.html"
            _pandoc([md.name, *meta, "-t", "html5", "--standalone", "--embed-resources",
                     "--toc", f"--css={TEMPLATES_DIR / 'report.css'}", "-o", str(out)], build)  # fmt: skip
            written["html"] = out
        if "docx" in formats:
            out = out_dir / "report.docx"
            _pandoc([md.name, *meta, "-t", "docx", "--toc", "-o", str(out)], build)
            written["docx"] = out
        if "pdf" in formats:
            font = japanese_font()
            typ = build / "report.typ"
            _pandoc([md.name, *meta, "-t", "typst", f"--template={TEMPLATES_DIR / 'report.typ'}",
                     "-V", f"mainfont={font.family}", "-o", typ.name], build)  # fmt: skip
            source = _add_typst_alt(typ.read_text(encoding="utf-8"), alts)
            typ.write_text(source, encoding="utf-8")
            check_glyph_coverage(title + _LINK.sub("", md.read_text(encoding="utf-8")), font)
            out = out_dir / "report.pdf"
            _typst_compile(typst, typ, out, build, typst_font_paths(), font.family)
            written["pdf"] = out
    return written


def _typst_compile(typst, typ: Path, out: Path, root: Path, font_paths, family: str) -> None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    compiler = typst.Compiler(typ, root=root, font_paths=font_paths, ignore_system_fonts=True)
    kwargs = {"timestamp": int(epoch)} if epoch and epoch.isdigit() else {}
    try:
        _, warnings = compiler.compile_with_warnings(output=out, format="pdf", **kwargs)
    except Exception as e:  # typst.TypstError carries the diagnostic
        raise UserError(f"typst failed on {typ.name}: {getattr(e, 'message', e)}") from e
    bad = [w.message for w in warnings if "font" in w.message.lower()]
    if bad:
        out.unlink(missing_ok=True)
        raise UserError(f"typst font problem with {family}: {'; '.join(bad)}")


# --------------------------------------------------------------------------- quarto


def _render_quarto(nb, run_dir: Path, lang: str, formats, out_dir: Path, quarto: str):
    import nbformat

    from analysis.report.fonts import japanese_font, typst_font_paths
    from analysis.report.sections import report_title

    report_dir = run_dir / EXECUTED.parent
    src = report_dir / f"report-{lang}.ipynb"  # beside the executed notebook: same image paths
    nbformat.write(nb, src)
    written: dict[str, Path] = {}
    try:
        for fmt in formats:
            args = [quarto, "render", src.name, "--to", _QUARTO_TO[fmt], "--no-execute",
                    "-M", f"lang:{lang}", "-M", f"title:{report_title(run_dir, lang)}",
                    "-M", f"mainfont:{japanese_font().family}",
                    "-M", f"font-paths:{typst_font_paths()[0]}",
                    "-M", f"css:{TEMPLATES_DIR / 'report.css'}", "-M", "embed-resources:true"]  # fmt: skip
            proc = subprocess.run(args, cwd=report_dir, capture_output=True, text=True, check=False)
            produced = report_dir / f"report-{lang}.{fmt}"
            if proc.returncode != 0 or not produced.is_file():
                raise UserError(f"quarto render --to {_QUARTO_TO[fmt]} failed: "
                                f"{proc.stderr.strip()[-500:]}")  # fmt: skip
            target = out_dir / f"report.{fmt}"
            shutil.move(produced, target)
            written[fmt] = target
    finally:
        src.unlink(missing_ok=True)
        for extra in report_dir.glob(f"report-{lang}*"):
            shutil.rmtree(extra, ignore_errors=True) if extra.is_dir() else extra.unlink()
    return written


# --------------------------------------------------------------------------- public API


def check_html_output(path: Path) -> None:
    """Raise :class:`DisclosureError` if the HTML has small counts or network references."""
    from analysis.report.publish import find_external_references, find_small_counts

    html = path.read_text(encoding="utf-8")
    findings = find_small_counts(html) + find_external_references(html)
    if findings:
        path.unlink()
        shown = "; ".join(str(f) for f in findings[:5])
        raise DisclosureError(f"{path.name} not published: {len(findings)} finding(s): {shown}")


def render_report(
    run_dir: str | os.PathLike,
    *,
    langs=("ja", "en"),
    formats=FORMATS,
    renderer: str = "auto",
) -> dict[tuple[str, str], Path]:
    """Render the executed report notebook of a run (no re-execution).

    Parameters
    ----------
    run_dir : str or path
        The run directory holding ``report/annual_report.ipynb`` executed by papermill.
    langs : sequence of {"ja", "en"}
        Editions to render.
    formats : sequence of {"html", "pdf", "docx"}
    renderer : {"auto", "quarto", "fallback"}
        ``auto`` uses Quarto when the ``quarto`` binary is on PATH, else the fallback
        (and says so in one line on standard error).

    Returns
    -------
    dict
        ``{(lang, format): path}`` of ``RUN_DIR/report/<lang>/report.<format>``.

    Raises
    ------
    UserError
        Unknown language, format or renderer; no executed notebook; ``renderer="quarto"``
        without Quarto; a renderer failure; missing glyphs in the Japanese font
        (``MissingGlyphsError``); small counts or network references in the HTML
        (``DisclosureError``).
    """
    import nbformat

    from analysis.report.i18n import LANGS

    run_dir = Path(run_dir)
    langs = _check_choice("lang", langs, LANGS)
    formats = _check_choice("format", formats, FORMATS)
    renderer = _check_choice("renderer", renderer, RENDERERS)[0]
    nb = nbformat.read(executed_notebook(run_dir), as_version=4)
    quarto = shutil.which("quarto")
    if renderer == "quarto" and quarto is None:
        raise UserError("renderer 'quarto' requested but the quarto binary is not on PATH")
    use_quarto = quarto is not None and renderer != "fallback"
    if renderer == "auto" and not use_quarto:
        print(_FALLBACK_NOTE, file=sys.stderr)
    written: dict[tuple[str, str], Path] = {}
    for lang in langs:
        out_dir = run_dir / EXECUTED.parent / lang
        out_dir.mkdir(parents=True, exist_ok=True)
        nb_lang = language_notebook(nb, lang)
        if use_quarto:
            files = _render_quarto(nb_lang, run_dir, lang, formats, out_dir, quarto)
        else:
            files = _render_fallback(nb_lang, run_dir, lang, formats, out_dir)
        if "html" in files:
            check_html_output(files["html"])
        written.update({(lang, fmt): files[fmt] for fmt in formats})
    return written


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (runs/FY<year>/<run-id>).")],
    lang: Annotated[str, typer.Option(help="ja, en, or all.")] = "all",
    formats: Annotated[str, typer.Option(help="Comma-separated: html, pdf, docx.")] = (
        "html,pdf,docx"
    ),
    renderer: Annotated[
        str, typer.Option(help="auto (Quarto if installed), quarto or fallback.")
    ] = "auto",
) -> None:
    """Render the run's executed report notebook into RUN_DIR/report/<lang>/report.*."""
    langs = ("ja", "en") if lang == "all" else tuple(x.strip() for x in lang.split(","))
    fmts = tuple(x.strip() for x in formats.split(",") if x.strip())
    start = time.perf_counter()
    written = render_report(run_dir, langs=langs, formats=fmts, renderer=renderer)
    for path in written.values():
        typer.echo(str(path))
    typer.echo(f"rendered {len(written)} file(s) in {time.perf_counter() - start:.1f} s")


def bench_report(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory with an executed report notebook.")
    ],
    renderer: Annotated[str, typer.Option(help="auto, quarto or fallback.")] = "fallback",
) -> None:
    """Time rendering both languages in all formats (target: under 60 s on 2 cores)."""
    start = time.perf_counter()
    written = render_report(run_dir, renderer=renderer)
    elapsed = time.perf_counter() - start
    sizes = ", ".join(f"{lang}/{fmt} {p.stat().st_size / 1024:.0f} KiB"
                      for (lang, fmt), p in written.items())  # fmt: skip
    typer.echo(f"report: {len(written)} files in {elapsed:.1f} s ({sizes})")

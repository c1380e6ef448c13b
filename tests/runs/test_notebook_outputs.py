"""Committed notebook outputs: what the step notebooks carry, and how they are made.

The committed notebooks must read well on a code host (every code cell executed, every
expression and figure shown) and publish nothing they must not (errors, machine paths,
ids, oversized figures). ``pytest --nbval notebooks/`` (``make nbval``) checks that the
outputs reproduce; here the regeneration machinery is checked on a tiny notebook.
"""

from __future__ import annotations

import ast
import json
import re

import nbformat
import pytest

from analysis.runs import notebook_outputs as nbo
from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT

STEP_PATHS = [NOTEBOOKS_DIR / f"{s}.ipynb" for s in nbo.STEPS]
INTERACTIVE_DEFAULTS = {"dataset": "data/synthetic", "run_dir": "runs/dev", "fiscal_year": 2023}


def _read(path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _shows_value(source: str) -> bool:
    """Whether IPython displays the value of the cell's last statement."""
    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr):
        return False
    last_line = source.rstrip().splitlines()[-1].split("#")[0].rstrip()
    return not last_line.endswith(";")


@pytest.mark.parametrize("path", STEP_PATHS, ids=lambda p: p.stem)
def test_committed_notebook_passes_the_audit(path):
    problems = nbo.audit(_read(path), path.name, size=path.stat().st_size)
    assert problems == []


@pytest.mark.parametrize("path", STEP_PATHS, ids=lambda p: p.stem)
def test_every_displayed_value_and_figure_has_its_output(path):
    nb = _read(path)
    for i, cell in enumerate(_code(nb)):
        kinds = {o.output_type for o in cell.outputs}
        mimes = {m for o in cell.outputs for m in o.get("data", {})}
        if _shows_value(cell.source):
            assert "execute_result" in kinds, f"{path.name} code cell {i} shows no value"
        if re.search(r"^#\| label: fig-", cell.source, re.MULTILINE):
            assert "image/png" in mimes, f"{path.name} code cell {i} shows no figure"
    counts = [c.execution_count for c in _code(nb)]
    assert counts == list(range(1, len(counts) + 1)), "cells were not run top to bottom"


@pytest.mark.parametrize("path", STEP_PATHS, ids=lambda p: p.stem)
def test_parameters_cell_keeps_the_interactive_defaults(path):
    nb = _read(path)
    (cell,) = [c for c in nb.cells if nbo.is_parameters_cell(c)]
    assert cell.outputs == []
    assert nbo.INJECTED_MARKER not in cell.source
    values = {}
    exec(compile(cell.source, path.name, "exec"), {}, values)  # literals only
    assert {k: values[k] for k in INTERACTIVE_DEFAULTS} == INTERACTIVE_DEFAULTS


@pytest.mark.parametrize("path", STEP_PATHS, ids=lambda p: p.stem)
def test_committed_notebook_is_normalised(path):
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    assert text == nbformat.writes(nb) + "\n", "not in nbformat's canonical layout"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    for cell in nb.cells:
        assert not set(cell.metadata) & {"execution", "papermill"}, "volatile cell metadata"


def test_ignored_outputs_say_why():
    for path in STEP_PATHS:
        for cell in _code(_read(path)):
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.strip() == "# NBVAL_IGNORE_OUTPUT":
                    why = lines[i + 1] if i + 1 < len(lines) else ""
                    assert why.startswith("# "), (
                        f"{path.name}: NBVAL_IGNORE_OUTPUT without a reason"
                    )


def _notebook(*sources, outputs=None):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, src in enumerate(sources):
        cell = nbformat.v4.new_code_cell(src)
        cell.execution_count = i + 1
        cell.outputs = (outputs or {}).get(i, [])
        nb.cells.append(cell)
    return nb


PLANTED_HOME_PATH = "/" + "/".join(("home", "someone", "data", "synthetic"))
"""An absolute path the audit must reject (built from parts: it names no real machine)."""


def _text(s: str):
    return nbformat.v4.new_output("execute_result", {"text/plain": s}, execution_count=1)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            nbformat.v4.new_output("error", ename="KeyError", evalue="'x'", traceback=[]),
            "error output",
        ),
        (
            nbformat.v4.new_output(
                "stream", name="stderr", text="/opt/py/x.py:3: UserWarning: w\n"
            ),
            "absolute path",
        ),
        (_text(f"PosixPath('{PLANTED_HOME_PATH}')"), "absolute path"),
        (_text("saved to C:\\Users\\someone\\run"), "absolute path"),
        (_text("person P000000123 was offered"), "id in output"),
        (_text("claim C000000000017"), "id in output"),
        (
            nbformat.v4.new_output("display_data", {"image/png": "A" * (nbo.MAX_IMAGE_BYTES + 1)}),
            "image/png of",
        ),
    ],
)
def test_audit_finds_planted_problems(output, expected):
    nb = _notebook("1 + 1", "x", outputs={1: [output]})
    problems = nbo.audit(nb, "planted.ipynb")
    assert len(problems) == 1 and expected in problems[0], problems
    assert "code cell 1" in problems[0]


def test_audit_accepts_relative_paths_event_ids_counts_and_warnings():
    text = "runs/preview/artifacts/01_cohort/x.parquet E00001 n=4162 </td> mg/dL"
    warning = "src/analysis/causal/x.py:12: UserWarning: no overlap\n  warnings.warn(\n"
    nb = _notebook(
        "x", "y", outputs={0: [_text(text)], 1: [nbformat.v4.new_output("stream", text=warning)]}
    )
    nb.cells[1].outputs[0]["name"] = "stderr"
    assert nbo.audit(nb) == []


def test_audit_finds_this_machines_project_root_wherever_it_is():
    nb = _notebook("x", outputs={0: [_text(f"see {PROJ_ROOT}/runs")]})
    assert len(nbo.audit(nb)) == 1


def test_relative_paths_cuts_the_project_root_and_install_directories():
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    text = (
        f"{PROJ_ROOT}/src/analysis/x.py:3: UserWarning: a\n{site}/sklearn/y.py:9: FutureWarning: b"
    )
    assert nbo.relative_paths(text) == (
        "src/analysis/x.py:3: UserWarning: a\nsklearn/y.py:9: FutureWarning: b"
    )


def test_audit_finds_unexecuted_cells_and_oversized_notebooks():
    nb = _notebook("1", "2")
    nb.cells[1].execution_count = None
    assert nbo.audit(nb, "n") == ["n code cell 1: not executed"]
    assert "bytes (limit" in nbo.audit(_notebook("1"), "n", size=nbo.MAX_NOTEBOOK_BYTES + 1)[0]


def test_inject_appends_assignments_that_override_the_defaults():
    src = 'dataset: str = "data/synthetic"  # comment\nseed: int = 42\n'
    out = nbo.inject(src, {"dataset": "data/preview", "seed": 7, "flag": True})
    assert out.startswith(src)
    values = {}
    exec(out, {}, values)
    values.pop("__annotations__", None)
    assert values == {"dataset": "data/preview", "seed": 7, "flag": True}


@pytest.mark.parametrize("params", [{"not a name": 1}, {"x": [1, 2]}, {"x": None}])
def test_inject_rejects_what_it_cannot_write_as_a_literal(params):
    with pytest.raises(ValueError, match="parameter"):
        nbo.inject("x = 1", params)


def test_parameterised_needs_a_parameters_cell_and_leaves_the_input_alone():
    nb = _notebook("a = 1")
    with pytest.raises(ValueError, match="parameters"):
        nbo.parameterised(nb, {"a": 2})
    nb.cells[0].metadata["tags"] = ["parameters"]
    out = nbo.parameterised(nb, {"a": 2})
    assert nb.cells[0].source == "a = 1"
    assert out.cells[0].source.endswith("a = 2\n")


def test_kernel_environment_is_pinned_and_leaves_its_input_alone():
    base = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "8", "HOME": "x"}
    env = nbo.kernel_environment(base)
    assert base == {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "8", "HOME": "x"}
    assert "MPLBACKEND" not in env and env["HOME"] == "x"
    assert env["PYTHONHASHSEED"] == "0"
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    assert nbo.kernel_environment({"OPENBLAS_CORETYPE": "Zen"})["OPENBLAS_CORETYPE"] == "Zen"


def test_sanitiser_replaces_volatile_text_and_keeps_results():
    from nbval.plugin import get_sanitize_patterns

    cfg = (PROJ_ROOT / "notebooks" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    patterns = get_sanitize_patterns(cfg)

    def clean(s):
        for regex, repl in patterns:
            s = re.sub(regex, repl, s)
        return s

    assert clean("<Foo at 0x7f3a2b1c9d80>") == clean("<Foo at 0x7f00deadbeef>")
    assert clean("fitted in 1.25 s") == clean("fitted in 0.8 s")
    committed = "src/analysis/causal/survival.py:426: UserWarning: level 'x' is rare\n"
    rerun = "/srv/ci/src/analysis/causal/survival.py:431: UserWarning: level 'x' is rare\n"
    assert clean(committed) == clean(rerun)
    assert clean(committed) != clean(committed.replace("UserWarning", "RuntimeWarning"))
    assert clean(committed) != clean(committed.replace("rare", "absent"))
    assert clean(" 40%|████      | 4/10 [00:01<00:02]") == clean(
        "100%|██████████| 10/10 [00:03<00:00]"
    )
    for kept in ("n_enrolled 4162  rate_pct 17.721519", "<RiskStep C=0.836 people=977 horizon=2y>",
                 "'savings_yen': -32539370.728424296", "<Figure size 800x940 with 1 Axes>"):  # fmt: skip
        assert clean(kept) == kept


def test_regenerate_refuses_steps_out_of_order(tmp_path):
    with pytest.raises(ValueError, match="leading run"):
        nbo.regenerate(["02_risk"], notebooks_dir=tmp_path)
    with pytest.raises(ValueError, match="leading run"):
        nbo.regenerate([], notebooks_dir=tmp_path)


def test_execute_injects_parameters_and_is_byte_identical_twice(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# tiny"),
        nbformat.v4.new_code_cell('dataset: str = "data/synthetic"\nseed: int = 42'),
        nbformat.v4.new_code_cell(
            "import os, sys\nimport matplotlib.pyplot as plt\nsorted({'b', 'a', 'c'})"
        ),
        nbformat.v4.new_code_cell("print(dataset, seed, os.environ['PYTHONHASHSEED'])"),
        nbformat.v4.new_code_cell("len(dataset);"),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots(figsize=(2, 1))\nax.plot([0, 1], [seed, 0]);"
        ),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    params = {"dataset": "data/preview", "seed": 7}
    first = nbo.execute(path, params, timeout=120)
    second = nbo.execute(path, params, timeout=120)
    assert nbformat.writes(first) == nbformat.writes(second)
    cells = _code(first)
    assert cells[0].source == nb.cells[1].source and cells[0].outputs == []
    assert cells[1].outputs[0]["data"]["text/plain"] == "['a', 'b', 'c']"
    assert cells[2].outputs[0]["text"] == "data/preview 7 0\n"
    assert cells[3].outputs == []  # the value of a line ending in ';' is not shown
    assert "image/png" in cells[4].outputs[0]["data"]  # inline figures
    assert [c.execution_count for c in cells] == [1, 2, 3, 4, 5]
    assert not any("execution" in c.metadata for c in first.cells)
    assert json.loads(nbformat.writes(first))["metadata"]["language_info"] == {"name": "python"}


def test_execute_names_the_notebook_when_a_cell_fails(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=r"broken\.ipynb: a cell failed: .*ZeroDivisionError") as e:
        nbo.execute(path, {"x": 2}, timeout=60)
    assert "\x1b" not in str(e.value) and "\n" not in str(e.value)  # one plain line

"""Committed outputs of the step notebooks: the preview town, regeneration and checks.

The step notebooks are committed with the outputs of a run on a small synthetic town
(the *preview*), so that they read well on a code host. ``pytest --nbval notebooks/``
re-executes them (``notebooks/conftest.py``) and checks that those outputs still
reproduce; ``python -m analysis.runs.notebook_outputs`` (``make notebooks``) regenerates them.

Both execute a notebook the same way:

- the preview town is simulated afresh into ``data/preview`` (git-ignored; the same
  seed always gives the same data) and ``runs/preview`` is emptied;
- the parameters cell is executed with the preview parameters appended to it, as papermill
  would inject them; the committed cell keeps the interactive defaults;
- the kernel talks over IPC sockets (:class:`analysis.runs.kernels.BlockingIPCKernelManager`,
  :class:`analysis.runs.kernels.IPCKernelManager`) and gets a pinned environment
  (:func:`kernel_environment`): hash seed, one BLAS thread, a fixed OpenBLAS kernel type
  and the inline figure backend.

Paths are relative to the project root (the notebooks call ``use_project_root()``).
Warnings name the file that raised them; :func:`normalise` shortens those paths to the
project root or the installed package (``src/analysis/...``, ``sklearn/...``) and the
sanitiser (``notebooks/nbval_sanitize.cfg``) does the same to the re-executed outputs.
:func:`audit` lists what a committed notebook must not hold: error outputs, code cells
never executed, absolute paths, person ids, oversized figures and notebooks.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from analysis.config import NOTEBOOKS_DIR, PROJ_ROOT
from analysis.errors import UserError
from analysis.runs.pipeline import STEPS


@dataclass(frozen=True)
class Preview:
    """The preview town and the parameters the committed outputs come from.

    Attributes
    ----------
    population : int
        Residents of the town (about a fifth of them are NHI enrollees).
    years : (int, int)
        Fiscal years simulated.
    seed : int
        Seed of the simulation and of the run.
    uptake : float
        Program uptake odds multiplier, raised so that both programs have enough
        participants for every estimate in the notebooks.
    dataset : str
        Dataset directory, relative to the project root (git-ignored).
    run_dir : str
        Run directory of the preview, relative to the project root (git-ignored).
    fiscal_year : int
        Fiscal year evaluated.
    pool_from : int
        First fiscal year of the pooled evaluation.
    """

    population: int = 20_000
    years: tuple[int, int] = (2019, 2024)
    seed: int = 42
    uptake: float = 10.0
    dataset: str = "data/preview"
    run_dir: str = "runs/preview"
    fiscal_year: int = 2023
    pool_from: int = 2021

    def parameters(self) -> dict[str, object]:
        """Values injected after the parameters cell (the others keep their defaults;
        ``pool_from`` is read by ``06_pooled`` only)."""
        return {
            "dataset": self.dataset,
            "fiscal_year": self.fiscal_year,
            "run_dir": self.run_dir,
            "seed": self.seed,
            "pool_from": self.pool_from,
        }


PREVIEW = Preview()

MAX_NOTEBOOK_BYTES = 1_500_000
"""Upper limit for a committed notebook with its outputs."""
MAX_IMAGE_BYTES = 400_000
"""Upper limit for one embedded figure (base64 text)."""

INJECTED_MARKER = "# Preview parameters (analysis.runs.notebook_outputs)"

_VOLATILE_CELL_METADATA = ("execution", "papermill", "collapsed", "scrolled")
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/])(/(?:home|Users|root|tmp|var|work|opt|usr|mnt|srv|private)/[^\s'\"<>]*"
    r"|[A-Za-z]:\\[^\s'\"<>]+)"
)
_PERSON_ID = re.compile(r"\b[PH]\d{9}\b|\bC\d{12}\b")
"""Synthetic person, household and claim ids (``P000000001``, ``C000000000001``)."""


def _openblas_coretype() -> str | None:
    """A fixed OpenBLAS kernel type for x86-64 machines with AVX2, else ``None``.

    OpenBLAS picks its kernels by CPU model, and different kernels round differently;
    fixing the type makes floats agree between machines of the same kind.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return "Haswell" if re.search(r"^flags\s*:.*\bavx2\b", flags, re.MULTILINE) else None


def kernel_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a notebook kernel gets when outputs are made or checked.

    Parameters
    ----------
    base : mapping, optional
        Environment to start from (default ``os.environ``); not modified.

    Returns
    -------
    dict
        ``base`` with ``PYTHONHASHSEED=0``, one BLAS/OpenMP thread, a fixed
        ``OPENBLAS_CORETYPE`` where one applies, and without ``MPLBACKEND`` (so the kernel
        uses the inline backend and figures are shown).
    """
    env = dict(os.environ if base is None else base)
    env.pop("MPLBACKEND", None)
    env["PYTHONHASHSEED"] = "0"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    coretype = _openblas_coretype()
    if coretype and "OPENBLAS_CORETYPE" not in env:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def is_parameters_cell(cell: Mapping) -> bool:
    """Whether a cell is the papermill ``parameters`` cell."""
    return cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
        "tags", []
    )


def inject(source: str, parameters: Mapping[str, object]) -> str:
    """The parameters cell's source with ``parameters`` assigned at its end.

    Parameters
    ----------
    source : str
        Source of the ``parameters`` cell.
    parameters : mapping
        Names and values (str, int, float or bool) to assign.

    Returns
    -------
    str
        ``source`` followed by one ``name = value`` line per parameter.
    """
    lines = [source.rstrip("\n"), "", INJECTED_MARKER]
    for name, value in parameters.items():
        if not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a Python identifier")
        if not isinstance(value, (str, int, float, bool)):
            raise ValueError(f"parameter {name}: {type(value).__name__} is not str/int/float/bool")
        lines.append(f"{name} = {value!r}")
    return "\n".join(lines) + "\n"


def parameterised(nb, parameters: Mapping[str, object]):
    """A copy of ``nb`` whose parameters cell also assigns ``parameters``.

    Raises
    ------
    UserError
        The notebook has no cell tagged ``parameters``.
    """
    out = copy.deepcopy(nb)
    cells = [c for c in out.cells if is_parameters_cell(c)]
    if not cells:
        raise UserError("notebook has no cell tagged 'parameters'")
    cells[0].source = inject(cells[0].source, parameters)
    return out


def prepare_preview(root: Path = PROJ_ROOT, preview: Preview = PREVIEW) -> Path:
    """Simulate the preview town afresh and empty its run directory; return the dataset.

    The town is always rebuilt, so outputs never come from data of an older generator.
    """
    from analysis.data.synthetic import simulate

    run_dir = root / preview.run_dir
    if run_dir.exists():
        shutil.rmtree(run_dir)
    return simulate(
        population=preview.population,
        years=preview.years,
        seed=preview.seed,
        uptake=preview.uptake,
        out=root / preview.dataset,
        replace=True,
    )


def _install_prefixes() -> list[str]:
    """Directory prefixes that make a path machine-specific, longest first."""
    import sysconfig

    paths = sysconfig.get_paths()
    found = {str(PROJ_ROOT), paths["purelib"], paths["platlib"], paths["stdlib"]}
    return sorted((p.rstrip(os.sep) + os.sep for p in found if p), key=len, reverse=True)


def relative_paths(text: str) -> str:
    """``text`` with the project root and the Python install directories cut from paths.

    ``<root>/src/analysis/x.py`` becomes ``src/analysis/x.py`` and
    ``<site-packages>/sklearn/x.py`` becomes ``sklearn/x.py``.
    """
    for prefix in _install_prefixes():
        text = text.replace(prefix, "")
    return text


def normalise(nb):
    """Drop volatile metadata from an executed notebook (in place) and return it.

    Removes per-cell execution timestamps and papermill records, keeps the notebook
    metadata to the kernel spec and language name, and shortens machine paths in
    stream outputs (warnings) with :func:`relative_paths`.
    """
    for cell in nb.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out.text = relative_paths(out.text)
    keep = {k: nb.metadata[k] for k in ("kernelspec",) if k in nb.metadata}
    keep["language_info"] = {"name": nb.metadata.get("language_info", {}).get("name", "python")}
    nb.metadata = type(nb.metadata)(keep)
    return nb


def execute(path: Path, parameters: Mapping[str, object], *, timeout: int = 900):
    """Execute a notebook with ``parameters`` injected; return it with the new outputs.

    The returned notebook has the committed sources (the parameters cell unchanged), the
    outputs and execution counts of this execution, and no volatile metadata.

    Raises
    ------
    UserError
        A cell raised; the message names the notebook, the cell and the error.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from analysis.runs.kernels import IPCKernelManager

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    run = parameterised(nb, parameters)
    client = NotebookClient(
        run,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=IPCKernelManager,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute(env=kernel_environment())
    except CellExecutionError as e:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
        last = text.splitlines()[-1] if text else type(e).__name__
        raise UserError(f"{path.name}: a cell failed: {last}") from None
    for cell, done in zip(nb.cells, run.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = done.outputs
            cell.execution_count = done.execution_count
    return normalise(nb)


def _texts(output: Mapping) -> list[str]:
    if output.get("output_type") == "stream":
        return [str(output.get("text", ""))]
    if output.get("output_type") == "error":
        return [str(output.get("evalue", ""))]
    data = output.get("data", {})
    return [str(v) for k, v in data.items() if not k.startswith("image/")]


def audit(nb, name: str = "notebook", *, size: int | None = None) -> list[str]:
    """Problems that keep an executed notebook from being committed (empty list: none).

    Checks: every code cell was executed and no output is an error; no output text holds
    an absolute path (nor this machine's project root or home directory) or a person,
    household or claim id; each figure and the whole notebook stay within
    :data:`MAX_IMAGE_BYTES` and :data:`MAX_NOTEBOOK_BYTES`.

    Parameters
    ----------
    nb : NotebookNode or dict
        The notebook.
    name : str
        Name used in the messages.
    size : int, optional
        Size of the notebook file in bytes (computed from ``nb`` when omitted).
    """
    import json

    problems = []
    machine_paths = [str(PROJ_ROOT), str(Path.home())]
    machine_paths = [p for p in machine_paths if len(p) > 1]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        where = f"{name} code cell {i}"
        if cell.get("execution_count") is None:
            problems.append(f"{where}: not executed")
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                problems.append(f"{where}: error output {out.get('ename')}: {out.get('evalue')}")
            for text in _texts(out):
                if m := _ABSOLUTE_PATH.search(text):
                    problems.append(f"{where}: absolute path in output: {m.group(0)[:80]}")
                elif local := [p for p in machine_paths if p in text]:
                    problems.append(f"{where}: machine path in output: {local[0]}")
                if m := _PERSON_ID.search(text):
                    problems.append(f"{where}: id in output: {m.group(0)}")
            for mime, value in out.get("data", {}).items():
                if mime.startswith("image/") and len(str(value)) > MAX_IMAGE_BYTES:
                    problems.append(
                        f"{where}: {mime} of {len(str(value)):,} bytes (limit {MAX_IMAGE_BYTES:,})"
                    )
    if size is None:
        size = len(json.dumps(nb, indent=1, ensure_ascii=False).encode())
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{name}: {size:,} bytes (limit {MAX_NOTEBOOK_BYTES:,})")
    return problems


def regenerate(
    names: Sequence[str] = STEPS,
    *,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    preview: Preview = PREVIEW,
    log=print,
) -> list[Path]:
    """Re-execute the step notebooks on the preview town and write their outputs.

    Notebooks run in the order given (each reads what the earlier ones wrote to the
    preview run directory), so ``names`` must start at the first step and not skip any.
    Nothing is written unless every notebook executed and passed :func:`audit`; then
    the notebooks whose content changed are rewritten.

    Returns
    -------
    list of Path
        The notebooks that were rewritten.

    Raises
    ------
    UserError
        An unknown or out-of-order step, a failing cell, or an audit problem.
    """
    import nbformat

    names = list(names)
    if names != list(STEPS[: len(names)]) or not names:
        raise UserError(
            f"notebooks must be a leading run of {', '.join(STEPS)} (got {', '.join(names)})"
        )
    paths = [Path(notebooks_dir) / f"{stem}.ipynb" for stem in names]
    for path in paths:
        if not path.exists():
            raise UserError(f"{path}: no such notebook")
    log(f"simulating the preview town ({preview.population:,} residents) -> {preview.dataset}")
    prepare_preview(PROJ_ROOT, preview)
    texts = {}
    for path in paths:
        log(f"executing {path.name}")
        nb = execute(path, preview.parameters())
        text = nbformat.writes(nb) + "\n"
        problems = audit(nb, path.name, size=len(text.encode()))
        if problems:
            shown = "; ".join(problems[:3])
            raise UserError(f"{path.name}: {len(problems)} problem(s), nothing written: {shown}")
        texts[path] = text
    written = []
    for path, text in texts.items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    log(f"{len(written)} of {len(names)} notebook(s) changed")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.runs.notebook_outputs [STEP ...]``: regenerate committed outputs."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.runs.notebook_outputs",
        description="Re-execute the step notebooks on the preview town and save their "
        "outputs (checked by pytest --nbval notebooks/).",
    )
    parser.add_argument(
        "steps", nargs="*", default=list(STEPS), help="leading steps to regenerate (default: all)"
    )
    args = parser.parse_args(argv)
    try:
        regenerate(args.steps)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

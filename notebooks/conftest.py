"""nbval: re-execute the committed step notebooks on the preview town, compare outputs.

Run from the project root (``make test`` does)::

    pytest -p no:xdist --nbval notebooks/ --nbval-sanitize-with notebooks/nbval_sanitize.cfg

The notebooks run in file order in one process (02-05 read what 01 wrote), each in one
kernel. Before the first cell the preview town is simulated afresh and its run directory
emptied; the parameters cell is executed with the preview parameters appended, exactly
as ``python -m analysis.runs.notebook_outputs`` (``make notebooks``) does when it writes the
committed outputs. Kernels use IPC sockets, never TCP ports.
"""

from __future__ import annotations

import copy
import os

import pytest

from analysis.runs import notebook_outputs as nbo

collect_ignore = ["exploratory"]  # scratch notebooks carry no committed outputs


def _nbval_active(config) -> bool:
    return bool(
        getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)
    )


def pytest_configure(config):
    if not _nbval_active(config):
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "nbval notebooks must run in order in one process: drop -n (or use -p no:xdist)"
        )
    os.environ.update(nbo.kernel_environment())  # kernels inherit this environment
    os.environ.pop("MPLBACKEND", None)  # inline figures, as when the outputs were made
    import nbval.kernel

    from analysis.runs.kernels import BlockingIPCKernelManager

    nbval.kernel.KernelManager = BlockingIPCKernelManager
    nbval.kernel.RunningKernel.execute_cell_input = _execute_with_history


def _execute_with_history(self, cell_input, allow_stdin=None):
    """Execute a cell as Jupyter and papermill do, with ``store_history=True``.

    nbval 0.10+ executes with ``store_history=False``, under which IPython no longer
    suppresses the value of a line ending in ``;`` (nbval issue #194, IPython #14162), so
    a cell such as ``configure_matplotlib();`` would show an output it never had.
    """
    return self.kc.execute(
        cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False
    )


def pytest_collection_modifyitems(session, config, items):
    """Append the preview parameters to each notebook's parameters cell."""
    if not _nbval_active(config):
        return
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is not None and nbo.is_parameters_cell(cell):
            item.cell = copy.deepcopy(cell)
            item.cell.source = nbo.inject(cell.source, nbo.PREVIEW.parameters())


def pytest_runtestloop(session):
    """Simulate the preview town once, before the first notebook runs."""
    if _nbval_active(session.config) and not session.config.option.collectonly and session.items:
        nbo.prepare_preview()

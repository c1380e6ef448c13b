"""The notebook kernel manager: IPC sockets at unique paths, so parallel kernels cannot
collide on a port."""

import os
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from analysis.runs.kernels import IPCKernelManager

pytestmark = pytest.mark.skipif(os.name == "nt", reason="Windows has no IPC transport")


def test_each_kernel_gets_its_own_ipc_endpoint():
    a, b = IPCKernelManager(), IPCKernelManager()
    assert a.transport == b.transport == "ipc"
    assert a.ip != b.ip
    assert os.path.isabs(a.ip) and len(a.ip) < 90


def test_parallel_notebooks_start_and_clean_up(tmp_path):
    import papermill as pm

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\npid = os.getpid()\nprint(pid)")]
    nbformat.write(nb, tmp_path / "in.ipynb")

    def run(i):
        out = tmp_path / f"out{i}.ipynb"
        pm.execute_notebook(str(tmp_path / "in.ipynb"), str(out), kernel_name="python3",
                            progress_bar=False, kernel_manager_class=IPCKernelManager)  # fmt: skip
        return nbformat.read(out, as_version=4).cells[0].outputs[0]["text"].strip()

    with ThreadPoolExecutor(4) as ex:
        pids = list(ex.map(run, range(4)))
    assert len(set(pids)) == 4  # four separate kernels all ran

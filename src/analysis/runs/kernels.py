"""The Jupyter kernel manager used to execute notebooks (runs, report, tests).

jupyter_client's default TCP transport picks free ports, releases them and lets the
kernel bind them a moment later; two notebooks starting at the same time (parallel runs,
a parallel test suite) can be handed the same port and one kernel dies with "Address
already in use". On POSIX systems the kernels here talk over IPC (Unix domain sockets)
at a path unique to each kernel instead, which cannot collide and never leaves the
machine. Windows has no IPC transport and keeps TCP.
"""

from __future__ import annotations

import os
import tempfile
import uuid

from jupyter_client import AsyncKernelManager, KernelManager
from traitlets import HasTraits, default


class _IPCEndpoint(HasTraits):
    """Transport ``ipc`` (POSIX) at a fresh socket path for every kernel."""

    @default("transport")
    def _transport_default(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport != "ipc":
            return "127.0.0.1"
        # Short on purpose: Unix socket paths are limited to about 100 bytes.
        return os.path.join(tempfile.gettempdir(), f"mvm-kernel-{uuid.uuid4().hex[:16]}")


class IPCKernelManager(_IPCEndpoint, AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels use IPC sockets at a unique path
    (papermill / nbclient)."""


class BlockingIPCKernelManager(_IPCEndpoint, KernelManager):
    """The blocking twin of :class:`IPCKernelManager`, for nbval, which drives kernels
    synchronously."""

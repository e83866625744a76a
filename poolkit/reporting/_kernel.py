"""The ``poolkit`` kernel: report notebooks run in the interpreter poolkit is installed in (private)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path

KERNEL_NAME = "poolkit"
"""Name of the kernel that runs report notebooks in poolkit's own interpreter."""

_KERNEL_DIRS: dict[int, Path] = {}

# What ``python -m ipykernel_launcher`` does, without loading the debugger (debugpy): a
# report kernel is never debugged, and importing debugpy is a third of the kernel's start-up.
# debugpy stays importable by the notebook's own code.
_KERNEL_LAUNCHER = (
    "import sys\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "sys.modules['debugpy'] = None\n"
    "from ipykernel.kernelapp import IPKernelApp\n"
    "app = IPKernelApp.instance()\n"
    "app.initialize()\n"
    "del sys.modules['debugpy']\n"
    "app.start()\n"
)


def _remove_kernel_dir(root: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child, whose parent still uses the folder
        shutil.rmtree(root, ignore_errors=True)


def _kernel_dir() -> Path:
    """Create (once per process) a folder holding the ``poolkit`` kernelspec of this interpreter."""
    import atexit
    import tempfile

    root = _KERNEL_DIRS.get(os.getpid())
    if root is not None and (root / KERNEL_NAME / "kernel.json").is_file():
        return root
    root = Path(tempfile.mkdtemp(prefix="poolkit-kernels-"))
    atexit.register(_remove_kernel_dir, root, os.getpid())
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-c", _KERNEL_LAUNCHER, "-f", "{connection_file}"],
        "display_name": "Python (poolkit)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    _KERNEL_DIRS[os.getpid()] = root
    return root


@functools.lru_cache(maxsize=1)
def _kernel_manager_class() -> type:
    """Return a kernel manager class that finds kernelspecs only in poolkit's own folder."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class PoolkitKernelManager(AsyncKernelManager):  # type: ignore[misc]
        """Start the ``poolkit`` kernel of this interpreter, ignoring other kernelspecs."""

        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[str(_kernel_dir())], ensure_native_kernel=False)

        @default("transport")
        def _transport_default(self) -> str:  # local sockets: no TCP port, nothing on the network
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _ip_default(self) -> str:
            if self.transport == "ipc":
                return str(_kernel_dir() / f"ipc-{os.getpid()}-{id(self)}")
            return "127.0.0.1"

    return PoolkitKernelManager

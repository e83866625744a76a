"""The ``poolkit`` kernel: report notebooks run in the interpreter poolkit is installed in (private)."""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

from poolkit._runs import pid_alive

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


_PREFIX = "poolkit-kernels-"
_STALE_UNNAMED_S = 24 * 3600.0
"""A kernel folder that names no process (written before folders carried the pid) is stale after a day."""
_SOCKET_MAX = 100
"""Longest kernel socket path used (Linux allows 107 bytes); deeper temporary folders use TCP on 127.0.0.1."""
_SOCKETS = itertools.count(1)


def _remove_kernel_dir(root: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child, whose parent still uses the folder
        shutil.rmtree(root, ignore_errors=True)


def _sweep_stale_kernel_dirs(temp: Path) -> list[Path]:
    """Remove the kernel folders in ``temp`` that runs killed before they could clean up left behind.

    A folder ``poolkit-kernels-<pid>-*`` is stale when process ``<pid>`` no
    longer exists (or the id now belongs to a process started after the folder
    was last changed); an older folder without a pid when the processes named
    by its sockets (``ipc-<pid>-*``) are gone, or, with no socket, after a day.
    Only folders of the current user are removed.
    """
    removed = []
    for folder in temp.glob(f"{_PREFIX}*"):
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            named = re.fullmatch(rf"{_PREFIX}(\d+)-\w+", folder.name)
            if named:  # the folder was created (and last changed) after its process started
                stale = not pid_alive(int(named.group(1)), started_by=info.st_mtime)
            else:
                pids = {int(m.group(1)) for e in folder.iterdir() if (m := re.match(r"ipc-(\d+)-", e.name))}
                alive = any(pid_alive(p, started_by=info.st_mtime) for p in pids)
                stale = not alive if pids else time.time() - info.st_mtime > _STALE_UNNAMED_S
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _kernel_dir() -> Path:
    """Create (once per process) a folder holding the ``poolkit`` kernelspec of this interpreter.

    The folder, ``$TMPDIR/poolkit-kernels-<pid>-*``, is removed when the process
    exits; folders of killed runs are swept by the next run that creates one.
    """
    import atexit
    import tempfile

    root = _KERNEL_DIRS.get(os.getpid())
    if root is not None and (root / KERNEL_NAME / "kernel.json").is_file():
        return root
    _sweep_stale_kernel_dirs(Path(tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
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
            short = len(str(_kernel_dir())) + len("/k99999-5") <= _SOCKET_MAX
            return "ipc" if os.name == "posix" and short else "tcp"

        @default("ip")
        def _ip_default(self) -> str:
            if self.transport == "ipc":
                return str(_kernel_dir() / f"k{next(_SOCKETS)}")
            return "127.0.0.1"

    return PoolkitKernelManager

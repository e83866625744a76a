"""The ``poolkit`` kernel: report notebooks run in the interpreter poolkit is installed in (private)."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import itertools
import json
import os
import re
import shutil
import stat
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from poolkit._runs import PROCESS_LOCK_ENV, pid_alive
from poolkit.reporting._forkserver import LEAVE_QUICKLY, TIE_TO_PARENT

KERNEL_NAME = "poolkit"
"""Name of the kernel that runs report notebooks in poolkit's own interpreter."""

_KERNEL_DIRS: dict[int, Path] = {}

WARM_ENV = "POOLKIT_KERNEL_WARM"
"""Environment variable naming the modules a kernel imports before its first cell (removed at start)."""

WARM_MODULES = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "poolkit", "poolkit.data", "poolkit.risk",
                "poolkit.plotting", "poolkit.reporting")
"""What a kernel started ahead imports while it waits for its notebook (what every notebook imports)."""

# What ``python -m ipykernel_launcher`` does, without loading the debugger (debugpy): a
# report kernel is never debugged, and importing debugpy is a third of the kernel's start-up.
# debugpy stays importable by the notebook's own code. Series and flat dicts display as
# formatted tables (poolkit.reporting.use_readable_display). A kernel started ahead
# ($POOLKIT_KERNEL_WARM) imports poolkit, pandas, numpy and matplotlib before it answers its
# first request; the variable is removed first, so a notebook sees the same environment in
# either kind of kernel, and the launcher's names never reach the notebook's namespace
# (IPython gives the notebook a __main__ of its own). The kernel first ties itself to the
# process that started it (killed when it exits) and takes the run's process lock
# (poolkit.reporting._forkserver.TIE_TO_PARENT).
_KERNEL_LAUNCHER = (
    "import os, sys\n"
    + TIE_TO_PARENT
    + LEAVE_QUICKLY
    + f"_poolkit_tie(int(os.environ.get('JPY_PARENT_PID') or 0), os.environ.get({PROCESS_LOCK_ENV!r}))\n"
    "del _poolkit_tie\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    f"warm = os.environ.pop({WARM_ENV!r}, '')\n"
    "sys.modules['debugpy'] = None\n"
    "from ipykernel.kernelapp import IPKernelApp\n"
    "app = IPKernelApp.instance()\n"
    "app.initialize()\n"
    "del sys.modules['debugpy']\n"
    "from poolkit._display_hooks import use_readable_display\n"
    "use_readable_display(app.shell)\n"
    "if warm:\n"
    "    import importlib\n"
    "    for name in warm.split(','):\n"
    "        importlib.import_module(name)\n"
    "app.start()\n"
    "_poolkit_leave()\n"
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

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before it asks it to shut down; an idle report
            # kernel then only logs "KeyboardInterrupt caught in kernel" to the terminal
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

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

        fork_server: Any = None
        """A :class:`~poolkit.reporting._forkserver.ForkServer` to fork the kernel from, or None (started as usual)."""

        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            if self.fork_server is not None and self.provisioner is None:
                from poolkit.reporting._forkserver import forking_provisioner_class

                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                provisioner = forking_provisioner_class()(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                          parent=self)
                provisioner.server = self.fork_server
                self.provisioner = provisioner
            return await super()._async_pre_start_kernel(**kw)

        pre_start_kernel = _async_pre_start_kernel

    return PoolkitKernelManager


# --------------------------------------------------------------------------- kernels started ahead

_START_TIMEOUT_S = 120.0
_STOP_TIMEOUT_S = 30.0
Key = tuple[str, bool, int | None]
"""A kernel's working folder, whether it was started warm (modules imported ahead) and its BLAS threads cap."""


class KernelSupply:
    """The report kernels of this process: started ahead on a thread of their own, each used once.

    A kernel is started for one notebook and shut down after it, never reused,
    so no state crosses notebooks. Kernels may be started *ahead* (``reserve``):
    they boot, and a warm one imports :data:`WARM_MODULES`, while earlier
    notebooks run, and ``take`` hands one over as soon as a notebook needs it.
    Starting and stopping happen on the supply's own event loop; a notebook
    thread only talks to its kernel through a client of its own.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: dict[Key, list[concurrent.futures.Future[Any]]] = {}
        self._active: set[Any] = set()
        self._stopping: set[concurrent.futures.Future[Any]] = set()
        self._servers: dict[int | None, Any] = {}

    # the supply's event loop ----------------------------------------------------------------
    def _submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        _kernel_manager_class()  # jupyter_client imported here, never by two threads at once
        with self._lock:
            if self._loop is None:
                _kernel_dir()  # its removal at exit is registered first, so it runs after close()
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="poolkit-kernels", daemon=True)
                thread.start()
                self._loop = loop
                atexit.register(self.close)
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _start_soon(self, key: Key) -> concurrent.futures.Future[Any]:
        _kernel_manager_class()  # imported in the caller's thread before the loop's thread needs it
        return self._submit(self._start(*key))

    async def _start(self, cwd: str, warm: bool, threads: int | None = None) -> Any:
        from poolkit.reporting._forkserver import fork_available, server_environment

        # notebooks side by side: one BLAS / OpenMP thread each (a user's setting wins)
        env = server_environment(threads, {k: v for k, v in os.environ.items() if k != WARM_ENV})
        args = {"cwd": cwd, "extra_arguments": ["--HistoryManager.hist_file=:memory:"]}
        if warm and fork_available():
            try:
                server = await asyncio.get_running_loop().run_in_executor(None, self._server, threads, env)
                km = _kernel_manager_class()(kernel_name=KERNEL_NAME)
                km.fork_server = server
                await km.start_kernel(env=env, **args)
                return km
            except Exception:  # noqa: BLE001 - the fork server failed: this kernel starts the ordinary way
                await asyncio.get_running_loop().run_in_executor(None, self._drop_server, threads)
        km = _kernel_manager_class()(kernel_name=KERNEL_NAME)
        if warm:
            env[WARM_ENV] = ",".join(WARM_MODULES)
        await km.start_kernel(env=env, **args)
        return km

    def _server(self, threads: int | None, env: dict[str, str]) -> Any:
        """Return the fork server of kernels capped at ``threads`` BLAS threads, started on first use."""
        from poolkit.reporting._forkserver import ForkServer, take_early

        with self._lock:
            server = self._servers.get(threads)
            if server is None or not server.alive():
                server = self._servers[threads] = take_early(threads) or ForkServer(env)
            return server

    def attach(self, threads: int | None, address: str) -> None:
        """Fork the warm kernels capped at ``threads`` from the fork server at ``address`` (a batch's shared one)."""
        from poolkit.reporting._forkserver import ForkClient

        with self._lock:
            self._servers[threads] = ForkClient(address)

    def _drop_server(self, threads: int | None) -> None:
        with self._lock:
            server = self._servers.pop(threads, None)
        if server is not None:
            server.close()

    @staticmethod
    async def _stop(km: Any, now: bool) -> None:
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=now)
        except Exception:  # noqa: BLE001 - a kernel that cannot be asked to stop is killed
            try:
                await km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
        finally:
            try:
                await km.cleanup_resources()
            except Exception:  # noqa: BLE001
                pass

    # what report runs use -----------------------------------------------------------------------
    def ready(self, key: Key) -> int:
        """Return how many kernels for ``key`` are started ahead and not taken yet."""
        with self._lock:
            return len(self._ready.get(key, []))

    def ensure(self, key: Key, count: int) -> None:
        """Start kernels for ``key`` until ``count`` are waiting (started ahead, not taken)."""
        missing = count - self.ready(key)
        for _ in range(max(0, missing)):
            future = self._start_soon(key)
            with self._lock:
                self._ready.setdefault(key, []).append(future)

    def take(self, key: Key) -> Any:
        """Return a started kernel manager for one notebook: one started ahead, else one started now."""
        with self._lock:
            waiting = self._ready.get(key) or []
            future = waiting.pop(0) if waiting else None
        if future is None:
            future = self._start_soon(key)
        km = future.result(timeout=_START_TIMEOUT_S)
        with self._lock:
            self._active.add(km)
        return km

    def retire(self, km: Any, *, now: bool = False) -> None:
        """Shut down a kernel whose notebook is done, in the background (see :meth:`wait`)."""
        with self._lock:
            self._active.discard(km)
        future = self._submit(self._stop(km, now))
        with self._lock:
            self._stopping.add(future)
        future.add_done_callback(self._stopping.discard)

    def kill_active(self) -> None:
        """Kill the kernels running notebooks now (an interrupted run): their notebooks fail at once."""
        with self._lock:
            active = list(self._active)
        for km in active:
            self.retire(km, now=True)

    def release(self, keys: Any = None) -> None:
        """Shut down the kernels started ahead and not taken (for ``keys``, default all)."""
        with self._lock:
            chosen = list(self._ready) if keys is None else [k for k in keys if k in self._ready]
            futures = [f for k in chosen for f in self._ready.pop(k, [])]
        for future in futures:
            try:
                km = future.result(timeout=_START_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - it never started: nothing to stop
                continue
            self.retire(km, now=True)

    def wait(self, timeout: float = _STOP_TIMEOUT_S) -> None:
        """Wait until the kernels being shut down are gone."""
        with self._lock:
            pending = list(self._stopping)
        concurrent.futures.wait(pending, timeout=timeout)

    def close(self) -> None:
        """Stop every kernel of the supply (at exit, and in a batch worker when the batch ends)."""
        if os.getpid() != self._pid or self._loop is None:
            return
        self.release()
        self.kill_active()
        self.wait()
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.close()


_SUPPLIES: dict[int, KernelSupply] = {}


def kernel_supply() -> KernelSupply:
    """Return this process's :class:`KernelSupply` (a new one in a forked child)."""
    supply = _SUPPLIES.get(os.getpid())
    if supply is None:
        supply = _SUPPLIES[os.getpid()] = KernelSupply()
    return supply


def release_kernels(*, wait: bool = True) -> int:
    """Shut down this process's kernels started ahead and not used; return how many were waiting.

    With ``wait``, return once they and the kernels being shut down are gone.
    """
    supply = _SUPPLIES.get(os.getpid())
    if supply is None:
        return 0
    waiting = sum(supply.ready(key) for key in list(supply._ready))
    supply.release()
    if wait:
        supply.wait()
    return waiting

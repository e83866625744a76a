"""Report kernels forked from a process that has imported poolkit once (private).

Starting a report kernel costs about three seconds of CPU: the interpreter, ipykernel,
numpy, pandas, matplotlib, scipy and poolkit imported, and matplotlib's fonts and
formula parser loaded by the first figure. On a machine whose cores all run notebooks,
kernels started ahead pay that cost on the same cores. A *fork server* pays it once:
one process per report run imports all that, draws nothing visible (a figure rendered
to memory, no pyplot), and then forks one kernel per request. Each kernel is a new
process that never ran any notebook code, with its own session (process group),
working folder, environment and freshly seeded numpy global generator, so no state
crosses notebooks; it then starts exactly like poolkit's other kernels.

Only on Linux (``os.fork`` after these imports is safe there); elsewhere kernels
start the ordinary way. The fork server exits when the process that started it
closes its request pipe, and, should that process die (``kill -9`` included), a
thread watching it (a pidfd) kills the kernels' process groups and exits at once.
Every kernel gets Linux's parent-death signal (SIGKILL) from its server, so no
kernel outlives the run that started it, and holds the run's process lock
(:func:`poolkit._runs.folder_lock`) while it lives (:data:`TIE_TO_PARENT`).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                         "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")
"""Variables that cap the threads of BLAS, OpenMP and numexpr in a kernel (read when they load)."""

PRELOAD_MODULES = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "poolkit", "poolkit.data", "poolkit.risk",
                   "poolkit.plotting", "poolkit.reporting")
"""What the fork server imports before it forks its first kernel (what every report notebook imports)."""

EXTRA_MODULES = ("IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
                 "IPython.extensions.storemagic", "sqlite3", "psutil", "tornado.platform.asyncio",
                 "poolkit.allocation", "poolkit.pooling", "poolkit.credit", "poolkit.funds", "scipy.optimize",
                 "scipy.stats", "scipy.cluster.hierarchy")
"""What it imports next, between requests, for the kernels it forks later: what a kernel's start loads, then
what many notebooks use."""

TIE_TO_PARENT = r"""
def _poolkit_tie(parent, lock):
    # die with the parent process (SIGKILL when it exits, however it exits), and hold the shared lock
    # that tells a later run of the same name that a process of this run still lives
    import ctypes, fcntl, signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent and os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    if lock:
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # no such lock: the run is over, nobody waits for this process
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # kept until this process exits
        except OSError:  # a newer run of the name holds it: this process's run has ended
            os._exit(1)
"""
"""Source of ``_poolkit_tie(parent_pid, lock_path)``, run first by every report kernel (both kinds)."""

LEAVE_QUICKLY = r"""
def _poolkit_leave():
    # the kernel was shut down: run what Python runs at exit that a notebook may rely on (its threads
    # are waited for, its exit handlers run), then end the process without tearing down the modules
    # (pandas, matplotlib...: 0.1-0.2 s of CPU for every kernel, while other notebooks run)
    import atexit, threading
    shutdown, run_handlers = getattr(threading, '_shutdown', None), getattr(atexit, '_run_exitfuncs', None)
    if shutdown is None or run_handlers is None:  # not CPython: the usual exit
        return
    shutdown()
    run_handlers()
    # files the notebook left open: what the teardown would have written (the finalisers of
    # their buffers) is written now
    import gc, io
    for obj in gc.get_objects():
        if isinstance(obj, io.IOBase):
            try:
                if not obj.closed:
                    obj.flush()
            except Exception:
                pass
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(0)
"""
"""Source of ``_poolkit_leave()``, called by every report kernel (both kinds) once its loop has stopped."""

# The server: bind its socket, import the common modules, then import the others and prime
# matplotlib's caches without pyplot (no figure manager, no backend loaded: the inline backend
# loads in the kernel, with its shell) while forking a kernel for each request that arrives,
# a line {"argv", "env", "cwd"} answered with the kernel's pid. A forked kernel leaves the
# loading at once and starts the way poolkit's other kernels do.
_SERVER = r"""
import os, sys, json, socket, select, threading, ctypes, fcntl
control, address, owner = int(sys.argv[1]), sys.argv[2], os.getppid()
if sys.path and sys.path[0] == '':
    del sys.path[0]
kernels = set()


def watch(pidfd):
    # the owner died (killed, even with SIGKILL): stop every kernel's process group, then the server
    select.select([pidfd], [], [])
    for pid in list(kernels):
        try:
            os.killpg(pid, 9)
        except OSError:
            pass
    os._exit(0)


try:
    owner_fd = os.pidfd_open(owner)
except OSError:
    sys.exit(0)
if os.getppid() != owner:
    sys.exit(0)
threading.Thread(target=watch, args=(owner_fd,), daemon=True).start()
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(address)  # at once: requests wait in the backlog while the modules load
listener.listen(64)


def serve(wait):
    # fork a kernel for each request waiting (with wait, for every request until the owner closes the
    # control pipe); return the request in the kernel, None in the server
    while True:
        try:  # reap the kernels that exited
            while (pid := os.waitpid(-1, os.WNOHANG)[0]) > 0:
                kernels.discard(pid)
        except ChildProcessError:
            pass
        ready, _, _ = select.select([listener, control], [], [], 1.0 if wait else 0)
        if control in ready:  # the owner closed its end (it finished or died): stop at once
            os._exit(0)
        if not ready:
            if wait:
                continue
            return None
        conn, _ = listener.accept()
        try:
            with conn.makefile('rb') as stream:
                request = json.loads(stream.readline())
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                _poolkit_tie(server, request['env'].get('POOLKIT_PROCESS_LOCK'))
                return request
            kernels.add(pid)
            conn.sendall(b'%d\n' % pid)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()


def load():
    os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')  # as ipykernel does
    import importlib
    for name in sys.argv[3].split(','):
        importlib.import_module(name)
    # a report kernel is never debugged (see _kernel._KERNEL_LAUNCHER): ipykernel's debugger module,
    # which a kernel loads as it starts, is imported while debugpy cannot be, and notes it unavailable
    sys.modules['debugpy'] = None
    import ipykernel.kernelapp
    import ipykernel.debugger
    del sys.modules['debugpy']
    request = serve(False)
    for name in sys.argv[4].split(','):
        if request is None:
            importlib.import_module(name)
            request = serve(False)
    if request is None:
        import io
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        fig = Figure(figsize=(3, 2))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], label='$\\sigma_p^2 = w^\\top \\Sigma w$')
        ax.set_title('pool $\\sqrt{x}$')
        ax.legend()
        fig.savefig(io.BytesIO(), format='png', bbox_inches='tight')
        import gc
        gc.collect()
        gc.freeze()  # the imported modules stay shared with the kernels (copy-on-write)
        request = serve(True)
    return request


request = load()
os.setsid()
listener.close()
os.close(control)
os.close(owner_fd)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.chdir(request['cwd'])
os.environ.clear()
os.environ.update(request['env'])
os.environ['JPY_PARENT_PID'] = str(os.getppid())
if 'numpy.random' in sys.modules:
    sys.modules['numpy.random'].seed()  # fresh entropy, as in a new process
# the kernel exits when its server does (the run ended or died); the trait's default was read at import
sys.argv = [sys.argv[0], *request['argv'], '--IPKernelApp.parent_handle=%d' % os.getppid()]
del listener, control, address, owner, owner_fd, kernels, watch, null, request, serve, load, _poolkit_tie
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
app.initialize()
from poolkit._display_hooks import use_readable_display
use_readable_display(app.shell)
app.start()
_poolkit_leave()
"""


def server_environment(threads: int | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a fork server whose kernels get at most ``threads`` BLAS threads."""
    env = dict(os.environ if base is None else base)
    if threads is not None:  # a user's own setting wins
        for name in BLAS_THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    return env


_EARLY: dict[int | None, ForkServer] = {}


def start_early(threads: int | None) -> None:
    """Start the fork server of the coming report run now, so that it imports while this process does.

    ``poolkit report`` calls it before loading the report modules (and pandas);
    the run's kernel supply then takes it (:func:`take_early`). Unused, it stops
    when this process exits.
    """
    if fork_available() and threads not in _EARLY:
        _EARLY[threads] = ForkServer(server_environment(threads))


def take_early(threads: int | None) -> ForkServer | None:
    """Return the fork server started early for ``threads``, if one is still running."""
    server = _EARLY.pop(threads, None)
    return server if server is not None and server.alive() else None


def fork_available() -> bool:
    """Tell whether kernels can be forked from a fork server here (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(os, "pidfd_open")


class ForkClient:
    """Ask the fork server at ``address`` (a Unix socket) for kernels; any process of the machine may."""

    def __init__(self, address: str) -> None:
        self.address = address

    def alive(self) -> bool:
        """Tell whether the server may still answer (its socket exists)."""
        return os.path.exists(self.address)

    def fork(self, argv: list[str], env: Mapping[str, str], cwd: str) -> int:
        """Fork a kernel with ``argv`` (``-f <connection file>`` ...), ``env`` and ``cwd``; return its pid."""
        line = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}).encode() + b"\n"
        deadline = time.monotonic() + _CONNECT_TIMEOUT_S
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            while True:  # the server binds its socket a moment after it starts
                try:
                    conn.connect(self.address)
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline or not self.alive_or_starting():
                        raise
                    time.sleep(0.02)
            conn.settimeout(_REPLY_TIMEOUT_S)  # the server answers once its modules are loaded
            conn.sendall(line)
            with conn.makefile("rb") as stream:
                reply = stream.readline()
        if not reply:
            raise RuntimeError(f"the kernel fork server at {self.address} did not answer")
        return int(reply)

    def alive_or_starting(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to do: the server belongs to the process that started it."""


_CONNECT_TIMEOUT_S = 60.0
_REPLY_TIMEOUT_S = 120.0


class ForkServer(ForkClient):
    """A process that imports the report modules once and forks kernels on request, owned by this process.

    It listens on a Unix socket in a private temporary folder, so the workers of
    a batch share it; it stops when :meth:`close` is called or this process exits.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        import tempfile

        self._folder = tempfile.mkdtemp(prefix="poolkit-fork-")
        super().__init__(os.path.join(self._folder, "s"))
        control, self._control = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", TIE_TO_PARENT + LEAVE_QUICKLY + _SERVER, str(control), self.address, ",".join(PRELOAD_MODULES),
                 ",".join(EXTRA_MODULES)],
                env=dict(env), stdin=subprocess.DEVNULL, pass_fds=(control,), start_new_session=True,
            )
        finally:
            os.close(control)
        self._pid = os.getpid()
        atexit.register(self.close)

    def alive_or_starting(self) -> bool:
        return self.process.poll() is None

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Stop the server; the kernels it forked stop soon after (their parent is gone) if still running."""
        if os.getpid() != self._pid or self._control < 0:
            return
        os.close(self._control)  # a server waiting for requests exits at once
        self._control = -1
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:  # still loading its modules: no need to wait for them
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


class ForkedKernel:
    """The part of :class:`subprocess.Popen` that jupyter_client uses, for a kernel forked by a server.

    The kernel is not a child of this process; a pidfd names it without the
    risk of a reused process id.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except OSError:  # it exited already
            self._pidfd, self.returncode = None, 0

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], 0)
            if ready:  # the process has exited (its server reaps it)
                self.returncode = 0
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is None and self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired("kernel", timeout or 0.0)
        return self.poll() or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None and self._pidfd is not None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def forking_provisioner_class() -> type:
    """Return a jupyter_client provisioner that asks the process's fork server for each kernel."""
    import asyncio  # (not at the module's import: the command starts the fork server before it loads asyncio)

    from jupyter_client.provisioning import LocalProvisioner

    from poolkit.reporting._kernel import WARM_ENV

    class ForkingProvisioner(LocalProvisioner):  # type: ignore[misc]
        server: ForkClient | None = None

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            assert self.server is not None
            argv = cmd[cmd.index("-f"):]  # the launcher's own code is the server's
            env = dict(kwargs.get("env") or os.environ)
            env.pop(WARM_ENV, None)  # the server imported those modules already
            cwd = str(kwargs.get("cwd") or os.getcwd())
            pid = await asyncio.get_running_loop().run_in_executor(None, self.server.fork, argv, env, cwd)
            self.process = ForkedKernel(pid)  # type: ignore[assignment]
            self.pid = self.pgid = pid  # a session of its own: its group is its pid
            self.cwd = cwd
            return self.connection_info

        async def send_signal(self, signum: int) -> None:
            if self.process is not None and self.process.poll() is None:
                try:  # the kernel's group (its subprocesses too), while the kernel runs
                    os.killpg(int(self.pgid or self.process.pid), signum)
                    return
                except OSError:
                    pass
                self.process.send_signal(signum)

    return ForkingProvisioner

"""Locks and process checks of report and batch runs (private; see :mod:`poolkit._runs`).

- **One writer per name.** :func:`folder_lock` holds an exclusive ``flock`` on
  ``.<name>.lock`` beside the folder while a run writes it; a second run of the
  same name is refused at once, naming the run that holds the lock.
- **No writer outlives its run unseen.** A command's run also keeps
  ``.<name>.procs.lock``, on which every process it starts that may write
  (batch workers, kernels) holds a shared ``flock`` for as long as it lives
  (:data:`PROCESS_LOCK_ENV` names the file to them). The next run of the name
  takes it exclusively before it sweeps or writes anything, so it waits for the
  last process of a killed run to be gone.
- **Processes.** :func:`pid_alive` tells a running process from one that is
  gone, exited (a zombie) or replaced by another with the same id.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from poolkit.exceptions import ConfigurationError

__all__ = ["PROCESS_LOCK_ENV", "folder_lock", "hold_process_lock", "pid_alive", "remove_stale_lock"]


def _process_start(pid: int) -> float | None:
    """Return when process ``pid`` started (seconds since the epoch), None when unknown (not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _process_state(pid: int) -> str | None:
    """Return the state letter of process ``pid`` (``R``, ``S``, ``Z`` for exited...), None when unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, *, started_by: float | None = None) -> bool:
    """Tell whether process ``pid`` runs (of any user) and, if ``started_by`` is given, started by then.

    A process that has exited but is not reaped yet (a zombie) is not alive.
    Process ids are reused; a process with the same id that started after
    ``started_by`` (seconds since the epoch; 2 s of slack) is another process,
    and the one that wrote at ``started_by`` is gone.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _process_state(pid) in ("Z", "X"):  # exited, not yet reaped: it writes nothing any more
        return False
    if started_by is not None:
        start = _process_start(pid)
        if start is not None and start > started_by + 2.0:
            return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


PROCESS_LOCK_ENV = "POOLKIT_PROCESS_LOCK"
"""Environment variable naming the process lock of the run a process belongs to (see :func:`folder_lock`).

Set by a command's run for the processes it starts (inherited by batch workers
and kernels); a process that finds it set holds a shared lock on that file
while it may write (:func:`hold_process_lock`), and a run started inside it
(a batch's report) takes no process lock of its own. An empty value: none.
"""

_PROCESS_WAIT_S = 30.0
"""How long a run waits for the processes of a killed earlier run of its name to exit before it refuses."""


@contextlib.contextmanager
def folder_lock(folder: Path, *, how: str) -> Iterator[Path]:
    """Hold the lock of ``folder`` (``.<name>.lock`` beside it) while the block runs.

    The lock is an exclusive ``flock``, released by the kernel when the process
    ends however it ends; the lock file is removed on release. A second run of
    the same name does not wait: it is refused at once with a
    ConfigurationError naming the process that holds the lock and ``how`` to
    choose another name.

    Unless this process belongs to an enclosing run (:data:`PROCESS_LOCK_ENV`
    set, e.g. a batch's worker), the run also keeps the *process lock*
    ``.<name>.procs.lock``: every process it starts that may write holds a
    shared lock on it for its whole life. Before the block runs, the lock is
    taken exclusively, waiting up to 30 s for the processes of a killed earlier
    run of the name (workers, kernels still exiting) to be gone, else a
    ConfigurationError names them; on release it waits up to 5 s for this run's
    own processes and removes the file.
    """
    lock = folder.parent / f".{folder.name}.lock"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot create the reports folder {folder.parent.absolute()} ({exc.strerror}); pass a writable --reports-dir."
        ) from None
    fd = _take_lock(lock, folder, how)
    procs: tuple[Path, int] | None = None
    saved = os.environ.get(PROCESS_LOCK_ENV)
    try:
        info = {"pid": os.getpid(), "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode("utf-8"))
        if saved is None:
            procs = _quiet_process_lock(folder.parent / f".{folder.name}.procs.lock", folder, how)
            os.environ[PROCESS_LOCK_ENV] = str(procs[0])
        yield lock
    finally:
        if procs is not None:
            if saved is None:
                os.environ.pop(PROCESS_LOCK_ENV, None)
            else:
                os.environ[PROCESS_LOCK_ENV] = saved
            _remove_process_lock(*procs)
        try:
            if _same_file(fd, lock):
                os.unlink(lock)
        except OSError:
            pass
        os.close(fd)


def _open_lock_file(path: Path, folder: Path, how: str, *, what: str) -> int:
    """Open (or create) the lock file ``path`` of ``folder`` for writing; a ConfigurationError if it cannot be."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot open the {what} {path.absolute()} ({exc.strerror}); poolkit keeps one there while it "
            f"writes {folder.name}. Remove what is in the way, or {how}."
        ) from None


def _take_lock(lock: Path, folder: Path, how: str) -> int:
    """Open ``lock`` and take its exclusive flock without waiting; return the descriptor, or raise."""
    while True:
        fd = _open_lock_file(lock, folder, how, what="lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise ConfigurationError(
                f"{folder.absolute()} is being written by another poolkit run ({holder}); nothing ran. Wait for "
                f"that run to finish, or {how}."
            ) from None
        if not _same_file(fd, lock):  # a lock file removed by its previous holder meanwhile: again
            os.close(fd)
            continue
        if not _is_lock_file(fd):
            os.close(fd)
            raise ConfigurationError(
                f"{lock.absolute()} exists and is not a poolkit lock file; poolkit keeps its lock there while it "
                f"writes {folder.name} and will not overwrite it. Move it away, or {how}."
            )
        return fd


def _quiet_process_lock(path: Path, folder: Path, how: str) -> tuple[Path, int]:
    """Wait until no process holds ``path`` (a killed run's workers and kernels exited); return it open.

    Returned unlocked, for this run's own processes to share.
    """
    deadline = time.monotonic() + _PROCESS_WAIT_S
    while True:
        fd = _open_lock_file(path, folder, how, what="process lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() < deadline:
                os.close(fd)
                time.sleep(0.05)
                continue
            holders = _flock_holders(fd)
            os.close(fd)
            raise ConfigurationError(
                f"processes started by an earlier poolkit run of {folder.absolute()} are still running and may "
                f"still write into it (pids {holders or 'unknown'}, holding {path.name}); nothing ran and nothing "
                f"changed. They normally exit within a second of the run that started them; stop them (e.g. "
                f"`kill {' '.join(map(str, holders)) or '<pid>'}`) and run again, or {how}."
            ) from None
        if not _same_file(fd, path):
            os.close(fd)
            continue
        fcntl.flock(fd, fcntl.LOCK_UN)  # this run's processes share it from now on
        return path, fd


def _remove_process_lock(path: Path, fd: int, wait: float = 5.0) -> None:
    """Remove the process lock once this run's processes have let it go (waiting up to ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                return  # still held: the next run waits for those processes, then removes it
            if _same_file(fd, path):
                os.unlink(path)
            return
    except OSError:
        pass
    finally:
        os.close(fd)


def _flock_holders(fd: int) -> list[int]:
    """Return the pids that hold a flock on the file of ``fd`` (from ``/proc/locks``; empty elsewhere)."""
    held = os.fstat(fd)
    found = []
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii").splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK":
            try:
                pid, (_, _, inode) = int(parts[4]), parts[5].split(":")
            except ValueError:
                continue
            if int(inode) == held.st_ino and pid_alive(pid):
                found.append(pid)
    return sorted(set(found))


@contextlib.contextmanager
def hold_process_lock(path: str | None = None) -> Iterator[None]:
    """Hold a shared lock on the process lock of this process's run while the block runs (if it has one).

    ``path`` defaults to :data:`PROCESS_LOCK_ENV`. A run that has started
    meanwhile holds it exclusively: then this process must not write, and a
    ConfigurationError says so. A missing file is no lock (that run is over).
    """
    path = os.environ.get(PROCESS_LOCK_ENV, "") if path is None else path
    fd = -1
    if path:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            fd = -1
    if fd >= 0:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigurationError(
                f"a newer poolkit run holds {path}: this process belongs to a run that has ended and must not write; "
                "nothing was written."
            ) from None
    try:
        yield
    finally:
        if fd >= 0:
            os.close(fd)


def _is_lock_file(fd: int) -> bool:
    """Tell whether the open file is empty or holds what :func:`folder_lock` writes."""
    if os.fstat(fd).st_size == 0:
        return True
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and isinstance(info.get("pid"), int) and "started" in info


def _lock_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        text = f"pid {int(info['pid'])}, started {info.get('started', '?')}"
        return text + (f": {info['command']}" if info.get("command") else "")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has just started"


def remove_stale_lock(lock: Path) -> bool:
    """Remove a lock file that no process holds; return True when it was removed."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _same_file(fd, lock):
            os.unlink(lock)
            return True
        return False
    except OSError:
        return False
    finally:
        os.close(fd)

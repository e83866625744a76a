"""Run a checked grid on a Dask cluster, resume, record (private)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolkit._parameters import RESERVED_PARAMETERS
from poolkit._runs import (
    BATCH_KIND,
    PROCESS_LOCK_ENV,
    check_name,
    code_identity,
    failing_cell,
    folder_lock,
    foreign_problem,
    git_revision,
    hold_process_lock,
    input_changes,
    package_versions,
    pid_alive,
    plan_run,
    read_json,
    remove_stale_lock,
    sha256,
    unique_path,
    write_text_atomic,
)
from poolkit.batch._grid import Grid, GridRun, _canonical
from poolkit.batch._index import INDEX_FILE, write_index
from poolkit.batch._turns import _SLOTS, _notebook_turn, _Slots
from poolkit.exceptions import ConfigurationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

BATCH_MANIFEST = "batch.json"
LOG_FILE = "batch.log"
RUN_MANIFEST = "manifest.json"

_log = logging.getLogger("poolkit.batch")

# --------------------------------------------------------------------------- one run (on a worker)


def _failing_cell(folder: Path, notebook: str | None = None) -> dict[str, str]:
    """Find the first error output in the executed notebooks of ``folder``.

    The cell index counts the cells of the source notebook (papermill's injected
    parameters and error banner cells are skipped).
    """
    candidates = [folder / notebook] if notebook and (folder / notebook).is_file() else sorted(folder.rglob("*.ipynb"))
    for nb_path in candidates:
        info = failing_cell(nb_path)
        if info:
            return {
                "notebook": nb_path.name,
                "cell": str(info["cell_index"]),
                "source": str(info.get("source", ""))[:2000],
                "error": f"{info.get('ename') or 'Error'}: {info.get('evalue', '')}"[:2000],
            }
    return {}


def _execute_run(task: Mapping[str, Any]) -> dict[str, Any]:
    """Run one parameter set through :func:`poolkit.reporting.run_suite` (runs on a worker)."""
    while _WARM_UP is not None and not _IMPORTED.wait(0.05) and _WARM_UP.is_alive():
        pass  # the worker's warm-up has not imported what a report needs yet
    with _batch_process(task.get("process_lock")), _notebook_turn(task.get("slots")):
        return _execute_locked(task)


@contextlib.contextmanager
def _batch_process(lock: str | None) -> Iterator[None]:
    """Within the block, this worker counts as a part of its batch (see ``folder_lock``).

    A local cluster's worker (a thread of the batch process) belongs to the
    batch: it holds the batch's process lock while it runs a report, and its
    kernels hold it while they live, so a later run of the batch waits for them
    should the batch be killed. A worker of an existing scheduler outlives
    batches: none of it is tied to this one, and the report takes no process
    lock of its own.
    """
    saved = os.environ.get(PROCESS_LOCK_ENV)
    os.environ[PROCESS_LOCK_ENV] = lock or ""
    try:
        with hold_process_lock(lock or ""):
            yield
    finally:
        if not lock:  # (a local worker stays its batch's: the kernels it starts ahead keep the lock)
            if saved is None:
                os.environ.pop(PROCESS_LOCK_ENV, None)
            else:
                os.environ[PROCESS_LOCK_ENV] = saved


def _execute_locked(task: Mapping[str, Any]) -> dict[str, Any]:
    from poolkit.reporting import run_suite

    threads = task.get("kernel_threads")
    if task.get("fork_server"):
        from poolkit.reporting._kernel import kernel_supply

        kernel_supply().attach(threads, str(task["fork_server"]))
    output = Path(task["output_dir"])
    started = time.time()
    result: dict[str, Any] = {"run_id": task["run_id"], "status": "ok", "error": "", "failed_cell": {}}
    try:
        run_suite(
            name=task["name"],
            notebooks=[Path(p) for p in task["notebooks"]],
            parameters=dict(task["parameters"]),
            reports_dir=task["reports_dir"],
            output_dir=output,
            html=True,
            progress=False,
            workers=1,  # the batch runs reports in parallel, one per worker
            prestart=True,
            keep_warm=int(task.get("keep_warm", 0)),  # kernels for this worker's next report boot meanwhile
            kernel_threads=threads,  # one BLAS thread per kernel when reports run side by side
        )
    except Exception as exc:  # noqa: BLE001 - one failing run must not stop the batch
        result["status"] = "failed"
        result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
        failed_dir = getattr(exc, "failed_dir", None)
        partial = Path(failed_dir) if failed_dir else None
        if partial is not None and partial.is_dir():
            result["partial"] = partial.name
            executed = getattr(exc, "output", None)
            result["failed_cell"] = _failing_cell(partial, Path(executed).name if executed else None)
    result["duration"] = round(time.time() - started, 3)
    result["worker_pid"] = os.getpid()
    return result


def _warm_worker(notebooks: list[str], threads: int | None = None, fork_server: str | None = None,
                 count: int = 1) -> int:
    """Get a worker ready before its first report: kernels started ahead, the run's modules imported.

    Runs on each worker of an existing scheduler (``client.run``) while the
    batch submits its tasks, and in the batch's own process before its local
    cluster starts (``count`` = its workers, which share the kernels); the
    kernels are those of the first notebook of a report, used once each, forked
    from the batch's fork server when it has one.
    """
    from poolkit.reporting._execute import (
        NOTEBOOK_STARTED,
        _engine_name,
        _import_papermill_quickly,
        kernel_key,
    )
    from poolkit.reporting._kernel import kernel_supply

    supply = kernel_supply()
    if fork_server:
        supply.attach(threads, fork_server)
    supply.ensure(kernel_key(Path(notebooks[0]), warm=True, threads=threads), count)

    def imports() -> None:
        _import_papermill_quickly()

        from poolkit._runs import package_versions

        _engine_name()
        package_versions()  # read once per process, recorded by every report
        _IMPORTED.set()  # a report may start; what follows only its HTML export needs (it waits for it)
        # once the first notebook runs: until then this process is the one the first reports wait for
        NOTEBOOK_STARTED.wait(_PRIME_AFTER_S)
        _prime_exporter()

    # off the worker's event loop, which must keep answering the scheduler; a report waits for the
    # imports (CPython 3.11 may fail "AST constructor recursion depth mismatch" when two threads
    # import at once), and its HTML export for the exporter
    global _WARM_UP
    if _WARM_UP is None or not _WARM_UP.is_alive():
        _WARM_UP = threading.Thread(target=imports, name="poolkit-warm-up", daemon=True)
        _WARM_UP.start()
    return os.getpid()


def _prime_exporter() -> None:
    """Build the HTML exporter and export a small page, so that the templates and filters are compiled.

    Under the exporter's lock, which a report's export waits for.
    """
    import nbformat

    from poolkit.reporting._html import _EXPORT_LOCK, _html_exporter, _static_copy

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Pooling\n\nVolatility $\\sigma_P = \\sqrt{w^\\top \\Sigma w}$."),
                nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
                    "execute_result", {"text/plain": "1", "text/html": "<table><tr><td>1</td></tr></table>"},
                    execution_count=1)])]
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    with _EXPORT_LOCK:
        _html_exporter().from_notebook_node(_static_copy(nb, copy_first=False), resources={"metadata": {"name": "prime"}})


_PRIME_AFTER_S = 60.0
"""The warm-up builds the HTML exporter once a notebook runs, or after this many seconds."""

_WARM_UP: threading.Thread | None = None
"""The worker's warm-up thread (:func:`_warm_worker`)."""

_IMPORTED = threading.Event()
"""Set once the warm-up has imported what a report needs; a report waits for it (or for the thread to end)."""


def _release_worker(wait: bool = True) -> int:
    """Shut down the kernels a worker started ahead and did not use (the batch is over).

    Without ``wait``, return at once: the batch's own process then closes its
    fork server, which ends every kernel still stopping.
    """
    from poolkit.reporting._kernel import release_kernels

    return release_kernels(wait=wait)


# --------------------------------------------------------------------------- completion on disk


def _manifest_status(manifest: Mapping[str, Any]) -> str:
    status = manifest.get("status")
    if isinstance(status, str):
        return status
    return "unknown"


def _without_out_dir(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {k: v for k, v in parameters.items() if k not in RESERVED_PARAMETERS}
    return parameters


def is_complete(folder: Path, parameters: Mapping[str, Any] | None = None) -> bool:
    """Tell whether ``folder`` holds a complete, successful report for ``parameters``.

    A report is complete when its ``manifest.json`` reads as JSON with status
    ``"ok"`` and, when the manifest records parameters, they equal ``parameters``
    (``out_dir`` aside). Temporary or failed folders never qualify. Complete is
    not current: ``run_batch(..., resume=True)`` also requires the inputs key
    of the manifest to match the notebooks, data files and code of today.
    """
    manifest = read_json(folder / RUN_MANIFEST)
    if not isinstance(manifest, Mapping) or _manifest_status(manifest) != "ok":
        return False
    recorded = manifest.get("parameters")
    if parameters is not None and isinstance(recorded, Mapping) and recorded:
        return _canonical(_without_out_dir(recorded)) == _canonical(_without_out_dir(dict(parameters)))
    return True


_TEMPORARY = re.compile(r"\.(?P<id>.+)\.(?:tmp|old)-(?P<pid>\d+)-(?P<stamp>\d{8}-\d{6})(?:-\d+)?")


def _clean_stale(batch_dir: Path) -> list[str]:
    """Remove what killed runs left in the batch folder; return the folders removed.

    A temporary run folder ``.<run-id>.tmp-<pid>-<time>`` (or ``.old-``) is
    removed when process ``<pid>`` is gone; a run's lock file when no process
    holds it. Kept ``.failed-`` folders are never touched.
    """
    removed = []
    for entry in sorted(batch_dir.iterdir()) if batch_dir.is_dir() else []:
        match = _TEMPORARY.fullmatch(entry.name)
        if match and entry.is_dir() and not entry.is_symlink() and not _writer_alive(match):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        elif entry.name.startswith(".") and entry.name.endswith(".lock") and entry.is_file():
            remove_stale_lock(entry)
    return removed


def _writer_alive(match: re.Match[str]) -> bool:
    """Tell whether the process that named a temporary folder (pid and local time in its name) still runs."""
    try:
        created = _dt.datetime.strptime(match["stamp"], "%Y%m%d-%H%M%S").timestamp()
    except ValueError:
        created = None
    return pid_alive(int(match["pid"]), started_by=created)


def _resume_decision(folder: Path, current: Mapping[str, Any]) -> tuple[str, str]:
    """Decide whether ``--resume`` skips a run: ``("skip" | "redo" | "run", why)``.

    A run is skipped only when its folder holds a report with status ok whose
    manifest records the same inputs key as ``current`` (same parameters,
    notebooks, data files and poolkit code); else it is redone, and ``why``
    names what changed.
    """
    manifest = read_json(folder / RUN_MANIFEST)
    if not isinstance(manifest, Mapping):
        return "run", "no complete report yet"
    status = _manifest_status(manifest)
    if status != "ok":
        return "redo", f"the earlier report's status is {status!r}"
    recorded = manifest.get("inputs")
    if not isinstance(recorded, Mapping) or not recorded.get("key"):
        return "redo", "the earlier report records no inputs key (it was written by an older poolkit)"
    changes = input_changes(recorded, current)
    if not changes:
        return "skip", f"complete and unchanged (inputs key {str(current['key'])[:12]})"
    return "redo", "; ".join(changes)


# --------------------------------------------------------------------------- batch


class ClusterError(ConfigurationError):
    """The Dask cluster could not be started or reached; no report ran."""


@dataclass
class BatchResult:
    """What a batch did: one entry per run, the batch folder and the exit code.

    Attributes
    ----------
    batch_dir : Path
        ``<reports_dir>/<name>/``.
    runs : list of dict
        Per run: ``run_id``, ``parameters``, ``status`` (``ok``, ``failed``,
        ``skipped`` when resumed, ``not run`` when interrupted), ``duration``,
        ``error`` and ``failed_cell``.
    exit_code : int
        0 when every run is ok or skipped, 1 otherwise.
    """

    batch_dir: Path
    runs: list[dict[str, Any]]
    exit_code: int

    @property
    def failures(self) -> list[dict[str, Any]]:
        """Return the runs that did not succeed."""
        return [r for r in self.runs if r["status"] not in ("ok", "skipped")]

    def failure_messages(self) -> list[tuple[str, str]]:
        """Return ``(run_id, error)`` for each failed run, the error shortened to one line.

        The error names the failing notebook and cell when the run got that far,
        e.g. ``AssertionError: ... (in 01_calc.ipynb, cell 3)``.
        """
        return [(str(r["run_id"]), _short_error(r)) for r in self.failures]


def _versions() -> dict[str, str]:
    import platform

    import poolkit

    return {"python": platform.python_version(), "poolkit": poolkit.__version__, **package_versions()}


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """Send this process's stdout/stderr file descriptors (inherited by workers and kernels) to ``path``."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _setup_log(log_file: Path) -> logging.Handler:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    _log.addHandler(handler)
    _log.setLevel(logging.INFO)
    _log.propagate = False
    return handler


def _connect(scheduler: str) -> Any:
    """Connect to an existing Dask scheduler, or raise ClusterError."""
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout="20s")
    except (OSError, RuntimeError) as exc:
        raise ClusterError(
            f"could not start or reach the Dask scheduler at {scheduler} ({type(exc).__name__}: {exc}); check the "
            "address and that the scheduler is running. Nothing ran and nothing was written."
        ) from exc


def _start_local(workers: int) -> tuple[Any, Any]:
    """Start an embedded LocalCluster of ``workers`` workers and a client of it, or raise ClusterError.

    The scheduler and the workers run in this process (Dask's ``processes=False``):
    a worker only drives its reports (papermill, HTML export, file writes),
    while every notebook runs in a kernel process of its own. So no worker
    process has to start, import papermill and nbconvert, connect or stop, and
    the workers share this process's kernels started ahead and its fork server.
    Each worker has two threads: while one report's cells run, the next waits
    for its turn (:class:`_Slots`) and starts its notebook as soon as they are
    done, while the first one finishes its files.
    """
    from dask.distributed import Client, LocalCluster

    try:
        with warnings.catch_warnings():
            # no dashboard: its HTTP port may be taken by another cluster, which is harmless here
            warnings.filterwarnings("ignore", message=".*already in use", category=UserWarning)
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=2,  # the second: a report waiting for its turn (_Slots)
                processes=False,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return Client(cluster), cluster
    except (OSError, RuntimeError) as exc:
        raise ClusterError(
            f"could not start a local Dask cluster of {workers} workers ({type(exc).__name__}: {exc}); "
            "pass --scheduler to use an existing one."
        ) from exc


def _start_fork_server(threads: int | None) -> Any:
    """Start the fork server the local workers share for their kernels (None where kernels cannot be forked).

    One process imports poolkit and the notebooks' modules for the whole batch;
    with several workers each kernel gets one BLAS thread (``threads`` = 1,
    :func:`poolkit.reporting.run_suite`, ``kernel_threads``). The one the
    command started first thing (:func:`~poolkit.reporting._forkserver.start_early`)
    is taken when its threads match.
    """
    from poolkit.reporting._forkserver import ForkServer, fork_available, server_environment, take_early

    if not fork_available():
        return None
    return take_early(threads) or ForkServer(server_environment(threads))


def run_batch(
    grid: Grid,
    *,
    reports_dir: str | Path = "reports",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    quiet: bool = False,
    log_file: str | Path | None = None,
) -> BatchResult:
    r"""Run every parameter set of a checked grid on a Dask cluster and write the index page.

    Before anything runs or is written, the batch takes the lock of its name
    (``<reports_dir>/.<name>.lock``; a second batch or report of the same name
    is refused at once), checks that ``<reports_dir>/<name>`` is absent or a
    poolkit batch folder (one holding poolkit's ``batch.json``) and that every
    run folder in it is absent or a poolkit report, and connects to
    ``scheduler``; any problem is a ConfigurationError and nothing changes.

    Parameters
    ----------
    grid : Grid
        A grid from :func:`load_grid` without errors.
    reports_dir : str or Path, default "reports"
        Reports go to ``<reports_dir>/<grid.name>/<run-id>/``.
    workers : int, optional
        Worker processes of the embedded LocalCluster (default: the number of
        CPUs, at most the number of runs). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``); its workers
        must see the same file system and have poolkit installed.
    resume : bool, default False
        Skip the runs whose report is complete *and* was produced by the same
        inputs (the inputs key of its manifest: parameters, SHA-256 of the
        notebooks and of every data file the parameters name, poolkit's
        version, git revision and source); redo the others. The log says why
        each run was skipped or redone.
    quiet : bool, default False
        No progress bar; the output of workers and kernels goes to the log file
        instead of the terminal (for cron). Otherwise a progress bar (done /
        failed / remaining) is shown on stderr.
    log_file : str or Path, optional
        Log file (appended to); default ``<reports_dir>/<name>/batch.log``.

    Returns
    -------
    BatchResult
        Every run's status; ``exit_code`` is 0 when all succeeded, else 1.

    Raises
    ------
    ConfigurationError
        If ``grid.errors`` is not empty, a name or run id is not a safe folder
        name, the batch folder or a run folder is not poolkit's, or another run
        holds the name's lock (nothing ran, nothing changed).
    ClusterError
        If the local cluster cannot start or the scheduler cannot be reached
        (nothing ran; no index page or batch manifest is written).

    Notes
    -----
    With ``resume``, a run is skipped if and only if :math:`K_{\text{now}} =
    K_{\text{recorded}}`, the inputs keys of :func:`poolkit.reporting.run_suite`.
    """
    if grid.errors:
        raise ConfigurationError("invalid grid:\n  " + "\n  ".join(grid.errors))
    problems = []
    for value, what in [(grid.name, "batch name"), *((r.run_id, f"{r.source}: run id") for r in grid.runs)]:
        try:
            check_name(value, what=what)
        except ConfigurationError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigurationError("invalid batch:\n  " + "\n  ".join(problems))
    reports_root = Path(reports_dir).resolve()
    batch_dir = reports_root / grid.name
    how = "choose another batch name (--name, or `name:` in the grid file)"
    with folder_lock(batch_dir, how=how):
        refused = foreign_problem(batch_dir, kind="batch", how=how)
        problems = [refused] if refused else [
            problem for run in grid.runs
            if (problem := foreign_problem(batch_dir / run.run_id, kind="report", how="give the run another run_id"))
        ]
        if problems:
            raise ConfigurationError("\n".join(problems))
        return _run_locked(grid, batch_dir, reports_root, workers=workers, scheduler=scheduler, resume=resume,
                           quiet=quiet, log_file=log_file)


def _run_locked(
    grid: Grid,
    batch_dir: Path,
    reports_root: Path,
    *,
    workers: int | None,
    scheduler: str | None,
    resume: bool,
    quiet: bool,
    log_file: str | Path | None,
) -> BatchResult:
    tqdm: Any = _NoBar  # no progress bar: tqdm (and the notebook support it looks for) is not loaded
    if not quiet:
        from tqdm.auto import tqdm as tqdm_auto

        tqdm = tqdm_auto

    started = _dt.datetime.now(_dt.UTC)
    t0 = time.perf_counter()
    records: dict[str, dict[str, Any]] = {}
    decisions: list[tuple[str, str, str]] = []
    todo = []
    code = code_identity() if resume else None
    digests: dict[str, str] = {}
    for run in grid.runs:
        base = {"run_id": run.run_id, "parameters": run.parameters, "varying": run.varying, "source": run.source}
        action, why = "run", "no --resume"
        if resume:
            current = plan_run(grid.notebooks, run.parameters).inputs(code=code, digests=digests)
            action, why = _resume_decision(batch_dir / run.run_id, current)
        decisions.append((action, run.run_id, why))
        if action == "skip":
            manifest = read_json(batch_dir / run.run_id / RUN_MANIFEST) or {}
            records[run.run_id] = {**base, "status": "skipped", "duration": _manifest_duration(manifest)}
            continue
        records[run.run_id] = {**base, "status": "not run", "duration": None, "error": "", "failed_cell": {}}
        todo.append(run)
    client = _connect(scheduler) if todo and scheduler else None  # unreachable: nothing is written
    cluster = None
    try:
        if not batch_dir.exists():  # appears complete, with its batch.json (what makes it poolkit's)
            stamp = started.strftime("%Y%m%d-%H%M%S")
            tmp = unique_path(batch_dir.parent / f".{batch_dir.name}.tmp-{os.getpid()}-{stamp}")
            tmp.mkdir()
            _write_manifest(tmp, grid, records, started, None, workers, scheduler)
            os.rename(tmp, batch_dir)
        log_path = Path(log_file).resolve() if log_file else batch_dir / LOG_FILE
        handler = _setup_log(log_path)
        cluster_failed = False
        try:
            _log.info("batch %s: %d runs, grid %s", grid.name, len(grid.runs), grid.path)
            for name in _clean_stale(batch_dir):
                _log.info("removed stale temporary folder %s", name)
            if resume:
                for action, run_id, why in decisions:
                    _log.info("resume: %s %s: %s", action, run_id, why)
                _log.info("resume: %d complete runs skipped, %d to run", len(grid.runs) - len(todo), len(todo))
            if todo:
                with _output_to(log_path if quiet else None):  # workers and kernels inherit it
                    server = None
                    if client is None:
                        n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
                        threads = 1 if n_workers > 1 else None
                        server = _start_fork_server(threads)
                        # the first reports' kernels start (forked as soon as the server has imported
                        # the common modules) and papermill and nbconvert load while the cluster starts
                        _warm_worker([str(p) for p in grid.notebooks], threads,
                                     server.address if server is not None else None, count=n_workers)
                        client, cluster = _start_local(n_workers)
                        where = f"a LocalCluster of {n_workers} workers"
                    else:
                        where = f"the scheduler at {scheduler}"
                    try:
                        _write_manifest(batch_dir, grid, records, started, None, workers, scheduler)
                        # a local cluster runs this code: what each report records of it is computed once
                        identity = None if cluster is None else {
                            "code": code or code_identity(), "git": git_revision(grid.notebooks[0].parent)}
                        from poolkit.reporting._suite import fixed_identity

                        # the workers of a local cluster are threads of this process: they read it here
                        with (fixed_identity(identity["code"], identity["git"]) if identity
                              else contextlib.nullcontext()):
                            _run_tasks(grid, todo, batch_dir, reports_root, records, client, where, not quiet, tqdm,
                                       server, local=cluster is not None)
                    finally:
                        if cluster is not None:  # its workers stop while their output still goes to the log
                            client.close()
                            cluster.close()
                            client = cluster = None
                        if server is not None:
                            server.close()
        except ClusterError as exc:
            cluster_failed = True
            _log.error("%s", exc)
            raise
        finally:
            finished = _dt.datetime.now(_dt.UTC)
            if not cluster_failed:  # nothing ran: the earlier index page and manifest stay as they were
                _write_manifest(batch_dir, grid, records, started, finished, workers, scheduler)
                write_index(batch_dir, grid, list(records.values()), generated=finished)
            elapsed = time.perf_counter() - t0
            runs = list(records.values())
            failed = [r for r in runs if r["status"] not in ("ok", "skipped")]
            _log.info(
                "batch %s finished in %.1f s: %d ok, %d skipped, %d failed; index %s",
                grid.name,
                elapsed,
                sum(r["status"] == "ok" for r in runs),
                sum(r["status"] == "skipped" for r in runs),
                len(failed),
                batch_dir / INDEX_FILE,
            )
            for r in failed:
                _log.error("FAILED %s: %s", r["run_id"], _short_error(r))
            _log.removeHandler(handler)
            handler.close()
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return BatchResult(batch_dir=batch_dir, runs=runs, exit_code=EXIT_FAILED if failed else EXIT_OK)


class _NoBar:
    """The part of a tqdm progress bar that a quiet batch uses: nothing shown."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _manifest_duration(manifest: Mapping[str, Any]) -> float | None:
    for key in ("duration", "duration_s", "elapsed", "seconds"):
        value = manifest.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    timings = manifest.get("timings")
    if isinstance(timings, Mapping):
        for key in ("total", "total_s", "duration", "elapsed"):
            if isinstance(timings.get(key), (int, float)):
                return float(timings[key])
    return None


def _short_error(record: Mapping[str, Any]) -> str:
    cell = record.get("failed_cell") or {}
    if cell.get("error"):
        return f"{cell['error']} (in {cell.get('notebook', '?')}, cell {cell.get('cell', '?')})"
    if record.get("error"):
        return " ".join(str(record["error"]).split())[:500]
    return str(record["status"])


def _run_tasks(
    grid: Grid,
    todo: list[GridRun],
    batch_dir: Path,
    reports_root: Path,
    records: dict[str, dict[str, Any]],
    client: Any,
    where: str,
    progress: bool,
    tqdm: Any,
    server: Any = None,
    local: bool = False,
) -> None:
    """Run ``todo`` on the cluster of ``client``, recording each outcome as it arrives.

    ``server`` is the local workers' shared fork server, if any; ``local`` tells
    that the cluster is this batch's own (its workers are threads of this
    process, and read the code identity and git revision the batch set).
    """
    from dask.distributed import as_completed

    token = hashlib.sha256(f"{batch_dir}{time.time_ns()}".encode()).hexdigest()[:8]
    bar = tqdm(total=len(todo), desc=grid.name, unit="report", disable=not progress, file=sys.stderr)
    counts = {"ok": 0, "failed": 0}
    try:
        _log.info("running %d reports on %s", len(todo), where)
        notebooks = [str(p) for p in grid.notebooks]
        try:
            n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        except Exception:  # noqa: BLE001 - only used to decide when kernels are started ahead
            n_workers = 1
        threads = 1 if n_workers > 1 else None
        address = server.address if server is not None else None
        # a local cluster's workers and kernels belong to the batch: they hold its process lock
        process_lock = os.environ.get(PROCESS_LOCK_ENV) if local else None
        if not local:  # (a local cluster's workers were got ready with this process)
            with contextlib.suppress(Exception):  # a warm-up that fails only costs time
                client.run(_warm_worker, notebooks, threads, address)  # returns once the kernels are starting
        else:  # n_workers reports run cells at once; each worker's next one waits on its second thread
            _SLOTS[token] = _Slots(n_workers)
        futures = {}
        for position, run in enumerate(todo):
            task = {
                "run_id": run.run_id,
                "name": grid.name,
                "notebooks": [str(p) for p in grid.notebooks],
                "parameters": run.parameters,
                "reports_dir": str(reports_root),
                "output_dir": str(batch_dir / run.run_id),
                # while this report runs, the kernels of a next report start: on each worker of a
                # scheduler, unless fewer reports than workers are left after it; in the batch's own
                # process, whose workers share them, one per report still to start, at most one per worker
                "keep_warm": len(notebooks) * (min(n_workers, len(todo) - position - 1) if local
                                               else int(position < len(todo) - n_workers)),
                "kernel_threads": threads,
                "fork_server": address,
                "process_lock": process_lock,
                "slots": token if local else None,
            }
            future = client.submit(_execute_run, task, key=f"poolkit-{run.run_id}-{token}", pure=False, retries=0)
            futures[future] = run.run_id
        for future in as_completed(list(futures)):
            run_id = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the worker died running it
                outcome = {"run_id": run_id, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "failed_cell": {}}
            records[run_id].update(outcome)
            status = records[run_id]["status"]
            counts["ok" if status == "ok" else "failed"] += 1
            if status == "ok":
                _log.info("ok %s (%.1f s)", run_id, records[run_id].get("duration") or 0.0)
            else:
                _log.warning("failed %s: %s", run_id, _short_error(records[run_id]))
                if progress:
                    bar.write(f"failed {run_id}: {_short_error(records[run_id])}", file=sys.stderr)
            bar.set_postfix(done=counts["ok"], failed=counts["failed"], remaining=len(todo) - sum(counts.values()))
            bar.update(1)
    finally:
        bar.close()
        slots = _SLOTS.pop(token, None)
        if slots is not None:  # (interrupted: the reports still waiting for a turn do not start)
            slots.closed.set()
        with contextlib.suppress(Exception):  # kernels started ahead that no report used
            if local:
                _release_worker(wait=False)
            else:
                client.run(_release_worker)


def _write_manifest(
    batch_dir: Path,
    grid: Grid,
    records: Mapping[str, Mapping[str, Any]],
    started: _dt.datetime,
    finished: _dt.datetime | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    root = grid.path.parent if grid.path else Path.cwd()
    manifest = {
        "kind": BATCH_KIND,
        "name": grid.name,
        "grid_file": str(grid.path) if grid.path else None,
        "grid_sha256": sha256(grid.path) if grid.path and grid.path.is_file() else None,
        "notebooks": {str(nb): sha256(nb) for nb in grid.notebooks if nb.is_file()},
        "parameters": grid.parameters,
        "git": git_revision(root),
        "versions": _versions(),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds") if finished else None,
        "workers": workers,
        "scheduler": scheduler,
        "runs": [
            {k: r.get(k) for k in ("run_id", "source", "parameters", "status", "duration", "error", "failed_cell")}
            for r in records.values()
        ],
    }
    write_text_atomic(batch_dir / BATCH_MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")



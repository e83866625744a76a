"""Run a checked grid on a Dask cluster, resume, record (private)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolkit._parameters import RESERVED_PARAMETERS
from poolkit._runs import failing_cell, git_revision, package_versions, read_json, sha256, write_text_atomic
from poolkit.batch._grid import Grid, GridRun, _canonical, check_name
from poolkit.batch._index import INDEX_FILE, write_index
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
    from poolkit.reporting import run_suite

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
    (``out_dir`` aside). Temporary or failed folders never qualify.
    """
    manifest = read_json(folder / RUN_MANIFEST)
    if not isinstance(manifest, Mapping) or _manifest_status(manifest) != "ok":
        return False
    recorded = manifest.get("parameters")
    if parameters is not None and isinstance(recorded, Mapping) and recorded:
        return _canonical(_without_out_dir(recorded)) == _canonical(_without_out_dir(dict(parameters)))
    return True


def _clean_stale(batch_dir: Path, run_ids: Iterable[str]) -> list[str]:
    """Remove temporary folders left by killed runs; return their names."""
    removed = []
    ids = set(run_ids)
    for entry in batch_dir.iterdir() if batch_dir.is_dir() else []:
        if not entry.is_dir() or not entry.name.startswith("."):
            continue
        if ".failed-" in entry.name:
            continue
        if any(run_id in entry.name for run_id in ids) or "tmp" in entry.name:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


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
    target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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


def _start_client(workers: int, scheduler: str | None) -> tuple[Any, Any]:
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler, timeout="20s"), None
    with warnings.catch_warnings():
        # no dashboard: its HTTP port may be taken by another cluster, which is harmless here
        warnings.filterwarnings("ignore", message=".*already in use", category=UserWarning)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            host="127.0.0.1",
        )
    return Client(cluster), cluster


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
    """Run every parameter set of a checked grid on a Dask cluster and write the index page.

    Parameters
    ----------
    grid : Grid
        A grid from :func:`load_grid` that passed :func:`check_parameters`.
    reports_dir : str or Path, default "reports"
        Reports go to ``<reports_dir>/<grid.name>/<run-id>/``.
    workers : int, optional
        Worker processes of the embedded LocalCluster (default: the number of
        CPUs, at most the number of runs). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``); its workers
        must see the same file system and have poolkit installed.
    resume : bool, default False
        Skip the runs whose folder holds a complete manifest with status ok,
        remove temporary folders left by killed runs, redo the rest.
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
        If ``grid.errors`` is not empty or a run folder would leave the reports folder.
    ClusterError
        If the local cluster cannot start or the scheduler cannot be reached
        (nothing ran; every run is recorded as "not run").
    """
    if grid.errors:
        raise ConfigurationError("invalid grid:\n  " + "\n  ".join(grid.errors))
    from tqdm.auto import tqdm

    reports_root = Path(reports_dir).resolve()
    batch_dir = reports_root / check_name(grid.name, what="batch name")
    batch_dir.mkdir(parents=True, exist_ok=True)
    for run in grid.runs:
        target = (batch_dir / check_name(run.run_id, what="run id")).resolve()
        if target.parent != batch_dir:
            raise ConfigurationError(f"run id {run.run_id!r} would write outside {batch_dir}.")
    log_path = Path(log_file).resolve() if log_file else batch_dir / LOG_FILE
    handler = _setup_log(log_path)
    started = _dt.datetime.now(_dt.UTC)
    t0 = time.perf_counter()
    records: dict[str, dict[str, Any]] = {}
    try:
        _log.info("batch %s: %d runs, grid %s", grid.name, len(grid.runs), grid.path)
        todo = []
        for run in grid.runs:
            base = {"run_id": run.run_id, "parameters": run.parameters, "varying": run.varying, "source": run.source}
            if resume and is_complete(batch_dir / run.run_id, run.parameters):
                manifest = read_json(batch_dir / run.run_id / RUN_MANIFEST) or {}
                records[run.run_id] = {**base, "status": "skipped", "duration": _manifest_duration(manifest)}
                continue
            records[run.run_id] = {**base, "status": "not run", "duration": None, "error": "", "failed_cell": {}}
            todo.append(run)
        if resume:
            removed = _clean_stale(batch_dir, [r.run_id for r in grid.runs])
            for name in removed:
                _log.info("removed stale temporary folder %s", name)
            _log.info("resume: %d complete runs skipped, %d to run", len(grid.runs) - len(todo), len(todo))
        _write_manifest(batch_dir, grid, records, started, None, workers, scheduler)
        if todo:
            with _output_to(log_path if quiet else None):
                _run_tasks(grid, todo, batch_dir, reports_root, records, workers, scheduler, not quiet, tqdm)
    finally:
        finished = _dt.datetime.now(_dt.UTC)
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
    result = BatchResult(batch_dir=batch_dir, runs=runs, exit_code=EXIT_FAILED if failed else EXIT_OK)
    return result


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
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    tqdm: Any,
) -> None:
    from dask.distributed import as_completed

    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    try:
        client, cluster = _start_client(n_workers, scheduler)
    except (OSError, RuntimeError) as exc:
        where = f"the Dask scheduler at {scheduler}" if scheduler else f"a local Dask cluster of {n_workers} workers"
        hint = (
            "check the address and that the scheduler is running"
            if scheduler
            else "when calling run_batch from a script, guard it with `if __name__ == '__main__':`"
        )
        raise ClusterError(f"could not start or reach {where} ({type(exc).__name__}: {exc}); {hint}.") from exc
    token = hashlib.sha256(f"{batch_dir}{time.time_ns()}".encode()).hexdigest()[:8]
    bar = tqdm(total=len(todo), desc=grid.name, unit="report", disable=not progress, file=sys.stderr)
    counts = {"ok": 0, "failed": 0}
    try:
        _log.info("running %d reports on %s", len(todo), scheduler or f"a LocalCluster of {n_workers} workers")
        futures = {}
        for run in todo:
            task = {
                "run_id": run.run_id,
                "name": grid.name,
                "notebooks": [str(p) for p in grid.notebooks],
                "parameters": run.parameters,
                "reports_dir": str(reports_root),
                "output_dir": str(batch_dir / run.run_id),
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
        client.close()
        if cluster is not None:
            cluster.close()


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



"""Run the report notebooks into one report folder, atomically (private)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import datetime as _dt
import html as _html
import json
import os
import platform
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from poolkit._parameters import problem_message
from poolkit._runs import (
    PROCESS_LOCK_ENV,
    REPORT_KIND,
    RunPlan,
    check_name,
    folder_kind,
    folder_lock,
    foreign_problem,
    git_revision,
    package_versions,
    plan_run,
    read_json,
    unique_path,
)
from poolkit.exceptions import ConfigurationError, ReportError
from poolkit.reporting._display import figure_html
from poolkit.reporting._execute import _execute, kernel_key
from poolkit.reporting._html import FONT_STACK, _export_html
from poolkit.reporting._kernel import KERNEL_NAME, kernel_supply
from poolkit.reporting._notebooks import NOTEBOOK_GLOB, list_notebooks, notebooks_dir
from poolkit.reporting._outputs import SUMMARY_FILE, jsonable

MANIFEST_FILE = "manifest.json"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _default_notebooks_dir() -> Path:
    """Return the default notebooks folder: ``./notebooks`` when it holds some, else poolkit's own."""
    here = Path.cwd() / "notebooks"
    if any(here.glob(NOTEBOOK_GLOB)):
        return here
    return notebooks_dir()


def _resolve_notebooks(notebooks: Iterable[str | Path] | None, folder: Path | None = None) -> list[Path]:
    """Find the notebooks to run: every ``NN_*.ipynb`` of ``folder`` or those named (paths, names, prefixes)."""
    if folder is None:
        folder = _default_notebooks_dir()
        available = sorted(folder.glob(NOTEBOOK_GLOB))
        if notebooks is None and not available:
            raise ConfigurationError(
                f"no notebook named NN_name.ipynb in {folder}; the installation lacks its notebooks. Pass "
                "`notebooks_dir` (--notebooks-dir), e.g. a folder made by `poolkit notebooks copy DIR`."
            )
    else:
        available = list_notebooks(folder)
    if notebooks is None:
        return available
    if isinstance(notebooks, (str, Path)):
        notebooks = [notebooks]
    found: list[Path] = []
    problems: list[str] = []
    for item in notebooks:
        path = Path(item)
        candidates = [path, folder / path, folder / f"{path}.ipynb"]
        try:
            hit = next((c for c in candidates if c.is_file() and c.suffix == ".ipynb"), None)
            if hit is None and path.parent == Path("."):  # a prefix such as "01"
                prefixed = sorted(folder.glob(f"{path.name}*.ipynb"))
                hit = prefixed[0] if len(prefixed) == 1 else None
        except (OSError, ValueError):  # a NUL or an over-long name
            hit = None
        if hit is None:
            # (imported here: it loads pandas, which a report process need not)
            from poolkit._validation import did_you_mean

            names = [p.name for p in available]
            problems.append(f"notebook {str(item)!r} not found (looked in {folder}).{did_you_mean(path.name, names)}")
        elif hit.resolve() not in [f.resolve() for f in found]:
            found.append(hit)
    if problems or not found:
        raise ConfigurationError("\n".join(problems) or "`notebooks` is empty; name at least one notebook.")
    stems = [p.stem for p in found]
    if len(set(stems)) != len(stems):
        raise ConfigurationError(f"two notebooks share a name {stems}; each needs its own report folder.")
    return found


def _environment() -> dict[str, Any]:
    import poolkit

    return {
        "poolkit_version": poolkit.__version__,
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "packages": dict(package_versions()),
        "kernel": {"name": KERNEL_NAME, "argv0": sys.executable},
    }


def _retarget(executed: Path, old: str, new: str) -> None:
    """Point the injected ``out_dir`` of an executed notebook at the folder it ends up in."""
    if not executed.is_file():
        return
    nb = json.loads(executed.read_text(encoding="utf-8"))
    changed = False
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", ""))
            if old in source:
                cell["source"] = source.replace(old, new)
                changed = True
    if changed:
        executed.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_index(folder: Path, manifest: Mapping[str, Any]) -> Path:
    """Write a static index page: one row per notebook with status, duration and recorded figures."""
    esc = _html.escape
    rows = []
    for entry in manifest["notebooks"]:
        stem = Path(entry["output"]).stem
        link = f'<a href="{esc(entry["html"])}">{esc(stem)}</a>' if entry.get("html") else esc(stem)
        summary_file = folder / entry["out_dir"] / SUMMARY_FILE if entry.get("out_dir") else None
        figures = ""
        if summary_file is not None and summary_file.is_file():
            values = json.loads(summary_file.read_text(encoding="utf-8"))
            figures = figure_html(values) if isinstance(values, Mapping) and values else ""
        duration = "" if entry.get("duration_s") is None else f"{entry['duration_s']:.1f} s"
        rows.append(f"<tr><td>{link}</td><td>{esc(entry['status'])}</td><td>{duration}</td><td>{figures}</td></tr>")
    data = "".join(f"<li><code>{esc(d['source'])}</code> sha256 <code>{esc(str(d.get('sha256')))}</code></li>"
                   for d in manifest.get("data", []))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>poolkit report {esc(manifest['name'])}</title>
<style>body{{font-family:{FONT_STACK};margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}
table.figures{{font-size:.9em}}table.figures th{{text-align:left;font-weight:normal;color:#444}}
table.figures td{{text-align:right;font-variant-numeric:tabular-nums}}</style></head>
<body><h1>poolkit report <code>{esc(manifest['name'])}</code></h1>
<p>Status: <b>{esc(manifest['status'])}</b> &middot; started {esc(manifest['started'])} &middot;
{manifest['duration_s']:.1f} s &middot; poolkit {esc(manifest['poolkit_version'])}</p>
<table><tr><th>notebook</th><th>status</th><th>duration</th><th>key figures</th></tr>
{''.join(rows)}</table><h2>Data</h2><ul>{data}</ul>
<p>Full details in <a href="{MANIFEST_FILE}">{MANIFEST_FILE}</a>. Generated; regenerate, never hand-edit.</p>
</body></html>
"""
    path = folder / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_suite(
    *,
    name: str = "sample",
    notebooks: Sequence[str | Path] | None = None,
    parameters: Mapping[str, Any] | None = None,
    notebooks_dir: str | Path | None = None,
    reports_dir: str | Path = "reports",
    output_dir: str | Path | None = None,
    html: bool = True,
    progress: bool = True,
    workers: int | None = None,
    prestart: bool = True,
    keep_warm: int = 0,
    kernel_threads: int | None = None,
) -> Path:
    r"""Execute the report notebooks into ``reports/<name>/``, atomically.

    Each notebook ``NN_*.ipynb`` of the notebooks folder (or each one given) is executed with
    :func:`run_notebook` into ``<report>/<stem>.ipynb``, exported to
    ``<report>/<stem>.html`` (no code cells, figures embedded, no remote script)
    and given ``out_dir = <report>/<stem>/`` for the tables and figures it saves.
    ``manifest.json`` records parameters, versions, data checksums, timings and
    the *inputs key* of the run, and ``index.html`` links the pages.

    Notebooks run in parallel on ``workers`` threads (longest first, by the
    timings of the earlier report of the same name, else by the estimate in
    each notebook's metadata), each in a kernel of its own that is shut down
    afterwards and never reused, so no state crosses notebooks. With
    ``prestart`` the kernels are started ahead, one per worker plus one, with
    poolkit, pandas, numpy, scipy and matplotlib imported: on Linux each is
    forked from a process of the run that imported them once (no notebook code
    ever ran in it), elsewhere each imports them while earlier notebooks run.
    The tables a notebook saves are the same either way.

    The run writes into a hidden sibling folder and renames it into place only
    when every notebook succeeded (an earlier report of the same name is then
    replaced). On failure the partial run is moved to ``<name>.failed-<time>/``
    (the executed notebook keeps the failing cell, the manifest says
    ``"status": "failed"``) and the earlier report is left untouched.

    Only a report folder that poolkit wrote (one holding poolkit's
    ``manifest.json``) is ever replaced: a folder, file or link of that name
    that is anything else is refused before anything runs, and nothing outside
    ``reports_dir/name`` is moved or deleted. While a run writes a report, it
    holds an exclusive lock (``reports_dir/.<name>.lock``); a second run of the
    same name is refused at once. Every file written follows the umask.

    Parameters
    ----------
    name : str, default "sample"
        Report name: the folder ``reports_dir/name``. 1-100 letters, digits,
        ``.``, ``_`` or ``-``, starting with a letter or digit.
    notebooks : sequence of str or Path, optional
        Notebooks to run (paths, names in the notebooks folder or prefixes such
        as ``"01"``); default every ``NN_*.ipynb`` of the notebooks folder.
    parameters : mapping of str to value, optional
        Shared parameters; each notebook gets those it declares. A parameter
        that no notebook declares is an error; ``out_dir`` is set by the run.
    notebooks_dir : str or Path, optional
        Folder of the notebooks, e.g. your own copies made by
        :func:`copy_notebooks`. Default: ``./notebooks`` when the current
        folder has one with numbered notebooks, else the notebooks shipped with
        poolkit (:func:`notebooks_dir`).
    reports_dir : str or Path, default "reports"
        Folder holding the reports.
    output_dir : str or Path, optional
        Exact report folder, overriding ``reports_dir/name``; its last part
        follows the same naming rule.
    html : bool, default True
        Export each executed notebook to HTML.
    progress : bool, default True
        Print one line per notebook (to stderr) and, with one worker,
        papermill's progress bar.
    workers : int, optional
        Notebooks run at the same time; default the number of CPUs (at most
        the number of notebooks).
    prestart : bool, default True
        Start the kernels ahead, with the common modules imported; False starts
        each kernel when its notebook begins, bare (as ``papermill`` does).
    keep_warm : int, default 0
        After a successful run, leave this many kernels started ahead for the
        first notebooks of the next runs in this process (a batch's workers):
        for notebooks 1, 2, ... of the suite, again from the first after the
        last. Only within a batch: a run of its own keeps no kernels, which
        would outlive it.
    kernel_threads : int, optional
        Threads of BLAS, OpenMP and numexpr in each kernel (their
        ``*_NUM_THREADS`` variables, unless set already); default 1 when
        notebooks run side by side (``workers`` > 1), so that they do not
        compete for the cores, else the libraries' own default.

    Returns
    -------
    Path
        The report folder.

    Raises
    ------
    ConfigurationError
        Before anything runs, with every problem listed: a notebook is missing,
        a parameter is declared by no notebook or has the wrong type, ``name``
        is not a safe folder name, the report folder exists and is not a
        poolkit report, or another run is writing it.
    ReportError
        If a notebook fails; the message names the notebook, the failing cell
        and its error, and the failed folder kept.

    Notes
    -----
    The manifest stores the SHA-256 digest :math:`H(f)` of every data file
    :math:`f` named by a parameter, so a report can be traced to the exact
    bytes it read (``sha256sum <file>`` reproduces it), and the inputs key

    .. math:: K = H\big(\text{json}(p, \{H(n_i)\}, \{H(f_j)\}, v, g, H(\text{src}))\big)

    of the parameters :math:`p` each notebook receives, the notebooks
    :math:`n_i`, the data files :math:`f_j`, poolkit's version :math:`v`, git
    revision :math:`g` and source; ``poolkit batch --resume`` reruns a report
    whenever :math:`K` changed.

    References
    ----------
    .. [1] Rule, A. et al. (2019). Ten simple rules for writing and sharing
       computational analyses in Jupyter Notebooks. PLoS Comput. Biol. 15(7).

    Examples
    --------
    >>> run_suite(name="../elsewhere", notebooks=[])
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ConfigurationError: invalid report configuration:
      report name '../elsewhere' is not a safe folder name: it contains '/' (a path part); ...
    """
    problems: list[str] = []
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        problems.append(f"`workers` must be a positive integer, got {workers!r}; e.g. --workers 2.")
    if kernel_threads is not None and (isinstance(kernel_threads, bool) or not isinstance(kernel_threads, int)
                                       or kernel_threads < 1):
        problems.append(f"`kernel_threads` must be a positive integer, got {kernel_threads!r}; e.g. 1.")
    if output_dir is not None:
        final, what, how = Path(output_dir), "report folder name", "pass another `output_dir`"
    else:
        final, what, how = Path(reports_dir) / str(name), "report name", "choose another --name"
    try:
        check_name(final.name if output_dir is not None else name, what=what)
    except ConfigurationError as exc:
        problems.append(f"{exc} To fix it, {how}.")
    given = dict(parameters or {})
    paths: list[Path] = []
    try:
        paths = _resolve_notebooks(notebooks, None if notebooks_dir is None else Path(notebooks_dir))
    except ConfigurationError as exc:
        problems.append(str(exc))
    plan: RunPlan | None = None
    if paths:
        try:
            plan = plan_run(paths, given)
        except ConfigurationError as exc:
            problems.append(str(exc))
        else:
            problems += [problem_message(p, paths) for p in plan.problems]
    if problems:
        raise ConfigurationError("invalid report configuration:\n  " + "\n  ".join(problems))
    assert plan is not None
    if os.environ.get(PROCESS_LOCK_ENV) is None:
        # not a part of an enclosing run (a batch): kernels kept for "the next run" would hold this
        # run's process lock (folder_lock) after it ends, and a rerun of the name would wait for them
        keep_warm = 0
    with folder_lock(final, how=how):
        refused = foreign_problem(final, kind="report", how=how)
        if refused:
            raise ConfigurationError(refused)
        return _run(final, name, given, plan, html=html, progress=progress, workers=workers, prestart=prestart,
                    keep_warm=keep_warm, kernel_threads=kernel_threads)


_IDENTITY: dict[str, Any] = {}
"""The code identity and git revision of the notebooks' folder, when a batch worker knows them (:func:`fixed_identity`)."""


@contextlib.contextmanager
def fixed_identity(code: Mapping[str, Any] | None, git: Any) -> Iterator[None]:
    """Within the block, record ``code`` (``code_identity()``) and ``git`` instead of computing them again.

    A batch computes both once, before its workers start, for all its reports:
    the code its workers run and the revision of its notebooks' folder.
    """
    saved = dict(_IDENTITY)
    if code is not None:
        _IDENTITY["code"] = dict(code)
        _IDENTITY["git"] = git
    try:
        yield
    finally:
        _IDENTITY.clear()
        _IDENTITY.update(saved)


_Hook = Callable[[], None]
_HOOKS: contextvars.ContextVar[tuple[_Hook | None, _Hook | None]] = contextvars.ContextVar("poolkit_report_hooks",
                                                                                        default=(None, None))


@contextlib.contextmanager
def when_cells_done(callback: _Hook, started: _Hook | None = None) -> Iterator[None]:
    """Within the block, a report run by this thread calls ``callback`` as soon as its notebooks' cells are done.

    That is once the kernel of its last notebook has run its last cell (or the
    run has stopped), before the executed notebooks are saved a last time,
    exported to HTML and the report published: a batch then lets its next
    report's notebook start, while this one finishes. ``started`` is called
    once the kernel of its first notebook answers (or the run has stopped
    before). Both may be called more than once.
    """
    token = _HOOKS.set((callback, started))
    try:
        yield
    finally:
        _HOOKS.reset(token)


SPARE_KERNELS = 1
"""Kernels started ahead beyond one per worker: the next notebook's kernel boots while others run."""


def _previous_durations(final: Path) -> dict[str, float]:
    """Durations per notebook in the earlier report of the same name (poolkit's own), to run long ones first."""
    manifest = read_json(final / MANIFEST_FILE) if folder_kind(final) == "report" else None
    if not isinstance(manifest, Mapping):
        return {}
    return {str(e.get("notebook")): float(e["duration_s"]) for e in manifest.get("notebooks") or []
            if isinstance(e, Mapping) and isinstance(e.get("duration_s"), (int, float))}


def _expected_seconds(path: Path) -> float | None:
    """Return the notebook's own estimate of its duration on the sample (metadata ``poolkit.expected_seconds``)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("poolkit", {}).get("expected_seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _schedule(paths: Sequence[Path], durations: Mapping[str, float]) -> list[int]:
    """Order of execution: longest first, so that no long notebook starts last.

    A notebook's expected time is its duration in the earlier report of the same
    name, else the estimate in its metadata (``poolkit.expected_seconds``);
    notebooks with neither run after the others, in suite order.
    """
    expected = {i: durations.get(str(p), _expected_seconds(p)) for i, p in enumerate(paths)}
    known = sorted((i for i, t in expected.items() if t is not None), key=lambda i: -float(expected[i] or 0.0))
    return known + [i for i in range(len(paths)) if expected[i] is None]


class _Runner:
    """Run a suite's notebooks on ``workers`` threads, each in a fresh kernel (started ahead when ``warm``)."""

    def __init__(self, paths: Sequence[Path], order: Sequence[int], workers: int, warm: bool,
                 keep_warm: int = 0, threads: int | None = None) -> None:
        self.paths, self.order, self.workers, self.warm = list(paths), list(order), workers, warm
        self.threads = threads
        self.keep_warm = keep_warm if warm else 0
        self.supply = kernel_supply()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.taken = 0
        self.keys = [kernel_key(p, warm=warm, threads=threads) for p in self.paths]

    def top_up(self) -> None:
        """Keep kernels started ahead for the next notebooks to start: one per worker, plus spares."""
        if not self.warm or self.stop.is_set():
            return
        with self.lock:  # one kernel per worker at first, then the spares for the notebooks next in line
            upcoming = [self.keys[i] for i in self.order[self.taken:max(self.workers, self.taken) + SPARE_KERNELS]]
        for key in dict.fromkeys(upcoming):
            self.supply.ensure(key, upcoming.count(key))

    def took_one(self) -> None:
        """Note that a notebook got its kernel: start the next ones ahead, or stop if the run stopped."""
        with self.lock:
            self.taken += 1
        if self.stop.is_set():  # the run failed or was interrupted while this kernel was booting
            raise _Stopped
        self.top_up()
        if self.keep_warm and self.taken == len(self.paths):  # a batch worker: its next reports' kernels boot now
            nxt = [self.keys[i % len(self.keys)] for i in range(self.keep_warm)]
            for key in dict.fromkeys(nxt):
                self.supply.ensure(key, nxt.count(key))


class _Stopped(Exception):
    """The run stopped before this notebook started."""


def _run(final: Path, name: str, given: Mapping[str, Any], plan: RunPlan, *, html: bool, progress: bool,
         workers: int | None = None, prestart: bool = True, keep_warm: int = 0,
         kernel_threads: int | None = None) -> Path:
    """Run a checked plan into ``final`` (the caller holds its lock and checked it is poolkit's)."""
    paths = plan.notebooks
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    threads = kernel_threads if kernel_threads is not None else (1 if n_workers > 1 else None)
    runner = _Runner(paths, _schedule(paths, _previous_durations(final)), n_workers, prestart, keep_warm, threads)
    runner.top_up()  # the first kernels boot while the run gets ready
    parent = final.parent
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tmp = unique_path(parent / f".{final.name}.tmp-{os.getpid()}-{stamp}")
    tmp.mkdir()
    started = _now()
    entries: list[dict[str, Any]] = []
    for path in paths:
        entries.append({
            "notebook": str(path), "output": f"{path.stem}.ipynb", "html": None,
            "out_dir": f"{path.stem}" if "out_dir" in plan.declared[path] else None,
            "parameters": jsonable(plan.per_notebook[path]), "status": "not run",
            "started": None, "finished": None, "duration_s": None,
        })
    manifest: dict[str, Any] = {
        "kind": REPORT_KIND,
        "name": name,
        "folder": final.name,
        "status": "running",
        "started": _iso(started),
        "finished": None,
        "duration_s": None,
        "parameters": jsonable(dict(given)),
    }
    identity = dict(_IDENTITY)  # (a batch worker's, read in this thread)
    cells_done, started_hook = _HOOKS.get()  # (read in this thread: the notebooks run on others)

    def describe_inputs() -> None:
        """Record what produced the run: environment, git revision, data files, inputs key (as notebooks start)."""
        data = plan.data()
        manifest.update({
            **_environment(),
            "git": identity["git"] if "git" in identity else git_revision(paths[0].parent),
            "data": data,
            "inputs": plan.inputs(data, code=identity.get("code")),
            "execution": {"workers": n_workers, "kernels_started_ahead": prestart, "kernel_threads": threads},
            "notebooks": entries,
        })

    failures: dict[int, BaseException] = {}
    counter = iter(range(1, len(paths) + 1))

    def run_one(i: int) -> None:
        path, entry = paths[i], entries[i]
        if runner.stop.is_set():  # an earlier notebook failed: the run stops
            return
        if progress:
            print(f"[{next(counter)}/{len(paths)}] {path.name}", file=sys.stderr, flush=True)
        params = dict(plan.per_notebook[path])
        if entry["out_dir"]:
            params["out_dir"] = str((tmp / entry["out_dir"]).resolve())
        begin = _now()
        entry["started"], entry["status"] = _iso(begin), "running"
        try:
            _execute(path, tmp / entry["output"], params, progress=progress and n_workers == 1, warm=prestart,
                     threads=threads, on_kernel=runner.took_one,
                     after_cells=cells_done if i == runner.order[-1] else None,
                     on_ready=started_hook if i == runner.order[0] else None)
            entry["status"] = "ok"
        except _Stopped:
            entry["started"], entry["status"] = None, "not run"
            return
        except ReportError as exc:
            entry["status"] = "failed"
            entry["error"] = {"cell_index": getattr(exc, "cell_index", None), "ename": getattr(exc, "ename", ""),
                              "evalue": getattr(exc, "evalue", ""), "message": str(exc)}
            failures[i] = exc
            runner.stop.set()
            for hook in (started_hook, cells_done):  # no other notebook of this run starts
                if hook is not None:
                    hook()
        finally:
            if entry["status"] != "not run":
                end = _now()
                entry["finished"], entry["duration_s"] = _iso(end), round((end - begin).total_seconds(), 3)
        if html and (tmp / entry["output"]).is_file():
            entry["html"] = _export_html(tmp / entry["output"], tmp / f"{path.stem}.html").name

    failure: BaseException | None = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="poolkit-notebook")
    try:
        futures = [pool.submit(run_one, i) for i in runner.order]
        # while the first kernels get ready and the notebooks run: reading the data files (their digests)
        # and the modules that name them (pandas, through poolkit.data) is off the notebooks' path
        describe_inputs()
        for future in futures:
            future.result()
    except BaseException as exc:  # interrupted or an unexpected error: keep what ran
        failure = exc
        runner.stop.set()
        runner.supply.kill_active()  # the running notebooks fail at once and keep their partial output
        pool.shutdown(wait=True, cancel_futures=True)
        for entry in entries:
            if entry["status"] == "running":
                entry["status"] = "failed"
                entry["error"] = {"message": f"{type(exc).__name__}: {exc}"}
    finally:
        pool.shutdown(wait=True)
        if not (runner.keep_warm and failure is None and not failures):  # else kept for the worker's next run
            runner.supply.release(list(dict.fromkeys(runner.keys)))
        for hook in (started_hook, cells_done):
            if hook is not None:
                hook()
    if "inputs" not in manifest:  # interrupted before the inputs were described
        describe_inputs()
    if failure is None and failures:
        failure = failures[min(failures)]  # the first failing notebook of the suite
    finished = _now()
    manifest.update(finished=_iso(finished), duration_s=round((finished - started).total_seconds(), 3),
                    status="failed" if failure is not None else "ok")
    if failure is not None:
        manifest["error"] = str(failure) or type(failure).__name__
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    _write_index(tmp, manifest)

    # publish atomically, or keep the failed run beside the good report
    target = final if failure is None else unique_path(parent / f"{final.name}.failed-{stamp}")
    for entry in entries:
        _retarget(tmp / entry["output"], str(tmp.resolve()), str(target.resolve()))
    if failure is not None:
        failed = target
        os.rename(tmp, failed)
        if progress:
            print(f"report {final.name!r} FAILED; partial run kept in {failed}", file=sys.stderr, flush=True)
        if isinstance(failure, ReportError):
            message = str(failure).replace(str(tmp), str(failed))
            error = ReportError(f"{message}\nThe earlier report {final}, if any, is unchanged.")
            for attr in ("notebook", "cell_index", "ename", "evalue"):
                setattr(error, attr, getattr(failure, attr, None))
            error.output = str(failed / Path(str(getattr(failure, "output", ""))).name)  # type: ignore[attr-defined]
            error.failed_dir = str(failed)  # type: ignore[attr-defined]
            raise error from None
        raise failure
    _publish(tmp, final, stamp)
    if progress:
        print(f"report {final.name!r} written to {final}", file=sys.stderr, flush=True)
    return final


def _publish(tmp: Path, final: Path, stamp: str) -> None:
    """Rename the finished run ``tmp`` to ``final``, replacing poolkit's earlier report there.

    Should the rename fail, the earlier report is put back and the finished run
    is kept, visible, in ``<name>.unpublished-<time>/``.
    """
    parent = final.parent
    old = None
    if os.path.lexists(final):  # checked under the lock: poolkit's own report
        old = unique_path(parent / f".{final.name}.old-{os.getpid()}-{stamp}")
        os.rename(final, old)
    try:
        os.rename(tmp, final)
    except OSError as exc:
        if old is not None:
            os.rename(old, final)
        kept = unique_path(parent / f"{final.name}.unpublished-{stamp}")
        os.rename(tmp, kept)
        error = ReportError(f"the report is complete but could not be renamed to {final} ({exc.strerror}); "
                            f"it is kept in {kept}.")
        error.failed_dir = str(kept)  # type: ignore[attr-defined]
        raise error from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

"""Run the report notebooks into one report folder, atomically (private)."""

from __future__ import annotations

import datetime as _dt
import html as _html
import json
import os
import platform
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from poolkit._parameters import problem_message
from poolkit._runs import (
    REPORT_KIND,
    RunPlan,
    check_name,
    folder_lock,
    foreign_problem,
    git_revision,
    package_versions,
    plan_run,
    unique_path,
)
from poolkit._validation import did_you_mean
from poolkit.exceptions import ConfigurationError, ReportError
from poolkit.reporting._execute import _execute
from poolkit.reporting._html import _export_html
from poolkit.reporting._kernel import KERNEL_NAME
from poolkit.reporting._outputs import SUMMARY_FILE, format_figure, jsonable

MANIFEST_FILE = "manifest.json"
_NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _default_notebooks_dir() -> Path:
    here = Path.cwd() / "notebooks"
    if any(here.glob(_NOTEBOOK_GLOB)):
        return here
    return Path(__file__).resolve().parents[2] / "notebooks"


def _resolve_notebooks(notebooks: Iterable[str | Path] | None) -> list[Path]:
    folder = _default_notebooks_dir()
    available = sorted(folder.glob(_NOTEBOOK_GLOB))
    if notebooks is None:
        if not available:
            raise ConfigurationError(
                f"no notebook named NN_name.ipynb in {folder}; run from the project folder or pass `notebooks`."
            )
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
            figures = "<br>".join(f"{esc(str(k))}: {esc(format_figure(v))}" for k, v in values.items())
        duration = "" if entry.get("duration_s") is None else f"{entry['duration_s']:.1f} s"
        rows.append(f"<tr><td>{link}</td><td>{esc(entry['status'])}</td><td>{duration}</td><td>{figures}</td></tr>")
    data = "".join(f"<li><code>{esc(d['source'])}</code> sha256 <code>{esc(str(d.get('sha256')))}</code></li>"
                   for d in manifest.get("data", []))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>poolkit report {esc(manifest['name'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}</style></head>
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
    reports_dir: str | Path = "reports",
    output_dir: str | Path | None = None,
    html: bool = True,
    progress: bool = True,
) -> Path:
    r"""Execute the report notebooks into ``reports/<name>/``, atomically.

    Each notebook ``notebooks/NN_*.ipynb`` (or each one given) is executed with
    :func:`run_notebook` into ``<report>/<stem>.ipynb``, exported to
    ``<report>/<stem>.html`` (no code cells, figures embedded, no remote script)
    and given ``out_dir = <report>/<stem>/`` for the tables and figures it saves.
    ``manifest.json`` records parameters, versions, data checksums, timings and
    the *inputs key* of the run, and ``index.html`` links the pages.

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
        Notebooks to run (paths, names in ``notebooks/`` or prefixes such as
        ``"01"``); default every ``notebooks/NN_*.ipynb``.
    parameters : mapping of str to value, optional
        Shared parameters; each notebook gets those it declares. A parameter
        that no notebook declares is an error; ``out_dir`` is set by the run.
    reports_dir : str or Path, default "reports"
        Folder holding the reports.
    output_dir : str or Path, optional
        Exact report folder, overriding ``reports_dir/name``; its last part
        follows the same naming rule.
    html : bool, default True
        Export each executed notebook to HTML.
    progress : bool, default True
        Print one line per notebook and papermill's progress bar (to stderr).

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
        paths = _resolve_notebooks(notebooks)
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
    with folder_lock(final, how=how):
        refused = foreign_problem(final, kind="report", how=how)
        if refused:
            raise ConfigurationError(refused)
        return _run(final, name, given, plan, html=html, progress=progress)


def _run(final: Path, name: str, given: Mapping[str, Any], plan: RunPlan, *, html: bool, progress: bool) -> Path:
    """Run a checked plan into ``final`` (the caller holds its lock and checked it is poolkit's)."""
    paths = plan.notebooks
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
    data = plan.data()
    manifest: dict[str, Any] = {
        "kind": REPORT_KIND,
        "name": name,
        "folder": final.name,
        "status": "running",
        "started": _iso(started),
        "finished": None,
        "duration_s": None,
        "parameters": jsonable(dict(given)),
        **_environment(),
        "git": git_revision(paths[0].parent),
        "data": data,
        "inputs": plan.inputs(data),
        "notebooks": entries,
    }
    failure: BaseException | None = None
    try:
        for i, (path, entry) in enumerate(zip(paths, entries, strict=True), start=1):
            if progress:
                print(f"[{i}/{len(paths)}] {path.name}", file=sys.stderr, flush=True)
            params = dict(plan.per_notebook[path])
            if entry["out_dir"]:
                params["out_dir"] = str((tmp / entry["out_dir"]).resolve())
            begin = _now()
            entry["started"], entry["status"] = _iso(begin), "running"
            try:
                _execute(path, tmp / entry["output"], params, progress=progress)
                entry["status"] = "ok"
            except ReportError as exc:
                entry["status"] = "failed"
                entry["error"] = {"cell_index": getattr(exc, "cell_index", None), "ename": getattr(exc, "ename", ""),
                                  "evalue": getattr(exc, "evalue", ""), "message": str(exc)}
                failure = exc
            finally:
                end = _now()
                entry["finished"], entry["duration_s"] = _iso(end), round((end - begin).total_seconds(), 3)
            if html and (tmp / entry["output"]).is_file():
                entry["html"] = _export_html(tmp / entry["output"], tmp / f"{path.stem}.html").name
            if failure is not None:
                break
    except BaseException as exc:  # interrupted or an unexpected error: keep what ran
        failure = exc
        for entry in entries:
            if entry["status"] == "running":
                entry["status"] = "failed"
                entry["error"] = {"message": f"{type(exc).__name__}: {exc}"}
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

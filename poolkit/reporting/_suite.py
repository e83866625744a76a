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

from poolkit._parameters import (
    RESERVED_PARAMETERS,
    conform_parameters,
    declared_parameters,
    parameter_spec,
    problem_message,
)
from poolkit._runs import git_revision, package_versions, sha256
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
        hit = next((c for c in candidates if c.is_file() and c.suffix == ".ipynb"), None)
        if hit is None and path.parent == Path("."):  # a prefix such as "01"
            prefixed = sorted(folder.glob(f"{path.name}*.ipynb"))
            hit = prefixed[0] if len(prefixed) == 1 else None
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


def _is_data_source(name: str, value: object) -> bool:
    """Tell whether a parameter names a data file: ``source``, ``*_source`` or a sample name."""
    if not isinstance(value, str) or not value:
        return False
    return name == "source" or name.endswith("_source") or value == "sample" or value.startswith("sample:")


def _data_entry(source: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"source": source, "path": None, "sha256": None, "bytes": None}
    try:
        from poolkit.data import source_path

        path = Path(source_path(source))
    except Exception as exc:  # unknown sample name, data module missing, ...
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    entry["path"] = str(path)
    if path.is_file():
        entry["sha256"] = sha256(path)
        entry["bytes"] = path.stat().st_size
    else:
        entry["error"] = f"file {path} does not exist"
    return entry


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


def _unique_sibling(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


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
    ``manifest.json`` records parameters, versions, data checksums and timings,
    and ``index.html`` links the pages.

    The run writes into a hidden sibling folder and renames it into place only
    when every notebook succeeded (an earlier report of the same name is then
    replaced). On failure the partial run is moved to ``<name>.failed-<time>/``
    (the executed notebook keeps the failing cell, the manifest says
    ``"status": "failed"``) and the earlier report is left untouched.

    Parameters
    ----------
    name : str, default "sample"
        Report name: the folder ``reports_dir/name``.
    notebooks : sequence of str or Path, optional
        Notebooks to run (paths, names in ``notebooks/`` or prefixes such as
        ``"01"``); default every ``notebooks/NN_*.ipynb``.
    parameters : mapping of str to value, optional
        Shared parameters; each notebook gets those it declares. A parameter
        that no notebook declares is an error; ``out_dir`` is set by the run.
    reports_dir : str or Path, default "reports"
        Folder holding the reports.
    output_dir : str or Path, optional
        Exact report folder, overriding ``reports_dir/name``.
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
        If a notebook is missing, a parameter is declared by no notebook or has
        the wrong type, or ``name`` is not a plain folder name; nothing runs.
    ReportError
        If a notebook fails; the message names the notebook, the failing cell
        and its error, and the failed folder kept.

    Notes
    -----
    The manifest stores the SHA-256 digest :math:`H(f)` of every data file
    :math:`f` behind a ``source`` parameter, so a report can be traced to the
    exact bytes it read: ``sha256sum <file>`` reproduces it.

    References
    ----------
    .. [1] Rule, A. et al. (2019). Ten simple rules for writing and sharing
       computational analyses in Jupyter Notebooks. PLoS Comput. Biol. 15(7).

    Examples
    --------
    >>> run_suite(name="../elsewhere", notebooks=[])
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ConfigurationError: report name '../elsewhere' must be a plain folder name ...
    """
    if output_dir is not None:
        final = Path(output_dir)
    else:
        if not name or name.startswith(".") or Path(name).name != name or name in ("..",):
            raise ConfigurationError(
                f"report name {name!r} must be a plain folder name (no '/', not starting with '.'), e.g. 'sample'."
            )
        final = Path(reports_dir) / name
    given = dict(parameters or {})
    shared = dict(given)
    paths = _resolve_notebooks(notebooks)

    # 1. every problem of the configuration, before anything runs
    declared = {p: declared_parameters(p) for p in paths}
    for key, value in list(shared.items()):
        if _is_data_source(key, value) and not str(value).startswith("sample") and Path(value).exists():
            shared[key] = str(Path(value).resolve())  # the kernel runs in the notebook's folder
    per_notebook, found = conform_parameters(declared, shared, reserved=RESERVED_PARAMETERS)
    if found:
        problems = [problem_message(p, paths) for p in found]
        raise ConfigurationError("invalid report configuration:\n  " + "\n  ".join(problems))

    # 2. run into a hidden sibling folder
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tmp = parent / f".{final.name}.tmp-{os.getpid()}-{stamp}"
    tmp.mkdir()
    started = _now()
    sources: dict[str, None] = {}
    entries: list[dict[str, Any]] = []
    for path in paths:
        effective = {k: parameter_spec(info)[1] for k, info in declared[path].items()}
        effective.update(per_notebook[path])
        for key, value in effective.items():
            if _is_data_source(key, value):
                sources[value] = None
        entries.append({
            "notebook": str(path), "output": f"{path.stem}.ipynb", "html": None,
            "out_dir": f"{path.stem}" if "out_dir" in declared[path] else None,
            "parameters": jsonable(per_notebook[path]), "status": "not run",
            "started": None, "finished": None, "duration_s": None,
        })
    manifest: dict[str, Any] = {
        "name": name,
        "folder": final.name,
        "status": "running",
        "started": _iso(started),
        "finished": None,
        "duration_s": None,
        "parameters": jsonable(given),
        **_environment(),
        "git": git_revision(paths[0].parent),
        "data": [_data_entry(s) for s in sources],
        "notebooks": entries,
    }
    failure: BaseException | None = None
    try:
        for i, (path, entry) in enumerate(zip(paths, entries, strict=True), start=1):
            if progress:
                print(f"[{i}/{len(paths)}] {path.name}", file=sys.stderr, flush=True)
            params = dict(per_notebook[path])
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

    # 3. publish atomically, or keep the failed run beside the good report
    target = final if failure is None else _unique_sibling(parent / f"{final.name}.failed-{stamp}")
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
    if final.exists():
        old = parent / f".{final.name}.old-{os.getpid()}-{stamp}"
        os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            os.rename(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, final)
    if progress:
        print(f"report {final.name!r} written to {final}", file=sys.stderr, flush=True)
    return final

r"""Run report notebooks over a grid of parameter sets, in parallel with Dask.

A *grid file* (YAML) names the notebooks, the parameters shared by every run and
the parameter sets to run, as a list and/or a Cartesian ``product`` of lists::

    name: nightly-risk              # reports/<name>/ (default: the file's stem)
    notebooks:                      # paths relative to the grid file (else to the current folder)
      - ../notebooks/02_risk.ipynb
    parameters:                     # shared by every run
      source: sample
    grid:
      - product:                    # 2 x 3 = 6 runs
          assets: [[AAPL, MSFT], [JPM, BAC]]
          level: [0.95, 0.975, 0.99]
      - {assets: [XOM, CVX], level: 0.99, run_id: energy-99}

Each parameter set becomes one report folder ``reports/<name>/<run-id>/``
written by :func:`poolkit.reporting.run_suite` (temporary folder, renamed when
complete, with its ``manifest.json``). Every value is type-checked against the
notebooks' declared parameters before anything runs; runs execute on a Dask
cluster (an embedded :class:`~dask.distributed.LocalCluster` by default, or an
existing scheduler); one failing run never stops the others; ``--resume`` skips
the runs whose folder already holds a complete manifest. The batch writes
``reports/<name>/index.html`` (every run, its parameters, status, duration, key
figures and links) and ``reports/<name>/batch.json`` (the batch manifest).

The command line is ``poolkit batch GRID.yaml`` (:mod:`poolkit.cli`); its exit
codes: 0 every run succeeded, 1 some runs failed, 2 the configuration is invalid
(nothing ran).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import html
import itertools
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolkit._validation import did_you_mean
from poolkit.exceptions import ConfigurationError

__all__ = [
    "BatchResult",
    "ClusterError",
    "Grid",
    "GridRun",
    "check_name",
    "check_parameters",
    "is_complete",
    "load_grid",
    "make_run_id",
    "run_batch",
    "write_index",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

INDEX_FILE = "index.html"
BATCH_MANIFEST = "batch.json"
LOG_FILE = "batch.log"
RUN_MANIFEST = "manifest.json"
SUMMARY_FILE = "summary.json"

#: Parameters the batch sets itself; a grid file may not set them.
RESERVED_PARAMETERS = frozenset({"out_dir"})
#: Grid keys that are not notebook parameters.
RUN_ID_KEY = "run_id"

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SLUG_MAX = 60
_GRID_KEYS = frozenset({"name", "notebooks", "parameters", "grid", "description"})

_log = logging.getLogger("poolkit.batch")


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True)
class GridRun:
    """One parameter set of a grid: its run id and the parameters passed to the notebooks.

    Attributes
    ----------
    run_id : str
        Folder name of the run under ``reports/<name>/`` (filesystem-safe, unique).
    parameters : dict
        Shared parameters updated with the set's own values (without ``out_dir``).
    varying : dict
        The set's own values (what distinguishes it from the other runs).
    source : str
        Where the set comes from in the grid file, e.g. ``grid[0].product #3``.
    """

    run_id: str
    parameters: dict[str, Any]
    varying: dict[str, Any]
    source: str


@dataclass
class Grid:
    """A parsed grid file: the batch name, the notebooks and every run.

    Attributes
    ----------
    name : str
        Batch name; reports go to ``<reports_dir>/<name>/``.
    notebooks : list of Path
        Absolute paths of the notebooks each run executes, in order.
    parameters : dict
        Parameters shared by every run.
    runs : list of GridRun
        One entry per parameter set, in grid order.
    path : Path or None
        The grid file, when read from a file.
    errors : list of str
        Problems found while reading (empty when the grid is valid); every
        problem is listed, not only the first.
    """

    name: str
    notebooks: list[Path]
    parameters: dict[str, Any]
    runs: list[GridRun]
    path: Path | None = None
    errors: list[str] = field(default_factory=list)


def check_name(value: object, *, what: str = "name") -> str:
    """Return ``value`` if it is a safe single folder name, else raise ConfigurationError."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None or not _SAFE_ID.match(text) or ".." in text:
        raise ConfigurationError(
            f"{what} {value!r} is not a safe folder name: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..', '/' or spaces (e.g. 'nightly-risk')."
        )
    return text


def _slug_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return "-".join(f"{_slug_value(k)}-{_slug_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        shown = "-".join(_slug_value(v) for v in value[:3]) or "none"
        return shown + (f"-and{len(value) - 3}" if len(value) > 3 else "")
    return str(value) if str(value) else "empty"


def _canonical(parameters: Mapping[str, Any]) -> str:
    return json.dumps(parameters, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=str)


def make_run_id(varying: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> str:
    r"""Build a readable, unique and filesystem-safe run id from parameter values.

    Parameters
    ----------
    varying : mapping of str to value
        The values that distinguish this run (they make the readable slug).
    parameters : mapping of str to value, optional
        Every parameter of the run (defaults to ``varying``); they make the hash,
        so two runs that differ in any parameter get different ids.

    Returns
    -------
    str
        ``<slug>-<hash>``: the slug keeps letters, digits, ``.`` and ``-`` of
        ``name-value`` pairs (at most 60 characters; lists show
        their first 3 items), the hash is the first 8 hex
        digits of the SHA-256 of the canonical JSON of ``parameters``.

    Notes
    -----
    The id never contains ``/``, ``\``, ``..`` or spaces, never starts with a
    dot, and depends only on the parameter values (not on their order in the
    file), so the same grid gives the same ids on every machine and run:

    .. math:: \text{id} = \text{slug}(p_{\text{varying}}) \,\|\, \text{-} \,\|\,
              \text{SHA256}(\text{json}(p))_{[0:8]}

    Examples
    --------
    >>> import hashlib
    >>> run_id = make_run_id({"assets": ["AAPL", "MSFT"], "level": 0.99})
    >>> run_id[:-9]
    'assets-AAPL-MSFT_level-0.99'
    >>> run_id[-8:] == hashlib.sha256(b'{"assets":["AAPL","MSFT"],"level":0.99}').hexdigest()[:8]
    True
    >>> make_run_id({"name": "../../etc/passwd"})[:-9]
    'name-etc-passwd'
    """
    parameters = dict(varying if parameters is None else parameters)
    parts = [f"{key}-{_slug_value(value)}" for key, value in varying.items()]
    slug = "_".join(parts) if parts else "defaults"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", slug)
    slug = re.sub(r"\.{2,}", "-", slug)
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")[:_SLUG_MAX].rstrip("-._") or "run"
    digest = hashlib.sha256(_canonical(parameters).encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def _dates_as_text(value: Any) -> Any:
    """Turn the dates YAML reads from unquoted ``2024-03-29`` into ISO text, everywhere in ``value``."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {_dates_as_text(k): _dates_as_text(v) for k, v in value.items()}
    return value


def _expand(item: Any, where: str, errors: list[str]) -> list[tuple[dict[str, Any], str]]:
    """Expand one grid entry into ``(values, source)`` pairs."""
    if not isinstance(item, Mapping):
        errors.append(f"{where}: expected a mapping of parameter names to values, got {item!r}.")
        return []
    if "product" not in item:
        return [(dict(item), where)]
    extra = sorted(set(item) - {"product"})
    product = item["product"]
    if extra:
        errors.append(f"{where}: a 'product' entry holds only 'product'; move {extra} into it or into its own entry.")
    if not isinstance(product, Mapping) or not product:
        errors.append(f"{where}.product: expected a mapping of parameter names to lists of values, got {product!r}.")
        return []
    axes: list[tuple[str, list[Any]]] = []
    for key, values in product.items():
        if key == RUN_ID_KEY:
            errors.append(f"{where}.product: '{RUN_ID_KEY}' cannot vary in a product (ids are derived from the values).")
            continue
        if not isinstance(values, list) or not values:
            errors.append(
                f"{where}.product.{key}: expected a non-empty list of values, got {values!r} "
                f"(write [{values!r}] for a single value)."
            )
            continue
        axes.append((str(key), values))
    if len(axes) != len(product):
        return []
    out = []
    for i, combo in enumerate(itertools.product(*(values for _, values in axes))):
        out.append(({key: value for (key, _), value in zip(axes, combo, strict=True)}, f"{where}.product #{i}"))
    return out


def load_grid(path: str | Path, *, name: str | None = None) -> Grid:
    r"""Read a grid file into a :class:`Grid` (runs expanded, ids assigned).

    Parameters
    ----------
    path : str or Path
        YAML grid file with keys ``notebooks`` (list of paths relative to the
        file or, when not found there, to the current folder), ``parameters``
        (optional mapping shared by every run), ``grid`` (list of parameter
        sets and/or ``{product: {name: [values...]}}`` entries; a single
        mapping is accepted too) and ``name`` (optional).
        A parameter set may name its folder with ``run_id``.
    name : str, optional
        Batch name overriding the file's ``name`` (default: the file's stem).

    Returns
    -------
    Grid
        The grid; ``grid.errors`` lists every structural problem found (bad
        keys, bad ids, duplicated runs). Values are type-checked separately by
        :func:`check_parameters`.

    Raises
    ------
    ConfigurationError
        If the file is missing or is not valid YAML.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "g.yaml").write_text(
    ...     "notebooks: [a.ipynb]\ngrid:\n  - product: {level: [0.95, 0.99], n: [1, 2, 3]}\n")
    >>> grid = load_grid(folder / "g.yaml")
    >>> grid.name, len(grid.runs), grid.runs[0].run_id
    ('g', 6, 'level-0.95_n-1-...')
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"grid file {str(path)!r} not found; pass the path of a YAML grid file.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"grid file {str(path)!r} is not valid YAML: {exc}") from exc
    data = _dates_as_text(data)
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"grid file {str(path)!r} must be a mapping with keys 'notebooks', 'parameters' and 'grid', got {type(data).__name__}."
        )
    errors: list[str] = []
    unknown = sorted(set(map(str, data)) - _GRID_KEYS)
    for key in unknown:
        errors.append(f"{path.name}: unknown key {key!r}.{did_you_mean(key, _GRID_KEYS)} Allowed: {sorted(_GRID_KEYS)}.")

    batch_name = name if name is not None else data.get("name", path.stem)
    try:
        batch_name = check_name(batch_name, what="batch name")
    except ConfigurationError as exc:
        errors.append(str(exc))
        batch_name = "invalid-name"

    notebooks: list[Path] = []
    raw_notebooks = data.get("notebooks")
    if isinstance(raw_notebooks, str):
        raw_notebooks = [raw_notebooks]
    if not isinstance(raw_notebooks, list) or not raw_notebooks:
        errors.append(f"{path.name}: 'notebooks' must be a non-empty list of notebook paths (relative to the grid file).")
        raw_notebooks = []
    for entry in raw_notebooks:
        nb_file = str(entry) if str(entry).endswith(".ipynb") else f"{entry}.ipynb"
        # relative to the grid file; else (a grid written elsewhere) relative to the current folder
        places = list(dict.fromkeys([(path.parent / nb_file).resolve(), Path(nb_file).resolve()]))
        nb = next((p for p in places if p.is_file()), None)
        if nb is None:
            looked = " or ".join(str(p) for p in places)
            errors.append(f"notebooks: {entry!r} not found (looked for {looked}); paths are relative to the grid file.")
        else:
            notebooks.append(nb)

    shared = data.get("parameters") or {}
    if not isinstance(shared, Mapping):
        errors.append(f"parameters: expected a mapping of parameter names to values, got {shared!r}.")
        shared = {}
    shared = {str(k): v for k, v in shared.items()}
    if RUN_ID_KEY in shared:
        errors.append(f"parameters: '{RUN_ID_KEY}' names one run; set it inside a grid entry, not in shared parameters.")
        shared.pop(RUN_ID_KEY)

    raw_grid = data.get("grid", [{}])
    if isinstance(raw_grid, Mapping):
        raw_grid = [raw_grid]
    if not isinstance(raw_grid, list):
        errors.append(f"grid: expected a list of parameter sets and/or product entries, got {raw_grid!r}.")
        raw_grid = []
    expanded: list[tuple[dict[str, Any], str]] = []
    for i, item in enumerate(raw_grid):
        expanded.extend(_expand(item, f"grid[{i}]", errors))

    runs: list[GridRun] = []
    seen_ids: dict[str, str] = {}
    seen_params: dict[str, str] = {}
    for values, source in expanded:
        values = {str(k): v for k, v in values.items()}
        explicit = values.pop(RUN_ID_KEY, None)
        parameters = {**shared, **values}
        if explicit is not None:
            try:
                run_id = check_name(explicit, what=f"{source}: {RUN_ID_KEY}")
            except ConfigurationError as exc:
                errors.append(str(exc))
                continue
        else:
            run_id = make_run_id(values, parameters)
        key = _canonical(parameters)
        if key in seen_params:
            errors.append(f"{source}: same parameters as {seen_params[key]}; each run must differ.")
            continue
        if run_id in seen_ids:
            errors.append(f"{source}: run id {run_id!r} already used by {seen_ids[run_id]}; ids must be unique.")
            continue
        seen_params[key] = source
        seen_ids[run_id] = source
        runs.append(GridRun(run_id=run_id, parameters=parameters, varying=values, source=source))
    if not runs and not errors:
        errors.append("grid: no parameter set to run; add entries under 'grid'.")
    return Grid(name=batch_name, notebooks=notebooks, parameters=shared, runs=runs, path=path.resolve(), errors=errors)


# --------------------------------------------------------------------------- type checks


def _problem_message(problem: Any, where: str) -> str:
    """Describe a :class:`poolkit.reporting.ParameterProblem` at its place in the grid file."""
    key = problem.name
    if problem.kind == "reserved":
        return f"{where}: '{key}' is set by the batch to each run's report folder; remove it from the grid."
    if problem.kind == "name":
        return f"{where}: {key!r} is not a valid parameter name."
    if problem.kind == "undeclared":
        names = list(problem.declared)
        return f"{where}: no notebook declares a parameter {key!r}.{did_you_mean(key, names)} Declared: {names}."
    messages = []
    for inside, expected, value in problem.mismatches:
        hint = ""
        if expected == "str" and isinstance(value, (int, float, bool)):
            hint = f" (write '{value}' in quotes if you mean the text)"
        messages.append(
            f"{where} (declared in {problem.notebook.name}){inside}: expected {expected}, "
            f"got {type(value).__name__} {value!r}{hint}."
        )
    return " ".join(messages)


def check_parameters(grid: Grid) -> list[str]:
    """Type-check every value of a grid against the notebooks' declared parameters.

    The check is :func:`poolkit.reporting.conform_parameters`, the one
    ``poolkit report`` makes: each parameter must be declared by at least one
    notebook of the grid (a notebook receives only the parameters it declares)
    and, in every notebook that declares it, match the declared type (``str``,
    ``int``, ``float``, ``bool``, ``list[...]``, ``dict[..., ...]``; a parameter
    without annotation takes the type of its default). Ints are accepted where
    a float is declared (YAML dates were read as ISO text by :func:`load_grid`);
    the run's parameters are updated with the converted values. Reserved
    parameters (``out_dir``) are refused.

    Parameters
    ----------
    grid : Grid
        The grid from :func:`load_grid`; its runs' parameters are updated in place.

    Returns
    -------
    list of str
        One message per problem (empty when every value is valid), each naming
        the run, the parameter, the notebook, what was expected and what was
        got; values shared by many runs are reported once.
    """
    from poolkit.reporting import conform_parameters, declared_parameters

    errors: list[str] = []
    declared: dict[Path, dict[str, Any]] = {}
    for nb in grid.notebooks:
        try:
            declared[nb] = declared_parameters(nb)
        except ConfigurationError as exc:
            errors.append(str(exc))
    seen: set[str] = set()
    for run in grid.runs:
        clean, problems = conform_parameters(declared, run.parameters, reserved=RESERVED_PARAMETERS)
        first: dict[str, Any] = {}
        for nb in declared:  # the value as the first notebook declaring it takes it
            for key, value in clean[nb].items():
                first.setdefault(key, value)
        for key, value in first.items():
            run.parameters[key] = value
            if key in run.varying:
                run.varying[key] = value
        reported: set[str] = set()
        for problem in problems:
            key = problem.name
            if key in reported or (problem.kind == "undeclared" and not declared):
                continue  # one message per parameter; nothing is declared when no notebook could be read
            reported.add(key)
            shared = key in grid.parameters and key not in run.varying
            where = f"parameters.{key}" if shared else f"{run.source} ({run.run_id}): {key}"
            msg = _problem_message(problem, where)
            if msg not in seen:
                seen.add(msg)
                errors.append(msg)
    return errors


# --------------------------------------------------------------------------- one run (on a worker)


def _failing_cell(folder: Path, notebook: str | None = None) -> dict[str, str]:
    """Find the first error output in the executed notebooks of ``folder``.

    The cell index counts the cells of the source notebook (papermill's injected
    parameters and error banner cells are skipped).
    """
    from poolkit.reporting import _failing_cell as failing_cell

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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
    manifest = _read_json(folder / RUN_MANIFEST)
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
    from poolkit.reporting import package_versions

    return {"python": platform.python_version(), "poolkit": poolkit.__version__, **package_versions()}


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
                manifest = _read_json(batch_dir / run.run_id / RUN_MANIFEST) or {}
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
    from poolkit.reporting import git_revision, sha256

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
    _write_atomic(batch_dir / BATCH_MANIFEST, json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------- index page


def _collect_summary(folder: Path) -> dict[str, Any]:
    """Merge every ``summary.json`` under a report folder (notebooks' key figures)."""
    figures: dict[str, Any] = {}
    if not folder.is_dir():
        return figures
    for path in sorted(folder.rglob(SUMMARY_FILE)):
        data = _read_json(path)
        if isinstance(data, Mapping):
            figures.update(_flatten(data))
    return figures


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _rel_links(folder: Path, batch_dir: Path) -> list[tuple[str, str]]:
    if not folder.is_dir():
        return []
    pages = sorted(p for p in folder.glob("*.html") if p.name != INDEX_FILE) or sorted(folder.glob("*.ipynb"))
    links = [("report", f"{folder.name}/{INDEX_FILE}")] if (folder / INDEX_FILE).is_file() else []
    return links + [(p.stem, p.relative_to(batch_dir).as_posix()) for p in pages]


def write_index(
    batch_dir: str | Path,
    grid: Grid,
    runs: Sequence[Mapping[str, Any]],
    *,
    generated: _dt.datetime | None = None,
) -> Path:
    """Write ``index.html`` in the batch folder: every run, its figures, links and failures.

    The page is static (inline CSS, no script, no remote resource), so it opens
    from disk offline. Key figures are the merged ``summary.json`` files that
    notebooks write with :func:`poolkit.reporting.record`. The file is written
    to a temporary name and renamed, so a reader never sees half a page.

    Parameters
    ----------
    batch_dir : str or Path
        ``<reports_dir>/<name>/``.
    grid : Grid
        The grid the runs come from.
    runs : sequence of mapping
        Run records as in :attr:`BatchResult.runs`.
    generated : datetime, optional
        Time stamp shown on the page (default: now, UTC).

    Returns
    -------
    Path
        The index file.
    """
    from poolkit.reporting import format_figure

    batch_dir = Path(batch_dir)
    generated = generated or _dt.datetime.now(_dt.UTC)
    esc = html.escape
    figures = {r["run_id"]: _collect_summary(batch_dir / r["run_id"]) for r in runs}
    figure_names = sorted({k for f in figures.values() for k in f})
    varying_names = list(dict.fromkeys(k for r in runs for k in (r.get("varying") or {})))
    figure_labels = [f"{k} (result)" if k in varying_names else k for k in figure_names]
    head = ["run", "status", "duration (s)", *varying_names, *figure_labels, "pages"]
    rows = []
    for r in runs:
        status = str(r["status"])
        folder = batch_dir / r["run_id"]
        links = _rel_links(folder, batch_dir) if status in ("ok", "skipped") else []
        if status not in ("ok", "skipped") and r.get("partial"):
            links = _rel_links(batch_dir / r["partial"], batch_dir)
        link_html = " ".join(f'<a href="{esc(href, quote=True)}">{esc(label)}</a>' for label, href in links) or "&ndash;"
        duration = r.get("duration")
        cells = [
            f'<td id="{esc(r["run_id"], quote=True)}">{esc(r["run_id"])}</td>',
            f'<td class="status {"ok" if status in ("ok", "skipped") else "bad"}">{esc(status)}</td>',
            f'<td class="num">{"" if duration is None else f"{duration:.1f}"}</td>',
            *(f"<td>{esc(format_figure((r.get('varying') or {}).get(k, '')))}</td>" for k in varying_names),
            *(f'<td class="num">{esc(format_figure(figures[r["run_id"]].get(k, "")))}</td>' for k in figure_names),
            f"<td>{link_html}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    failures = []
    for r in runs:
        if r["status"] in ("ok", "skipped"):
            continue
        cell = r.get("failed_cell") or {}
        where = f" in {esc(cell.get('notebook', ''))}, cell {esc(cell.get('cell', ''))}" if cell else ""
        failures.append(
            f'<section class="failure"><h3><a href="#{esc(r["run_id"], quote=True)}">{esc(r["run_id"])}</a>{where}</h3>'
            f"<p>{esc(cell.get('error') or str(r.get('error') or r['status']))}</p>"
            + (f"<pre>{esc(cell['source'])}</pre>" if cell.get("source") else "")
            + (f"<details><summary>full error</summary><pre>{esc(str(r.get('error')))}</pre></details>" if r.get("error") else "")
            + "</section>"
        )
    n_ok = sum(r["status"] in ("ok", "skipped") for r in runs)
    template = (Path(__file__).parent / "templates" / "batch_index.html").read_text(encoding="utf-8")
    page = template.format(
        title=esc(f"poolkit batch · {grid.name}"),
        name=esc(grid.name),
        generated=esc(generated.isoformat(timespec="seconds")),
        grid_file=esc(str(grid.path or "")),
        notebooks=esc(", ".join(nb.name for nb in grid.notebooks)),
        shared=esc(json.dumps(grid.parameters, ensure_ascii=False, default=str)),
        n_runs=len(runs),
        n_ok=n_ok,
        n_failed=len(runs) - n_ok,
        head="".join(f"<th>{esc(h)}</th>" for h in head),
        rows="\n".join(rows),
        failures="\n".join(failures) or "<p>None.</p>",
    )
    path = batch_dir / INDEX_FILE
    _write_atomic(path, page)
    return path

"""Grid files: parameter sets, run ids and their checks (private)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolkit._parameters import RESERVED_PARAMETERS, ParameterProblem, conform_parameters, declared_parameters
from poolkit._runs import check_name
from poolkit.exceptions import ConfigurationError
from poolkit.reporting._notebooks import notebooks_dir

RUN_ID_KEY = "run_id"
"""Grid key that names a run's folder; not a notebook parameter."""

_SLUG_MAX = 60
_GRID_KEYS = frozenset({"name", "notebooks", "parameters", "grid", "description"})


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
    slug = re.sub(r"\.(failed|unpublished)-", r"-\1-", slug)  # names kept runs take
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
        file or, when not found there, to the current folder; a bare name such
        as ``02_risk_statistics`` may name a notebook shipped with poolkit), ``parameters``
        (optional mapping shared by every run), ``grid`` (list of parameter
        sets and/or ``{product: {name: [values...]}}`` entries; a single
        mapping is accepted too) and ``name`` (optional).
        A parameter set may name its folder with ``run_id``.
    name : str, optional
        Batch name overriding the file's ``name`` (default: the file's stem).

    Returns
    -------
    Grid
        The grid; ``grid.errors`` lists every problem found (bad keys, bad ids,
        duplicated runs, and every value that a notebook does not declare or
        of a type other than the declared one, as ``poolkit report`` checks
        them); the runs' values are converted to the declared types.

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
        # (imported here: it loads pandas, which the batch process need not)
        from poolkit._validation import did_you_mean

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
        # relative to the grid file; else (a grid written elsewhere) relative to the current folder; a bare
        # name (02_risk_statistics) may also name a notebook shipped with poolkit
        places = [(path.parent / nb_file).resolve(), Path(nb_file).resolve()]
        if Path(nb_file).name == nb_file:
            places.append((notebooks_dir() / nb_file).resolve())
        places = list(dict.fromkeys(places))
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
    grid = Grid(name=batch_name, notebooks=notebooks, parameters=shared, runs=runs, path=path.resolve(), errors=errors)
    if notebooks and runs:
        errors.extend(_check_grid_parameters(grid))
    return grid


# --------------------------------------------------------------------------- type checks


def _problem_message(problem: ParameterProblem, where: str) -> str:
    """Describe a parameter problem at its place in the grid file."""
    key = problem.name
    if problem.kind == "reserved":
        return f"{where}: '{key}' is set by the batch to each run's report folder; remove it from the grid."
    if problem.kind == "name":
        return f"{where}: {key!r} is not a valid parameter name."
    if problem.kind == "undeclared":
        from poolkit._validation import did_you_mean

        names = list(problem.declared)
        return f"{where}: no notebook declares a parameter {key!r}.{did_you_mean(key, names)} Declared: {names}."
    messages = []
    for inside, expected, value in problem.mismatches:
        hint = ""
        if expected == "str" and isinstance(value, (int, float, bool)):
            hint = f" (write '{value}' in quotes if you mean the text)"
        notebook = problem.notebook.name if problem.notebook is not None else "?"
        messages.append(
            f"{where} (declared in {notebook}){inside}: expected {expected}, "
            f"got {type(value).__name__} {value!r}{hint}."
        )
    return " ".join(messages)


def _check_grid_parameters(grid: Grid) -> list[str]:
    """Type-check every value of a grid against the notebooks' declared parameters.

    The check is the one :func:`poolkit.reporting.check_parameters` and
    ``poolkit report`` make: each parameter must be declared by at least one
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



"""Run notebooks into reports, and save what a notebook wants to keep.

This module is the bridge between the finance modules and the report runs:
notebooks call :func:`save_tables` and :func:`record` to leave tables and key
figures in their ``out_dir``; :func:`run_notebook` executes one parameterised
notebook with papermill (refusing parameters it does not declare), and
:func:`run_suite` executes the notebooks of ``notebooks/`` into a report folder
``reports/<name>/`` with an offline HTML export and a ``manifest.json`` that
makes the run reproducible. A report folder appears only when every notebook
succeeded; a failed run is kept, with the failing cell, beside it.
"""

from __future__ import annotations

import ast
import copy
import datetime as _dt
import functools
import hashlib
import html as _html
import json
import logging
import math
import numbers
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from poolkit._validation import did_you_mean
from poolkit.exceptions import ConfigurationError, ReportError

__all__ = [
    "KERNEL_NAME",
    "RESERVED_PARAMETERS",
    "ParameterProblem",
    "check_parameters",
    "conform_parameters",
    "declared_parameters",
    "format_figure",
    "git_revision",
    "package_versions",
    "record",
    "run_notebook",
    "run_suite",
    "save_tables",
    "sha256",
]

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
KERNEL_NAME = "poolkit"
"""Name of the kernel that runs report notebooks in poolkit's own interpreter."""

_NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "papermill",
    "nbconvert",
    "nbclient",
    "nbformat",
    "ipykernel",
    "jupyter_client",
    "ipywidgets",
    "pyyaml",
    "latex2mathml",
    "dask",
    "distributed",
)


def save_tables(tables: Mapping[str, pd.DataFrame | pd.Series], out_dir: str | Path) -> list[Path]:
    """Save labelled tables as CSV files in ``out_dir``; do nothing when ``out_dir`` is empty.

    Parameters
    ----------
    tables : mapping of str to DataFrame or Series
        File stem -> table. Index and column labels are written as they are.
    out_dir : str or Path
        Folder to write into (created when missing). ``""`` means "do not save".

    Returns
    -------
    list of Path
        The files written (empty when ``out_dir`` is empty).
    """
    if not str(out_dir):
        return []
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, table in tables.items():
        path = folder / f"{stem}.csv"
        table.to_csv(path)
        written.append(path)
    return written


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def record(values: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Record key figures of a notebook run in ``out_dir/summary.json``.

    Report and batch runs collect these figures (e.g. volatility, VaR,
    diversification ratio) into their index page. Keys already in the file are
    updated, others kept, so several cells may record. Values must be numbers,
    strings, booleans or Series/dicts of them; NaN and infinity become ``null``.

    Parameters
    ----------
    values : mapping of str to value
        Figure name -> value.
    out_dir : str or Path
        The notebook's ``out_dir`` parameter; ``""`` means "do not record".

    Returns
    -------
    Path or None
        The summary file, or None when ``out_dir`` is empty.
    """
    if not str(out_dir):
        return None
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUMMARY_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text(encoding="utf-8"))
    current.update(_jsonable(dict(values)))
    path.write_text(json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- parameters

#: Parameters a report run sets itself; ``run_suite`` and batches refuse them from users.
RESERVED_PARAMETERS = frozenset({"out_dir"})

_LIST_NAMES = frozenset({"list", "List", "Sequence", "tuple", "Tuple"})
_DICT_NAMES = frozenset({"dict", "Dict", "Mapping"})
_SCALAR_NAMES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "None": "none", "NoneType": "none"}

# A type tree: None (any plain value), ("str",), ("int",), ("float",), ("bool",), ("none",),
# ("list", item), ("dict", key, value) or ("union", option, ...).
_Spec = tuple[Any, ...] | None


def _parse_annotation(text: str) -> _Spec | bool:
    """Turn an annotation such as ``list[str]`` into a type tree; False when not understood."""

    def walk(node: ast.expr) -> _Spec | bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return False
        if isinstance(node, ast.Constant) and node.value is None:
            return ("none",)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
            left, right = walk(node.left), walk(node.right)
            return False if left is False or right is False else _union(left, right)
        if isinstance(node, (ast.Name, ast.Attribute)):  # str, typing.List
            name = node.attr if isinstance(node, ast.Attribute) else node.id
            if name in _SCALAR_NAMES:
                return (_SCALAR_NAMES[name],)
            if name in _LIST_NAMES:
                return ("list", None)
            if name in _DICT_NAMES:
                return ("dict", None, None)
            return False
        if isinstance(node, ast.Subscript):
            outer = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
            args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            inner = [walk(a) if not (isinstance(a, ast.Constant) and a.value is Ellipsis) else Ellipsis for a in args]
            if any(i is False for i in inner):
                return False
            if outer in ("list", "List", "Sequence"):
                return ("list", inner[0])
            if outer in ("tuple", "Tuple"):  # tuple[X, ...] holds X; other tuples hold anything
                return ("list", inner[0] if len(inner) == 2 and inner[1] is Ellipsis else None)
            if outer in _DICT_NAMES and len(inner) == 2:
                return ("dict", inner[0], inner[1])
            if outer == "Optional":
                return _union(inner[0], ("none",))
            if outer == "Union":
                return _union(*inner)
        return False

    try:
        return walk(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError:
        return False


def _union(*options: _Spec) -> _Spec:
    flat: list[Any] = []
    for option in options:
        if option is None:
            return None  # anything
        flat.extend(option[1:] if option[0] == "union" else [option])
    return ("union", *flat)


def _spec_of_default(default: Any) -> _Spec:
    if isinstance(default, bool):
        return ("bool",)
    if isinstance(default, int):
        return ("int",)
    if isinstance(default, float):
        return ("float",)
    if isinstance(default, str):
        return ("str",)
    if isinstance(default, (list, tuple)):
        return ("list", None)
    if isinstance(default, dict):
        return ("dict", None, None)
    return None


def _describe(spec: _Spec) -> str:
    if spec is None:
        return "a plain value (number, text, bool, None, list or dict)"
    kind = spec[0]
    if kind == "union":
        return " | ".join(_describe(s) for s in spec[1:])
    if kind == "none":
        return "None"
    if kind == "list":
        return "list" if spec[1] is None else f"list[{_describe(spec[1])}]"
    if kind == "dict":
        return "dict" if spec[1] is None and spec[2] is None else f"dict[{_describe(spec[1])}, {_describe(spec[2])}]"
    return str(kind)


def _parameter_spec(info: Mapping[str, Any]) -> tuple[_Spec, Any]:
    """Type tree and default value of one declared parameter.

    The type is the annotation when poolkit understands it, else the type of the
    literal default; a parameter whose default is ``None`` takes any plain value.
    """
    try:
        default = ast.literal_eval(str(info.get("default", "None")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        default = None
    annotation = str(info.get("inferred_type_name") or "None")
    spec = _parse_annotation(annotation) if annotation not in ("None", "") else False
    return (_spec_of_default(default) if spec is False else spec), default


_Mismatch = tuple[str, _Spec, Any]  # (where inside the value, expected type, value found there)


def _conform(value: Any, spec: _Spec, path: str = "") -> tuple[Any, list[_Mismatch]]:
    """Check ``value`` against a type tree; return it as the plain literal papermill writes, and the mismatches.

    An ``int`` is accepted (as ``float``) for a float, a path for a str, a tuple
    for a list; bools are not numbers; list items and dict keys and values are
    checked one by one. Any other object than plain literals is refused.
    """
    if spec is None:  # any plain value
        if value is None or isinstance(value, (bool, str)):
            return value, []
        if isinstance(value, os.PathLike):
            return os.fspath(value), []
        if isinstance(value, numbers.Integral):
            return int(value), []
        if isinstance(value, numbers.Real):
            return float(value), []
        if isinstance(value, (list, tuple)):
            return _conform(value, ("list", None), path)
        if isinstance(value, Mapping):
            return _conform(value, ("dict", None, None), path)
        return value, [(path, spec, value)]
    kind = spec[0]
    if kind == "union":
        for option in spec[1:]:
            converted, problems = _conform(value, option, path)
            if not problems:
                return converted, []
        return value, [(path, spec, value)]
    if kind == "none" and value is None:
        return None, []
    if kind == "str" and isinstance(value, (str, os.PathLike)):
        return os.fspath(value), []
    if kind == "bool" and isinstance(value, bool):
        return value, []
    if kind == "int" and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value), []
    if kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value), []
    if kind == "list" and isinstance(value, (list, tuple)):
        items, problems = [], []
        for i, item in enumerate(value):
            converted, found = _conform(item, spec[1], f"{path}[{i}]")
            items.append(converted)
            problems += found
        return items, problems
    if kind == "dict" and isinstance(value, Mapping):
        out, problems = {}, []
        for key, item in value.items():
            ckey, kfound = _conform(key, spec[1], f"{path} key {key!r}")
            citem, vfound = _conform(item, spec[2], f"{path}[{key!r}]")
            problems += kfound + vfound
            if not kfound:
                out[ckey] = citem
        return out, problems
    return value, [(path, spec, value)]


class _QuietPapermill(logging.Filter):
    """Drop papermill's warnings about parameters that poolkit has already checked."""

    loggers = ("papermill", "papermill.translators")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Passed unknown parameter", "Unable to parse line"))

    def attach(self) -> None:
        for name in self.loggers:
            logging.getLogger(name).addFilter(self)

    def detach(self) -> None:
        for name in self.loggers:
            logging.getLogger(name).removeFilter(self)


def declared_parameters(notebook: str | Path) -> dict[str, dict[str, str]]:
    r"""Read the parameters a notebook declares in its code cell tagged ``parameters``.

    The cell is parsed with Python's own parser: top-level ``name: type =
    default`` and ``name = default`` statements (a ``# type: T`` comment counts
    as an annotation), comments and IPython magics ignored. papermill's line
    parser skips some valid lines, e.g. ``out_dir: str = ""  # "" = do not
    save``; such parameters are still injected by papermill, so they are read
    here. A notebook without a ``parameters`` cell declares nothing.

    Parameters
    ----------
    notebook : str or Path
        The ``.ipynb`` file.

    Returns
    -------
    dict of str to dict
        Name -> ``{"name", "inferred_type_name", "default", "help"}`` (the keys
        of :func:`papermill.inspect_notebook`); ``inferred_type_name`` is
        ``"None"`` for an assignment without annotation.

    Raises
    ------
    ConfigurationError
        If the file does not exist, is not notebook JSON, or its parameters cell
        is not valid Python.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> nb = pathlib.Path(tempfile.mkdtemp()) / "nb.ipynb"
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]},
    ...         "source": 'level: float = 0.95  # 0.95 = 95 %\nn = 3', "outputs": [], "execution_count": None}
    >>> _ = nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    >>> {k: (v["inferred_type_name"], v["default"]) for k, v in declared_parameters(nb).items()}
    {'level': ('float', '0.95'), 'n': ('None', '3')}
    """
    notebook = Path(notebook)
    if not notebook.is_file():
        raise ConfigurationError(
            f"notebook {str(notebook)!r} does not exist; pass the path of an existing .ipynb file."
        )
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
        cells = data.get("cells", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigurationError(f"cannot read the parameters of notebook {notebook.name}: not notebook JSON ({exc}).") from exc
    source = next(
        (c.get("source", "") for c in cells
         if isinstance(c, Mapping) and c.get("cell_type") == "code"
         and "parameters" in c.get("metadata", {}).get("tags", [])),
        None,
    )
    if source is None:
        return {}
    source = "".join(source) if isinstance(source, list) else str(source)
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(source, type_comments=True)
    except SyntaxError as exc:
        raise ConfigurationError(
            f"{notebook.name}: its parameters cell is not valid Python ({exc.msg}, line {exc.lineno})."
        ) from exc
    found: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            default = ast.unparse(node.value) if node.value is not None else "None"
            found[node.target.id] = {"name": node.target.id, "inferred_type_name": ast.unparse(node.annotation),
                                     "default": default, "help": ""}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = {"name": target.id, "inferred_type_name": node.type_comment or "None",
                                        "default": ast.unparse(node.value), "help": ""}
    return found


@dataclass(frozen=True)
class ParameterProblem:
    """One problem of a parameter value, found by :func:`conform_parameters`.

    Attributes
    ----------
    name : str
        The parameter.
    kind : str
        ``"reserved"`` (set by the run itself), ``"name"`` (not a Python name),
        ``"undeclared"`` (no notebook declares it) or ``"type"``.
    value : object
        The value given.
    notebook : Path or None
        For ``"type"``: the notebook whose declaration the value does not match.
    declaration : str
        For ``"type"``: the declaring line, e.g. ``level: float = 0.95``.
    expected : str
        For ``"type"``: the declared type, e.g. ``list[str]``.
    mismatches : tuple of (str, str, object)
        For ``"type"``: where inside the value (``""``, ``"[1]"``, ``"['A']"``),
        the type expected there and the value found there.
    declared : tuple of str
        Every parameter name declared by the notebooks checked.
    """

    name: str
    kind: str
    value: Any
    notebook: Path | None = None
    declaration: str = ""
    expected: str = ""
    mismatches: tuple[tuple[str, str, Any], ...] = ()
    declared: tuple[str, ...] = ()


def conform_parameters(
    declared: Mapping[Path, Mapping[str, Mapping[str, Any]]],
    parameters: Mapping[str, Any],
    *,
    reserved: Iterable[str] = (),
) -> tuple[dict[Path, dict[str, Any]], list[ParameterProblem]]:
    """Check parameter values against the parameters several notebooks declare.

    Each notebook receives the parameters it declares; a parameter must be
    declared by at least one notebook and match the declared type in every
    notebook that declares it (see :func:`run_notebook` for the type rule).

    Parameters
    ----------
    declared : mapping of Path to mapping
        Notebook -> its :func:`declared_parameters`.
    parameters : mapping of str to value
        The values to check.
    reserved : iterable of str, optional
        Names the caller sets itself (refused).

    Returns
    -------
    tuple of (dict of Path to dict, list of ParameterProblem)
        Per notebook the values it receives, converted to the declared types
        (``1`` -> ``1.0`` for a float, a path -> str, a tuple -> list), and
        every problem found (empty when all is well).
    """
    reserved = frozenset(reserved)
    names = tuple(sorted({n for params in declared.values() for n in params}))
    clean: dict[Path, dict[str, Any]] = {nb: {} for nb in declared}
    problems: list[ParameterProblem] = []
    for key, value in parameters.items():
        key = str(key)
        if key in reserved:
            problems.append(ParameterProblem(key, "reserved", value, declared=names))
            continue
        if not key.isidentifier():
            problems.append(ParameterProblem(key, "name", value, declared=names))
            continue
        if not any(key in params for params in declared.values()):
            problems.append(ParameterProblem(key, "undeclared", value, declared=names))
            continue
        for nb, params in declared.items():
            if key not in params:
                continue
            info = params[key]
            spec, _ = _parameter_spec(info)
            converted, mismatches = _conform(value, spec)
            if mismatches:
                annotation = str(info.get("inferred_type_name") or "None")
                default = info.get("default")
                decl = f"{key} = {default}" if annotation == "None" else f"{key}: {annotation} = {default}"
                problems.append(ParameterProblem(
                    key, "type", value, notebook=nb, declaration=decl, expected=_describe(spec),
                    mismatches=tuple((where, _describe(s), v) for where, s, v in mismatches), declared=names,
                ))
            else:
                clean[nb][key] = converted
    return clean, problems


def _problem_message(problem: ParameterProblem, notebooks: Sequence[Path], *, suite: bool = True) -> str:
    """Describe a parameter problem for a caller of :func:`run_suite` (or of :func:`run_notebook`)."""
    key, names = problem.name, list(problem.declared)
    if problem.kind == "reserved":
        return f"`{key}` is set by the report run (<report>/<notebook>/); remove it from the parameters."
    if problem.kind == "name":
        return f"`{key}` is not a valid parameter name; parameters are Python names such as `level`."
    if problem.kind == "undeclared":
        hint = did_you_mean(key, names)
        if not suite:
            extra = "" if names else " (it has no code cell tagged 'parameters')"
            return (f"{notebooks[0].name} does not declare parameter `{key}` (it declares {names}){extra}.{hint} "
                    f"Remove it or add `{key}` to the notebook's parameters cell.")
        return f"parameter `{key}` is declared by none of {[p.name for p in notebooks]} (they declare {names}).{hint}"
    assert problem.notebook is not None
    text = " (quote it to pass text)" if problem.expected == "str" else ""
    return (f"{problem.notebook.name}: parameter `{key}` must be {problem.expected} (declared `{problem.declaration}`), "
            f"got {type(problem.value).__name__} {problem.value!r}. Pass a value of the declared type{text}.")


def check_parameters(
    notebooks: Sequence[str | Path], parameters: Mapping[str, Any], *, reserved: Iterable[str] = ()
) -> list[str]:
    r"""Check parameter values against the notebooks' declared parameters; list every problem.

    Nothing runs: this is the check :func:`run_notebook` and :func:`run_suite`
    make before executing anything.

    Parameters
    ----------
    notebooks : sequence of str or Path
        The notebooks that will receive the parameters (each gets those it declares).
    parameters : mapping of str to value
        The values to check.
    reserved : iterable of str, optional
        Names the caller sets itself, e.g. :data:`RESERVED_PARAMETERS`.

    Returns
    -------
    list of str
        One message per problem (empty when all is well), each naming the
        notebook, the parameter, what was expected and what was got.

    Raises
    ------
    ConfigurationError
        If a notebook is missing or unreadable.

    Notes
    -----
    Type rule: a value :math:`v` is accepted for a parameter declared with type
    :math:`T` when :math:`v \in T`, with :math:`\mathbb{Z} \subset \mathbb{R}`
    (an ``int`` for a ``float``), ``bool`` not counted as a number, and every
    item of a ``list[T]`` and key and value of a ``dict[K, V]`` checked.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> nb = pathlib.Path(tempfile.mkdtemp()) / "01_demo.ipynb"
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "level: float = 0.95",
    ...         "outputs": [], "execution_count": None}
    >>> _ = nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    >>> check_parameters([nb], {"level": 1})
    []
    >>> check_parameters([nb], {"level": "high"})[0][:50]
    '01_demo.ipynb: parameter `level` must be float (de'
    """
    paths = [Path(p) for p in notebooks]
    _, problems = conform_parameters({p: declared_parameters(p) for p in paths}, parameters, reserved=reserved)
    return [_problem_message(p, paths) for p in problems]


# --------------------------------------------------------------------------- kernel


_KERNEL_DIRS: dict[int, Path] = {}

# What ``python -m ipykernel_launcher`` does, without loading the debugger (debugpy): a
# report kernel is never debugged, and importing debugpy is a third of the kernel's start-up.
# debugpy stays importable by the notebook's own code.
_KERNEL_LAUNCHER = (
    "import sys\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "sys.modules['debugpy'] = None\n"
    "from ipykernel.kernelapp import IPKernelApp\n"
    "app = IPKernelApp.instance()\n"
    "app.initialize()\n"
    "del sys.modules['debugpy']\n"
    "app.start()\n"
)


def _remove_kernel_dir(root: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child, whose parent still uses the folder
        shutil.rmtree(root, ignore_errors=True)


def _kernel_dir() -> Path:
    """Create (once per process) a folder holding the ``poolkit`` kernelspec of this interpreter."""
    import atexit
    import tempfile

    root = _KERNEL_DIRS.get(os.getpid())
    if root is not None and (root / KERNEL_NAME / "kernel.json").is_file():
        return root
    root = Path(tempfile.mkdtemp(prefix="poolkit-kernels-"))
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

        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[str(_kernel_dir())], ensure_native_kernel=False)

        @default("transport")
        def _transport_default(self) -> str:  # local sockets: no TCP port, nothing on the network
            return "ipc" if os.name == "posix" else "tcp"

        @default("ip")
        def _ip_default(self) -> str:
            if self.transport == "ipc":
                return str(_kernel_dir() / f"ipc-{os.getpid()}-{id(self)}")
            return "127.0.0.1"

    return PoolkitKernelManager


# --------------------------------------------------------------------------- one notebook


def _failing_cell(output: Path) -> dict[str, Any]:
    """Locate the failing cell in an executed notebook (index as in the source notebook)."""
    try:
        nb = json.loads(output.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    index = -1
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if "papermill-error-cell-tag" in tags:
            continue
        if "injected-parameters" in tags:
            continue
        index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                source = "".join(cell.get("source", ""))
                return {
                    "cell_index": index,
                    "execution_count": cell.get("execution_count"),
                    "ename": out.get("ename", ""),
                    "evalue": out.get("evalue", ""),
                    "source": source,
                }
    return {}


def _report_error(notebook: Path, output: Path, info: Mapping[str, Any], fallback: str) -> ReportError:
    if info:
        lines = [line for line in str(info.get("source", "")).splitlines() if line.strip()]
        where = f"cell {info['cell_index']} (In [{info.get('execution_count')}]"
        where += f": {lines[-1].strip()!r})" if lines else ")"
        message = f"{notebook.name} failed in {where}: {info['ename']}: {info['evalue']}"
    else:
        message = f"{notebook.name} failed: {fallback}"
    message += f"\nThe partial executed notebook, with the failing cell, is kept at {output}."
    error = ReportError(message)
    error.notebook = str(notebook)  # type: ignore[attr-defined]
    error.output = str(output)  # type: ignore[attr-defined]
    error.cell_index = info.get("cell_index")  # type: ignore[attr-defined]
    error.ename = info.get("ename", fallback.partition(":")[0])  # type: ignore[attr-defined]
    error.evalue = info.get("evalue", fallback.partition(":")[2].strip())  # type: ignore[attr-defined]
    return error


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel_name: str | None = None,
    cwd: str | Path | None = None,
    progress: bool = False,
) -> Path:
    r"""Execute a parameterised notebook with papermill, refusing parameters it does not declare.

    Every parameter must be declared in the notebook's cell tagged ``parameters``
    and match the declared type (the annotation, else the type of the default;
    an ``int`` is accepted for a ``float``, ``list[str]`` checks each item). All
    problems are reported together before anything runs. The notebook then runs
    in a fresh kernel of the interpreter poolkit is installed in (kernelspec
    ``poolkit``), whatever ``python3`` kernel the machine has.

    Parameters
    ----------
    notebook : str or Path
        The ``.ipynb`` file to execute (left unchanged).
    output : str or Path
        Where the executed notebook is written (folders created). Written after
        each cell, so a failed run keeps every output up to the failing cell.
    parameters : mapping of str to value, optional
        Values injected after the ``parameters`` cell.
    kernel_name : str, optional
        A Jupyter kernel to use instead of poolkit's own interpreter.
    cwd : str or Path, optional
        Working directory of the kernel; defaults to the notebook's folder.
    progress : bool, default False
        Show papermill's per-cell progress bar.

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    ConfigurationError
        If a parameter is not declared by the notebook or has the wrong type
        (every problem listed, each naming the notebook and the parameter), or
        the notebook cannot be read.
    ReportError
        If a cell raises; the message names the notebook, the failing cell
        (index in the source notebook and execution count) and the error
        (``ename: evalue``). The partial executed notebook is kept at ``output``.

    Notes
    -----
    Type rule: a value :math:`v` is accepted for a parameter declared with type
    :math:`T` when :math:`v \in T`, with :math:`\mathbb{Z} \subset \mathbb{R}`
    (an ``int`` for a ``float``) and ``bool`` not counted as a number.

    References
    ----------
    .. [1] papermill: parameterising and executing Jupyter notebooks,
       https://papermill.readthedocs.io

    Examples
    --------
    >>> run_notebook("no_such_notebook.ipynb", "out.ipynb")
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ConfigurationError: notebook 'no_such_notebook.ipynb' does not exist; ...
    """
    notebook = Path(notebook)
    clean, problems = conform_parameters({notebook: declared_parameters(notebook)}, dict(parameters or {}))
    if problems:
        raise ConfigurationError("invalid parameters:\n  " + "\n  ".join(_problem_message(p, [notebook], suite=False) for p in problems))
    return _execute(notebook, Path(output), clean[notebook], kernel_name=kernel_name, cwd=cwd, progress=progress)


def _import_jsonschema_quickly() -> None:
    """Import jsonschema (which nbformat, hence papermill and nbconvert, imports) without rfc3987-syntax.

    When the optional rfc3987-syntax package is installed (Jupyter's event
    schemas pull it in), ``import jsonschema`` compiles its 38 IRI grammars:
    2-4 s, more than a whole report run. Notebook validation never checks the
    ``iri`` formats it serves (format checks are off unless asked for), so
    jsonschema is imported once without it; the package itself stays
    importable afterwards. Nothing is done when jsonschema is already loaded.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import fails -> skipped
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        pass
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


_SAVE_EVERY_S = 5.0
"""While a notebook runs, its executed copy is saved at most this often (and always at the end)."""


@functools.lru_cache(maxsize=1)
def _engine_name() -> str:
    """Register (once per process) papermill's nbclient engine with throttled saves; return its name.

    papermill rewrites the whole executed notebook before and after every cell,
    figures included: a second per report for a notebook of thirty cells. The
    report's copy is saved at most every few seconds while it runs and always
    when it ends, failed or not (papermill's final save), so the partial
    notebook with the failing cell is still kept.
    """
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class ThrottledManager(NotebookExecutionManager):  # type: ignore[misc]
        def save(self, **kwargs: Any) -> None:
            running = self.end_time is None
            if running and (self.now() - self.last_save_time).total_seconds() < _SAVE_EVERY_S:
                return
            super().save(**kwargs)

    class PoolkitEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                             progress_bar: bool = True, log_output: bool = False,
                             autosave_cell_every: int = 30, **kwargs: Any) -> Any:
            nb_man = ThrottledManager(nb, output_path=output_path, progress_bar=progress_bar,
                                      log_output=log_output, autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()  # the final save
            return nb_man.nb

    papermill_engines.register("poolkit", PoolkitEngine)
    return "poolkit"


def _execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str | None = None,
    cwd: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Execute ``notebook`` into ``output`` with already checked ``parameters``."""
    _import_jsonschema_quickly()
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    quiet = _QuietPapermill()  # checked already: papermill's own parameter warnings are noise here
    quiet.attach()
    extra: dict[str, Any] = {}
    if kernel_name is None or kernel_name == KERNEL_NAME:
        extra["kernel_manager_class"] = _kernel_manager_class()
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name or KERNEL_NAME,
            language="python",
            cwd=str(cwd if cwd is not None else notebook.resolve().parent),
            progress_bar=progress,
            engine_name=_engine_name(),
            **extra,
        )
    except pm.PapermillExecutionError as exc:
        info = _failing_cell(output) or {
            "cell_index": exc.cell_index, "execution_count": exc.exec_count,
            "ename": exc.ename, "evalue": exc.evalue, "source": exc.source,
        }
        raise _report_error(notebook, output, info, f"{exc.ename}: {exc.evalue}") from None
    except Exception as exc:  # kernel died, timeout, unreadable output...
        raise _report_error(notebook, output, _failing_cell(output), f"{type(exc).__name__}: {exc}") from exc
    finally:
        quiet.detach()
    return output


# --------------------------------------------------------------------------- HTML export

# The lab template without its remote loaders (require.js, widget manager, MathJax,
# mermaid): a report must display offline. Formulas become MathML (rendered natively
# by browsers) when latex2mathml is installed, and stay as TeX text otherwise.
_HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_WIDGET_MIME = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")
_CODE_SPAN = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])([^$\n]+?)(?<![\s\\])\$(?![\w$])")


def _math_to_mathml(markdown: str) -> str:
    """Replace ``$...$`` and ``$$...$$`` outside code by MathML (unchanged when not convertible)."""
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return markdown

    def sub(pattern: re.Pattern[str], display: str, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            try:
                return convert(match.group(1).strip(), display=display)
            except Exception:  # unsupported TeX: keep the source text
                return match.group(0)

        return pattern.sub(one, text)

    parts = _CODE_SPAN.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = sub(_INLINE_MATH, "inline", sub(_DISPLAY_MATH, "block", parts[i]))
    return "".join(parts)


def _static_copy(nb: Any) -> Any:
    """Copy an executed notebook for a static page: no widget state, math as MathML."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _math_to_mathml(cell.source)
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None:
                for mime in _WIDGET_MIME:
                    data.pop(mime, None)
    return nb


@functools.lru_cache(maxsize=1)
def _html_exporter() -> Any:
    """Return the report HTML exporter, built once per process (its templates are compiled once)."""
    import jinja2
    from nbconvert import HTMLExporter

    return HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"poolkit_report.html.j2": _HTML_TEMPLATE})],
        template_file="poolkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


_EXPORT_LOCK = threading.Lock()


def _export_html(executed: Path, html_path: Path) -> Path:
    """Export an executed notebook to a self-contained HTML page without code cells."""
    _import_jsonschema_quickly()
    import nbformat

    nb = _static_copy(nbformat.read(str(executed), as_version=4))
    with _EXPORT_LOCK:  # one exporter per process: one export at a time
        exporter = _html_exporter()
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    html_path.write_text(body, encoding="utf-8")
    return html_path


# --------------------------------------------------------------------------- the suite


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _iso(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _default_notebooks_dir() -> Path:
    here = Path.cwd() / "notebooks"
    if any(here.glob(_NOTEBOOK_GLOB)):
        return here
    return Path(__file__).resolve().parents[1] / "notebooks"


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


def sha256(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file (what ``sha256sum`` prints), read in 1 MiB blocks."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def git_revision(folder: str | Path) -> dict[str, Any] | None:
    """Return the git revision of the work tree holding ``folder`` and whether it has local changes.

    Parameters
    ----------
    folder : str or Path
        A folder inside the work tree.

    Returns
    -------
    dict or None
        ``{"revision": <40 hex digits>, "dirty": bool}`` (``dirty`` when tracked
        files differ from the revision); None when ``folder`` is not in a git
        work tree or git is missing.
    """
    folder = str(Path(folder).resolve())
    try:
        rev = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": rev, "dirty": bool(status.strip())}


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages a report depends on (read once per process).

    Returns
    -------
    dict of str to str
        Distribution name -> version, for those installed among pandas, numpy,
        scipy, matplotlib, papermill, nbconvert, nbclient, nbformat, ipykernel,
        jupyter_client, ipywidgets, pyyaml, latex2mathml, dask and distributed.
    """
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return packages


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


def format_figure(value: Any) -> str:
    """Show a recorded key figure briefly: floats to 6 significant digits, text as is, other values as JSON.

    Examples
    --------
    >>> format_figure(0.0123456789), format_figure(True), format_figure("ok"), format_figure([1, 2])
    ('0.0123457', 'true', 'ok', '[1, 2]')
    """
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


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
        problems = [_problem_message(p, paths) for p in found]
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
        effective = {k: _parameter_spec(info)[1] for k, info in declared[path].items()}
        effective.update(per_notebook[path])
        for key, value in effective.items():
            if _is_data_source(key, value):
                sources[value] = None
        entries.append({
            "notebook": str(path), "output": f"{path.stem}.ipynb", "html": None,
            "out_dir": f"{path.stem}" if "out_dir" in declared[path] else None,
            "parameters": _jsonable(per_notebook[path]), "status": "not run",
            "started": None, "finished": None, "duration_s": None,
        })
    manifest: dict[str, Any] = {
        "name": name,
        "folder": final.name,
        "status": "running",
        "started": _iso(started),
        "finished": None,
        "duration_s": None,
        "parameters": _jsonable(given),
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

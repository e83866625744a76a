r"""Declared notebook parameters and the one check of values against them (private).

A report notebook declares its parameters in the code cell tagged ``parameters``
(``name: type = default``). :func:`declared_parameters` reads that cell with
Python's own parser; :func:`conform_parameters` checks values against the
declarations of several notebooks and converts them to the declared types. Both
``poolkit report`` (:func:`poolkit.reporting.run_suite`) and ``poolkit batch``
(:func:`poolkit.batch.load_grid`) make this one check; the public entry point is
:func:`poolkit.reporting.check_parameters`.
"""

from __future__ import annotations

import ast
import json
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poolkit.exceptions import ConfigurationError

__all__ = [
    "RESERVED_PARAMETERS",
    "ParameterProblem",
    "check_parameters",
    "conform_parameters",
    "declared_parameters",
    "parameter_spec",
    "problem_message",
]

#: Parameters a report run sets itself; ``run_suite`` and batches refuse them from users.
RESERVED_PARAMETERS = frozenset({"out_dir"})

_LIST_NAMES = frozenset({"list", "List", "Sequence", "tuple", "Tuple"})
_DICT_NAMES = frozenset({"dict", "Dict", "Mapping"})
_SCALAR_NAMES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "None": "none", "NoneType": "none"}

# A type tree: None (any plain value), ("str",), ("int",), ("float",), ("bool",), ("none",),
# ("list", item), ("dict", key, value) or ("union", option, ...).
_Spec = tuple[Any, ...] | None


class _NotUnderstood(Exception):
    """An annotation poolkit cannot turn into a type tree."""


def _parse_annotation(text: str) -> tuple[bool, _Spec]:
    """Turn an annotation such as ``list[str]`` into a type tree; ``(False, None)`` when not understood."""

    def walk(node: ast.expr) -> _Spec:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a quoted annotation
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                raise _NotUnderstood from None
        if isinstance(node, ast.Constant) and node.value is None:
            return ("none",)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
            return _union(walk(node.left), walk(node.right))
        if isinstance(node, (ast.Name, ast.Attribute)):  # str, typing.List
            name = node.attr if isinstance(node, ast.Attribute) else node.id
            if name in _SCALAR_NAMES:
                return (_SCALAR_NAMES[name],)
            if name in _LIST_NAMES:
                return ("list", None)
            if name in _DICT_NAMES:
                return ("dict", None, None)
            raise _NotUnderstood
        if isinstance(node, ast.Subscript):
            outer = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
            args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
            inner: list[Any] = [
                Ellipsis if isinstance(a, ast.Constant) and a.value is Ellipsis else walk(a) for a in args
            ]
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
        raise _NotUnderstood

    try:
        return True, walk(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, _NotUnderstood):
        return False, None


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


def parameter_spec(info: Mapping[str, Any]) -> tuple[_Spec, Any]:
    """Type tree and default value of one declared parameter.

    The type is the annotation when poolkit understands it, else the type of the
    literal default; a parameter whose default is ``None`` takes any plain value.
    """
    try:
        default = ast.literal_eval(str(info.get("default", "None")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        default = None
    annotation = str(info.get("inferred_type_name") or "None")
    understood, spec = _parse_annotation(annotation) if annotation not in ("None", "") else (False, None)
    return (spec if understood else _spec_of_default(default)), default


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
            spec, _ = parameter_spec(info)
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


def problem_message(problem: ParameterProblem, notebooks: Sequence[Path], *, suite: bool = True) -> str:
    """Describe a parameter problem for a caller of :func:`run_suite` (or of :func:`run_notebook`)."""
    key, names = problem.name, list(problem.declared)
    if problem.kind == "reserved":
        return f"`{key}` is set by the report run (<report>/<notebook>/); remove it from the parameters."
    if problem.kind == "name":
        return f"`{key}` is not a valid parameter name; parameters are Python names such as `level`."
    if problem.kind == "undeclared":
        # (imported here: it loads pandas, which a batch or report process need not)
        from poolkit._validation import did_you_mean

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
    return [problem_message(p, paths) for p in problems]



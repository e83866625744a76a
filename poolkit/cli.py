"""The ``poolkit`` command: run the report notebooks, list the bundled data, dispatch batch and app.

``poolkit report`` executes the notebooks of ``notebooks/`` into ``reports/<name>/``
(see :func:`poolkit.reporting.run_suite`); ``poolkit samples`` lists the bundled
data sets; ``poolkit batch ...`` and ``poolkit app ...`` hand their arguments to
:func:`poolkit.batch.main` and :func:`poolkit.widgets.app_main`. Heavy modules
are imported only by the sub-command that needs them, so ``poolkit --help`` is
quick.

Exit codes: 0 success, 1 a notebook (or a batch job) failed, 2 bad configuration
or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "parse_assignment"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

_DISPATCH = {
    "batch": ("poolkit.batch", "main", "run a grid of report variants (see `poolkit batch --help`)"),
    "app": ("poolkit.widgets", "app_main", "serve the interactive app (see `poolkit app --help`)"),
}


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` and parse the value as YAML, like ``papermill -p``.

    Numbers, ``true``/``false``, ``null``, ``[lists]`` and ``{mappings}`` become
    Python objects; dates such as ``2015-01-01`` stay text (poolkit parses dates
    itself); quote a value to force text (``-p "name='123'"``).

    Parameters
    ----------
    text : str
        One ``KEY=VALUE`` assignment.

    Returns
    -------
    tuple of (str, object)
        The key and the parsed value.

    Raises
    ------
    ConfigurationError
        If there is no ``=``, the key is empty or the value is not valid YAML.

    Examples
    --------
    >>> parse_assignment("level=0.99")
    ('level', 0.99)
    >>> parse_assignment("assets=[AAPL, 'MSFT']")
    ('assets', ['AAPL', 'MSFT'])
    >>> parse_assignment("start=2015-01-01")
    ('start', '2015-01-01')
    """
    import datetime

    import yaml

    from poolkit.exceptions import ConfigurationError

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ConfigurationError(
            f"parameter {text!r} must look like KEY=VALUE with KEY a Python name, e.g. `-p level=0.99`."
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"value of parameter `{key}` is not valid YAML ({raw!r}): {exc}") from None
    if isinstance(value, (datetime.date, datetime.datetime)):
        value = raw.strip()
    return key, value


def _read_params_file(path: str) -> dict[str, Any]:
    import datetime
    from pathlib import Path

    import yaml

    from poolkit.exceptions import ConfigurationError

    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"parameters file {path!r} does not exist; pass a YAML file of KEY: VALUE lines.")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"parameters file {path!r} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ConfigurationError(
            f"parameters file {path!r} must hold a mapping of parameter names to values, got {type(data).__name__}."
        )
    return {k: v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else v for k, v in data.items()}


def _build_parser() -> argparse.ArgumentParser:
    from poolkit import __version__

    parser = argparse.ArgumentParser(
        prog="poolkit",
        description="Pooling in finance: run the report notebooks, list the bundled data.",
        epilog="Exit codes: 0 ok, 1 a notebook failed, 2 bad configuration.",
    )
    parser.add_argument("--version", action="version", version=f"poolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = sub.add_parser(
        "report",
        help="execute the notebooks into reports/NAME/ (notebooks, HTML, manifest.json)",
        description="Execute every notebooks/NN_*.ipynb (or those given) into REPORTS_DIR/NAME/: the "
        "executed notebooks, an offline HTML page per notebook, manifest.json and index.html. The folder "
        "appears only when every notebook succeeded; a failed run is kept in NAME.failed-TIME/.",
    )
    report.add_argument("--name", default="sample", help="report name, i.e. the folder REPORTS_DIR/NAME (default: sample)")
    report.add_argument("--params", metavar="FILE.yaml", help="YAML file of parameters (KEY: VALUE)")
    report.add_argument(
        "-p", "--parameter", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
        help="a parameter (value parsed as YAML, like papermill -p); repeatable; overrides --params",
    )
    report.add_argument("--notebooks", nargs="+", metavar="NB", help="notebooks to run (paths, names or prefixes like 01)")
    report.add_argument("--reports-dir", default="reports", metavar="DIR", help="folder of the reports (default: reports)")
    report.add_argument("--no-html", action="store_true", help="skip the HTML export")
    report.add_argument("--quiet", action="store_true", help="no progress output")

    sub.add_parser("samples", help="list the bundled data sets", description="List the bundled data sets.")
    for name, (_, _, text) in _DISPATCH.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


def _report(args: argparse.Namespace) -> int:
    from poolkit.exceptions import ConfigurationError, ReportError

    try:
        parameters = _read_params_file(args.params) if args.params else {}
        parameters.update(parse_assignment(text) for text in args.assignments)
        from poolkit.reporting import run_suite

        folder = run_suite(
            name=args.name,
            notebooks=args.notebooks,
            parameters=parameters,
            reports_dir=args.reports_dir,
            html=not args.no_html,
            progress=not args.quiet,
        )
    except ConfigurationError as exc:
        print(f"poolkit report: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ReportError as exc:
        print(f"poolkit report: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(folder)
    return EXIT_OK


def _samples() -> int:
    import pandas as pd

    from poolkit import data

    table = data.samples()
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string() if hasattr(table, "to_string") else table)
    return EXIT_OK


def _dispatch(command: str, rest: list[str]) -> int:
    import importlib

    module_name, function, _ = _DISPATCH[command]
    try:
        module = importlib.import_module(module_name)
        entry = getattr(module, function)
    except (ImportError, AttributeError) as exc:
        print(f"poolkit {command}: not available in this installation ({exc}).", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return int(entry(rest) or 0)
    except SystemExit as exc:  # the sub-command's own argparse (--help, usage errors)
        return exc.code if isinstance(exc.code, int) else (EXIT_CONFIG if exc.code else EXIT_OK)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``poolkit`` command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a notebook failed, 2 for bad configuration or usage.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    poolkit ...
    0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _DISPATCH:
        return _dispatch(args_list[0], args_list[1:])
    parser = _build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_CONFIG if exc.code else EXIT_OK)
    if args.command == "report":
        return _report(args)
    if args.command == "samples":
        return _samples()
    parser.print_help()
    return EXIT_CONFIG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

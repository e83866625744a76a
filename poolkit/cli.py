"""The ``poolkit`` command: every command of poolkit lives here.

- ``poolkit report`` executes the notebooks shipped with poolkit into
  ``reports/<name>/`` (see :func:`poolkit.reporting.run_suite`);
- ``poolkit batch GRID.yaml`` runs a grid of report variants on Dask (see
  :func:`poolkit.batch.load_grid` and :func:`poolkit.batch.run_batch`);
- ``poolkit samples`` lists the bundled data sets;
- ``poolkit notebooks list|copy DIR`` shows the notebooks shipped with poolkit
  and copies them into a folder for you to edit (run them with ``poolkit
  report --notebooks-dir DIR``);
- ``poolkit app`` serves the explorers (``06_explorers.ipynb``) as a Voilà web
  app on 127.0.0.1.

The modules that notebooks import (widgets, reporting) never start a server or
parse a command line: that is done here. Heavy modules are imported only by the
command that needs them, so ``poolkit --help`` is quick.

Exit codes: 0 success, 1 a notebook (or a batch run) failed, 2 bad configuration
or usage (nothing ran).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_assignment"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

APP_NOTEBOOK = "06_explorers.ipynb"
"""The notebook ``poolkit app`` serves by default (one of the notebooks shipped with poolkit)."""


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


def _exit_code(exc: SystemExit) -> int:
    """Exit code of argparse's SystemExit (--help: 0, usage error: 2)."""
    if isinstance(exc.code, int):
        return exc.code
    return EXIT_CONFIG if exc.code else EXIT_OK


# --------------------------------------------------------------------------- parsers


def _report_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="execute the notebooks into reports/NAME/ (notebooks, HTML, manifest.json)",
        description="Execute every NN_*.ipynb notebook shipped with poolkit (or of --notebooks-dir, or those "
        "given) into REPORTS_DIR/NAME/: the executed notebooks, an offline HTML page per notebook, manifest.json "
        "and index.html. The folder appears only when every notebook succeeded; a failed run is kept in "
        "NAME.failed-TIME/.",
    )
    report.add_argument("--name", default="sample", help="report name, i.e. the folder REPORTS_DIR/NAME (default: sample)")
    report.add_argument("--params", metavar="FILE.yaml", help="YAML file of parameters (KEY: VALUE)")
    report.add_argument(
        "-p", "--parameter", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
        help="a parameter (value parsed as YAML, like papermill -p); repeatable; overrides --params",
    )
    report.add_argument("--notebooks", nargs="+", metavar="NB", help="notebooks to run (paths, names or prefixes like 01)")
    report.add_argument("--notebooks-dir", metavar="DIR", default=None,
                        help="run the notebooks of DIR (e.g. your copies from `poolkit notebooks copy DIR`) instead of "
                        "poolkit's own (default: ./notebooks when it has numbered notebooks, else poolkit's)")
    report.add_argument("--reports-dir", default="reports", metavar="DIR", help="folder of the reports (default: reports)")
    report.add_argument("--workers", type=int, default=None, metavar="N",
                        help="notebooks run at the same time (default: the number of CPUs)")
    report.add_argument("--no-prestart", action="store_true",
                        help="start each notebook's kernel when it begins instead of ahead (slower; for comparison)")
    report.add_argument("--no-html", action="store_true", help="skip the HTML export")
    report.add_argument("--quiet", action="store_true", help="no progress output")


def _batch_parser(sub: Any) -> None:
    batch = sub.add_parser(
        "batch",
        help="run a grid of report variants in parallel (see `poolkit batch --help`)",
        description="Run the grid's notebooks once per parameter set, in parallel, into reports/<name>/<run-id>/.",
        epilog="Exit codes: 0 all reports ok, 1 some reports failed, 2 invalid configuration (nothing ran).",
    )
    batch.add_argument("grid", help="YAML grid file (notebooks, parameters, grid)")
    batch.add_argument("--workers", type=int, default=None, help="workers of the local Dask cluster, reports run at once (default: CPUs)")
    batch.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler, e.g. tcp://host:8786")
    batch.add_argument("--name", default=None, help="batch name (default: the grid's 'name' or the file's stem)")
    batch.add_argument("--resume", action="store_true", help="skip runs whose report is complete; redo the others")
    batch.add_argument("--quiet", action="store_true", help="no progress bar; only failures on stderr (for cron)")
    batch.add_argument("--log", default=None, help="log file (default: <reports-dir>/<name>/batch.log)")
    batch.add_argument("--reports-dir", default="reports", help="reports folder (default: reports)")


def _app_parser(sub: Any) -> None:
    app = sub.add_parser(
        "app",
        help="serve the interactive explorers as a web app (see `poolkit app --help`)",
        description=(
            f"Serve the poolkit explorers ({APP_NOTEBOOK}, shipped with poolkit) as a Voilà web app on 127.0.0.1. "
            "Open the printed URL (it carries the access token); stop with Ctrl-C."
        ),
    )
    app.add_argument("--port", type=int, default=8866, help="TCP port on 127.0.0.1 (default 8866)")
    app.add_argument("--token", default="", help="access token (default: a random one, printed in the URL)")
    app.add_argument("--notebook", default="", help=f"notebook to serve (default: poolkit's {APP_NOTEBOOK})")
    app.add_argument("--notebooks-dir", metavar="DIR", default=None, help=f"serve DIR/{APP_NOTEBOOK} (your copy)")
    app.add_argument("--open", action="store_true", help="open the app in the default web browser")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser (the default)")
    app.add_argument("--dry-run", action="store_true", help="print the Voilà command and URL, do not start")


def _notebooks_parser(sub: Any) -> None:
    notebooks = sub.add_parser(
        "notebooks",
        help="list poolkit's notebooks, or copy them into a folder to edit (see `poolkit notebooks --help`)",
        description="The report notebooks ship with poolkit. `list` prints where they are; `copy DIR` writes "
        "editable copies DIR/NN_*.ipynb (nothing else in DIR is touched; existing notebooks of the same names "
        "are kept unless --overwrite). Run your copies with `poolkit report --notebooks-dir DIR`.",
    )
    actions = notebooks.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="print the path of every notebook shipped with poolkit")
    copy = actions.add_parser("copy", help="copy the notebooks into DIR to edit them",
                              description="Copy poolkit's notebooks into DIR (created when missing).")
    copy.add_argument("destination", metavar="DIR", help="folder to copy into")
    copy.add_argument("--overwrite", action="store_true", help="replace notebooks of the same names in DIR")


def _build_parser() -> argparse.ArgumentParser:
    from poolkit import __version__

    parser = argparse.ArgumentParser(
        prog="poolkit",
        description="Pooling in finance: run the report notebooks, batches of them, the explorers app; "
        "list the bundled data.",
        epilog="Exit codes: 0 ok, 1 a notebook failed, 2 bad configuration.",
    )
    parser.add_argument("--version", action="version", version=f"poolkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _report_parser(sub)
    _batch_parser(sub)
    sub.add_parser("samples", help="list the bundled data sets", description="List the bundled data sets.")
    _notebooks_parser(sub)
    _app_parser(sub)
    return parser


# --------------------------------------------------------------------------- report and samples


def _report(args: argparse.Namespace) -> int:
    from poolkit.exceptions import ConfigurationError, ReportError

    if not args.no_prestart:  # the kernels' fork server imports while this process loads the report modules
        from poolkit.reporting._forkserver import start_early

        workers = min(args.workers or os.cpu_count() or 1, len(args.notebooks) if args.notebooks else 10**6)
        start_early(1 if workers > 1 else None)
    try:
        parameters = _read_params_file(args.params) if args.params else {}
        parameters.update(parse_assignment(text) for text in args.assignments)
        from poolkit.reporting import run_suite

        folder = run_suite(
            name=args.name,
            notebooks=args.notebooks,
            parameters=parameters,
            notebooks_dir=args.notebooks_dir,
            reports_dir=args.reports_dir,
            html=not args.no_html,
            progress=not args.quiet,
            workers=args.workers,
            prestart=not args.no_prestart,
        )
    except ConfigurationError as exc:
        print(f"poolkit report: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ReportError as exc:
        print(f"poolkit report: FAILED: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # e.g. the disk is full or the reports folder is read-only
        print(f"poolkit report: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(folder)
    return EXIT_OK


def _notebooks(args: argparse.Namespace) -> int:
    from poolkit.exceptions import ConfigurationError
    from poolkit.reporting import copy_notebooks, list_notebooks

    try:
        if args.action == "list":
            for path in list_notebooks():
                print(path)
            return EXIT_OK
        if args.action == "copy":
            written = copy_notebooks(args.destination, overwrite=args.overwrite)
            print(f"poolkit notebooks: copied {len(written)} notebooks into {Path(args.destination)}; run them with "
                  f"`poolkit report --notebooks-dir {args.destination}`")
            return EXIT_OK
    except ConfigurationError as exc:
        print(f"poolkit notebooks: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"poolkit notebooks: cannot copy the notebooks: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print("poolkit notebooks: name an action, `list` or `copy DIR` (see `poolkit notebooks --help`)", file=sys.stderr)
    return EXIT_CONFIG


def _samples() -> int:
    import pandas as pd

    from poolkit import data

    table = data.samples()
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.to_string() if hasattr(table, "to_string") else table)
    return EXIT_OK


# --------------------------------------------------------------------------- batch


def _batch(args: argparse.Namespace) -> int:
    import re

    from poolkit.exceptions import ConfigurationError

    if not args.scheduler:  # the kernels' fork server imports while this process loads the batch modules
        from poolkit.reporting._forkserver import start_early

        start_early(1 if (args.workers or os.cpu_count() or 1) > 1 else None)
    try:
        from poolkit import batch
    except ImportError as exc:
        print(f"poolkit batch: not available in this installation ({exc}).", file=sys.stderr)
        return EXIT_CONFIG
    problems: list[str] = []
    if args.workers is not None and args.workers < 1:
        problems.append(f"--workers must be a positive integer, got {args.workers}.")
    if args.scheduler and not re.match(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+$", args.scheduler):
        problems.append(f"--scheduler must look like tcp://HOST:PORT, got {args.scheduler!r}.")
    grid = None
    try:
        grid = batch.load_grid(args.grid, name=args.name)
    except ConfigurationError as exc:
        problems.append(str(exc))
    if grid is not None:
        problems.extend(grid.errors)  # structure, ids and every value's type
    if problems:
        print(f"poolkit batch: invalid configuration ({len(problems)} problem(s)); nothing ran:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    assert grid is not None
    try:
        result = batch.run_batch(
            grid,
            reports_dir=args.reports_dir,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            quiet=args.quiet,
            log_file=args.log,
        )
    except ConfigurationError as exc:  # includes ClusterError: nothing ran
        print(f"poolkit batch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"poolkit batch: cannot write the reports: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    runs = result.runs
    summary = (
        f"poolkit batch {grid.name}: {sum(r['status'] == 'ok' for r in runs)} ok, "
        f"{sum(r['status'] == 'skipped' for r in runs)} skipped (complete), {len(result.failures)} failed "
        f"-> {result.batch_dir / batch.INDEX_FILE}"
    )
    if result.failures:
        print(summary, file=sys.stderr)
        for run_id, message in result.failure_messages():
            print(f"  FAILED {run_id}: {message}", file=sys.stderr)
    elif not args.quiet:
        print(summary)
    return result.exit_code


# --------------------------------------------------------------------------- app


def _default_notebook(folder: str | None = None) -> Path:
    """Return the app notebook: ``folder/06_explorers.ipynb``, else poolkit's own (package data or checkout)."""
    if folder:
        return Path(folder) / APP_NOTEBOOK
    from poolkit.reporting._notebooks import notebooks_dir

    return notebooks_dir() / APP_NOTEBOOK


def _voila_command() -> list[str]:
    """Return the command that starts Voilà from this environment, or raise ConfigurationError."""
    import shutil

    from poolkit.exceptions import ConfigurationError

    local = Path(sys.executable).with_name("voila")
    if local.exists():
        return [str(local)]
    found = shutil.which("voila")
    if found:
        return [found]
    try:
        import voila  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "Voilà is not installed, so the explorers cannot be served as an app. Install the `app` "
            "extra: `pip install -e '.[app]'` (or `make install`)."
        ) from None
    return [sys.executable, "-m", "voila"]


APP_TOKEN_ENV = "POOLKIT_APP_TOKEN"
"""Environment variable holding the app's access token (kept off every command line)."""


def _die_with_parent() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that makes the child receive SIGTERM when this process dies.

    Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) is delivered even
    when the parent is killed with SIGKILL, which no handler in the parent can
    catch. None where ``prctl`` is not available (the child then still stops
    on SIGTERM, SIGHUP and Ctrl-C of ``poolkit app``).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import os
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:  # runs in the child, between fork and exec
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above: stop now
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _app(args: argparse.Namespace) -> int:
    """Serve the explorers with Voilà on 127.0.0.1 (``poolkit app``).

    The server listens on 127.0.0.1 only and requires a token: ``--token``,
    else ``$POOLKIT_APP_TOKEN``, else a random 48-character one. The token
    reaches Voilà through its environment (``JUPYTER_TOKEN``), never on a
    command line, where every user of the machine could read it in ``ps``.
    Voilà runs in its own process group and gets SIGTERM when ``poolkit app``
    ends, however it ends (``kill -9`` included, through Linux's parent-death
    signal); it then stops its kernels. Kernels get ``POOLKIT_INTERACTIVE=1`` so
    that :func:`poolkit.widgets.show` renders live widgets. The exit status is
    Voilà's own, 0 for ``--dry-run``, 2 for bad arguments or a missing
    notebook or Voilà.
    """
    import os
    import secrets
    import signal
    import subprocess

    from poolkit.exceptions import ConfigurationError

    if not 1 <= args.port <= 65535:
        print(f"poolkit app: --port must be in 1..65535, got {args.port}", file=sys.stderr)
        return EXIT_CONFIG
    notebook = Path(args.notebook) if args.notebook else _default_notebook(args.notebooks_dir)
    if not notebook.is_file():
        print(
            f"poolkit app: notebook {notebook} not found; pass --notebook PATH to a .ipynb file, or "
            "--notebooks-dir DIR of a folder made by `poolkit notebooks copy DIR`",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        voila = _voila_command()
    except ConfigurationError as exc:
        print(f"poolkit app: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.token:
        print(f"poolkit app: note: --token is visible to every user in `ps`; set {APP_TOKEN_ENV} instead.",
              file=sys.stderr)
    token = args.token or os.environ.get(APP_TOKEN_ENV, "").strip() or secrets.token_hex(24)
    command = [
        *voila,
        str(notebook.resolve()),
        f"--port={args.port}",
        "--Voila.auto_token=True",  # the token is read from JUPYTER_TOKEN in the environment
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--show_tracebacks=False",
        "--strip_sources=True",
    ]
    if not args.open:
        command.append("--no-browser")
    url = f"http://127.0.0.1:{args.port}/?token={token}"
    print(f"poolkit app: serving {notebook}", flush=True)
    print(f"poolkit app: open {url}", flush=True)
    if args.dry_run:
        print("poolkit app: command " + " ".join(command) + "  (token in the environment as JUPYTER_TOKEN)")
        return EXIT_OK
    from poolkit.widgets import INTERACTIVE_ENV

    env = {**os.environ, INTERACTIVE_ENV: "1", "JUPYTER_TOKEN": token}
    env.pop("JUPYTER_TOKEN_FILE", None)
    env.pop(APP_TOKEN_ENV, None)
    process = subprocess.Popen(command, env=env, cwd=str(notebook.resolve().parent), process_group=0,
                               preexec_fn=_die_with_parent())

    def forward(signum: int, _frame: object) -> None:  # stopping the app stops Voilà too
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return int(process.wait())
    except KeyboardInterrupt:  # Ctrl-C reaches poolkit app only: Voilà has its own process group
        process.terminate()
        try:
            return int(process.wait(timeout=10))
        except subprocess.TimeoutExpired:
            process.kill()
            return int(process.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``poolkit`` command line and return its exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a notebook (or a batch run) failed, 2 for bad
        configuration or usage.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    poolkit ...
    0
    >>> main(["app", "--port", "8899", "--token", "abc", "--dry-run"])  # doctest: +ELLIPSIS
    poolkit app: serving ...06_explorers.ipynb
    ...
    0
    """
    if argv is None and _is_command():
        _leave_quickly()
    parser = _build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version, usage errors
        return _exited(_exit_code(exc))
    if args.command == "report":
        return _exited(_report(args))
    if args.command == "batch":
        return _exited(_batch(args))
    if args.command == "samples":
        return _exited(_samples())
    if args.command == "notebooks":
        return _exited(_notebooks(args))
    if args.command == "app":
        return _exited(_app(args))
    parser.print_help()
    return _exited(EXIT_CONFIG)


# --------------------------------------------------------------------------- process exit

_EXIT: dict[str, int] = {}
"""The exit code of the command this process runs, once ``main`` returned it (see :func:`_leave_quickly`)."""


def _is_command() -> bool:
    """Tell whether this process is the ``poolkit`` command itself (``sys.exit(main())`` is all that follows main)."""
    entry = sys.modules.get("__main__")
    return __name__ == "__main__" or getattr(entry, "main", None) is main


def _exited(code: int) -> int:
    _EXIT["code"] = code
    return code


def _leave_quickly() -> None:
    """Make the command's process end as soon as its exit handlers have run, without tearing the interpreter down.

    Python's teardown after the exit handlers (clearing the 1700 modules a
    batch loads: dask, papermill, nbconvert, pandas...) takes 0.5-1 s and
    saves nothing: every file is written and closed, every kernel and the fork
    server are stopped and the log is flushed by then (those are exit handlers
    or done before ``main`` returns). The handler registered here is the first,
    so it runs last; it flushes stdout and stderr and ends the process with
    ``main``'s exit code. Nothing changes when ``main`` did not return (an
    uncaught exception or an interrupt) or another exit handler was registered
    before it, which it would skip.
    """
    if atexit._ncallbacks() == 0:  # type: ignore[attr-defined]  # ours runs last, after every other one
        atexit.register(_end_process)


def _end_process() -> None:
    code = _EXIT.get("code")
    if code is None:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # e.g. a closed pipe
            if stream is not None:
                stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

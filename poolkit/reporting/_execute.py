"""Execute one parameterised notebook with papermill (private)."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from poolkit._parameters import conform_parameters, declared_parameters, problem_message
from poolkit._runs import failing_cell
from poolkit.exceptions import ConfigurationError, ReportError
from poolkit.reporting._kernel import KERNEL_NAME, Key, kernel_supply


class _QuietPapermill(logging.Filter):
    """Drop papermill's warnings about parameters that poolkit has already checked."""

    loggers = ("papermill", "papermill.translators")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Passed unknown parameter", "Unable to parse line"))

    _attached: _QuietPapermill | None = None

    @classmethod
    def attach_once(cls) -> None:
        """Attach one filter to papermill's loggers for the whole process (safe from several threads)."""
        if cls._attached is None:
            cls._attached = cls()
            for name in cls.loggers:
                logging.getLogger(name).addFilter(cls._attached)


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
        raise ConfigurationError("invalid parameters:\n  " + "\n  ".join(problem_message(p, [notebook], suite=False) for p in problems))
    return _execute(notebook, Path(output), clean[notebook], kernel_name=kernel_name, cwd=cwd, progress=progress)


FORMAT_MODULES = ("rfc3987_syntax", "rfc3987", "rfc3986_validator", "rfc3339_validator", "isoduration", "uri_template",
                  "webcolors", "fqdn", "jsonpointer")
"""The optional packages behind jsonschema's format checks, which notebook validation never uses."""


def _import_jsonschema_quickly() -> None:
    """Import jsonschema (which nbformat, hence papermill and nbconvert, imports) without its format packages.

    When the optional rfc3987-syntax package is installed (Jupyter's event
    schemas pull it in), ``import jsonschema`` compiles its 38 IRI grammars:
    2-4 s, more than a whole report run; the other optional packages of its
    format checks (:data:`FORMAT_MODULES`: durations through arrow, URI
    templates, colours...) take another 0.15 s. Notebook validation never
    checks those formats (format checks are off unless asked for), so
    jsonschema is imported once without them; the packages themselves stay
    importable afterwards. Nothing is done when jsonschema is already loaded,
    and a package already loaded is used.
    """
    if "jsonschema" in sys.modules:
        return
    with _absent(FORMAT_MODULES):  # an import that fails -> that format check is skipped
        try:
            import jsonschema  # noqa: F401
        except ImportError:
            pass


@contextlib.contextmanager
def _absent(names: tuple[str, ...]) -> Iterator[None]:
    """Make the modules ``names`` not yet loaded fail to import meanwhile; importable again afterwards."""
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


NOTEBOOK_STARTED = threading.Event()
"""Set once a notebook of this process has a kernel that answers: its cells start (see :func:`_execute`)."""


def _import_papermill_quickly() -> None:
    """Import papermill without pyarrow (and jsonschema as :func:`_import_jsonschema_quickly` does).

    papermill imports pyarrow (0.1-0.15 s) for its HDFS handler only, which a
    report never uses (its notebooks are local files); when pyarrow is not
    loaded yet it is skipped, and stays importable afterwards (pandas loads it
    when it needs it). Nothing is done when papermill is already loaded.
    """
    if "papermill" in sys.modules:
        return
    _import_jsonschema_quickly()
    with _absent(("pyarrow", "pyarrow.fs")):  # papermill's HDFS handler is then absent
        import papermill  # noqa: F401


_SAVE_EVERY_S = 5.0
"""While a notebook runs, its executed copy is saved at most this often (and always at the end)."""


@functools.lru_cache(maxsize=1)
def _engine_name() -> str:
    """Register (once per process) papermill's nbclient engine with throttled saves; return its name.

    papermill rewrites the whole executed notebook before and after every cell,
    figures included: a second per report for a notebook of thirty cells. The
    report's copy is saved at most every few seconds while it runs and always
    when it ends, failed or not, so the partial notebook with the failing cell
    is still kept: once, by papermill's ``execute_notebook`` when the engine
    returns (with its error banner when a cell failed), else (the kernel died,
    a timeout...) by the engine's final save, which papermill also makes in the
    first case (the same notebook written twice).
    """
    _import_papermill_quickly()
    from jupyter_core.utils import run_sync
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.log import logger

    class ThrottledManager(NotebookExecutionManager):  # type: ignore[misc]
        written_next = False
        """Set when the engine returns normally: papermill writes the notebook next."""

        def save(self, **kwargs: Any) -> None:
            running = self.end_time is None
            if running and (self.now() - self.last_save_time).total_seconds() < _SAVE_EVERY_S:
                return
            if not running and self.written_next:
                return
            super().save(**kwargs)

    class ReadyClient(PapermillNotebookClient):  # type: ignore[misc]
        on_ready: Callable[[], None] | None = None
        """Called once the kernel answers, before the first cell."""

        async def async_start_new_kernel_client(self) -> Any:
            from jupyter_core.utils import ensure_async
            from nbclient.util import run_hook

            self.kc = self.km.client()
            try:
                await ensure_async(self.kc.start_channels())
                await _wait_until_ready(self.kc, self.startup_timeout)
            except Exception:
                await self._async_cleanup_kernel()
                raise
            self.kc.allow_stdin = False
            NOTEBOOK_STARTED.set()
            if self.on_ready is not None:
                self.on_ready()
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)  # what papermill calls

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
                nb_man.written_next = True
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()  # the final save, unless papermill writes the notebook next
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: Any = None, km: Any = None,
                                     after_cells: Callable[[], None] | None = None,
                                     on_ready: Callable[[], None] | None = None, **kwargs: Any) -> Any:
            try:
                return cls._run_cells(nb_man, kernel_name, log_output, stdout_file, stderr_file, start_timeout,
                                      execution_timeout, km, on_ready, **kwargs)
            finally:  # the kernel's part is done; the final save comes next
                if after_cells is not None:
                    after_cells()

        @classmethod
        def _run_cells(cls, nb_man: Any, kernel_name: str, log_output: bool, stdout_file: Any, stderr_file: Any,
                       start_timeout: int, execution_timeout: Any, km: Any, on_ready: Callable[[], None] | None,
                       **kwargs: Any) -> Any:
            if km is None:  # another kernel than poolkit's: papermill starts and stops it
                return super().execute_managed_notebook(
                    nb_man, kernel_name, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                    start_timeout=start_timeout, execution_timeout=execution_timeout, **kwargs)
            for unused in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(unused, None)
            # a kernel of the supply, already started: the client only connects to it, and the
            # supply shuts it down afterwards (in the background)
            client = ReadyClient(
                nb_man, km=km, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                log=logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
            client.on_ready = on_ready
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    papermill_engines.register("poolkit", PoolkitEngine)
    return "poolkit"


async def _wait_until_ready(kc: Any, timeout: float) -> None:
    """Wait until the kernel of client ``kc`` answers and its IOPub messages reach ``kc``; raise after ``timeout`` s.

    What jupyter_client's ``wait_for_ready`` checks, without its final 0.2 s of
    waiting for IOPub to fall silent (a quarter of a second per notebook): a
    kernel publishes ``busy`` and ``idle`` on IOPub for each request, so the
    ``idle`` of a ``kernel_info`` request proves that the subscription is
    connected (a subscription made late misses messages: the request is sent
    again after 0.1 s) and that the kernel has nothing older left to publish.
    A kernel that greets each new subscriber (``iopub_welcome``, ipykernel 7)
    proves it at once: everything it publishes after the greeting reaches the
    client, and it had published nothing else (no client before this one).
    Messages of these requests that arrive later are ignored by the client,
    which only reads those of the cells it runs.
    """
    from queue import Empty

    deadline = time.monotonic() + timeout
    sent: set[str] = set()
    reply = None
    while True:
        sent.add(kc.kernel_info())
        try:
            while True:
                msg = await kc.get_iopub_msg(timeout=0.1)
                if msg["msg_type"] == "iopub_welcome" or (
                        msg["parent_header"].get("msg_id") in sent and msg["msg_type"] == "status"
                        and msg["content"].get("execution_state") == "idle"):
                    break
        except Empty:
            if not await kc.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds") from None
            continue
        break
    while reply is None:  # its reply on the shell channel (the kernel sent it before its idle status)
        msg = await kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") in sent and msg["msg_type"] == "kernel_info_reply":
            reply = msg
    kc._handle_kernel_info_reply(reply)


def kernel_key(notebook: Path, cwd: str | Path | None = None, *, warm: bool = False, threads: int | None = None) -> Key:
    """Return the key of the kernel a notebook runs in: working folder (default its own), warm or not, BLAS threads."""
    return (str(Path(cwd).resolve() if cwd is not None else notebook.resolve().parent), warm, threads)


def _execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str | None = None,
    cwd: str | Path | None = None,
    progress: bool = False,
    warm: bool = False,
    threads: int | None = None,
    on_kernel: Callable[[], None] | None = None,
    after_cells: Callable[[], None] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Path:
    """Execute ``notebook`` into ``output`` with already checked ``parameters``.

    In poolkit's kernel, the notebook runs in a fresh kernel of the process's
    supply (one started ahead when ``warm`` and one is waiting; ``threads``
    caps its BLAS / OpenMP threads), shut down afterwards and never reused; ``on_kernel`` is called once it has one and
    may raise to stop before the notebook starts (the kernel is then shut down). ``after_cells`` is called
    once the cells have run (or the execution stopped), before papermill's last save of ``output``; ``on_ready``
    once poolkit's kernel answers, before the first cell.
    """
    _import_papermill_quickly()
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    _QuietPapermill.attach_once()  # checked already: papermill's own parameter warnings are noise here
    supply = km = None
    extra: dict[str, Any] = {"cwd": str(cwd if cwd is not None else notebook.resolve().parent)}
    if kernel_name is None or kernel_name == KERNEL_NAME:
        supply = kernel_supply()
        try:
            km = supply.take(kernel_key(notebook, cwd, warm=warm, threads=threads))
        except Exception as exc:  # noqa: BLE001 - the kernel could not start
            raise _report_error(notebook, output, {}, f"the kernel did not start: {type(exc).__name__}: {exc}") from exc
        extra = {"km": km, "on_ready": on_ready}  # started in the notebook's folder: papermill needs no cwd
        if on_kernel is not None:  # e.g. start the next notebook's kernel ahead; may stop this one
            try:
                on_kernel()
            except BaseException:
                supply.retire(km, now=True)
                raise
    if after_cells is not None:
        extra["after_cells"] = after_cells
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name or KERNEL_NAME,
            language="python",
            progress_bar=progress,
            engine_name=_engine_name(),
            **extra,
        )
    except pm.PapermillExecutionError as exc:
        info = failing_cell(output) or {
            "cell_index": exc.cell_index, "execution_count": exc.exec_count,
            "ename": exc.ename, "evalue": exc.evalue, "source": exc.source,
        }
        raise _report_error(notebook, output, info, f"{exc.ename}: {exc.evalue}") from None
    except Exception as exc:  # kernel died, timeout, unreadable output...
        raise _report_error(notebook, output, failing_cell(output), f"{type(exc).__name__}: {exc}") from exc
    finally:
        if supply is not None and km is not None:
            supply.retire(km)
        if after_cells is not None:  # (papermill stopped before its engine ran)
            after_cells()
    return output

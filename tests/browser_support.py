"""Shared helpers for the real-browser tests: Debian chromium through Playwright.

The browser is Debian's ``/usr/bin/chromium`` (installed by ``make browser``),
driven by the Playwright Python package; Playwright's own browser download is
never used. Servers (JupyterLab, the Voilà app) run on 127.0.0.1 on a free port
with a random token, with every Jupyter/IPython/matplotlib folder in a temporary
directory, and are stopped (by process id) when the test ends. A failing step
saves a screenshot under ``$POOLKIT_SCREENSHOT_DIR`` (default: the system
temporary folder, ``poolkit-browser-screenshots/``) and names it in the error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# JupyterLab user settings for the tests: start the notebook's kernel without asking,
# and never fetch news or check for updates (no network, no pop-ups over the page).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
SCREENSHOT_DIR = Path(os.environ.get("POOLKIT_SCREENSHOT_DIR") or tempfile.gettempdir()) / "poolkit-browser-screenshots"


def in_ci() -> bool:
    """Return True when running under continuous integration (env ``CI`` set to true/1/yes)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_chromium() -> str:
    """Return the chromium path; skip the test when it is missing, fail instead under CI."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Debian chromium not found at {CHROMIUM}; install it with `make browser` (apt-get install chromium)"
    if in_ci():
        pytest.fail(message + " -- CI=true, so the browser tests must run", pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")  # pragma: no cover


def require_playwright() -> None:
    """Fail under CI, skip otherwise, when the Playwright package is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        message = "the Playwright Python package is missing; install the `browser` extra (make install-dev)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(base: Path, **extra: str) -> dict[str, str]:
    """Return os.environ with every Jupyter/IPython/matplotlib folder under ``base``."""
    env = dict(os.environ)
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
    }.items():
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / sub)
    env["MPLBACKEND"] = "Agg"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.update(extra)
    return env


@dataclass
class Server:
    """A server process started for a test, reachable at ``url`` (token included)."""

    process: subprocess.Popen[bytes]
    port: int
    token: str
    log: Path

    @property
    def base(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Return the URL of ``path`` with the token as query parameter."""
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"

    def wait_ready(self, path: str = "/api/status", timeout: float = 90.0) -> Server:
        """Wait until the server answers ``path``; return self."""
        _wait_http(self, path, timeout)
        return self

    def log_tail(self, n: int = 40) -> str:
        """Return the last ``n`` lines of the server log (for error messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _wait_http(server: Server, path: str, timeout: float) -> None:
    """Wait until the server answers ``path`` with any HTTP status below 500 (redirects count)."""
    import http.client

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with code {server.process.returncode}:\n{server.log_tail()}")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            conn.request("GET", server.url(path).removeprefix(server.base))
            status = conn.getresponse().status
            if status < 500:
                return
            last = f"HTTP {status}"
        except OSError as exc:
            last = exc
        finally:
            conn.close()
        time.sleep(0.25)
    raise TimeoutError(f"server on port {server.port} not ready after {timeout:.0f} s ({last}):\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)  # the server started its own process group
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def serve(command: Sequence[str], *, port: int, token: str, home: Path, ready_path: str,
          env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 90.0,
          wait: bool = True) -> Iterator[Server]:
    """Start ``command`` in its own process group, wait for ``ready_path``, stop it afterwards.

    With ``wait=False`` the server is yielded at once (start the browser meanwhile)
    and the caller calls ``server.wait_ready()``.
    """
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                   env=env or isolated_env(home), start_new_session=True)
    server = Server(process=process, port=port, token=token, log=log)
    try:
        if wait:
            _wait_http(server, ready_path, timeout)
        yield server
    finally:
        _stop(process)


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, home: Path, *, env: dict[str, str] | None = None, wait: bool = True) -> Iterator[Server]:
    """Run JupyterLab on 127.0.0.1 (free port, random token) serving ``root_dir``."""
    port, token = free_port(), secrets.token_hex(16)
    env = dict(env or isolated_env(home))
    settings = home / "lab-settings"
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(home / "lab-workspaces")
    for name, values in LAB_SETTINGS.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    command = [
        str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
        "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.open_browser=False", "--LabApp.news_url=", "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with serve(command, port=port, token=token, home=home, ready_path="/api/status",
               env=env, cwd=root_dir, wait=wait) as server:
        yield server


@contextlib.contextmanager
def voila_app(home: Path, *, extra_args: Sequence[str] = (), wait: bool = True) -> Iterator[Server]:
    """Run the ``poolkit app`` command on a free port with a token."""
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "poolkit.cli", "app", "--port", str(port), "--token", token, "--no-browser",
               *extra_args]
    with serve(command, port=port, token=token, home=home, ready_path="/api/status",
               env=isolated_env(home), cwd=ROOT, timeout=90, wait=wait) as server:
        yield server


@contextlib.contextmanager
def browser_page(name: str, *, block_network: bool = False, allow_hosts: Sequence[str] = ("127.0.0.1", "localhost"),
                 viewport: tuple[int, int] = (1400, 1000)) -> Iterator[object]:
    """Open a fresh headless chromium page; save a screenshot when the block raises.

    With ``block_network`` every request whose URL is not ``file:``, ``data:``,
    ``blob:`` or on ``allow_hosts`` is aborted and listed in ``page.blocked``.
    Failed requests are listed in ``page.failed``. The screenshot lands in
    ``SCREENSHOT_DIR/<name>-<time>.png`` and its path is added to the error.
    """
    require_playwright()
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="poolkit-chromium-"))
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.blocked = []  # type: ignore[attr-defined]
                page.failed = []  # type: ignore[attr-defined]
                page.console_errors = []  # type: ignore[attr-defined]
                page.on("requestfailed", lambda req: page.failed.append(f"{req.url} ({req.failure})"))
                page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
                if block_network:
                    hosts = tuple(allow_hosts)

                    def route(rt: object) -> None:
                        url = rt.request.url  # type: ignore[attr-defined]
                        host = re.sub(r"^[a-z]+://([^/:]*).*$", r"\1", url)
                        if url.startswith(("file:", "data:", "blob:")) or (url.startswith("http") and host in hosts):
                            rt.continue_()  # type: ignore[attr-defined]
                        else:
                            page.blocked.append(url)
                            rt.abort()  # type: ignore[attr-defined]

                    context.route("**/*", route)
                try:
                    yield page
                except BaseException as exc:
                    shot = save_screenshot(page, name)
                    if shot is not None and hasattr(exc, "add_note"):
                        exc.add_note(f"screenshot of the page: {shot}")
                    raise
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(page: object, name: str) -> Path | None:
    """Save a full-page screenshot of ``page`` under SCREENSHOT_DIR and return its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{time.strftime('%Y%m%d-%H%M%S')}.png"
    try:
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    except Exception:  # the page may be gone; the original error matters more
        return None
    return path


def wait_for_change(read: object, before: str, *, timeout: float = 30.0, interval: float = 0.25) -> str:
    """Poll ``read()`` until it returns something other than ``before``; return it."""
    deadline = time.monotonic() + timeout
    now = before
    while time.monotonic() < deadline:
        now = read()  # type: ignore[operator]
        if now != before:
            return now
        time.sleep(interval)
    raise AssertionError(f"value did not change within {timeout:.0f} s (still {before!r})")


def numbers_in(text: str) -> list[float]:
    """Return the numbers printed in ``text`` (for comparing figures shown on a page)."""
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]

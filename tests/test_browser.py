"""Real-browser tests: Debian chromium driven by Playwright.

They start JupyterLab and the Voilà app (``poolkit app``) on 127.0.0.1 with a
token, open notebooks/06_explorers.ipynb, move a slider and check that a figure
on the page changes; and open an HTML report from disk with the network blocked
and check that every figure renders. Screenshots of failures are saved under
the temporary folder named in the error. Skipped (with the reason) when
/usr/bin/chromium is missing, except under CI=true where that is a failure.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser_support import (
    browser_page,
    isolated_env,
    jupyter_lab,
    numbers_in,
    require_chromium,
    voila_app,
    wait_for_change,
)

ROOT = Path(__file__).resolve().parents[1]
EXPLORERS = ROOT / "notebooks" / "06_explorers.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIGURES = ".poolkit-diversification .poolkit-figures"
SLIDER_HANDLE = ".poolkit-diversification .widget-slider .noUi-handle"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def _interactive_copy(folder: Path) -> Path:
    """Write 06_explorers with ``interactive = True`` injected, as papermill would."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(EXPLORERS)), {"interactive": True})
    out = folder / EXPLORERS.name
    nbformat.write(nb, out)
    return out


def _status_without_token(port: int, path: str) -> int:
    """HTTP status of ``path`` fetched with no token and no cookie (redirects not followed)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _pooled_volatility(page: object) -> str:
    return page.locator(FIGURES).first.inner_text()  # type: ignore[attr-defined]


def _move_correlation_slider(page: object) -> None:
    """Press the right arrow on the correlation slider (the first slider of the explorer)."""
    handle = page.locator(SLIDER_HANDLE).first  # type: ignore[attr-defined]
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(4):  # 4 steps of 0.05: correlation 0.30 -> 0.50
        handle.press("ArrowRight")


def _check_slider_moves_figures(page: object) -> None:
    before = _pooled_volatility(page)
    assert "Pooled volatility" in before
    _move_correlation_slider(page)
    after = wait_for_change(lambda: _pooled_volatility(page), before, timeout=30)
    # more correlation, more pooled risk: the volatility shown must rise (closed form checked in test_widgets)
    vol_before = numbers_in(before.split("Pooled volatility")[1])[0]
    vol_after = numbers_in(after.split("Pooled volatility")[1])[0]
    assert vol_after > vol_before, (before, after)
    assert not page.locator(".poolkit-diversification .poolkit-error").count()  # type: ignore[attr-defined]


def test_jupyterlab_runs_explorers_and_a_slider_updates_the_figures(tmp_path):
    root = tmp_path / "lab"
    root.mkdir()
    _interactive_copy(root)
    home = tmp_path / "home"
    home.mkdir()
    with jupyter_lab(root, home, env=isolated_env(home), wait=False) as server, browser_page("jupyterlab-06") as page:
        page.set_default_timeout(60_000)
        server.wait_ready()
        page.goto(server.url(f"/lab/tree/{EXPLORERS.name}"))
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        select = page.get_by_role("button", name="Select", exact=True)
        if select.is_visible():  # a kernel dialog despite autoStartDefaultKernel: take the preferred one
            select.click()
        # wait until the poolkit kernel is connected and idle (status bar), then Run > Run All Cells
        page.get_by_text("Python (poolkit) | Idle").first.wait_for(timeout=90_000)
        for attempt in range(2):
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            try:
                page.wait_for_function(
                    f"document.querySelector('{FIGURES}') && document.querySelector('{FIGURES}').innerText.includes('Pooled volatility')",
                    timeout=90_000,
                )
                break
            except Exception:
                # a run-all sent while the kernel was still connecting is dropped by JupyterLab; once more
                if attempt or page.locator(".jp-InputArea-prompt:has-text('[*]')").count():
                    raise
        _check_slider_moves_figures(page)


def test_voila_app_serves_explorers_and_a_slider_updates_the_figures(tmp_path):
    with voila_app(tmp_path, wait=False) as server, browser_page("voila-06") as page:
        page.set_default_timeout(60_000)
        server.wait_ready("/voila/static/voila.js")
        start = time.monotonic()
        page.goto(server.url("/"), timeout=180_000)
        page.locator(FIGURES).first.wait_for(timeout=180_000)
        page.wait_for_function(
            f"document.querySelector('{FIGURES}') && document.querySelector('{FIGURES}').innerText.includes('Pooled volatility')",
            timeout=60_000,
        )
        assert time.monotonic() - start < 180
        _check_slider_moves_figures(page)
        # the token protects the app: without it the page is refused
        assert _status_without_token(server.port, "/") in (302, 401, 403)


def test_html_report_renders_its_figures_offline(tmp_path):
    from poolkit.reporting import run_suite

    report = run_suite(name="browser", notebooks=[EXPLORERS], output_dir=tmp_path / "report", progress=False)
    pages = sorted(report.glob("*.html"))
    page_file = report / "06_explorers.html"
    assert page_file in pages, pages
    with browser_page("report-06", block_network=True) as page:
        for html_file in (page_file, report / "index.html") if (report / "index.html").exists() else (page_file,):
            page.goto(html_file.as_uri(), wait_until="load")
            page.wait_for_load_state("networkidle")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({src: e.src.slice(0, 40), complete: e.complete, w: e.naturalWidth}))"
            )
            broken = [i for i in images if not i["complete"] or i["w"] == 0]
            assert not broken, f"{html_file.name}: broken images {broken}"
            if html_file == page_file:
                assert len(images) >= 3, f"{html_file.name}: expected the three explorer charts, got {images}"
                text = page.inner_text("body")
                assert "Pooled volatility" in text and "Weighted average life" in text
        assert not page.blocked, f"the report tried to reach the network: {page.blocked}"
        assert not page.failed, f"failed requests: {page.failed}"

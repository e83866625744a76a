"""Shared machinery of the explorers: controls + compute(values) -> view + render(view) -> (html, png)."""

from __future__ import annotations

import asyncio
import html
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import PoolkitError

#: The three-asset example of the source document: expected return and risk (volatility), annual.
SEED_ASSETS = pd.DataFrame(
    {"expected_return": [0.10, 0.15, 0.12], "volatility": [0.20, 0.30, 0.25]},
    index=pd.Index(["资产1", "资产2", "资产3"], name="asset"),
)

#: Environment variable that makes :func:`show` render live widgets (set by ``poolkit app``).
INTERACTIVE_ENV = "POOLKIT_INTERACTIVE"

_ERROR_STYLE = "color:#b00020;background:#fdecea;border-left:4px solid #b00020;padding:4px 8px;margin:4px 0"



# --------------------------------------------------------------------------------------------
# Shared machinery: a panel = controls + compute(values) -> view + render(view) -> (html, png)
# --------------------------------------------------------------------------------------------


@dataclass
class _Spec:
    """What an explorer is made of; the same spec renders live or static."""

    name: str
    title: str
    defaults: dict[str, Any]
    compute: Callable[[Mapping[str, Any]], dict[str, Any]]
    render: Callable[[dict[str, Any]], tuple[str, bytes]]
    controls: Callable[[Mapping[str, Any]], dict[str, Any]]
    view_only: frozenset[str] = field(default_factory=frozenset)


class _Debouncer:
    """Call ``func`` once, ``wait`` seconds after the last of a burst of calls.

    In a running kernel the call is scheduled on its event loop; without a running
    loop (plain Python, tests) or with ``wait <= 0`` it happens at once.
    """

    def __init__(self, func: Callable[[], None], wait: float) -> None:
        self.func = func
        self.wait = float(wait)
        self._handle: asyncio.TimerHandle | None = None

    def __call__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.wait <= 0:
            self.func()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.func()
            return
        self._handle = loop.call_later(self.wait, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.func()


def _error_html(exc: BaseException) -> str:
    """Return the message shown in the page for an error (poolkit errors verbatim)."""
    if isinstance(exc, PoolkitError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = f"Unexpected {type(exc).__name__}: {exc}"
    return (
        f'<div class="poolkit-error" style="{_ERROR_STYLE}">{html.escape(text)}'
        "<br><small>The last valid result is still shown below.</small></div>"
    )


def _figures_html(rows: Sequence[tuple[str, str]]) -> str:
    """Return an HTML table of (label, formatted value) rows."""
    body = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{html.escape(k)}</th>'
        f'<td class="poolkit-value" style="text-align:right">{html.escape(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table class="poolkit-figures-table">{body}</table>'


def _png(fig: Any) -> bytes:
    """Render a matplotlib Figure to PNG bytes (no pyplot state, no backend needed)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def _new_figure(ncols: int, width: float = 12.0, height: float = 3.8) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    from poolkit.plotting import register_cjk_fonts

    # Chinese asset names draw as they are; again at every figure, because a library imported
    # later (seaborn's set(), as quantstats calls it) may have reset the font families
    register_cjk_fonts()

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, np.atleast_1d(axes)


class _Panel:
    """Live state of an explorer: the widgets, the last valid view and the refresh logic."""

    def __init__(self, spec: _Spec, debounce: float) -> None:
        import ipywidgets as w

        self.spec = spec
        self.controls = spec.controls(spec.defaults)
        self.view: dict[str, Any] | None = None
        self.status = w.HTML(value="")
        self.status.add_class("poolkit-status")
        self.figures = w.HTML(value="")
        self.figures.add_class("poolkit-figures")
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self.image.add_class("poolkit-chart")
        box = w.VBox(list(self.controls.values()), layout=w.Layout(min_width="340px", max_width="380px"))
        right = w.VBox([self.status, self.figures], layout=w.Layout(flex="1 1 auto"))
        self.widget = w.VBox([w.HTML(f"<h3>{html.escape(spec.title)}</h3>"), w.HBox([box, right]), self.image])
        self.widget.add_class("poolkit-explorer")
        self.widget.add_class(f"poolkit-{spec.name}")
        self.refresh = _Debouncer(self.update, debounce)
        for control in self.controls.values():
            control.observe(self.refresh, names="value")
        self.update()

    def values(self) -> dict[str, Any]:
        """Return the current control values, keyed like the spec's defaults."""
        return {key: control.value for key, control in self.controls.items()}

    def update(self) -> None:
        """Recompute the view from the controls; show an error instead of raising."""
        try:
            view = self.spec.compute(self.values())
            text, png = self.spec.render(view)
        except Exception as exc:  # never raise into the page; poolkit errors carry the fix
            self.status.value = _error_html(exc)
            return
        self.view = view
        self.status.value = ""
        self.figures.value = text
        self.image.value = png


def _build(spec: _Spec, debounce: float) -> Any:
    panel = _Panel(spec, debounce)
    widget = panel.widget
    widget.poolkit_panel = panel  # for tests and power users: panel.controls, panel.view
    return widget


def live_frontend() -> bool:
    """Return True when live widgets can be shown: under Voilà or with ``POOLKIT_INTERACTIVE=1``.

    papermill, nbconvert and other headless runs have no browser attached, so
    :func:`show` renders the static version there unless told otherwise.

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(live_frontend(), bool)
    True
    """
    if os.environ.get(INTERACTIVE_ENV, "").strip().lower() in {"1", "true", "yes"}:
        return True
    return bool(os.environ.get("VOILA_REQUEST_URL") or os.environ.get("VOILA_KERNEL_ID"))


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)

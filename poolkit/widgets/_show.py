"""`show`: an explorer live in a browser, or its static picture in a report."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from poolkit.exceptions import ParameterError
from poolkit.widgets._allocation import _allocation_spec, allocation_explorer
from poolkit.widgets._core import _Spec, live_frontend
from poolkit.widgets._diversification import _diversification_spec, diversification_explorer
from poolkit.widgets._loan_pool import _loan_pool_spec, loan_pool_explorer

_EXPLORERS: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (allocation_explorer, diversification_explorer, loan_pool_explorer)
}
_SPECS: dict[str, Callable[..., _Spec]] = {
    "allocation_explorer": _allocation_spec,
    "diversification_explorer": _diversification_spec,
    "loan_pool_explorer": _loan_pool_spec,
}


def show(explorer: Callable[..., Any], *args: Any, interactive: bool = False, **kwargs: Any) -> Any:
    """Display an explorer live, or its static version (same figures at the defaults).

    Parameters
    ----------
    explorer : callable
        One of :func:`allocation_explorer`, :func:`diversification_explorer`,
        :func:`loan_pool_explorer`.
    *args, **kwargs
        Passed to the explorer (e.g. ``returns`` and default settings).
    interactive : bool, default False
        Show live widgets. Also live when :func:`live_frontend` is True (Voilà,
        ``POOLKIT_INTERACTIVE=1``). Otherwise (report runs) the static version is
        shown: an HTML table of the key figures and the chart as an embedded PNG,
        with no widget state, so exported HTML needs no network.

    Returns
    -------
    object
        The widget when live, else the static IPython ``HTML`` object of the figures.

    Raises
    ------
    ParameterError
        If ``explorer`` is not one of poolkit's explorers.
    """
    from IPython.display import HTML, Image, display

    spec_of = _SPECS.get(getattr(explorer, "__name__", ""))
    if spec_of is None or explorer is not _EXPLORERS[explorer.__name__]:
        raise ParameterError(
            f"`explorer` must be one of {sorted(_SPECS)} from poolkit.widgets, got {explorer!r}."
        )
    debounce = kwargs.pop("debounce", 0.3)
    if interactive or live_frontend():
        widget = explorer(*args, debounce=debounce, **kwargs)
        display(widget)
        return widget
    spec = spec_of(*args, **kwargs)
    view = spec.compute(spec.defaults)
    text, png = spec.render(view)
    shown = HTML(f"<h3>{html.escape(spec.title)}</h3>{text}")
    display(shown)
    display(Image(data=png, format="png"))
    return shown



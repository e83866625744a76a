"""How a report kernel displays Series, dicts and Stylers (private; imported before the first cell).

Kept apart from :mod:`poolkit.reporting`, whose import loads pandas: a kernel
that starts bare stays bare until its notebook imports something; the formatters
import :mod:`poolkit.reporting` only when they first display a value.
"""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["use_readable_display"]


def _flat_figures(obj: Any) -> bool:
    """Tell whether a dict is a non-empty flat mapping of scalars (shown as a table)."""
    import numpy as np

    scalars = (str, bool, numbers.Number, np.generic, type(None))
    return bool(obj) and len(obj) <= 500 and all(isinstance(k, scalars) for k in obj) and all(
        isinstance(v, scalars) for v in obj.values())


def _series_html(series: Any) -> str:
    from poolkit.reporting._display import table

    return str(table(series).to_html())


def _dict_html(mapping: Any) -> str | None:
    if not _flat_figures(mapping):
        return None
    from poolkit.reporting._display import table

    return str(table(mapping).to_html())


def _styler_text(styler: Any, printer: Any, cycle: bool) -> None:
    printer.text(styler.to_string())


def use_readable_display(shell: Any = None) -> None:
    """Show every Series and every flat dict as a formatted table in this IPython kernel.

    A Series displays like :func:`poolkit.reporting.table` (a labelled
    one-column table, 4 significant digits, no ``dtype:`` line); a dict of
    numbers or text too; a Styler's plain text is its formatted table. Report
    kernels do this before the first cell; call it in JupyterLab to read
    notebooks the same way.

    Parameters
    ----------
    shell : IPython InteractiveShell, optional
        Default: the running one (nothing happens outside IPython).
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
    formatters = shell.display_formatter.formatters
    # by name, so that pandas is imported only by the notebook; its classes say "pandas" (v3) or their module
    for module in ("pandas", "pandas.core.series"):
        formatters["text/html"].for_type_by_name(module, "Series", _series_html)
    formatters["text/html"].for_type(dict, _dict_html)
    for module in ("pandas", "pandas.io.formats.style"):
        formatters["text/plain"].for_type_by_name(module, "Styler", _styler_text)

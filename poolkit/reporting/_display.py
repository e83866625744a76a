"""Tables and figures formatted for reading in reports (private).

:func:`table` turns a DataFrame, a Series or a dict of figures into a labelled
table whose numbers have sensible digits and whose percentages read as
percentages; ``poolkit._display_hooks.use_readable_display`` makes a kernel show
every Series and every flat dict that way (report kernels call it before the
first cell), so no ``dtype: float64`` or raw dict reaches a report. :func:`figure_html` shows a key
figure of ``summary.json`` on an index page, nested values as small tables.
"""

from __future__ import annotations

import fnmatch
import hashlib
import html
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["figure_html", "format_figure", "format_number", "table"]

SIGNIFICANT = 4
"""Significant digits of a number in a report table (percentages: one fewer)."""
_MAX_DECIMALS = 6
_NA = "–"


def _decimals(top: float, significant: int) -> int:
    """Decimals that show ``significant`` digits of the largest magnitude ``top`` (0 for large numbers)."""
    if not math.isfinite(top) or top == 0:
        return 0
    return int(min(max(significant - 1 - math.floor(math.log10(top)), 0), _MAX_DECIMALS))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def format_number(value: Any, *, percent: bool = False, decimals: int | None = None, top: float | None = None) -> str:
    """Show one number for reading: 4 significant digits, thousands separated, or as a percentage.

    Parameters
    ----------
    value : number
        The number (anything else is shown with ``str``; NaN and None as "–").
    percent : bool, default False
        Show ``value`` (a fraction) as a percentage: 0.1836 -> ``18.4%``.
    decimals : int, optional
        Decimals to show; default: enough for 4 significant digits (3 for a
        percentage) of ``top``.
    top : float, optional
        Largest magnitude of the group ``value`` belongs to (a table column),
        so a column shares its decimals; default ``abs(value)``.

    Returns
    -------
    str
        Integers (and whole numbers outside a column) in full, numbers from
        10,000 up with thousands separators, magnitudes below 0.0001 in
        scientific notation; a number outside a column without trailing zeros.

    Examples
    --------
    >>> format_number(0.18363636), format_number(11.715145868783246), format_number(99121318.65)
    ('0.1836', '11.72', '99,121,319')
    >>> format_number(0.18363636, percent=True), format_number(2517), format_number(float("nan"))
    ('18.4%', '2517', '–')
    >>> format_number(9.30107e-06), format_number(0.0146, top=0.2858)
    ('9.301e-06', '0.0146')
    >>> format_number(0.035, percent=True, top=1.0), format_number(1.0, percent=True, top=1.0)
    ('3.5%', '100.0%')
    """
    if value is None:
        return _NA
    if not _is_number(value):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return _NA
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    scale = 100.0 if percent else 1.0
    magnitude = abs(number * scale) if top is None else abs(top * scale)
    suffix = "%" if percent else ""
    auto = decimals is None
    if decimals is None:
        whole = isinstance(value, numbers.Integral) or (top is None and number.is_integer() and abs(number) < 1e15)
        if whole and not percent:  # a count, alone or in a row of its own
            return f"{int(number):,}" if abs(number) >= 10_000 else str(int(number))
        if 0 < magnitude < 1e-4:
            return f"{number * scale:.{SIGNIFICANT - 1}e}{suffix}"
        decimals = _decimals(magnitude, SIGNIFICANT - 1 if percent else SIGNIFICANT)
        if percent:  # at least one decimal: beside 100.0 %, 3.5 % must not read 4 %
            decimals = max(decimals, 1)
    separator = "," if abs(number * scale) >= 10_000 else ""
    text = f"{number * scale:{separator}.{decimals}f}"
    if auto and top is None and "." in text:  # a number on its own: no trailing zeros (0.95, not 0.9500)
        text = text.rstrip("0").rstrip(".")
    return text + suffix


def _as_frame(obj: Any, name: str | None) -> tuple[Any, bool]:
    """Return ``obj`` as a DataFrame and whether each row is its own quantity (a Series or a dict)."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        return obj, False
    if isinstance(obj, pd.Series):
        return obj.to_frame(name if name is not None else (obj.name if obj.name is not None else "value")), True
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, (Mapping, pd.Series)) for v in obj.values()):
            return pd.DataFrame({k: pd.Series(v) for k, v in obj.items()}), False
        return pd.Series(dict(obj), dtype=object).to_frame(name if name is not None else "value"), True
    raise TypeError(
        f"table() takes a DataFrame, a Series or a dict, got {type(obj).__name__}; e.g. "
        "`pk.reporting.table({'pooled volatility': vol}, percent=['pooled volatility'])`."
    )


def _matches(label: Any, item: Any) -> bool:
    """Tell whether ``label`` is named by ``item``: equal, or a text matching the pattern ``item`` (with ``*``)."""
    if isinstance(item, str) and "*" in item:
        return isinstance(label, str) and fnmatch.fnmatchcase(label, item)
    try:
        return bool(label == item)
    except (TypeError, ValueError):
        return False


def _labels(selection: bool | str | Iterable[Any] | None, axis: Any) -> set[Any]:
    """Labels of ``axis`` named by ``selection`` (labels, or patterns with ``*`` such as ``"annual vol*"``).

    On an axis with several levels (a MultiIndex), a label is named when the
    whole tuple is, or any one of its levels is: ``"yield"`` names
    ``("A", "yield")`` and ``("B", "yield")``.
    """
    if selection is None or selection is False:
        return set()
    if selection is True:
        return set(axis)
    if isinstance(selection, str):
        selection = [selection]
    items = list(selection)
    chosen: set[Any] = set()
    for label in axis:
        parts = label if isinstance(label, tuple) else ()
        if any(_matches(label, item) or any(_matches(part, item) for part in parts) for item in items):
            chosen.add(label)
    return chosen


def table(
    obj: Any,
    *,
    percent: bool | str | Iterable[Any] | None = None,
    decimals: int | None = None,
    name: str | None = None,
    index_name: str | None = None,
) -> Any:
    r"""Show a DataFrame, Series or dict of figures as a labelled table formatted for reading.

    Numbers get 4 significant digits (a column shares its decimals; in a Series
    or a dict, where each row is its own quantity, each row has its own),
    thousands separators from 10,000, and NaN shows as "–". The labels named by
    ``percent`` are shown as percentages with 3 significant digits. The data
    are not changed: the result is a pandas Styler whose ``.data`` is the table.

    Parameters
    ----------
    obj : DataFrame, Series or dict
        A table; a Series (one column named ``name``, its own name or
        ``"value"``); a dict of figures (one row per key) or of Series/dicts
        (one column per key).
    percent : bool, str or list of labels, optional
        Columns, or rows, shown as percentages (fractions in the data: 0.25 is
        shown 25.0%); a label may be a pattern such as ``"annual vol*"``; True
        for every number. With several levels of labels, a label names every
        column (or row) that has it at any level: ``percent=["yield"]`` for the
        rows ``("A", "yield")`` and ``("B", "yield")``.
    decimals : int, optional
        Fixed decimals for every number instead of 4 significant digits.
    name : str, optional
        Column name of a Series or of a dict of figures.
    index_name : str, optional
        Name of the index (the header of the label column).

    Returns
    -------
    pandas.io.formats.style.Styler
        Displayed as an HTML table in notebooks and reports; ``.to_string()``
        gives the same formatted text.

    Raises
    ------
    TypeError
        If ``obj`` is not a DataFrame, a Series or a dict.

    Notes
    -----
    With :math:`m = \max_i |x_i|` over a column, a number is shown with
    :math:`d = \min(\max(3 - \lfloor \log_{10} m \rfloor, 0), 6)` decimals, i.e. 4
    significant digits of the largest entry; percentages use :math:`100 x` and 3
    significant digits, with at least one decimal.

    References
    ----------
    .. [1] Ehrenberg, A. S. C. (1977). Rudiments of numeracy. J. R. Stat. Soc. A
       140(3), 277-297 (round to two or three effective digits).

    Examples
    --------
    >>> print(table({"pooled volatility": 0.18363636, "diversification ratio": 1.3614}, percent=["pooled volatility"],
    ...             index_name="measure").to_string(delimiter=" | "))  # doctest: +NORMALIZE_WHITESPACE
     | value
    measure |
    pooled volatility | 18.4%
    diversification ratio | 1.361
    <BLANKLINE>
    """
    import numpy as np
    import pandas as pd
    from pandas.io.formats.style import Styler

    frame, per_row = _as_frame(obj, name)
    if index_name is not None:
        frame = frame.rename_axis(index_name)
    pct_columns = _labels(percent, frame.columns) if percent is not True else set(frame.columns)
    pct_rows = _labels(percent, frame.index) - pct_columns if percent is not True else set()
    digest = hashlib.sha256(repr((frame.shape, list(frame.columns)[:50], list(frame.index)[:50])).encode()).hexdigest()
    styler = Styler(frame, uuid=f"pk{digest[:10]}", uuid_len=0, cell_ids=False, na_rep=_NA,
                    table_attributes='class="dataframe poolkit-table"')
    row_is_pct = np.array([label in pct_rows for label in frame.index], dtype=bool)
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        for rows, in_pct_rows in ((row_is_pct, True), (~row_is_pct, False)):
            if not rows.any():
                continue
            as_pct = column in pct_columns or in_pct_rows
            numeric = [float(v) for v in values[rows] if _is_number(v) and math.isfinite(float(v))]
            top = None if per_row or not numeric else max((abs(v) for v in numeric), default=0.0)

            def show(value: Any, pct: bool = as_pct, group_top: float | None = top) -> str:
                return format_number(value, percent=pct and _is_number(value), decimals=decimals, top=group_top)

            styler = styler.format(show, subset=pd.IndexSlice[rows, [column]])
    return styler


# --------------------------------------------------------------------------- key figures on index pages


def figure_html(value: Any, *, depth: int = 0) -> str:
    """Show a key figure of ``summary.json`` as HTML: numbers with 4 significant digits, nested values as tables.

    Examples
    --------
    >>> figure_html({"100 PSA": 11.715145868783246, "50 PSA": 15.07437279843263})
    '<table class="figures"><tr><th>100 PSA</th><td>11.72</td></tr><tr><th>50 PSA</th><td>15.07</td></tr></table>'
    >>> figure_html([0.25, 0.5]), figure_html("资产1 <b>")
    ('0.25, 0.5', '资产1 &lt;b&gt;')
    """
    if isinstance(value, Mapping):
        if depth >= 3 or not value:
            return html.escape(format_figure(value))
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{figure_html(v, depth=depth + 1)}</td></tr>"
                       for k, v in value.items())
        return f'<table class="figures">{rows}</table>'
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (Mapping, list, tuple)) for v in value):
            return "<br>".join(figure_html(v, depth=depth + 1) for v in value[:20])
        shown = ", ".join(html.escape(format_figure(v)) for v in value[:20])
        return shown + (f", … ({len(value)} values)" if len(value) > 20 else "")
    return html.escape(format_figure(value))


def format_figure(value: Any) -> str:
    """Show a recorded key figure briefly as text: numbers with 4 significant digits, text as is.

    Examples
    --------
    >>> format_figure(0.0123456789), format_figure(True), format_figure("ok"), format_figure([1, 2.5])
    ('0.01235', 'true', 'ok', '1, 2.5')
    >>> format_figure({"equity": 0.2887822499999999})
    'equity: 0.2888'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or _is_number(value):
        return format_number(value)
    if isinstance(value, Mapping):
        text = "; ".join(f"{k}: {format_figure(v)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(format_figure(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= 200 else text[:197] + "..."

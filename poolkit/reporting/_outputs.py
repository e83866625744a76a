"""What a notebook keeps: tables, key figures, and how a key figure is shown (private)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from poolkit.reporting._display import format_figure

__all__ = ["SUMMARY_FILE", "format_figure", "jsonable", "record", "save_tables"]

SUMMARY_FILE = "summary.json"


def save_tables(tables: Mapping[str, pd.DataFrame | pd.Series], out_dir: str | Path) -> list[Path]:
    """Save labelled tables as CSV files in ``out_dir``; do nothing when ``out_dir`` is empty.

    Parameters
    ----------
    tables : mapping of str to DataFrame or Series
        File stem -> table. Index and column labels are written as they are.
    out_dir : str or Path
        Folder to write into (created when missing). ``""`` means "do not save".

    Returns
    -------
    list of Path
        The files written (empty when ``out_dir`` is empty).
    """
    if not str(out_dir):
        return []
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, table in tables.items():
        path = folder / f"{stem}.csv"
        table.to_csv(path)
        written.append(path)
    return written


def jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    # pandas not loaded (or still loading, in another thread): no Series (a report process need not import it)
    series = getattr(sys.modules.get("pandas"), "Series", None)
    if series is not None and isinstance(value, series):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def record(values: Mapping[str, Any], out_dir: str | Path) -> Path | None:
    """Record key figures of a notebook run in ``out_dir/summary.json``.

    Report and batch runs collect these figures (e.g. volatility, VaR,
    diversification ratio) into their index page. Keys already in the file are
    updated, others kept, so several cells may record. Values must be numbers,
    strings, booleans or Series/dicts of them; NaN and infinity become ``null``.

    Parameters
    ----------
    values : mapping of str to value
        Figure name -> value.
    out_dir : str or Path
        The notebook's ``out_dir`` parameter; ``""`` means "do not record".

    Returns
    -------
    Path or None
        The summary file, or None when ``out_dir`` is empty.
    """
    if not str(out_dir):
        return None
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SUMMARY_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text(encoding="utf-8"))
    current.update(jsonable(dict(values)))
    path.write_text(json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    return path

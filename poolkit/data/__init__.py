r"""Load prices and returns: the bundled sample data or your own files, checked.

Every analysis in poolkit starts from a clean panel: a float DataFrame with one
row per date (a sorted :class:`~pandas.DatetimeIndex` named ``date``) and one
column per asset, the asset names kept exactly as written in the source. This
module reads such panels from the bundled sample data (``"sample"``,
``"sample:ff_factors"``, ... see :func:`samples`) or from ``.csv``, ``.csv.gz``,
``.parquet`` and ``.xlsx`` files in wide (date x asset) or long (date, asset,
value) layout, says whether the values are prices or returns, turns prices into
returns, changes the frequency with correct compounding, and reports the data
quality (gaps, stale prices, extreme moves) that decides whether a pool built
on the data can be trusted.

Bad input never slips through: every problem raises a
:class:`~poolkit.exceptions.PoolkitError` subclass naming the file, column and
row or date, with a fix. Results carry ``frame.attrs["source"]`` (the file
read), ``attrs["name"]`` (the source as given), ``attrs["kind"]`` (``"prices"``
or ``"returns"``) and, for returns, ``attrs["returns_kind"]``.
"""

from __future__ import annotations

from poolkit.data._catalogue import overview, samples
from poolkit.data._frequency import (
    CALENDARS,
    FREQUENCIES,
    MAX_CLOSED_DAYS,  # noqa: F401
    calendar_gaps,
    periods_per_year,
    resample_returns,
)
from poolkit.data._loading import load_benchmark, load_prices, load_returns
from poolkit.data._quality import quality_report
from poolkit.data._returns import align_returns, to_returns
from poolkit.data._sources import source_path

__all__ = [
    "CALENDARS",
    "FREQUENCIES",
    "align_returns",
    "calendar_gaps",
    "load_benchmark",
    "load_prices",
    "load_returns",
    "overview",
    "periods_per_year",
    "quality_report",
    "resample_returns",
    "samples",
    "source_path",
    "to_returns",
]

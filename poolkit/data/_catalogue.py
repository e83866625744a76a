"""The catalogue of bundled data sets and the overview of a loaded frame."""

from __future__ import annotations

import pandas as pd

from poolkit.data._frequency import _PPY_NAME, periods_per_year
from poolkit.data._loading import _detect_kind, load_returns  # noqa: F401 (load_returns: overview's example)
from poolkit.data._quality import _numbers_only
from poolkit.data._sources import _SAMPLES, _read_sample


def samples() -> pd.DataFrame:
    """List the bundled data sets.

    Returns
    -------
    DataFrame
        One row per data set, indexed by its name (``"sample:..."``), with
        columns ``frequency``, ``values`` (prices or returns), ``rows``,
        ``assets``, ``start``, ``end``, ``description``, ``licence`` and ``file``.

    Examples
    --------
    >>> table = samples()
    >>> int(table.loc["sample:sp500", "assets"])
    20
    """
    rows = []
    for key, (file, freq, kind, description, licence) in _SAMPLES.items():
        frame = _read_sample(key)
        rows.append(
            {
                "name": f"sample:{key}",
                "frequency": freq,
                "values": kind,
                "rows": frame.shape[0],
                "assets": frame.shape[1],
                "start": frame.index[0].date().isoformat(),
                "end": frame.index[-1].date().isoformat(),
                "description": description,
                "licence": licence,
                "file": file,
            }
        )
    return pd.DataFrame(rows).set_index("name")


def overview(frame: pd.DataFrame) -> pd.Series:
    """Summarise what a loaded frame holds: source, kind, assets, dates and frequency.

    Parameters
    ----------
    frame : DataFrame
        A frame from :func:`load_prices` or :func:`load_returns` (or any frame indexed by date).

    Returns
    -------
    Series
        ``name``, ``source``, ``kind``, ``assets``, ``dates``, ``first``, ``last``,
        ``frequency``, ``periods_per_year``, ``missing`` (count of NaN).

    Examples
    --------
    >>> overview(load_returns("sample:ff_factors"))["periods_per_year"]
    12
    """
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(
            "`frame` must be a DataFrame indexed by dates; load it with poolkit.data.load_prices."
        )
    _numbers_only(frame)
    ppy = periods_per_year(frame.index) if len(frame) > 1 else None
    return pd.Series(
        {
            "name": frame.attrs.get("name", ""),
            "source": frame.attrs.get("source", ""),
            "kind": frame.attrs.get("kind", _detect_kind(frame)[0]),
            "assets": frame.shape[1],
            "dates": frame.shape[0],
            "first": frame.index.min().date().isoformat(),
            "last": frame.index.max().date().isoformat(),
            "frequency": _PPY_NAME.get(ppy, "") if ppy else "",
            "periods_per_year": ppy,
            "missing": int(frame.isna().to_numpy().sum()),
        },
        name="overview",
        dtype=object,
    )

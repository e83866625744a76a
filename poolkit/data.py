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

import csv
import functools
import gzip
import numbers
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_positive_int, did_you_mean
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError, PoolkitWarning

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

_DATASETS = Path(__file__).resolve().parent / "datasets"

# name -> (file, frequency, values, description, licence)
_SAMPLES: dict[str, tuple[str, str, str, str, str]] = {
    "sp500": (
        "skfolio_sp500_prices_daily.csv.gz",
        "daily",
        "prices",
        "Adjusted close prices (USD) of 20 S&P 500 stocks, trading days",
        "skfolio example data (BSD-3-Clause package; Yahoo-style prices, for examples and tests only)",
    ),
    "sp500_index": (
        "skfolio_sp500_index_daily.csv.gz",
        "daily",
        "prices",
        "S&P 500 index level (benchmark of the 20-stock sample)",
        "skfolio example data (BSD-3-Clause package; for examples and tests only)",
    ),
    "factor_etfs": (
        "skfolio_factor_etf_prices_daily.csv.gz",
        "daily",
        "prices",
        "Adjusted close prices of iShares factor ETFs MTUM QUAL SIZE USMV VLUE",
        "skfolio example data (BSD-3-Clause package; Yahoo-style prices, for examples and tests only)",
    ),
    "ff_portfolios": (
        "linearmodels_ff_portfolios_monthly.csv.gz",
        "monthly",
        "returns",
        "Monthly returns (decimal) of 12 industry, 9 size-value and 9 size-momentum portfolios",
        "Ken French Data Library via linearmodels (NCSA package licence; for examples and tests only)",
    ),
    "ff_factors": (
        "linearmodels_ff_factors_monthly.csv.gz",
        "monthly",
        "returns",
        "Monthly Fama-French factor returns (decimal): MktRF SMB HML Mom RF",
        "Ken French Data Library via linearmodels (NCSA package licence; for examples and tests only)",
    ),
}
_DEFAULT_SAMPLE = "sp500"

#: Accepted ``frequency`` names -> (pandas resample rule, periods per year).
FREQUENCIES: dict[str, tuple[str, int]] = {
    "daily": ("D", 252),
    "weekly": ("W-FRI", 52),
    "monthly": ("ME", 12),
    "quarterly": ("QE", 4),
    "annual": ("YE", 1),
}
_FREQ_ALIASES = {
    "d": "daily",
    "b": "daily",
    "day": "daily",
    "w": "weekly",
    "week": "weekly",
    "m": "monthly",
    "me": "monthly",
    "month": "monthly",
    "q": "quarterly",
    "qe": "quarterly",
    "quarter": "quarterly",
    "a": "annual",
    "y": "annual",
    "ye": "annual",
    "year": "annual",
    "yearly": "annual",
    "annually": "annual",
}
_PPY_NAME = {252: "daily", 365: "daily", 52: "weekly", 12: "monthly", 4: "quarterly", 1: "annual"}

_MISSING = ("raise", "drop", "ffill")
_VALUES = ("auto", "prices", "returns")
_KINDS = ("simple", "log")
_SUFFIXES = (".csv", ".csv.gz", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")
_DATE_NAMES = ("date", "dates", "datetime", "time", "timestamp", "day", "month", "period", "日期", "时间")
_ASSET_NAMES = (
    "asset",
    "assets",
    "ticker",
    "symbol",
    "name",
    "security",
    "permno",
    "id",
    "code",
    "资产",
    "代码",
)
_VALUE_NAMES = ("value", "adj_close", "adj close", "adjclose", "close", "price", "return", "ret", "returns")


# --------------------------------------------------------------------------- sources


def _sample_key(source: str) -> str | None:
    """Return the sample key of ``"sample"``/``"sample:NAME"``, None for other strings."""
    if source == "sample":
        return _DEFAULT_SAMPLE
    if source.startswith("sample:"):
        key = source.partition(":")[2]
        if key not in _SAMPLES:
            names = [f"sample:{k}" for k in _SAMPLES]
            raise DataError(
                f"unknown sample data set {source!r}.{did_you_mean(source, names)} "
                f"Bundled data sets: {names} (see poolkit.data.samples())."
            )
        return key
    return None


def source_path(source: str | Path) -> Path:
    """Return the file behind ``source``: a bundled sample's file or the path itself.

    Parameters
    ----------
    source : str or Path
        A sample name (``"sample"``, ``"sample:ff_factors"``, ...) or a file path.

    Returns
    -------
    Path
        Absolute path of the file (it is checked to exist).

    Raises
    ------
    DataError
        If the sample name is unknown or the file does not exist.

    Examples
    --------
    >>> source_path("sample:ff_factors").name
    'linearmodels_ff_factors_monthly.csv.gz'
    """
    if isinstance(source, str):
        key = _sample_key(source.strip())
        if key is not None:
            return _DATASETS / _SAMPLES[key][0]
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"`source` must be a path or a sample name such as 'sample', got {type(source).__name__}."
        )
    if not str(source).strip():
        raise ParameterError("`source` is empty; pass a file path or a sample name such as 'sample'.")
    path = Path(source).expanduser()
    if not path.exists():
        parent = path.parent if path.parent.exists() else None
        hint = did_you_mean(path.name, [p.name for p in parent.iterdir()]) if parent else ""
        raise DataError(
            f"file not found: {str(path)!r}.{hint} Check the path (relative paths start at "
            f"{str(Path.cwd())!r}) or use a bundled sample such as 'sample' (see poolkit.data.samples())."
        )
    if path.is_dir():
        raise DataError(
            f"{str(path)!r} is a folder, not a data file; point `source` at a .csv, .parquet or .xlsx file."
        )
    return path.resolve()


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".csv.gz", ".txt.gz"):
        if name.endswith(suffix):
            return ".csv.gz"
    return path.suffix.lower()


def _csv_header(path: Path, compressed: bool) -> tuple[list[str], str]:
    """Return the header cells and the delimiter (comma, or semicolon/tab when the header has no comma)."""
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
        line = handle.readline()
    sep = ","
    if "," not in line:
        sep = ";" if ";" in line else "\t" if "\t" in line else ","
    return next(csv.reader([line], delimiter=sep), []), sep


def _read_raw(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file into a raw frame (text or typed cells) and the file row of its first data row."""
    suffix = _suffix(path)
    where = repr(str(path))
    if path.stat().st_size == 0:
        raise DataError(f"file {where} is empty (0 bytes); write the data into it or pick another file.")
    try:
        if suffix in (".csv", ".txt", ".csv.gz"):
            compressed = suffix == ".csv.gz"
            header, sep = _csv_header(path, compressed)
            seen: set[str] = set()
            for pos, col in enumerate(header):
                if col in seen and col.strip():
                    raise DataError(
                        f"file {where}: column name {col!r} appears more than once in the header "
                        f"(column {pos + 1}); give every asset a unique name."
                    )
                seen.add(col)
            raw = pd.read_csv(
                path, sep=sep, dtype=str, encoding="utf-8-sig", skipinitialspace=True, compression="infer"
            )
            first_row = 2
        elif suffix in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
            if isinstance(raw.index, pd.DatetimeIndex) or raw.index.name is not None:
                raw = raw.reset_index()
            first_row = 1
        elif suffix in (".xlsx", ".xlsm"):
            raw = pd.read_excel(path, sheet_name=0)
            first_row = 2
        else:
            raise DataError(
                f"unknown file format {suffix or '(no extension)'!r} for {where}; poolkit reads "
                f"{list(_SUFFIXES)}. Save the data as CSV (date column first, one column per asset)."
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"file {where} is empty (no header and no rows); write the data into it.") from exc
    except pd.errors.ParserError as exc:
        raise DataError(
            f"file {where} is not valid CSV: {exc}. Every row must have as many cells as the header."
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"file {where} is not UTF-8 text ({exc.reason}); re-save it as UTF-8 CSV.") from exc
    except (OSError, EOFError, ImportError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"could not read {where} as {suffix}: {exc}. Check that the file is a valid {suffix} file "
            f"(not truncated or mis-named)."
        ) from exc
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise DataError(f"file {where} has a header but no data rows; it holds no observations.")
    raw.columns = [str(c) for c in raw.columns]
    return raw, first_row


# --------------------------------------------------------------------------- parsing


class _Where:
    """Name places in the source for error messages: file and row numbers."""

    def __init__(self, label: str, first_row: int, is_file: bool) -> None:
        self.label = label
        self.first_row = first_row
        self.is_file = is_file

    def row(self, pos: int) -> str:
        word = "row" if self.is_file else "position"
        return f"{word} {pos + self.first_row}"


def _find_date_column(raw: pd.DataFrame, date_column: str | None, where: _Where) -> str:
    cols = list(raw.columns)
    if date_column:
        if date_column not in cols:
            raise DataError(
                f"{where.label}: date column {date_column!r} not found.{did_you_mean(date_column, cols)} "
                f"Columns are {cols[:10]}{'...' if len(cols) > 10 else ''}."
            )
        return date_column
    for col in cols:
        if col.strip().lower() in _DATE_NAMES:
            return col
    first = cols[0]
    if first.startswith("Unnamed") or not first.strip():
        return first
    values = raw[first].dropna()
    if pd.api.types.is_datetime64_any_dtype(values):
        return first
    text = values.astype(str).head(50)
    numeric = pd.to_numeric(text, errors="coerce").notna().mean() if len(text) else 1.0
    if len(text) and numeric < 0.5:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.5:
            return first
    raise DataError(
        f"{where.label}: no date column found; columns are {cols[:10]}{'...' if len(cols) > 10 else ''}. "
        f"Name the date column 'date' (or put it first), or pass date_column='...'."
    )


def _for_asset(assets: pd.Series | None, pos: int) -> str:
    """`` for asset 'X'`` in a long-layout file (the asset of that row), else empty."""
    if assets is None:
        return ""
    value = assets.iloc[pos]
    return f" for asset {str(value).strip()!r}" if pd.notna(value) and str(value).strip() else ""


def _parse_dates(
    column: pd.Series, name: str, where: _Where, assets: pd.Series | None = None
) -> pd.DatetimeIndex:
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.Series(pd.to_datetime(column))
    else:
        text = column.astype("string").str.strip()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce")
            if parsed.isna().any() and text.notna().any():
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = parsed.isna().to_numpy()
        if bad.any():
            pos = int(np.argmax(bad))
            value = column.iloc[pos]
            shown = "an empty cell" if pd.isna(value) or not str(value).strip() else repr(str(value))
            raise DataError(
                f"{where.label}: could not parse {shown} as a date in column {name!r} at {where.row(pos)}"
                f"{_for_asset(assets, pos)} "
                f"({int(bad.sum())} bad date(s) in all). Write dates as ISO 'YYYY-MM-DD' and remove empty rows."
            )
    index = pd.DatetimeIndex(parsed)
    if index.tz is not None:
        index = index.tz_localize(None)
    return index


def _to_numbers(
    raw: pd.DataFrame, where: _Where, positions: np.ndarray, assets: pd.Series | None = None
) -> pd.DataFrame:
    """Convert every cell to float; name the first non-numeric cell (and its asset in long layout)."""
    values = raw.apply(
        lambda s: (
            pd.to_numeric(s.astype("string").str.strip(), errors="coerce")
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
            else s
        )
    )
    numbers_ = values.astype("float64")
    arr = numbers_.to_numpy()
    present = raw.notna().to_numpy().copy()
    if raw.dtypes.map(lambda d: not pd.api.types.is_numeric_dtype(d)).any():
        stripped = raw.astype("string").apply(lambda s: s.str.strip())
        present = present & (stripped != "").fillna(False).to_numpy(dtype=bool)
    bad = (np.isnan(arr) & present) | np.isinf(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col = raw.columns[c]
        raise DataError(
            f"{where.label}: non-numeric value {str(raw.iat[r, c])!r}{_for_asset(assets, int(r))} in column {col!r} "
            f"at {where.row(int(positions[r]))} "
            f"({int(bad[:, c].sum())} bad cell(s) in that column). Fix or blank the cell (blank = missing), "
            f"or drop the column."
        )
    arr = np.where(present, arr, np.nan)
    return pd.DataFrame(arr, index=raw.index, columns=raw.columns)


def _pick(cols: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.strip().lower(): c for c in cols}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _long_columns(raw: pd.DataFrame, date_col: str) -> tuple[str, str] | None:
    """Return (asset column, value column) when ``raw`` is in long/tidy layout, else None."""
    others = [c for c in raw.columns if c != date_col]
    asset_col = _pick(others, _ASSET_NAMES)
    if asset_col is None and len(others) == 2:
        text = [
            c
            for c in others
            if pd.to_numeric(raw[c].dropna().astype(str).head(100), errors="coerce").isna().mean() > 0.5
        ]
        if len(text) == 1 and raw[date_col].duplicated().any():
            asset_col = text[0]
    if asset_col is None:
        return None
    rest = [c for c in others if c != asset_col]
    if len(rest) == 1:
        return asset_col, rest[0]
    value_col = _pick(rest, _VALUE_NAMES)
    if value_col is None:
        raise DataError(
            f"long layout with asset column {asset_col!r} but several value columns {rest[:6]}; keep only "
            f"the date, asset and value columns (or name the value column 'value')."
        )
    return asset_col, value_col


def _frame_from_raw(raw: pd.DataFrame, date_column: str | None, where: _Where) -> pd.DataFrame:
    """Turn a raw table into a float date x asset frame (unsorted, duplicates checked)."""
    date_col = _find_date_column(raw, date_column, where)
    layout = _long_columns(raw, date_col)
    dates = _parse_dates(raw[date_col], date_col, where, raw[layout[0]] if layout else None)
    positions = np.arange(len(raw))
    if layout is None:
        body = raw.drop(columns=[date_col])
        if body.shape[1] == 0:
            raise DataError(f"{where.label}: only a date column {date_col!r}, no asset columns.")
        unnamed = [c for c in body.columns if c.startswith("Unnamed:") or not c.strip()]
        if unnamed:
            pos = list(raw.columns).index(unnamed[0]) + 1
            raise DataError(
                f"{where.label}: column {pos} has no name in the header; name it after its asset or delete it."
            )
        frame = _to_numbers(body, where, positions)
        frame.index = dates
        dup = dates.duplicated(keep=False)
        if dup.any():
            first = dates[dup][0]
            rows = [where.row(int(p)) for p in positions[dates == first]][:3]
            raise DataError(
                f"{where.label}: date {first.date()} appears {int((dates == first).sum())} times ({', '.join(rows)}); "
                f"{int(dates.duplicated().sum())} duplicated date(s) in all. Keep one row per date "
                f"(e.g. df.drop_duplicates('date', keep='last'))."
            )
    else:
        asset_col, value_col = layout
        assets = raw[asset_col]
        if assets.isna().any():
            pos = int(np.argmax(assets.isna().to_numpy()))
            raise DataError(
                f"{where.label}: empty asset name in column {asset_col!r} at {where.row(pos)}; fill or drop the row."
            )
        values = _to_numbers(raw[[value_col]], where, positions, assets)[value_col].to_numpy()
        names = assets.astype(str).str.strip().to_numpy()
        key = pd.MultiIndex.from_arrays([dates, names])
        dup = key.duplicated(keep=False)
        if dup.any():
            pos = int(np.argmax(dup))
            rows = [where.row(int(p)) for p in positions[(dates == dates[pos]) & (names == names[pos])]][:3]
            raise DataError(
                f"{where.label}: asset {names[pos]!r} has date {dates[pos].date()} more than once ({', '.join(rows)}); "
                f"keep one row per date and asset."
            )
        order = pd.unique(names)
        long = pd.Series(values, index=key)
        frame = long.unstack()
        frame = frame.reindex(columns=order)
    frame.index.name = "date"
    frame.columns = pd.Index([str(c) for c in frame.columns], dtype="str", name=None)
    return frame.astype("float64")


# --------------------------------------------------------------------------- frequency


def _gap_buckets(gaps: np.ndarray) -> dict[str, int]:
    return {
        "daily": int(((gaps >= 1) & (gaps <= 5)).sum()),
        "weekly": int(((gaps >= 6) & (gaps <= 10)).sum()),
        "monthly": int(((gaps >= 25) & (gaps <= 35)).sum()),
        "quarterly": int(((gaps >= 80) & (gaps <= 100)).sum()),
        "annual": int(((gaps >= 355) & (gaps <= 375)).sum()),
    }


_BUCKET_EDGES = np.array([5.0, 17.0, 60.0, 200.0])  # largest gap (days) of daily, weekly, monthly, quarterly
_BUCKET_NAMES = np.array(["daily", "weekly", "monthly", "quarterly", "annual"])


def _buckets_of(gaps: np.ndarray) -> np.ndarray:
    """Frequency name of each gap in days (<= 5 daily, <= 17 weekly, <= 60 monthly, <= 200 quarterly)."""
    return _BUCKET_NAMES[np.searchsorted(_BUCKET_EDGES, gaps, side="left")]


def _check_single_frequency(index: pd.DatetimeIndex, label: str) -> str:
    """Return the frequency name of ``index``; raise if it mixes frequencies."""
    local = index.tz_localize(None) if index.tz is not None else index  # wall-clock dates
    days = np.sort(local.to_numpy().astype("datetime64[D]"))
    spacing = np.diff(days.astype("int64"))
    gaps = spacing[spacing > 0]
    if gaps.size == 0:
        raise InsufficientDataError(
            f"{label}: a single date; at least two dates are needed to tell the frequency."
        )
    main = str(_buckets_of(np.median(gaps)))
    counts = _gap_buckets(gaps)
    threshold = max(6, int(0.02 * gaps.size))
    others = {k: v for k, v in counts.items() if k != main and v >= threshold}
    # a short file can change frequency too: two gaps in a row of another frequency than
    # the main one (one long gap alone is a hole in the data, reported by calendar_gaps)
    kinds = _buckets_of(gaps)
    switch = (kinds[1:] == kinds[:-1]) & (kinds[1:] != main)
    if switch.any() and not others:
        other = str(kinds[1:][switch][0])
        others = {other: int((kinds == other).sum())}
    if others:
        other = max(others, key=lambda k: others[k])
        in_other = _buckets_of(spacing) == other
        first_other = pd.Timestamp(days[1:][in_other][0]).date() if in_other.any() else "?"
        raise DataError(
            f"{label}: mixed frequencies: mostly {main} dates but {others[other]} {other} gaps "
            f"(the first ends {first_other}). Split the file by frequency, or convert it to one frequency "
            f"first (poolkit.data.resample_returns or `frequency=`)."
        )
    return main


#: Calendars known to :func:`calendar_gaps` without an extra package (exchange codes such as
#: "XNYS" need ``exchange_calendars``).
CALENDARS = ("weekdays",)
#: Longest run of consecutive missing weekdays taken for market holidays (9/11 closed the NYSE for 4).
MAX_CLOSED_DAYS = 4


def calendar_gaps(
    index: pd.Index | pd.DataFrame | pd.Series,
    *,
    calendar: str | None = "weekdays",
    max_closed: int | None = None,
) -> pd.DataFrame:
    r"""List the runs of dates missing from a calendar between the first and last date.

    Parameters
    ----------
    index : DatetimeIndex, or DataFrame / Series indexed by dates
        Observation dates (sorted or not).
    calendar : str or None, default "weekdays"
        The dates expected. Daily data: every weekday (Monday to Friday), or every day
        when the data hold weekends; or, given an exchange code such as ``"XNYS"`` (New
        York), ``"XLON"``, ``"XSHG"`` (Shanghai), every trading session of that exchange
        (holidays and closures known; needs the ``exchange_calendars`` package, installed
        with ``poolkit[calendars]``). Weekly, monthly, quarterly and annual data: every
        calendar week (ending Friday), month, quarter or year must hold a date. None
        skips the check (an empty table).
    max_closed : int, optional
        For daily data, runs of at most this many consecutive missing days are not
        listed. Default 4 for ``"weekdays"`` (it knows no holidays: single-day holidays,
        or the four days the New York Stock Exchange closed after 11 September 2001), 0
        for an exchange calendar. Lower frequencies tolerate no missing period.

    Returns
    -------
    DataFrame
        One row per gap (index ``gap``, from 1): ``first`` and ``last`` missing date (or
        period end), ``missing`` (how many dates or periods), ``dates`` (the missing dates,
        ISO strings) and ``after`` (the last date observed before the gap: the return on
        the next date spans the whole gap). ``attrs["calendar"]`` and ``attrs["frequency"]``
        say what was checked.

    Raises
    ------
    TypeError
        If ``index`` holds no dates.
    ParameterError
        For an unknown ``calendar`` (nearest names suggested), an exchange calendar
        without ``exchange_calendars`` installed or outside its dates, or a negative
        ``max_closed``.
    DataError, InsufficientDataError
        From :func:`periods_per_year` (mixed frequencies, fewer than two dates).

    Notes
    -----
    A price series missing :math:`k` trading days gives one return :math:`P_{t+k+1}/P_t - 1`
    that spans :math:`k + 1` days but is counted as one day: its variance is about
    :math:`k + 1` times that of a daily return, which inflates volatility and VaR. The
    weekday calendar knows no holidays; ``max_closed`` is the tolerance that stands in for
    them, so a gap of up to ``max_closed`` weekdays passes unreported.

    Examples
    --------
    >>> days = pd.bdate_range("2024-01-01", "2024-02-29")
    >>> held = days[(days < "2024-01-15") | (days > "2024-02-02")]  # three weeks missing
    >>> gaps = calendar_gaps(held)
    >>> gaps[["first", "last", "missing"]].astype(str).values.tolist()
    [['2024-01-15', '2024-02-02', '15']]
    """
    if isinstance(index, (pd.DataFrame, pd.Series)):
        index = index.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"calendar_gaps needs a DatetimeIndex (or a frame indexed by dates), got {type(index).__name__}.")
    columns = ["first", "last", "missing", "dates", "after"]
    empty = pd.DataFrame(columns=columns).rename_axis("gap")
    if calendar is None or (isinstance(calendar, str) and not calendar.strip()):
        return empty
    if not isinstance(calendar, str):
        raise ParameterError(f"`calendar` must be 'weekdays', an exchange code such as 'XNYS', or None; got {calendar!r}.")
    exchange = calendar not in CALENDARS
    if max_closed is None:
        max_closed = 0 if exchange else MAX_CLOSED_DAYS
    max_closed = check_positive_int(max_closed, name="max_closed", minimum=0)
    dates = pd.DatetimeIndex(np.unique(index.tz_localize(None).normalize() if index.tz is not None else index.normalize()))
    if len(dates) < 2:
        return empty
    ppy = periods_per_year(dates)
    name = _PPY_NAME.get(ppy, "daily")
    if name == "daily" and exchange:
        expected = _exchange_sessions(calendar, dates[0], dates[-1])
        missing = expected.difference(dates)
        step = pd.offsets.BDay(1)
        tolerance = max_closed
    elif name == "daily":
        expected = pd.date_range(dates[0], dates[-1], freq="D" if ppy == 365 else "B")
        missing = expected.difference(dates)
        step = pd.Timedelta(days=1) if ppy == 365 else pd.offsets.BDay(1)
        tolerance = max_closed
    else:
        rule = {"weekly": "W-FRI", "monthly": "M", "quarterly": "Q", "annual": "Y"}[name]
        have = dates.to_period(rule)
        want = pd.period_range(have[0], have[-1], freq=rule)
        missing = want.difference(have).to_timestamp(how="end").normalize()
        step = None
        tolerance = 0
    if len(missing) == 0:
        out = empty
    else:
        if step is None:
            positions = np.searchsorted(pd.period_range(have[0], have[-1], freq=rule).to_timestamp(how="end").normalize(), missing)
        else:
            positions = np.searchsorted(expected, missing)
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        runs = np.split(np.arange(len(missing)), breaks)
        rows = []
        for run in runs:  # a loop over gaps, not over days
            if len(run) <= tolerance:
                continue
            block = missing[run]
            before = dates[dates < block[0]]
            rows.append(
                {
                    "first": block[0],
                    "last": block[-1],
                    "missing": len(block),
                    "dates": [d.date().isoformat() for d in block],
                    "after": before[-1] if len(before) else pd.NaT,
                }
            )
        out = pd.DataFrame(rows, columns=columns) if rows else empty
        out.index = pd.RangeIndex(1, len(out) + 1, name="gap")
    out.attrs.update({"calendar": calendar, "frequency": name, "max_closed": tolerance})
    return out


def _exchange_sessions(code: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Trading sessions of exchange ``code`` from ``first`` to ``last`` (exchange_calendars, imported here)."""
    try:
        import exchange_calendars as xcals
    except ImportError as exc:
        raise ParameterError(
            f"calendar={code!r} needs the exchange_calendars package (pip install exchange_calendars, or "
            f"poolkit[calendars]); calendar='weekdays' needs nothing."
        ) from exc
    names = xcals.get_calendar_names(include_aliases=True)
    if code not in names:
        raise ParameterError(
            f"unknown calendar {code!r}.{did_you_mean(code, names)} Use 'weekdays' or an exchange code "
            f"such as 'XNYS', 'XLON', 'XSHG' (exchange_calendars.get_calendar_names())."
        )
    try:
        with warnings.catch_warnings():  # the library's own deprecation notices about pandas
            warnings.simplefilter("ignore")
            cal = xcals.get_calendar(code, start=first, end=last)
            sessions = cal.sessions_in_range(first, last)
    except Exception as exc:  # its own errors for dates outside the calendar's bounds
        raise ParameterError(
            f"calendar {code!r} cannot cover {first.date()} to {last.date()}: {exc}. Use calendar='weekdays'."
        ) from exc
    return pd.DatetimeIndex(sessions).tz_localize(None).normalize()


def _gap_note(gaps: pd.DataFrame, what: str) -> str:
    """One sentence naming the gaps of a calendar (first three) for a warning."""
    shown = [
        f"{g.first.date()} to {g.last.date()} ({g.missing})" if g.missing > 1 else f"{g.first.date()}"
        for g in gaps.head(3).itertuples()
    ]
    more = f" and {len(gaps) - 3} more" if len(gaps) > 3 else ""
    unit = "trading day(s)" if gaps.attrs.get("frequency") == "daily" else f"{gaps.attrs.get('frequency')} period(s)"
    return (
        f"{what}: {int(gaps['missing'].sum())} {unit} missing from the {gaps.attrs.get('calendar')} calendar in "
        f"{len(gaps)} gap(s): {', '.join(shown)}{more}; the return after a gap spans all of it. Check the source, "
        f"see poolkit.data.quality_report(...).attrs['calendar_gaps'], or pass calendar=None to skip this check."
    )


def periods_per_year(index: pd.Index | pd.DataFrame | pd.Series, *, override: int | None = None) -> int:
    r"""Return the number of periods per year implied by the dates: 252, 52, 12, 4 or 1.

    Parameters
    ----------
    index : DatetimeIndex, or DataFrame / Series with one
        Observation dates (sorted or not).
    override : int, optional
        A value to use instead of the inferred one (checked to be a positive
        integer), e.g. 365 for assets that trade every calendar day.

    Returns
    -------
    int
        252 for daily (trading-day) data, 365 for daily data that include
        weekends, 52 weekly, 12 monthly, 4 quarterly, 1 annual.

    Raises
    ------
    InsufficientDataError
        If there are fewer than two distinct dates.
    DataError
        If the dates mix frequencies (e.g. monthly, then daily).
    TypeError
        If ``index`` holds no dates.

    Notes
    -----
    The frequency is read from the median gap :math:`\tilde g` in calendar days
    between consecutive dates: :math:`\tilde g \le 5` daily, :math:`\le 17`
    weekly, :math:`\le 60` monthly, :math:`\le 200` quarterly, else annual.
    Annualising a per-period mean multiplies by this number :math:`m`, a
    volatility by :math:`\sqrt{m}` (for independent returns).

    Examples
    --------
    >>> periods_per_year(pd.date_range("2024-01-31", periods=6, freq="ME"))
    12
    """
    if override is not None:
        return check_positive_int(override, name="periods_per_year")
    if isinstance(index, (pd.DataFrame, pd.Series)):
        index = index.index
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"periods_per_year needs a DatetimeIndex (or a frame indexed by dates), got {type(index).__name__}; "
            f"pass periods_per_year=... explicitly or index the data by date."
        )
    name = _check_single_frequency(index, "dates")
    if name == "daily":
        weekend = np.asarray(index.day_of_week >= 5)
        return 365 if weekend.mean() > 0.1 else 252
    return FREQUENCIES[name][1]


def _frequency_name(frequency: str) -> str:
    if not isinstance(frequency, str):
        raise ParameterError(f"`frequency` must be a string such as 'monthly', got {frequency!r}.")
    key = frequency.strip().lower()
    key = _FREQ_ALIASES.get(key, key)
    return check_choice(key, list(FREQUENCIES), name="frequency")


def _resample_rule(frame: pd.DataFrame, frequency: str, what: str) -> tuple[str, str]:
    target = _frequency_name(frequency)
    current = _PPY_NAME.get(periods_per_year(frame.index), "daily")
    if FREQUENCIES[target][1] > FREQUENCIES[current][1]:
        raise ParameterError(
            f"cannot resample {current} {what} to {target}: only a lower frequency can be built from the data. "
            f"Use frequency={current!r} or lower ({[k for k, v in FREQUENCIES.items() if v[1] <= FREQUENCIES[current][1]]})."
        )
    if target == current:
        return target, ""  # already at that frequency: nothing to do
    return target, FREQUENCIES[target][0]


def _raise_on_empty_periods(out: pd.DataFrame, what: str) -> None:
    empty = out.isna().all(axis=1).to_numpy()
    if empty.any():
        first = out.index[empty][0]
        raise DataError(
            f"{what}: no observation at all in the period ending {first.date()} ({int(empty.sum())} empty period(s)); "
            f"the data have a gap there. Load a range without the gap, or use a lower frequency."
        )


def _label_by_last_date(out: pd.DataFrame, index: pd.DatetimeIndex, rule: str) -> pd.DataFrame:
    """Label each resampled period by the last date observed in it (not a calendar date past the data)."""
    last = index.to_series().resample(rule).max()
    out = out.copy()
    out.index = pd.DatetimeIndex(last.reindex(out.index).to_numpy(), name="date")
    return out


def _resample_prices(frame: pd.DataFrame, rule: str, name: str) -> pd.DataFrame:
    if not rule:
        return frame
    out = frame.resample(rule).last()
    _raise_on_empty_periods(out, name)
    return _label_by_last_date(out, frame.index, rule)


def resample_returns(
    returns: pd.DataFrame | pd.Series, frequency: str, *, kind: str | None = None
) -> pd.DataFrame | pd.Series:
    r"""Compound periodic returns into returns of a lower frequency.

    Parameters
    ----------
    returns : DataFrame (n_dates, n_assets) or Series
        Periodic returns indexed by date (a DatetimeIndex), no missing values.
    frequency : {"weekly", "monthly", "quarterly", "annual"}
        Target frequency (aliases "W", "M", "Q", "A"/"Y" accepted). Calendar
        periods: weeks ending on Friday, months, quarters, years. The first
        and last periods may be partial (they hold the data there are).
    kind : {"simple", "log"}, optional
        Whether ``returns`` are simple or log returns; the result is of the same kind.
        By default the kind the returns are tagged with (``attrs["returns_kind"]``, as
        :func:`load_returns` sets it), else simple. A kind that contradicts the tag is
        refused.

    Returns
    -------
    DataFrame or Series
        One row per period, labelled by the last date observed in the period
        (so no label lies beyond the data), same columns (or name) as ``returns``.

    Raises
    ------
    DataError
        If ``returns`` has dates out of order or repeated, a missing value, a simple
        return at or below -100 %, values that look like percents, or a period with
        no observation.
    ParameterError
        If ``frequency`` or ``kind`` is unknown, ``kind`` contradicts the tag, or the
        frequency is higher than the data's.
    TypeError
        If ``returns`` is not indexed by dates.

    Notes
    -----
    Simple returns compound by multiplication, log returns add up:

    .. math:: 1 + R_{t_0 \to t_n} = \prod_{k=1}^{n} (1 + R_k), \qquad
              r_{t_0 \to t_n} = \sum_{k=1}^{n} r_k .

    Summing simple returns instead overstates gains and understates losses:
    +10 % then -10 % is -1 %, not 0 %.

    References
    ----------
    .. [1] Campbell, J. Y., Lo, A. W. and MacKinlay, A. C. (1997). The Econometrics of
       Financial Markets, ch. 1.4. Princeton University Press.

    Examples
    --------
    >>> r = pd.Series([0.10, -0.10], index=pd.to_datetime(["2024-01-15", "2024-01-31"]))
    >>> round(float(resample_returns(r, "monthly").iloc[0]), 6)
    -0.01
    """
    from poolkit._validation import check_return_units, check_time_index, returns_kind

    if not isinstance(returns, (pd.DataFrame, pd.Series)):
        raise TypeError(f"`returns` must be a pandas DataFrame or Series, got {type(returns).__name__}.")
    tagged = returns_kind(returns) if "returns_kind" in returns.attrs else None
    if kind is None:
        kind = tagged or "simple"
    check_choice(kind, _KINDS, name="kind")
    if tagged is not None and kind != tagged:
        raise ParameterError(
            f"`returns` are tagged as {tagged} returns (attrs['returns_kind'] == {tagged!r}) but kind={kind!r} "
            f"was given; leave `kind` out to use the tag, or correct the tag if it is wrong."
        )
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise TypeError("`returns` must be indexed by dates (DatetimeIndex); use poolkit.data.load_returns.")
    frame = returns.to_frame() if isinstance(returns, pd.Series) else returns
    check_time_index(frame.index, name="returns")
    try:
        values = frame.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"`returns` must hold numbers only: {exc}. Convert with pd.to_numeric.") from exc
    if np.isnan(values).any():
        r, c = np.argwhere(np.isnan(values))[0]
        raise DataError(
            f"`returns` has a missing value in column {frame.columns[c]!r} at {frame.index[r].date()}; compounding "
            f"would silently treat it as 0. Fill or drop missing values first (load with missing='drop'/'ffill')."
        )
    if kind == "simple" and (values <= -1).any():
        r, c = np.argwhere(values <= -1)[0]
        raise DataError(
            f"`returns` column {frame.columns[c]!r} has a simple return of {values[r, c]:g} at {frame.index[r].date()} "
            f"(at or below -100 %); simple returns must be > -1. Were these log returns (kind='log') or percents?"
        )
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise DataError(
            f"`returns` has an infinite value in column {frame.columns[c]!r} at {frame.index[r].date()}; "
            f"check the prices behind it."
        )
    check_return_units(
        np.expm1(values) if kind == "log" else values, frame, fractions=returns.attrs.get("units") == "fraction"
    )
    target, rule = _resample_rule(frame, frequency, "returns")
    growth = np.log1p(frame.astype("float64")) if kind == "simple" else frame.astype("float64")
    if rule:
        summed = growth.resample(rule).sum(min_count=1)
        _raise_on_empty_periods(summed, "`returns`")
        summed = _label_by_last_date(summed, growth.index, rule)
    else:
        summed = growth
    out = np.expm1(summed) if kind == "simple" else summed
    out.index.name = frame.index.name if frame.index.name is not None else "date"
    out.attrs = dict(returns.attrs, kind="returns", returns_kind=kind, frequency=target)
    if isinstance(returns, pd.Series):
        series = out.iloc[:, 0]
        series.name = returns.name
        return series
    return out


# --------------------------------------------------------------------------- returns


def to_returns(prices: pd.DataFrame | pd.Series, kind: str = "simple") -> pd.DataFrame | pd.Series:
    r"""Turn prices into periodic returns (simple or log).

    Parameters
    ----------
    prices : DataFrame (n_dates, n_assets) or Series
        Positive prices sorted by date, without missing values.
    kind : {"simple", "log"}, default "simple"
        Simple returns :math:`P_t / P_{t-1} - 1` or log returns :math:`\ln(P_t / P_{t-1})`.

    Returns
    -------
    DataFrame or Series
        Returns with the same columns (or name); one row fewer than ``prices``
        (the first date has no previous price).

    Raises
    ------
    DataError
        If a price is missing, zero or negative (the message names column and date), or
        the dates are out of order or repeated.
    InsufficientDataError
        If there are fewer than two dates.
    ParameterError
        If ``kind`` is unknown.

    Notes
    -----
    .. math:: R_t = \frac{P_t}{P_{t-1}} - 1, \qquad r_t = \ln\frac{P_t}{P_{t-1}} = \ln(1 + R_t).

    Simple returns add across assets (a portfolio's return is the weighted sum
    of its assets' simple returns); log returns add across time.

    References
    ----------
    .. [1] Campbell, J. Y., Lo, A. W. and MacKinlay, A. C. (1997). The Econometrics of
       Financial Markets, ch. 1.4. Princeton University Press.

    Examples
    --------
    >>> p = pd.Series([100.0, 110.0, 99.0], index=pd.date_range("2024-01-01", periods=3))
    >>> to_returns(p).round(4).tolist()
    [0.1, -0.1]
    """
    check_choice(kind, _KINDS, name="kind")
    if not isinstance(prices, (pd.DataFrame, pd.Series)):
        raise TypeError(
            f"`prices` must be a pandas DataFrame (dates x assets) or Series, got {type(prices).__name__}."
        )
    frame = prices.to_frame() if isinstance(prices, pd.Series) else prices
    try:
        values = frame.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise DataError(f"`prices` must hold numbers only: {exc}. Convert with pd.to_numeric.") from exc
    if values.shape[0] < 2:
        raise InsufficientDataError(
            f"`prices` has {values.shape[0]} date(s); at least 2 are needed for one return."
        )
    from poolkit._validation import check_time_index

    check_time_index(frame.index, name="prices")
    bad = np.isnan(values) | (values <= 0) | np.isinf(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        what = "missing" if np.isnan(values[r, c]) else f"{values[r, c]:g}"
        raise DataError(
            f"`prices` column {frame.columns[c]!r} has a {'missing' if what == 'missing' else 'non-positive or infinite'} "
            f"price ({what}) at {frame.index[r]!s}; prices must be positive numbers. Fill or drop missing prices "
            f"(load with missing='ffill' or 'drop'), or pass returns directly if these are returns."
        )
    ratio = values[1:] / values[:-1]
    out_values = ratio - 1.0 if kind == "simple" else np.log(ratio)
    out = pd.DataFrame(out_values, index=frame.index[1:].copy(), columns=frame.columns.copy())
    out.attrs = dict(prices.attrs, kind="returns", returns_kind=kind)
    if isinstance(prices, pd.Series):
        series = out.iloc[:, 0]
        series.name = prices.name
        return series
    return out


# --------------------------------------------------------------------------- loading


def _detect_kind(frame: pd.DataFrame) -> tuple[str, str]:
    """Guess prices or returns from the values; return (kind, reason)."""
    values = frame.to_numpy()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "prices", "no values"
    negative = float((finite < 0).mean())
    inside = float((np.abs(finite) < 1).mean())
    if negative > 0 and inside >= 0.9:
        return "returns", f"{negative:.0%} of values negative and {inside:.0%} within (-1, 1)"
    if negative == 0:
        return "prices", "all values non-negative"
    return "prices", f"{negative:.0%} of values negative but only {inside:.0%} within (-1, 1)"


def _as_list(assets: object) -> list[str] | None:
    if assets is None:
        return None
    if isinstance(assets, str):
        return [assets] if assets else None
    if isinstance(assets, Iterable):
        items = [str(a) for a in assets]
        if len(set(items)) != len(items):
            dup = sorted({a for a in items if items.count(a) > 1})
            raise ParameterError(f"`assets` names {dup} more than once; list each asset once.")
        return items or None
    raise ParameterError(f"`assets` must be a list of asset names, got {assets!r}.")


def _as_date(value: object, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got the number {value!r}.")
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got {value!r} ({exc}).") from exc
    if stamp is pd.NaT:
        raise ParameterError(f"`{name}` must be a date such as '2015-01-31', got {value!r}.")
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _read_source(source: object, date_column: str | None) -> tuple[pd.DataFrame, str, str, str | None]:
    """Return (frame, label, source path, known kind) for a sample, a file or a frame."""
    if isinstance(source, (pd.DataFrame, pd.Series)):
        raw = source.to_frame() if isinstance(source, pd.Series) else source
        if isinstance(raw.index, pd.DatetimeIndex) and not date_column:
            body = raw.copy()
            body.columns = [str(c) for c in body.columns]
            where = _Where("`source` frame", 0, False)
            frame = _frame_from_raw(body.reset_index(names="__date__"), "__date__", where)
        else:
            raw = raw.reset_index(drop=not (raw.index.name is not None)) if not date_column else raw
            raw = raw.copy()
            raw.columns = [str(c) for c in raw.columns]
            frame = _frame_from_raw(raw, date_column, _Where("`source` frame", 0, False))
        known = source.attrs.get("kind") if source.attrs.get("kind") in ("prices", "returns") else None
        return frame, "`source` frame", str(source.attrs.get("source", "<DataFrame>")), known
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"`source` must be a path, a sample name or a DataFrame, got {type(source).__name__}."
        )
    key = _sample_key(source.strip()) if isinstance(source, str) else None
    path = source_path(source)
    if key is not None:
        frame = _read_sample(key).copy()
        return frame, f"sample {str(source).strip()!r}", str(path), _SAMPLES[key][2]
    raw, first_row = _read_raw(path)
    where = _Where(f"file {str(path)!r}", first_row, True)
    return _frame_from_raw(raw, date_column, where), where.label, str(path), None


@functools.lru_cache(maxsize=8)
def _read_sample(key: str) -> pd.DataFrame:
    frame = pd.read_csv(_DATASETS / _SAMPLES[key][0], index_col=0, parse_dates=True, encoding="utf-8")
    frame = frame.astype("float64")
    frame.index.name = "date"
    frame.columns = pd.Index(frame.columns, dtype="str", name=None)
    return frame


def _apply_missing(
    frame: pd.DataFrame, missing: str, limit: int | None, kind: str, label: str
) -> pd.DataFrame:
    mask = frame.isna().to_numpy()
    if not mask.any():
        return frame
    total = int(mask.sum())
    if missing == "raise":
        r, c = np.argwhere(mask)[0]
        raise DataError(
            f"{label}: {total} missing value(s); the first is in column {frame.columns[c]!r} at "
            f"{frame.index[r].date()}. Choose a policy: missing='drop' (drop those dates) or missing='ffill' "
            f"(carry the last price forward, up to `limit` periods), or restrict `assets`/`start`."
        )
    if missing == "drop":
        keep = ~mask.any(axis=1)
        out = frame.loc[keep]
        warnings.warn(
            f"{label}: dropped {int((~keep).sum())} date(s) with a missing value (missing='drop').",
            PoolkitWarning,
            stacklevel=4,
        )
        return out
    # ffill: prices carry the last value; returns fill with 0 (the same thing: the price did not move)
    started = ~np.logical_and.accumulate(mask, axis=0)  # after the first observation
    filled = (
        frame.ffill(limit=limit)
        if kind == "prices"
        else frame.mask(frame.isna() & frame.ffill(limit=limit).notna(), 0.0)
    )
    left = filled.isna().to_numpy()
    inner_left = left & started
    if inner_left.any():
        r, c = np.argwhere(inner_left)[0]
        raise DataError(
            f"{label}: column {frame.columns[c]!r} has a gap longer than limit={limit} at {frame.index[r].date()}; "
            f"forward-filling it would invent data. Raise `limit`, use missing='drop', or drop the asset."
        )
    if left.any():
        r, c = np.argwhere(left)[0]
        first_valid = frame.iloc[:, c].first_valid_index()
        raise DataError(
            f"{label}: column {frame.columns[c]!r} starts later ({first_valid.date() if first_valid is not None else 'never'}) "
            f"than the other assets ({frame.index[0].date()}); nothing to carry forward before it. "
            f"Pass start='{first_valid.date() if first_valid is not None else ''}' or missing='drop'."
        )
    warnings.warn(
        f"{label}: filled {int((mask & ~left).sum())} missing value(s) (missing='ffill', limit={limit}).",
        PoolkitWarning,
        stacklevel=4,
    )
    return filled


def _load(
    source: object,
    *,
    assets: object,
    start: object,
    end: object,
    date_column: str | None,
    missing: str,
    limit: int | None,
    values: str,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    check_choice(missing, _MISSING, name="missing")
    check_choice(values, _VALUES, name="values")
    if limit is not None:
        limit = check_positive_int(limit, name="limit")
    wanted = _as_list(assets)
    t0, t1 = _as_date(start, "start"), _as_date(end, "end")
    if t0 is not None and t1 is not None and t0 > t1:
        raise ParameterError(f"`start` ({t0.date()}) is after `end` ({t1.date()}); swap them.")
    frame, label, path, known = _read_source(source, date_column or None)

    empty = frame.columns[frame.isna().all().to_numpy()]
    if wanted is not None:
        unknown = [a for a in wanted if a not in frame.columns]
        if unknown:
            cols = list(frame.columns)
            raise DataError(
                f"{label}: asset {unknown[0]!r} is not in the data.{did_you_mean(unknown[0], cols)} "
                f"Available ({len(cols)}): {cols[:25]}{'...' if len(cols) > 25 else ''}."
            )
        frame = frame[wanted]
    if len(empty) and (wanted is None or set(empty) & set(wanted)):
        col = next(c for c in frame.columns if c in set(empty))
        raise DataError(
            f"{label}: column {col!r} is entirely empty (no values); drop it or leave it out of `assets`."
        )

    if not frame.index.is_monotonic_increasing:
        order = np.argsort(frame.index.values, kind="stable")
        frame = frame.iloc[order]
        warnings.warn(f"{label}: dates were not in order; sorted them.", PoolkitWarning, stacklevel=3)

    kind = values if values != "auto" else known
    if kind is None:
        kind, reason = _detect_kind(frame)
        warnings.warn(
            f"{label}: read the values as {kind} ({reason}); pass values={kind!r} to state it.",
            PoolkitWarning,
            stacklevel=3,
        )

    first, last = frame.index[0], frame.index[-1]
    if t0 is not None and t0 > last:
        raise DataError(
            f"{label}: start={t0.date()} is after the last date of the data ({last.date()}); the data cover {first.date()} to {last.date()}."
        )
    if t1 is not None and t1 < first:
        raise DataError(
            f"{label}: end={t1.date()} is before the first date of the data ({first.date()}); the data cover {first.date()} to {last.date()}."
        )
    if t0 is not None or t1 is not None:
        frame = frame.loc[t0:t1]  # type: ignore[misc]
    if frame.shape[0] == 0:
        raise InsufficientDataError(
            f"{label}: no dates between start={t0} and end={t1}; the data cover {first.date()} to {last.date()}."
        )

    if len(frame.index) >= 2:
        _check_single_frequency(frame.index, label)
        gaps = calendar_gaps(frame.index, calendar=calendar)
        if len(gaps):
            warnings.warn(_gap_note(gaps, label), PoolkitWarning, stacklevel=3)
    frame = _apply_missing(frame, missing, limit, kind, label)
    arr = frame.to_numpy()
    if kind == "prices" and (arr <= 0).any():
        r, c = np.argwhere(arr <= 0)[0]
        hint = (
            " The values look like returns: pass values='returns'."
            if _detect_kind(frame)[0] == "returns"
            else " If these are returns in percent, divide them by 100 and pass values='returns'."
            if (arr < 0).any()
            else " Blank the cell (missing) and choose a `missing` policy, or drop the asset."
        )
        raise DataError(
            f"{label}: non-positive price {arr[r, c]:g} in column {frame.columns[c]!r} at {frame.index[r].date()}.{hint}"
        )
    if kind == "returns" and (arr <= -1).any():
        r, c = np.argwhere(arr <= -1)[0]
        raise DataError(
            f"{label}: return {arr[r, c]:g} in column {frame.columns[c]!r} at {frame.index[r].date()} is at or below "
            f"-100 %. Returns must be decimals (0.01 = 1 %): divide percents by 100, or pass values='prices'."
        )
    frame = frame.copy()
    frame.index.name = "date"
    frame.columns.name = None
    frame.attrs = {
        "source": path,
        "name": str(source) if isinstance(source, (str, Path)) else label,
        "kind": kind,
    }
    return frame


def _resample_loaded_prices(frame: pd.DataFrame, frequency: str) -> pd.DataFrame:
    """Resample a loaded price panel to ``frequency``, recording it in ``attrs``."""
    target, rule = _resample_rule(frame, frequency, "prices")
    attrs = frame.attrs
    out = _resample_prices(frame, rule, attrs["name"])
    out.attrs = dict(attrs, frequency=target)
    return out


def _check_loaded_rows(n_rows: int, min_obs: object, name: str, what: str) -> None:
    """Raise InsufficientDataError when fewer than ``min_obs`` rows were loaded."""
    minimum = check_positive_int(min_obs, name="min_obs")
    if n_rows < minimum:
        raise InsufficientDataError(
            f"{name}: {n_rows} {what} loaded but at least {minimum} are needed; widen start/end or "
            f"use a higher frequency."
        )


def load_prices(
    source: str | Path | pd.DataFrame = "sample",
    *,
    assets: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    date_column: str | None = None,
    frequency: str | None = None,
    missing: str = "raise",
    limit: int | None = 5,
    values: str = "auto",
    min_obs: int = 2,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    r"""Load a price panel (dates x assets) from a sample, a file or a frame.

    Parameters
    ----------
    source : str, Path or DataFrame, default "sample"
        A bundled sample (``"sample"`` = ``"sample:sp500"``, ``"sample:sp500_index"``,
        ``"sample:factor_etfs"``, ``"sample:ff_portfolios"``, ``"sample:ff_factors"``),
        a ``.csv``/``.csv.gz``/``.parquet``/``.xlsx`` file in wide layout (a date
        column, one column per asset) or long layout (date, asset, value), or a frame.
    assets : list of str, optional
        Assets to keep, in this order; None or ``[]`` keeps every asset.
    start, end : str or Timestamp, optional
        First and last date kept (inclusive, ISO strings); None or ``""`` = no bound.
    date_column : str, optional
        Name of the date column; by default a column named like ``date`` or the first column.
    frequency : str, optional
        Resample to ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``,
        keeping the last price of each period, dated by its last observed
        date; None or ``""`` keeps the file's.
    missing : {"raise", "drop", "ffill"}, default "raise"
        What to do with missing values: raise naming the first, drop every date
        with one, or carry the last price forward (at most ``limit`` periods).
        Dropping or filling warns with the count.
    limit : int, default 5
        Longest run of missing values ``missing="ffill"`` may fill.
    values : {"auto", "prices", "returns"}, default "auto"
        What the file holds. ``"auto"`` detects it (prices are never negative;
        returns are mostly within (-1, 1) and some are negative) and warns with
        what it found. A returns file becomes a growth-of-1 index.
    min_obs : int, default 2
        Fewest dates the result may have.
    calendar : str or None, default "weekdays"
        Calendar the dates are checked against (:func:`calendar_gaps`): missing trading
        days (runs of more than 4 weekdays, so holidays pass; or every missing session of
        an exchange such as ``"XNYS"``) or missing weeks, months... are warned about
        (PoolkitWarning) with their dates; None skips the check.

    Returns
    -------
    DataFrame
        float64 prices, sorted DatetimeIndex named ``date``, one column per
        asset; ``attrs`` holds ``source`` (file path), ``name`` and ``kind``.

    Raises
    ------
    DataError
        Missing, empty or unreadable file; unknown format; no date column;
        unparseable or duplicated dates; non-numeric cell; non-positive price;
        an empty column; an unknown asset (nearest names suggested); start or
        end outside the data; missing values under ``missing="raise"``; mixed
        frequencies. Each message names the file, column and row or date.
    InsufficientDataError
        Fewer than ``min_obs`` dates remain.
    ParameterError
        Start after end, an unknown option.

    Notes
    -----
    A returns file is turned into the value of 1 invested just before its first
    date, :math:`V_t = \prod_{k \le t} (1 + R_k)`, with a
    :class:`~poolkit.exceptions.PoolkitWarning`. Unsorted dates are sorted, with a warning.

    Examples
    --------
    >>> prices = load_prices("sample", assets=["AAPL", "MSFT"], end="1990-01-05")
    >>> float(prices.loc["1990-01-02", "MSFT"])
    0.384
    """
    frame = _load(
        source,
        assets=assets,
        start=start,
        end=end,
        date_column=date_column,
        missing=missing,
        limit=limit,
        values=values,
        calendar=calendar,
    )
    if frame.attrs["kind"] == "returns":
        warnings.warn(
            f"{frame.attrs['name']} holds returns; returning the growth of 1 invested before its first date.",
            PoolkitWarning,
            stacklevel=2,
        )
        attrs = frame.attrs
        frame = np.exp(np.log1p(frame).cumsum())
        frame.attrs = dict(attrs, kind="prices")
    if frequency:
        frame = _resample_loaded_prices(frame, frequency)
    _check_loaded_rows(len(frame), min_obs, frame.attrs["name"], "date(s)")
    return frame


def load_returns(
    source: str | Path | pd.DataFrame = "sample",
    *,
    kind: str = "simple",
    frequency: str | None = None,
    assets: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    date_column: str | None = None,
    missing: str = "raise",
    limit: int | None = 5,
    values: str = "auto",
    min_obs: int = 2,
    align_to: pd.DataFrame | pd.Series | None = None,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    r"""Load periodic returns (dates x assets) from a sample, a file or a frame.

    A file of prices is turned into returns; a file of returns (decimal simple
    returns, 0.01 = 1 %) is used as it is. See :func:`load_prices` for the
    accepted sources, layouts and the errors raised.

    Parameters
    ----------
    source : str, Path or DataFrame, default "sample"
        Sample name, file path or frame (see :func:`load_prices`).
    kind : {"simple", "log"}, default "simple"
        Simple returns :math:`P_t/P_{t-1} - 1` or log returns :math:`\ln(P_t/P_{t-1})`.
    frequency : str, optional
        ``"weekly"``, ``"monthly"``, ``"quarterly"`` or ``"annual"``: prices are
        sampled at period ends, returns are compounded (:func:`resample_returns`).
    assets, start, end, date_column, missing, limit, values, calendar
        As in :func:`load_prices`. ``start`` and ``end`` bound the dates read:
        with prices, the first return is that of the second date kept.
        ``missing="ffill"`` on a returns file fills with 0 (an unchanged price).
    min_obs : int, default 2
        Fewest returns the result may have.
    align_to : DataFrame or Series, optional
        Returns of a benchmark (or any series) to align to: only the dates both cover
        are kept, a return on a date ``align_to`` lacks being compounded into the next
        common date (see :func:`align_returns`, which aligns both sides at once).

    Returns
    -------
    DataFrame
        float64 returns, sorted DatetimeIndex named ``date``, one column per
        asset; ``attrs``: ``source``, ``name``, ``kind="returns"``, ``returns_kind``.

    Raises
    ------
    DataError, InsufficientDataError, ParameterError
        As in :func:`load_prices`; InsufficientDataError when fewer than
        ``min_obs`` returns remain (or fewer than 2 dates are shared with ``align_to``).

    Notes
    -----
    .. math:: R_t = \frac{P_t}{P_{t-1}} - 1, \qquad r_t = \ln(1 + R_t).

    Examples
    --------
    >>> r = load_returns("sample:ff_factors", assets=["MktRF"], end="1949-03-01")
    >>> r["MktRF"].tolist()
    [0.0023, -0.0293, 0.0404]
    """
    check_choice(kind, _KINDS, name="kind")
    frame = _load(
        source,
        assets=assets,
        start=start,
        end=end,
        date_column=date_column,
        missing=missing,
        limit=limit,
        values=values,
        calendar=calendar,
    )
    attrs = frame.attrs
    if attrs["kind"] == "prices":
        if frequency:
            frame = _resample_loaded_prices(frame, frequency)
            attrs = frame.attrs
        if len(frame) < 2:
            raise InsufficientDataError(
                f"{attrs['name']}: {len(frame)} price date(s) loaded; at least 2 are needed for a return. "
                f"Widen start/end or use a higher frequency."
            )
        out = to_returns(frame, kind=kind)
    else:
        out = frame
        if frequency:
            out = resample_returns(out, frequency)
            attrs = dict(attrs, frequency=out.attrs["frequency"])
        if kind == "log":
            out = np.log1p(out)
    assert isinstance(out, pd.DataFrame)
    out.index.name = "date"
    out.attrs = dict(attrs, kind="returns", returns_kind=kind)
    if align_to is not None:
        out, _ = align_returns(out, align_to)
    _check_loaded_rows(len(out), min_obs, attrs["name"], "return(s)")
    return out


def load_benchmark(
    source: str | Path | pd.DataFrame | None,
    *,
    column: str | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    frequency: str | None = None,
    values: str = "auto",
) -> pd.Series | None:
    r"""Load the returns of one benchmark (a market index, a peer fund) as a Series.

    Parameters
    ----------
    source : str, Path, DataFrame or None
        As in :func:`load_returns` (e.g. ``"sample:sp500_index"``); ``""`` or None
        means no benchmark (the notebooks' sentinel) and gives None.
    column : str, optional
        The column to use when the source holds several series; required then.
    start, end, frequency, values
        As in :func:`load_returns`.

    Returns
    -------
    Series or None
        Simple returns named after the column, DatetimeIndex named ``date``; None when
        ``source`` is empty.

    Raises
    ------
    ParameterError
        If the source holds several series and ``column`` is not given.
    DataError, InsufficientDataError
        As in :func:`load_returns` (an unknown ``column`` is named with the nearest).

    Notes
    -----
    A benchmark is one series :math:`r_{b,t}`; taking "the first column" of a file of
    several would silently pick one, so the column must be named.

    Examples
    --------
    >>> bench = load_benchmark("sample:sp500_index", end="1990-01-05")
    >>> bench.name, len(bench)
    ('SP500', 3)
    >>> load_benchmark("") is None
    True
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    frame = load_returns(source, assets=[column] if column else None, start=start, end=end,
                         frequency=frequency, values=values)
    if frame.shape[1] != 1:
        raise ParameterError(
            f"benchmark {frame.attrs['name']!r} holds {frame.shape[1]} series {list(frame.columns)[:10]}; "
            f"name the one to use with `column=`."
        )
    out = frame.iloc[:, 0]
    out.attrs = dict(frame.attrs)
    return out


def _aggregate_onto(
    frame: pd.DataFrame, common: pd.DatetimeIndex, after: pd.Timestamp | None, kind: str
) -> tuple[pd.DataFrame, int, int]:
    """Compound (or, for log returns, add) the returns of ``frame`` onto the common dates.

    Rows dated after ``after`` (the common date before ``common[0]``, if any) and up to
    ``common[-1]`` are kept; each goes to the first common date on or after it. Returns
    the aggregated frame indexed by ``common``, the number of rows merged into a later
    date, and the number of rows dropped.
    """
    dates = frame.index.to_numpy()
    keep = dates <= common[-1].to_datetime64()
    if after is not None:
        keep &= dates > after.to_datetime64()
    groups = np.searchsorted(common.to_numpy(), dates[keep], side="left")  # sorted runs
    starts = np.searchsorted(groups, np.arange(len(common)), side="left")
    values = frame.to_numpy()[keep]
    logs = values if kind == "log" else np.log1p(values)
    summed = np.add.reduceat(logs, starts, axis=0)
    out = summed if kind == "log" else np.expm1(summed)
    single = np.diff(np.append(starts, len(values))) == 1
    out[single] = values[starts[single]]  # a return with nothing to merge is kept exactly
    kept = int(keep.sum())
    return pd.DataFrame(out, index=common, columns=frame.columns.copy()), kept - len(common), len(dates) - kept


def align_returns(
    returns: pd.DataFrame | pd.Series,
    other: pd.DataFrame | pd.Series | None,
) -> tuple[pd.DataFrame | pd.Series, pd.DataFrame | pd.Series | None]:
    r"""Put two sets of returns on the dates both cover, each return over the same interval.

    Parameters
    ----------
    returns : DataFrame or Series
        Periodic returns indexed by date (sorted, unique), e.g. the assets.
    other : DataFrame, Series or None
        Returns to align with, e.g. a benchmark; None returns ``(returns, None)``.

    Returns
    -------
    tuple
        ``(returns, other)`` of the same types as given, both indexed by the common
        dates, labels and ``attrs`` kept.

    Raises
    ------
    DataError
        If a date index is not a sorted, unique DatetimeIndex, or a value is missing.
    InsufficientDataError
        If fewer than two dates are common.

    Warns
    -----
    PoolkitWarning
        When dates only one side has were merged into the next common date, or dates
        before the first (after the last) common date were dropped.

    Notes
    -----
    Keeping only the common dates is not enough: if the benchmark lacks date
    :math:`t`, its return on the next date :math:`t'` spans two periods while an
    asset's spans one. Each side's returns between two common dates
    :math:`c_{k-1} < t \le c_k` are therefore compounded onto :math:`c_k`,

    .. math:: R_{c_k} = \prod_{c_{k-1} < t \le c_k} (1 + R_t) - 1
              \qquad (	ext{log returns add: } r_{c_k} = \sum r_t),

    so both returns at :math:`c_k` measure the move from :math:`c_{k-1}` to
    :math:`c_k`. The first common date is kept only when both series start there
    (their first returns then cover the same interval); otherwise the series start
    at the second common date. Log returns (``attrs["returns_kind"] == "log"``)
    are added instead of compounded.

    Examples
    --------
    >>> idx = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    >>> stock = pd.DataFrame({"A": [0.01, 0.10, -0.10, 0.02]}, index=idx)
    >>> index = pd.Series([0.02, 0.01, 0.03], index=idx[[0, 2, 3]], name="INDEX")  # no 3 January
    >>> with warnings.catch_warnings(record=True) as notes:  # 3 January merged: a warning
    ...     a, b = align_returns(stock, index)
    >>> len(notes)
    1
    >>> [round(x, 4) for x in a["A"]]  # 1.10 * 0.90 - 1 = -0.01 on 4 January
    [0.01, -0.01, 0.02]
    >>> b.tolist()
    [0.02, 0.01, 0.03]
    """
    if other is None:
        return returns, None
    sides = []
    for value, name in ((returns, "returns"), (other, "other")):
        frame, was_series = _checked_returns(value, name)
        sides.append((frame, was_series, value))
    first, second = sides[0][0], sides[1][0]
    common = first.index.intersection(second.index)
    after = None
    if len(common) and not (first.index[0] == common[0] == second.index[0]):
        after, common = common[0], common[1:]  # the first common returns span different intervals
    if len(common) < 2:
        raise InsufficientDataError(
            f"`returns` ({first.index[0].date()} to {first.index[-1].date()}) and `other` "
            f"({second.index[0].date()} to {second.index[-1].date()}) share {len(common)} aligned date(s); "
            f"at least 2 are needed. Load both over the same period."
        )
    out = []
    notes = []
    for (frame, was_series, value), name in zip(sides, ("returns", "other"), strict=True):
        kind = "log" if value.attrs.get("returns_kind") == "log" else "simple"
        aligned, merged, dropped = _aggregate_onto(frame, common, after, kind)
        if merged:
            notes.append(f"{merged} date(s) of `{name}` that the other lacks were compounded into the next common date")
        if dropped:
            notes.append(f"{dropped} date(s) of `{name}` outside the common dates were dropped")
        aligned.index.name = "date"
        result: pd.DataFrame | pd.Series = aligned.iloc[:, 0] if was_series else aligned
        if was_series:
            result.name = value.name
        result.attrs = dict(value.attrs)
        out.append(result)
    if notes:
        warnings.warn(
            f"align_returns: {'; '.join(notes)} ({len(common)} common dates from {common[0].date()} "
            f"to {common[-1].date()}).",
            PoolkitWarning,
            stacklevel=2,
        )
    return out[0], out[1]


def _checked_returns(value: object, name: str) -> tuple[pd.DataFrame, bool]:
    """Return a float frame of ``value`` (kind kept) after the shared check: dates sorted, unique, no NaN."""
    from poolkit._validation import check_returns

    frame, was_series = check_returns(value, name=name, min_obs=1, convert_log=False)
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"`{name}` must be indexed by date (a DatetimeIndex), got {type(frame.index).__name__}.")
    return frame, was_series


# --------------------------------------------------------------------------- catalogue


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


# --------------------------------------------------------------------------- quality


def _numbers_only(frame: pd.DataFrame, name: str = "frame") -> None:
    """Refuse a frame with no rows, no columns or a column that is not numeric, by name."""
    if frame.shape[0] == 0:
        raise InsufficientDataError(f"`{name}` has no rows (dates); load some data first.")
    from poolkit._validation import as_frame

    as_frame(frame, name=name)  # DataError naming a column of text (pandas' string dtype) or objects


def _runs(mask: np.ndarray, min_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a boolean (n, m) mask: longest run of True, number of runs >= min_length."""
    n, m = mask.shape
    padded = np.zeros((m, n + 2), dtype=np.int8)
    padded[:, 1:-1] = mask.T
    edges = np.diff(padded, axis=1)
    s_col, s_pos = np.nonzero(edges == 1)
    _, e_pos = np.nonzero(edges == -1)
    lengths = e_pos - s_pos
    longest = np.zeros(m, dtype=np.int64)
    np.maximum.at(longest, s_col, lengths)
    count = np.bincount(s_col[lengths >= min_length], minlength=m)
    return longest, count


def quality_report(
    frame: pd.DataFrame,
    *,
    kind: str | None = None,
    stale_run: int = 5,
    threshold: float = 10.0,
    calendar: str | None = "weekdays",
) -> pd.DataFrame:
    r"""Report the data quality of each asset: coverage, gaps, stale values, extreme moves.

    Parameters
    ----------
    frame : DataFrame (n_dates, n_assets)
        Prices or returns indexed by date (NaN allowed: they are what is counted).
    kind : {"prices", "returns"}, optional
        What ``frame`` holds; by default ``frame.attrs["kind"]``, else detected.
    stale_run : int, default 5
        A run of at least this many consecutive unchanged prices (zero returns)
        counts as a stale run.
    threshold : float, default 10
        A move is extreme when its robust z-score exceeds this in absolute value.
    calendar : str or None, default "weekdays"
        Calendar of the expected dates (:func:`calendar_gaps`: ``"weekdays"`` or an
        exchange code such as ``"XNYS"``); None skips that check.

    Returns
    -------
    DataFrame
        One row per asset (index ``asset``) with columns ``first``, ``last``
        (first and last observed date), ``observations``, ``missing`` (NaN
        between first and last), ``longest_gap`` (longest run of consecutive
        NaN there), ``stale_runs``, ``longest_stale`` (in periods),
        ``extreme_moves``, ``max_abs_z``, ``duplicates`` (repeated dates),
        ``missing_dates`` (dates of the calendar absent from the file between the asset's
        first and last date, holidays aside: see :func:`calendar_gaps`) and ``gaps``
        (those dates as ranges, e.g. ``"2020-03-02 to 2020-03-20 (15)"``).
        ``attrs["calendar_gaps"]`` holds the table of :func:`calendar_gaps`, every missing
        date listed.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame indexed by dates.
    ParameterError
        If ``kind``, ``stale_run`` or ``threshold`` is invalid.

    Notes
    -----
    Moves are returns (computed from prices when needed, across gaps). The
    robust z-score of a return uses the median and the median absolute
    deviation (MAD) instead of mean and standard deviation, so that the
    outliers being searched for do not hide themselves:

    .. math:: z_t = \frac{R_t - \operatorname{med}(R)}{1.4826\,\operatorname{MAD}(R)},
              \qquad \operatorname{MAD}(R) = \operatorname{med}\lvert R_t - \operatorname{med}(R)\rvert ,

    where 1.4826 makes the MAD a consistent estimate of :math:`\sigma` for normal data.

    References
    ----------
    .. [1] Rousseeuw, P. J. and Croux, C. (1993). Alternatives to the median absolute
       deviation. J. Amer. Statist. Assoc. 88(424), 1273-1283.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=8)
    >>> p = pd.DataFrame({"A": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.2],
    ...                   "B": [1.0, 1.1, None, None, 1.0, 1.1, 1.2, 1.1]}, index=idx)
    >>> quality_report(p, kind="prices")[["missing", "longest_gap", "stale_runs"]].to_dict("index")
    {'A': {'missing': 0, 'longest_gap': 0, 'stale_runs': 1}, 'B': {'missing': 2, 'longest_gap': 2, 'stale_runs': 0}}
    """
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError("`frame` must be a DataFrame indexed by dates (a DatetimeIndex).")
    _numbers_only(frame)
    stale_run = check_positive_int(stale_run, name="stale_run", minimum=2)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not threshold > 0:
        raise ParameterError(
            f"`threshold` must be a positive number of robust standard deviations, got {threshold!r}."
        )
    if kind is None:
        kind = (
            frame.attrs.get("kind")
            if frame.attrs.get("kind") in ("prices", "returns")
            else _detect_kind(frame)[0]
        )
    check_choice(kind, ("prices", "returns"), name="kind")
    data = frame.sort_index(kind="stable")
    values = data.to_numpy(dtype="float64")
    n, m = values.shape
    obs = ~np.isnan(values)
    any_obs = obs.any(axis=0)
    first_pos = np.where(any_obs, obs.argmax(axis=0), 0)
    last_pos = np.where(any_obs, n - 1 - obs[::-1].argmax(axis=0), -1)
    rows = np.arange(n)[:, None]
    inside = (rows >= first_pos) & (rows <= last_pos)
    holes = ~obs & inside
    longest_gap, _ = _runs(holes, 1)

    # moves between consecutive observations (gaps bridged by carrying the last value)
    carried = pd.DataFrame(values).ffill().to_numpy()
    if kind == "prices":
        with np.errstate(divide="ignore", invalid="ignore"):
            moves = carried[1:] / carried[:-1] - 1.0
        moves[~obs[1:]] = np.nan
        unchanged = np.zeros_like(obs)
        unchanged[1:] = (carried[1:] == carried[:-1]) & obs[1:]
        # a stale run of k equal prices = k - 1 unchanged moves
        _, stale = _runs(unchanged, stale_run - 1)
        longest_stale, _ = _runs(unchanged, 1)
        longest_stale = np.where(longest_stale > 0, longest_stale + 1, 0)
    else:
        moves = np.where(obs, values, np.nan)
        zero = obs & (values == 0.0)
        longest_stale, stale = _runs(zero, stale_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(moves, axis=0) if moves.size else np.full(m, np.nan)
        mad = np.nanmedian(np.abs(moves - med), axis=0) if moves.size else np.full(m, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.abs(moves - med) / (1.4826 * mad)
        z = np.where(np.isnan(moves), np.nan, z)
        z = np.where(np.isnan(z) & ~np.isnan(moves), 0.0, z)  # 0/0: a move equal to a constant median
        extreme = (z > threshold).sum(axis=0)
        max_z = np.nanmax(np.where(np.isnan(z), -np.inf, z), axis=0) if moves.size else np.full(m, np.nan)
    max_z = np.where(np.isfinite(max_z) | (max_z == np.inf), max_z, np.nan)
    dates = data.index.tz_localize(None) if data.index.tz is not None else data.index  # wall-clock dates
    duplicates = int(dates.duplicated().sum())
    report = pd.DataFrame(
        {
            "first": pd.DatetimeIndex(np.where(any_obs, dates.values[first_pos], np.datetime64("NaT"))),
            "last": pd.DatetimeIndex(
                np.where(any_obs, dates.values[np.maximum(last_pos, 0)], np.datetime64("NaT"))
            ),
            "observations": obs.sum(axis=0).astype("int64"),
            "missing": holes.sum(axis=0).astype("int64"),
            "longest_gap": longest_gap.astype("int64"),
            "stale_runs": np.asarray(stale, dtype="int64"),
            "longest_stale": np.asarray(longest_stale, dtype="int64"),
            "extreme_moves": np.asarray(extreme, dtype="int64"),
            "max_abs_z": max_z.astype("float64"),
            "duplicates": np.full(m, duplicates, dtype="int64"),
        },
        index=pd.Index(frame.columns.copy(), name="asset"),
    )
    unique = pd.DatetimeIndex(dates.unique())
    gaps = calendar_gaps(unique, calendar=calendar) if len(unique) >= 2 else calendar_gaps(unique, calendar=None)
    first_seen = report["first"].to_numpy()
    last_seen = report["last"].to_numpy()
    counts = np.zeros(m, dtype="int64")
    text = [[] for _ in range(m)]
    for g in gaps.itertuples():  # a loop over gaps, not over days or assets' values
        inside = (first_seen <= np.datetime64(g.first)) & (last_seen >= np.datetime64(g.last))
        counts += np.where(inside, int(g.missing), 0)
        label = f"{g.first.date()} to {g.last.date()} ({g.missing})" if g.missing > 1 else f"{g.first.date()}"
        for j in np.flatnonzero(inside):
            text[j].append(label)
    report["missing_dates"] = counts
    report["gaps"] = pd.Series(["; ".join(t) for t in text], index=report.index, dtype="str")
    report.attrs["calendar_gaps"] = gaps
    return report

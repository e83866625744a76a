"""Parsing a raw table: the date column, dates, numbers, wide and long layouts."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from poolkit._validation import did_you_mean
from poolkit.exceptions import DataError

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

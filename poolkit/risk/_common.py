"""Private helpers shared by the risk statistics: input checks, NaN-aware moments, wrapping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import NAN_POLICIES, check_return_units, check_returns, series_or_float
from poolkit.exceptions import DataError, ParameterError

_FLOAT64 = np.dtype("float64")


def _checked(
    returns: object, *, nan_policy: str = "raise", min_obs: int = 2, name: str = "returns"
) -> tuple[pd.DataFrame, bool]:
    """Check returns like ``_validation.check_returns``, with a fast path for clean float data.

    Clean input (a float64 frame or series with unique columns, finite values, enough
    rows, dates sorted and unique, simple returns) is used as it is, without the copy;
    the unit check (:func:`~poolkit._validation.check_return_units`) runs on it all the
    same. Anything else goes through the full check, which names the problem. Callers
    never write into the result.
    """
    if isinstance(returns, pd.DataFrame):
        frame, was_series = returns, False
    elif isinstance(returns, pd.Series):
        frame, was_series = returns.to_frame(name=returns.name if returns.name is not None else name), True
    else:
        frame = None
    attrs = frame.attrs if frame is not None else {}
    if (
        frame is not None
        and nan_policy in NAN_POLICIES
        and frame.shape[1] > 0
        and frame.shape[0] >= max(min_obs, 1)
        and not frame.columns.has_duplicates
        and frame.index.is_monotonic_increasing
        and frame.index.is_unique
        and attrs.get("returns_kind", "simple") == "simple"
        and attrs.get("kind") != "prices"
        and all(dt == _FLOAT64 for dt in set(frame.dtypes))
    ):
        values = frame.to_numpy()
        # the columns' extremes propagate NaN and infinity: finite extremes mean finite values
        low, high = np.minimum.reduce(values, axis=0), np.maximum.reduce(values, axis=0)
        if np.isfinite(low).all() and np.isfinite(high).all():
            check_return_units(values, frame, name=name, fractions=attrs.get("units") == "fraction", finite=True,
                               extremes=(low, high))
            return frame, was_series
    return check_returns(returns, name=name, min_obs=min_obs, nan_policy=nan_policy)


def _prepare(
    returns: object, *, nan_policy: str = "raise", min_obs: int = 2, name: str = "returns"
) -> tuple[pd.DataFrame, bool, np.ndarray, bool]:
    """Check returns; return (frame, was_series, values, has_nan)."""
    frame, was_series = _checked(returns, name=name, min_obs=min_obs, nan_policy=nan_policy)
    values = frame.to_numpy()
    has_nan = bool(nan_policy == "pairwise" and np.isnan(values).any())
    return frame, was_series, values, has_nan


def _count(x: np.ndarray, has_nan: bool) -> np.ndarray:
    if has_nan:
        return np.sum(~np.isnan(x), axis=0).astype("float64")
    return np.full(x.shape[1], float(x.shape[0]))


def _mean(x: np.ndarray, has_nan: bool) -> np.ndarray:
    return np.nanmean(x, axis=0) if has_nan else x.mean(axis=0)


def _std(x: np.ndarray, has_nan: bool, ddof: int = 1) -> np.ndarray:
    return np.nanstd(x, axis=0, ddof=ddof) if has_nan else x.std(axis=0, ddof=ddof)


def _check_ddof(ddof: object) -> int:
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ParameterError(f"`ddof` must be 0 (population, 1/N) or 1 (sample, 1/(N-1)), got {ddof!r}.")
    return int(ddof)  # type: ignore[call-overload]


def _wrap(values: np.ndarray, frame: pd.DataFrame, was_series: bool, name: str) -> Any:
    return series_or_float(values, frame.columns, was_series, name=name)


def _undefined(
    values: np.ndarray, bad: np.ndarray, frame: pd.DataFrame, *, statistic: str, why: str, fix: str
) -> None:
    """Raise DataError naming the assets where a ratio's denominator is zero."""
    if bad.any():
        names = frame.columns[bad].tolist()
        raise DataError(
            f"{statistic} is undefined for {names[:5]}{'...' if len(names) > 5 else ''}: {why}. {fix}"
        )

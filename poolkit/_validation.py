"""Private input checks shared by every poolkit module.

Each check either returns a clean copy of its input (float, labelled, never the
caller's object changed in place) or raises a :class:`~poolkit.exceptions.PoolkitError`
subclass whose message names the argument, what was expected, what was received
and how to fix it.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

NAN_POLICIES = ("raise", "drop", "pairwise")


def nearest_names(name: object, candidates: Iterable[object], n: int = 3) -> list[str]:
    """Return up to ``n`` candidate names closest to ``name`` (for "did you mean")."""
    pool = [str(c) for c in candidates]
    found = difflib.get_close_matches(str(name), pool, n=n, cutoff=0.5)
    if not found:
        lower = {p.lower(): p for p in pool}
        found = [lower[m] for m in difflib.get_close_matches(str(name).lower(), list(lower), n=n, cutoff=0.5)]
    return found


def did_you_mean(name: object, candidates: Iterable[object]) -> str:
    """Return ``" Did you mean 'X'?"`` or an empty string."""
    close = nearest_names(name, candidates)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def check_choice(value: object, choices: Sequence[str], *, name: str) -> str:
    """Check that ``value`` is one of ``choices`` (strings) and return it."""
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ParameterError(f"`{name}` must be one of {list(choices)}, got {value!r}.{hint}")
    return value


def check_level(level: object, *, name: str = "level") -> float:
    """Check a confidence level in the open interval (0.5, 1) and return it as float."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise ParameterError(f"`{name}` must be a number in (0.5, 1) such as 0.95, got {level!r}.")
    value = float(level)
    if not 0.5 < value < 1.0:
        hint = ""
        if 50.0 < value < 100.0:
            hint = f" Did you mean {value / 100:g}?"
        raise ParameterError(f"`{name}` must be in (0.5, 1), got {value:g}.{hint}")
    return value


def check_fraction(
    value: object,
    *,
    name: str,
    low: float = 0.0,
    high: float = 1.0,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check a scalar rate or probability within [low, high] (ends open on request).

    Values that look like percentages (e.g. 6 for 6 %) get a hint.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"`{name}` must be a number, got {value!r}.")
    x = float(value)
    below = x <= low if low_open else x < low
    above = x >= high if high_open else x > high
    if not np.isfinite(x) or below or above:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        hint = ""
        if high == 1.0 and 1.0 < x <= 100.0:
            hint = f" Did you mean {x:g} % = {x / 100:g}?"
        raise ParameterError(f"`{name}` must be in {left}{low:g}, {high:g}{right}, got {x:g}.{hint}")
    return x


def check_positive_int(value: object, *, name: str, minimum: int = 1) -> int:
    """Check an integer >= ``minimum`` and return it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    if int(value) < minimum:
        raise ParameterError(f"`{name}` must be an integer >= {minimum}, got {value}.")
    return int(value)


def as_frame(data: object, *, name: str = "returns") -> tuple[pd.DataFrame, bool]:
    """Return ``(frame, was_series)`` for a DataFrame or Series of numbers.

    The frame is a float copy; a Series becomes a one-column frame named after it.
    """
    if isinstance(data, pd.Series):
        col = data.name if data.name is not None else name
        frame = data.to_frame(name=col)
        was_series = True
    elif isinstance(data, pd.DataFrame):
        frame = data
        was_series = False
    else:
        raise TypeError(
            f"`{name}` must be a pandas DataFrame (dates x assets) or Series, got {type(data).__name__}. "
            f"Wrap arrays with pd.DataFrame(array, index=dates, columns=assets)."
        )
    if frame.shape[1] == 0:
        raise DataError(f"`{name}` has no columns (assets).")
    if frame.columns.duplicated().any():
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        raise DataError(f"`{name}` has duplicated asset columns {dup}; give each asset a unique name.")
    bad = [
        (c, dtype)
        for c, dtype in frame.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ]
    if bad:
        raise DataError(
            f"`{name}` column {bad[0][0]!r} is not numeric (dtype {bad[0][1]}); "
            f"convert it with pd.to_numeric or drop it."
        )
    return frame.astype("float64"), was_series


def check_returns(
    returns: object,
    *,
    name: str = "returns",
    min_obs: int = 2,
    nan_policy: str = "raise",
) -> tuple[pd.DataFrame, bool]:
    """Check a returns frame or series and return ``(float_frame, was_series)``.

    Parameters
    ----------
    returns : DataFrame or Series
        Periodic returns, dates x assets.
    name : str
        Argument name used in messages.
    min_obs : int
        Fewest rows (after the NaN policy) allowed.
    nan_policy : {"raise", "drop", "pairwise"}
        ``"raise"`` names the first NaN; ``"drop"`` drops every date with a NaN;
        ``"pairwise"`` leaves NaNs for the caller to handle column by column.
    """
    frame, was_series = as_frame(returns, name=name)
    check_choice(nan_policy, NAN_POLICIES, name="nan_policy")
    values = frame.to_numpy()
    if np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise DataError(
            f"`{name}` holds an infinite value in column {frame.columns[col]!r} at {frame.index[row]!r}; "
            f"check the prices behind it (a zero price gives an infinite return)."
        )
    mask = np.isnan(values)
    if mask.any():
        if nan_policy == "raise":
            row, col = np.argwhere(mask)[0]
            raise DataError(
                f"`{name}` has {int(mask.sum())} missing value(s); the first is in column "
                f"{frame.columns[col]!r} at {frame.index[row]!r}. Fill or drop them first, or pass "
                f"nan_policy='drop' (drop dates with any NaN) or 'pairwise' where supported."
            )
        if nan_policy == "drop":
            frame = frame.loc[~mask.any(axis=1)]
    counts = frame.notna().sum().to_numpy()
    if (counts == 0).any():
        first = frame.columns[int(np.argmax(counts == 0))]
        raise DataError(f"`{name}` column {first!r} is entirely empty (all NaN); drop it.")
    n_obs = int(counts.min())
    if n_obs < min_obs:
        raise InsufficientDataError(
            f"`{name}` has {n_obs} usable observation(s) but at least {min_obs} are needed; "
            f"load a longer history (earlier `start`) or use a lower frequency/shorter window."
        )
    return frame, was_series


def check_aligned(weights: object, columns: pd.Index, *, name: str = "weights") -> pd.Series:
    """Return ``weights`` as a float Series ordered like ``columns``; raise if the labels differ."""
    if isinstance(weights, dict):
        weights = pd.Series(weights, dtype="float64")
    if not isinstance(weights, pd.Series):
        raise TypeError(
            f"`{name}` must be a pandas Series indexed by asset, got {type(weights).__name__}. "
            f"Use pd.Series(values, index=asset_names)."
        )
    if weights.index.duplicated().any():
        dup = weights.index[weights.index.duplicated()].unique().tolist()
        raise AlignmentError(f"`{name}` names asset(s) {dup} more than once.")
    missing = [c for c in columns if c not in weights.index]
    extra = [c for c in weights.index if c not in columns]
    if missing or extra:
        raise AlignmentError(
            f"`{name}` must have exactly one entry per asset; missing {missing}, "
            f"not in the data {extra}. Try `{name}.reindex(cov.columns, fill_value=0.0)`."
        )
    try:
        out = weights.reindex(columns).astype("float64")
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must hold numbers: {exc}") from exc
    if out.isna().any() or not np.isfinite(out.to_numpy()).all():
        bad = out.index[~np.isfinite(out.to_numpy())].tolist()
        raise ParameterError(f"`{name}` has missing or infinite values for {bad}.")
    return out


def check_covariance(cov: object, *, name: str = "cov", psd_tol: float = 1e-10) -> pd.DataFrame:
    """Check a labelled covariance matrix: square, same labels, finite, symmetric, PSD.

    Returns a float copy. The PSD test allows eigenvalues down to
    ``-psd_tol * max(1, largest eigenvalue)`` (rounding noise).
    """
    if not isinstance(cov, pd.DataFrame):
        raise TypeError(
            f"`{name}` must be a pandas DataFrame indexed and labelled by asset, got {type(cov).__name__}. "
            f"Build one with poolkit.risk.covariance(returns)."
        )
    if cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise CovarianceError(f"`{name}` must be a non-empty square matrix, got shape {cov.shape}.")
    if not cov.index.equals(cov.columns):
        raise AlignmentError(
            f"`{name}` must have the same asset labels on its index and columns, in the same order; "
            f"got index {list(cov.index)[:5]}... and columns {list(cov.columns)[:5]}..."
        )
    if cov.columns.duplicated().any():
        raise AlignmentError(f"`{name}` has duplicated asset labels {cov.columns[cov.columns.duplicated()].tolist()}.")
    try:
        mat = cov.to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise CovarianceError(f"`{name}` must hold numbers: {exc}") from exc
    if not np.isfinite(mat).all():
        i, j = np.argwhere(~np.isfinite(mat))[0]
        raise CovarianceError(
            f"`{name}` has a missing or infinite entry at ({cov.index[i]!r}, {cov.columns[j]!r}); "
            f"estimate it from complete data."
        )
    scale = max(1.0, float(np.abs(mat).max()))
    asym = np.abs(mat - mat.T)
    if asym.max() > 1e-10 * scale:
        i, j = np.unravel_index(int(asym.argmax()), asym.shape)
        raise CovarianceError(
            f"`{name}` is not symmetric: entry ({cov.index[i]!r}, {cov.columns[j]!r}) = {mat[i, j]:.6g} but "
            f"({cov.index[j]!r}, {cov.columns[i]!r}) = {mat[j, i]:.6g}. Use (cov + cov.T) / 2."
        )
    diag = np.diag(mat)
    if (diag < 0).any():
        k = int(np.argmin(diag))
        raise CovarianceError(f"`{name}` has a negative variance {diag[k]:.6g} for {cov.index[k]!r}.")
    eig_min = float(np.linalg.eigvalsh(mat)[0])
    eig_max = float(diag.sum())
    if eig_min < -psd_tol * max(1.0, eig_max):
        raise CovarianceError(
            f"`{name}` is not positive semi-definite: its smallest eigenvalue is {eig_min:.6g}. "
            f"Estimate it from complete data, use a shrinkage estimator "
            f"(poolkit.risk.covariance(returns, method='ledoit_wolf')) or repair it (clip eigenvalues at 0)."
        )
    return pd.DataFrame((mat + mat.T) / 2.0, index=cov.index.copy(), columns=cov.columns.copy())


def frame_like(values: np.ndarray, like: pd.DataFrame) -> pd.DataFrame:
    """Wrap a 2-D array in the index and columns of ``like``."""
    return pd.DataFrame(values, index=like.index.copy(), columns=like.columns.copy())


def series_or_float(values: np.ndarray, columns: pd.Index, was_series: bool, *, name: str | None = None) -> Any:
    """Return a float when the input was a Series, else a Series indexed by asset named ``name``."""
    arr = np.asarray(values, dtype="float64").reshape(-1)
    if was_series:
        return float(arr[0])
    return pd.Series(arr, index=columns.copy(), name=name)

"""Input checks shared by the credit functions: rates, balances, terms, PD, correlation, LGD."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_fraction
from poolkit.exceptions import ParameterError


def _rate_array(value: object, *, name: str) -> np.ndarray:
    """Check a rate (or array of rates) in [0, 1]; hint when it looks like a percentage."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.asarray(check_fraction(value, name=name), dtype=float)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a number or an array of numbers in [0, 1], got {value!r}.") from exc
    if arr.size == 0:
        raise ParameterError(f"`{name}` is empty; give at least one rate.")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        x = float(arr[bad].flat[0])
        hint = f" Did you mean {x:g} % = {x / 100:g}?" if 1 < x <= 100 else ""
        raise ParameterError(f"`{name}` must hold rates in [0, 1], got {x:g}.{hint}")
    return arr


def _positive(value: object, *, name: str, allow_zero: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a positive number, got {value!r}.") from exc
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        x = float(arr[bad].flat[0])
        need = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"`{name}` must be {need}, got {x:g}; a balance cannot be negative.")
    return arr


def _term_age(term: object, age: object) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(term)
    a = np.asarray(age)
    for name, arr in (("term", t), ("age", a)):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr!r}.")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr.flat[0]!r}.")
    t = t.astype(np.int64)
    a = a.astype(np.int64)
    if (t <= 0).any():
        raise ParameterError(f"`term` must be a positive number of months (e.g. 360), got {int(t[t <= 0].flat[0])}.")
    if (a < 0).any():
        raise ParameterError(f"`age` must be >= 0 months, got {int(a[a < 0].flat[0])}.")
    tt, aa = np.broadcast_arrays(t, a)
    if (aa >= tt).any():
        i = int(np.argmax(aa >= tt))
        raise ParameterError(
            f"`age` ({int(aa.flat[i])}) must be smaller than `term` ({int(tt.flat[i])}): a loan of that age "
            f"has no payments left. `term` is the original term; the remaining term is term - age."
        )
    return t, a


def _like(values: np.ndarray, template: object) -> Any:
    """Return a float for scalar input, a Series/DataFrame for one (same labels), else an array."""
    if isinstance(template, pd.DataFrame):
        return pd.DataFrame(np.asarray(values, dtype=float).reshape(template.shape), index=template.index.copy(),
                            columns=template.columns.copy())
    if isinstance(template, pd.Series):
        return pd.Series(np.asarray(values, dtype=float).reshape(template.shape), index=template.index.copy(),
                         name=template.name)
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    return arr


def _pd_array(value: object, *, name: str = "pd") -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be a probability in (0, 1), got {value!r}.") from exc
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr >= 1)
    if bad.any():
        x = float(arr[bad].flat[0])
        hint = f" Did you mean {x:g} % = {x / 100:g}?" if 1 <= x < 100 else ""
        raise ParameterError(f"`{name}` must be in (0, 1), got {x:g}.{hint}")
    return arr


def _rho(value: object, *, name: str = "rho") -> float:
    return check_fraction(value, name=name, high=1.0, high_open=True)


def _vasicek_args(pd: object, rho: object, lgd: object) -> tuple[float, float, float]:
    """Check the scalar ``(pd, rho, lgd)`` of a Vasicek pool: pd in (0, 1), rho in [0, 1), lgd in (0, 1]."""
    return float(_pd_array(pd)), _rho(rho), check_fraction(lgd, name="lgd", low_open=True)


def _loss_rates(x: object) -> np.ndarray:
    xs = np.asarray(x, dtype=float)
    if (~np.isfinite(xs)).any():
        raise ParameterError("`x` must hold finite loss rates.")
    return xs


def _tranche_bounds(attachment: object, detachment: object) -> tuple[float, float]:
    a = check_fraction(attachment, name="attachment")
    d = check_fraction(detachment, name="detachment")
    if a >= d:
        raise ParameterError(
            f"`attachment` ({a:g}) must be below `detachment` ({d:g}); a tranche covers losses "
            f"between them, e.g. attachment=0.03, detachment=0.07."
        )
    return a, d

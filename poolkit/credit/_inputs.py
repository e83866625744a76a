"""Input checks shared by the credit functions: rates, balances, terms, PD, correlation, LGD."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from poolkit.exceptions import ParameterError


def _percent_hint(x: float) -> str:
    """Return the "did you mean" hint of a fraction that looks like a percentage (6 for 6 %)."""
    return f" Did you mean {x:g} % = {x / 100:g}?" if 1.0 <= x <= 100.0 else ""


def _fraction_array(
    value: object,
    *,
    name: str,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "rate",
) -> np.ndarray:
    """Check a number or array of numbers in [0, 1] (ends open on request); hint at percentages.

    The one range check of every rate, probability, correlation and loss fraction of
    :mod:`poolkit.credit`: it refuses booleans and text, empty arrays, NaN and
    infinity, and a value such as 6 gets "did you mean 6 % = 0.06?".
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{left}0, 1{right}"
    raw = value.to_numpy() if isinstance(value, (pd.Series, pd.DataFrame)) else value
    kind = np.asarray(raw).dtype.kind if not isinstance(raw, (str, bytes)) else "U"
    if isinstance(raw, bool) or kind in "bUSV":
        raise ParameterError(f"`{name}` must be a number or an array of numbers in {interval} (a {what}), got {value!r}.")
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"`{name}` must be a number or an array of numbers in {interval} (a {what}), got {value!r}."
        ) from exc
    if arr.size == 0:
        raise ParameterError(f"`{name}` is empty; give at least one {what}.")
    bad = ~np.isfinite(arr) | ((arr <= 0) if low_open else (arr < 0)) | ((arr >= 1) if high_open else (arr > 1))
    if bad.any():
        x = float(arr[bad].flat[0])
        raise ParameterError(
            f"`{name}` must be a finite {what} in {interval}, as a fraction, got {x:g}.{_percent_hint(x)}"
        )
    return arr


def _scalar(arr: np.ndarray, *, name: str, hint: str = "") -> float:
    """Return the one number of a checked array; refuse several."""
    if arr.ndim != 0 and arr.size != 1:
        raise ParameterError(f"`{name}` must be one number, got {arr.size} values.{hint}")
    return float(arr.reshape(()))


def _rate_array(value: object, *, name: str) -> np.ndarray:
    """Check a rate (or array of rates) in [0, 1]; hint when it looks like a percentage."""
    return _fraction_array(value, name=name)


def _rate(value: object, *, name: str) -> float:
    """Check one rate in [0, 1]."""
    return _scalar(_rate_array(value, name=name), name=name)


def _positive(value: object, *, name: str, allow_zero: bool = False) -> np.ndarray:
    """Check balances, prices or other amounts > 0 (>= 0 with ``allow_zero``)."""
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
    """Check an original term and an age in whole months, with ``0 <= age < term``."""
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
    """Check probabilities of default (or confidence levels) in the open interval (0, 1)."""
    return _fraction_array(value, name=name, low_open=True, high_open=True, what="probability")


def _rho_array(value: object, *, name: str = "rho") -> np.ndarray:
    """Check asset correlations in [0, 1)."""
    return _fraction_array(value, name=name, high_open=True, what="correlation")


def _rho(value: object, *, name: str = "rho") -> float:
    """Check one asset correlation in [0, 1)."""
    return _scalar(_rho_array(value, name=name), name=name)


def _lgd_array(value: object, *, allow_zero: bool = True, name: str = "lgd") -> np.ndarray:
    """Check losses given default in [0, 1] (in (0, 1] where a zero LGD has no distribution)."""
    return _fraction_array(value, name=name, low_open=not allow_zero, what="loss given default")


_ONE_POOL = " Pool-level functions take one PD, LGD and correlation; give one per loan to simulate_pool_losses."


def _vasicek_args(*, pd: object, lgd: object, rho: object, lgd_zero: bool = False) -> tuple[float, float, float]:
    """Check the scalar ``(pd, lgd, rho)`` of a homogeneous pool: pd in (0, 1), lgd in (0, 1], rho in [0, 1).

    The one input check of the Vasicek functions and of the pooling tables
    (``lgd_zero=True`` also accepts a zero LGD, which only the simulations can use).
    """
    p = _scalar(_pd_array(pd), name="pd", hint=_ONE_POOL)
    g = _scalar(_lgd_array(lgd, allow_zero=lgd_zero), name="lgd", hint=_ONE_POOL)
    return p, g, _rho(rho)


def _loss_rates(value: object, *, name: str = "x") -> np.ndarray:
    """Check pool loss rates: fractions of the pool exposure in [0, 1]."""
    return _fraction_array(value, name=name, what="loss rate of the pool")


def _tranche_bounds(attachment: object, detachment: object) -> tuple[float, float]:
    """Check the bounds of a tranche, fractions of the pool with ``attachment < detachment``."""
    a = _rate(attachment, name="attachment")
    d = _rate(detachment, name="detachment")
    if a >= d:
        raise ParameterError(
            f"`attachment` ({a:g}) must be below `detachment` ({d:g}); a tranche covers losses "
            f"between them, e.g. attachment=0.03, detachment=0.07."
        )
    return a, d

"""Input checks shared by the credit functions: rates, balances, terms, PD, correlation, LGD."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from poolkit._validation import check_positive_int
from poolkit.exceptions import AlignmentError, ParameterError


def _percent_hint(x: float) -> str:
    """Return the "did you mean" hint of a fraction that looks like a percentage (6 for 6 %)."""
    return f" Did you mean {x:g} % = {x / 100:g}?" if 1.0 <= x <= 100.0 else ""


def _numbers(value: object, *, name: str, expected: str) -> np.ndarray:
    """Return ``value`` as a float array; refuse booleans, text and objects that are not numbers."""
    raw = value.to_numpy() if isinstance(value, (pd.Series, pd.DataFrame)) else value
    kind = "U" if isinstance(raw, (str, bytes)) else np.asarray(raw).dtype.kind
    if isinstance(raw, bool) or kind in "bUSV":
        raise ParameterError(f"`{name}` must be {expected}, got {value!r}.")
    try:
        return np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` must be {expected}, got {value!r}.") from exc


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
    arr = _numbers(value, name=name, expected=f"a number or an array of numbers in {interval} (a {what})")
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
    if arr.ndim != 0:
        raise ParameterError(f"`{name}` must be one number, got an array of shape {arr.shape}.{hint}")
    return float(arr.reshape(()))


def _rate_array(value: object, *, name: str) -> np.ndarray:
    """Check a rate (or array of rates) in [0, 1]; hint when it looks like a percentage."""
    return _fraction_array(value, name=name)


def _rate(value: object, *, name: str) -> float:
    """Check one rate in [0, 1]."""
    return _scalar(_rate_array(value, name=name), name=name)


def _positive(value: object, *, name: str, allow_zero: bool = False) -> np.ndarray:
    """Check balances, prices or other amounts > 0 (>= 0 with ``allow_zero``), at most 1e18."""
    arr = _numbers(value, name=name, expected="a positive number (or array of them)")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        x = float(arr[bad].flat[0])
        need = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"`{name}` must be {need}, got {x:g}; a balance cannot be negative.")
    if (arr > MAX_AMOUNT).any():
        raise ParameterError(
            f"`{name}` holds {float(arr.max()):g}, above {MAX_AMOUNT:g}: sums of such amounts lose their digits "
            f"or overflow. Express them in thousands or millions."
        )
    return arr


def _number(value: object, *, name: str, expected: str) -> float:
    """Check one finite real number (not a bool) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ParameterError(f"`{name}` must be {expected}, got {value!r}.")
    return float(value)


def _flag(value: object, *, name: str) -> bool:
    """Check a True/False switch (a numpy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


#: Largest amount (balance, exposure, price) accepted: beyond it sums lose their digits or overflow.
MAX_AMOUNT = 1e18
#: Longest original term of a loan, in months (100 years): the recursion runs month by month.
MAX_TERM_MONTHS = 1200


def _term_age(term: object, age: object) -> tuple[np.ndarray, np.ndarray]:
    """Check an original term and an age in whole months, with ``0 <= age < term <= 1200``."""
    t = np.asarray(term)
    a = np.asarray(age)
    for name, arr in (("term", t), ("age", a)):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)) or arr.size == 0:
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr!r}.")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ParameterError(f"`{name}` must be a whole number of months, got {arr.flat[0]!r}.")
    if (t <= 0).any():
        raise ParameterError(f"`term` must be a positive number of months (e.g. 360), got {t[t <= 0].flat[0]!r}.")
    if (t > MAX_TERM_MONTHS).any():
        x = float(t[t > MAX_TERM_MONTHS].flat[0])
        raise ParameterError(
            f"`term` is {x:,.0f} months ({x / 12:,.0f} years); poolkit projects loans of at most {MAX_TERM_MONTHS} "
            f"months (100 years), checked before any work. Terms are in months: a 30-year mortgage is term=360."
        )
    if (a < 0).any():
        raise ParameterError(f"`age` must be >= 0 months, got {a[a < 0].flat[0]!r}.")
    if (a >= MAX_TERM_MONTHS).any():
        raise ParameterError(f"`age` must be below {MAX_TERM_MONTHS} months (the longest term), got {a.max()!r}.")
    t = t.astype(np.int64)
    a = a.astype(np.int64)
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


# ----------------------------------------------------------------------------------------
# arguments by name, numbers of loans, seeds, labels
# ----------------------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")

#: Largest number of loans a simulation or pool-size table accepts (arrays of this size fit in memory).
MAX_LOANS = 10_000_000
#: Largest number of Monte Carlo scenarios (the result alone holds 8 bytes per scenario).
MAX_SIMS = 10_000_000


def _show(name: str, value: object) -> str:
    """Render ``name=value`` for a suggested call; long values are shown as a placeholder."""
    if isinstance(value, (np.ndarray, pd.Series, pd.DataFrame, list, tuple)) and len(value) > 4:
        return f"{name}=<your {len(value)} values>"
    text = repr(value)
    return f"{name}={text}" if len(text) <= 40 else f"{name}=<your {name}>"


def _positional_hint(func: str, names: Sequence[str], args: tuple[Any, ...], kwargs: dict[str, Any], fixed: int) -> str:
    """Say how to write a call whose swappable arguments were given by position."""
    extra = args[fixed:]
    if len(extra) > len(names):
        return (
            f"{func}() takes {', '.join(f'`{n}`' for n in names)} by name only, and got {len(extra)} values by "
            f"position. Write each of them as name=value."
        )
    parts = [repr(a) for a in args[:fixed]]
    shown: list[str] = []
    first_loans = ""
    for name, value in zip(names, extra, strict=False):
        if name == "exposures":  # the old first argument of simulate_pool_losses: a count or amounts
            if isinstance(value, bool):
                first_loans = f" {value!r} is not a number of loans; write n_loans=1 for one loan."
                name, value = "n_loans", 1
            elif isinstance(value, numbers.Integral):
                name, value = "n_loans", int(value)
            elif isinstance(value, numbers.Real):
                x = float(value)
                count = f", or n_loans={int(x)} for {int(x)} equal loans" if x.is_integer() and x >= 1 else ""
                first_loans = (
                    f" A single number {x!r} meant one loan of that exposure: exposures=[{x!r}] says so{count}."
                )
                value = [x]
        shown.append(_show(name, value))
    shown += [_show(k, v) for k, v in kwargs.items()]
    order = ", ".join(f"`{n}`" for n in names[: len(extra)])
    return (
        f"{func}() takes {order} by name only (they are easy to swap); write "
        f"{func}({', '.join(parts + shown)}).{first_loans}"
    )


def _by_name(*names: str, fixed: int = 0) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Refuse, by name and with the call to write instead, values given by position for swappable arguments.

    ``fixed`` leading arguments stay positional (``x`` of :func:`vasicek_loss_cdf`);
    ``names`` are the arguments that used to follow them, in their former order, so
    that a call written for the former signature gets its translation.
    """

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            if len(args) > fixed:
                raise ParameterError(_positional_hint(func.__name__, names, args, dict(kwargs), fixed))
            return func(*args, **kwargs)

        return call

    return wrap


def _n_loans(value: object, *, name: str = "n_loans", minimum: int = 1) -> int:
    """Check a number of loans: an int (not a bool, not a float) within [minimum, MAX_LOANS]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(
            f"`{name}` must be a whole number of loans (an int such as 100), got {value!r}. "
            f"For loans of given amounts pass exposures=[...] (one amount per loan)."
        )
    n = int(value)
    if n < minimum:
        raise ParameterError(f"`{name}` must be at least {minimum}, got {n}.")
    if n > MAX_LOANS:
        raise ParameterError(
            f"`{name}` is {n:,} loans; at most {MAX_LOANS:,} are simulated. For a larger pool use the "
            f"infinitely granular (Vasicek) limit, which such a pool is within sampling noise of."
        )
    return n


def _exposures(value: object) -> np.ndarray:
    """Check the exposure at default of each loan: a 1-D list, array or Series of amounts >= 0."""
    shape = () if isinstance(value, (str, bytes, numbers.Number)) else np.shape(np.asarray(value, dtype=object))
    if shape == ():
        hint = ""
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= float(value) <= MAX_AMOUNT:
            x = float(value)
            count = f"; for {int(x)} equal loans write n_loans={int(x)}" if x.is_integer() and 1 <= x <= MAX_LOANS else ""
            hint = f" For one loan of exposure {x!r} write exposures=[{x!r}]{count}."
        raise ParameterError(f"`exposures` must hold one amount per loan (a list, array or Series), got {value!r}.{hint}")
    if len(shape) != 1:
        raise ParameterError(f"`exposures` must be one-dimensional (one amount per loan), got shape {shape}.")
    ead = _positive(value, name="exposures", allow_zero=True)
    if ead.size == 0:
        raise ParameterError("`exposures` is empty; give at least one loan.")
    if ead.size > MAX_LOANS:
        raise ParameterError(f"`exposures` holds {ead.size:,} loans; at most {MAX_LOANS:,} are simulated.")
    if ead.sum() <= 0:
        raise ParameterError("`exposures` sum to 0; give at least one positive exposure.")
    return ead


def _n_sims(value: object) -> int:
    """Check a number of Monte Carlo scenarios in [1, MAX_SIMS]."""
    n = check_positive_int(value, name="n_sims")
    if n > MAX_SIMS:
        raise ParameterError(
            f"`n_sims` is {n:,}; at most {MAX_SIMS:,} scenarios are simulated in one call (the losses alone "
            f"take 8 bytes each). Run several seeds and concatenate the results for more."
        )
    return n


def _rng(seed: object) -> np.random.Generator:
    """Return the random generator of ``seed``: None, a non-negative int or a numpy Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and int(seed) >= 0):
        return np.random.default_rng(None if seed is None else int(seed))
    raise ParameterError(
        f"`seed` must be None (a fresh random run), a non-negative int such as 1970 (the same numbers on every "
        f"run), or a numpy Generator (np.random.default_rng(...)); got {seed!r}."
    )


def _labelled(values: dict[str, object]) -> tuple[dict[str, np.ndarray], pd.Series | None]:
    """Align labelled inputs and broadcast them; refuse different labels or shapes by name.

    Series are aligned by label on the first Series among ``values`` (the template of
    the result); plain arrays are taken in order. Returns the float arrays broadcast to
    one shape and the template Series (or None).
    """
    template = next((v for v in values.values() if isinstance(v, pd.Series)), None)
    out: dict[str, np.ndarray] = {}
    for name, v in values.items():
        if isinstance(v, pd.Series) and template is not None and v is not template:
            if v.index.has_duplicates or not v.index.sort_values().equals(template.index.sort_values()):
                missing = template.index.difference(v.index).tolist()[:5]
                extra = v.index.difference(template.index).tolist()[:5]
                raise AlignmentError(
                    f"`{name}` must be labelled like the other inputs; missing {missing}, not in the others {extra}. "
                    f"Give one value per exposure, with the same labels."
                )
            v = v.reindex(template.index)
        out[name] = np.asarray(v.to_numpy() if isinstance(v, pd.Series) else v, dtype=float)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in out.values()))
    except ValueError as exc:
        shapes = ", ".join(f"`{k}` {a.shape}" for k, a in out.items())
        raise ParameterError(f"the inputs must be single numbers or arrays of one shape; got {shapes}.") from exc
    if template is not None and shape != template.shape:
        shapes = ", ".join(f"`{k}` {a.shape}" for k, a in out.items())
        raise ParameterError(
            f"the inputs must be single numbers or one value per labelled entry ({template.size}); got {shapes}."
        )
    return {k: np.broadcast_to(a, shape) for k, a in out.items()}, template

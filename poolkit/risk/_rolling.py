"""Rolling statistics over a moving window of dates, for every asset at once."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, overload

import numpy as np
import pandas as pd

from poolkit._numerics import annual_rate, per_period_rate, resolve_periods_per_year
from poolkit._typing import DataFrameLike, SeriesLike
from poolkit._validation import check_choice, check_level, check_positive_int
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError
from poolkit.risk._benchmark import _with_benchmark
from poolkit.risk._capture import _market_periods
from poolkit.risk._common import _check_ddof, _prepare
from poolkit.risk._drawdowns import _path_values
from poolkit.risk._moments import _kurt_from, _skew_from
from poolkit.risk._path_stats import _flat, _log_returns, _r_squared_on_time
from poolkit.risk._tail import VAR_METHODS, _hist_cut, _parametric_loss

ROLLING_STATISTICS = (
    "volatility",
    "downside_deviation",
    "sharpe_ratio",
    "sortino_ratio",
    "omega_ratio",
    "skewness",
    "kurtosis",
    "max_drawdown",
    "value_at_risk",
    "conditional_value_at_risk",
    "tail_ratio",
    "beta",
    "alpha",
    "tracking_error",
    "information_ratio",
    "ulcer_index",
    "average_drawdown",
    "stability",
    "up_capture",
    "down_capture",
    "up_beta",
    "down_beta",
)
_BENCHMARK_STATISTICS = (
    "beta",
    "alpha",
    "tracking_error",
    "information_ratio",
    "up_capture",
    "down_capture",
    "up_beta",
    "down_beta",
)
_ROLLING_PARAMS: dict[str, tuple[str, ...]] = {
    "volatility": ("annualize", "ddof"),
    "downside_deviation": ("target", "annualize"),
    "sharpe_ratio": ("risk_free", "annualize", "ddof"),
    "sortino_ratio": ("target", "annualize"),
    "omega_ratio": ("target",),
    "skewness": ("bias",),
    "kurtosis": ("bias",),
    "max_drawdown": (),
    "value_at_risk": ("level", "method"),
    "conditional_value_at_risk": ("level", "method"),
    "tail_ratio": ("level",),
    "beta": (),
    "alpha": ("risk_free",),
    "tracking_error": ("annualize",),
    "information_ratio": ("annualize",),
    "ulcer_index": (),
    "average_drawdown": (),
    "stability": (),
    "up_capture": (),
    "down_capture": (),
    "up_beta": (),
    "down_beta": (),
}
_CHUNK = 4_000_000  # elements per block of sliding windows (bounds memory, not a loop per window)


def _msum(a: np.ndarray, w: int) -> np.ndarray:
    """Sum ``w`` consecutive rows: row k sums rows k .. k + w - 1 (cumulative-sum form)."""
    c = np.zeros((a.shape[0] + 1, *a.shape[1:]))
    np.cumsum(a, axis=0, out=c[1:])
    return c[w:] - c[:-w]


def _window_blocks(a: np.ndarray, w: int, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply ``func`` to blocks of sliding windows, shape (k, n_assets, w) -> (k, n_assets)."""
    from numpy.lib.stride_tricks import sliding_window_view

    view = sliding_window_view(a, w, axis=0)
    step = max(1, _CHUNK // max(1, a.shape[1] * w))
    return np.concatenate([func(view[i : i + step]) for i in range(0, view.shape[0], step)], axis=0)


def _rolling_moments(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the moving mean and biased central moments m2, m3, m4 of each window."""
    c = x - x.mean(axis=0)  # centring first keeps the cumulative sums accurate
    c2 = c * c
    s1, s2, s3, s4 = _msum(c, w) / w, _msum(c2, w) / w, _msum(c2 * c, w) / w, _msum(c2 * c2, w) / w
    m2 = np.maximum(s2 - s1**2, 0.0)
    m3 = s3 - 3 * s1 * s2 + 2 * s1**3
    m4 = s4 - 4 * s1 * s3 + 6 * s1**2 * s2 - 3 * s1**4
    return s1 + x.mean(axis=0), m2, m3, m4


def _rolling_undefined(bad: np.ndarray, frame: pd.DataFrame, w: int, statistic: str, why: str) -> None:
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"Rolling {statistic} is undefined for {frame.columns[j]!r} in the window ending "
            f"{frame.index[i + w - 1]!r}: {why}. Use a longer window or drop that asset."
        )


@overload
def rolling(
    returns: DataFrameLike,
    window: int,
    statistic: str | Callable[..., Any] = ...,
    *,
    benchmark: pd.Series | pd.DataFrame | None = ...,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
    **params: Any,
) -> pd.DataFrame: ...


@overload
def rolling(
    returns: SeriesLike,
    window: int,
    statistic: str | Callable[..., Any] = ...,
    *,
    benchmark: pd.Series | pd.DataFrame | None = ...,
    periods_per_year: float | None = ...,
    nan_policy: str = ...,
    **params: Any,
) -> pd.Series: ...


def rolling(
    returns: pd.DataFrame | pd.Series,
    window: int,
    statistic: str | Callable[..., Any] = "volatility",
    *,
    benchmark: pd.Series | pd.DataFrame | None = None,
    periods_per_year: float | None = None,
    nan_policy: str = "raise",
    **params: Any,
) -> pd.DataFrame | pd.Series:
    r"""Compute a statistic over a moving window of dates, for every asset at once.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets) or Series
        Periodic returns, indexed by date; columns are assets.
    window : int
        Number of periods in each window (e.g. 63 for about three months of days).
    statistic : str or function, default "volatility"
        One of ``"volatility"``, ``"downside_deviation"``, ``"sharpe_ratio"``,
        ``"sortino_ratio"``, ``"omega_ratio"``, ``"skewness"``, ``"kurtosis"``,
        ``"max_drawdown"``, ``"value_at_risk"``, ``"conditional_value_at_risk"``,
        ``"tail_ratio"``, ``"beta"``, ``"alpha"``, ``"tracking_error"``,
        ``"information_ratio"``, ``"ulcer_index"``, ``"average_drawdown"``,
        ``"stability"``, ``"up_capture"``, ``"down_capture"``, ``"up_beta"``,
        ``"down_beta"`` (or the poolkit.risk function of that name).
    benchmark : Series, optional
        Benchmark returns, required by beta, alpha, tracking error, information ratio,
        the capture ratios and the up/down betas.
    periods_per_year : float, optional
        Inferred from the dates when omitted.
    nan_policy : {"raise", "drop"}, default "raise"
        Missing returns raise, or dates with any missing value are dropped.
    **params
        Options of the statistic, as in its own function: ``annualize``, ``ddof``,
        ``risk_free``, ``target``, ``bias``, ``level``, ``method``.

    Returns
    -------
    DataFrame or Series
        One row per full window, indexed by the window's last date (the first
        ``window - 1`` dates have no full window and are left out); columns =
        assets; ``attrs["statistic"]`` and ``attrs["window"]`` say what it holds.
        Units as the statistic's own function.

    Raises
    ------
    ParameterError
        For an unknown statistic or option, a missing benchmark, or ``"pairwise"``.
    InsufficientDataError
        If there are fewer dates than ``window``.
    DataError
        If a window makes a ratio undefined (e.g. constant returns for a Sharpe ratio).

    Notes
    -----
    Moment statistics use moving sums from cumulative sums,
    :math:`\sum_{s=t-w+1}^{t} x_s = C_t - C_{t-w}` with :math:`C_t = \sum_{s \le t} x_s`
    (on returns centred by their overall mean, which keeps the differences accurate),
    so their cost does not grow with the window. Quantile and drawdown statistics
    work on strided windows (``numpy.lib.stride_tricks.sliding_window_view``) in
    blocks. Each window's value equals the statistic's function applied to that
    window alone.

    References
    ----------
    .. [1] Welford, B. P. (1962). Note on a method for calculating corrected sums of
       squares and products. Technometrics 4(3), 419-420.

    Examples
    --------
    >>> r = pd.Series([0.01, -0.01, 0.01, -0.01, 0.03])
    >>> rolling(r, 4, "volatility", annualize=False).round(6).tolist()
    [0.011547, 0.019149]
    """
    name = statistic if isinstance(statistic, str) else getattr(statistic, "__name__", repr(statistic))
    check_choice(name, ROLLING_STATISTICS, name="statistic")
    if nan_policy == "pairwise":
        raise ParameterError("`rolling` supports nan_policy 'raise' or 'drop', not 'pairwise'.")
    allowed = _ROLLING_PARAMS[name]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParameterError(f"Rolling {name} takes options {list(allowed)}; got unknown {unknown}.")
    w = check_positive_int(window, name="window", minimum=2)
    need = {"skewness": 3, "kurtosis": 4}.get(name, 2)
    if params.get("method") == "cornish_fisher":
        need = 4
    if w < need:
        raise ParameterError(f"`window` must be at least {need} for {name}, got {w}.")
    if name in _BENCHMARK_STATISTICS:
        if benchmark is None:
            raise ParameterError(f"Rolling {name} needs `benchmark` (a Series of benchmark returns).")
        frame, was_series, x, b, _ = _with_benchmark(returns, benchmark, nan_policy)
        b = np.ascontiguousarray(b)
    elif benchmark is not None:
        raise ParameterError(f"`benchmark` is not used by rolling {name}; leave it out.")
    else:
        frame, was_series, x, _ = _prepare(returns, nan_policy=nan_policy, min_obs=1)
    if frame.shape[0] < w:
        raise InsufficientDataError(
            f"`returns` has {frame.shape[0]} dates, fewer than the window of {w}; use a shorter window."
        )
    annualize = bool(params.get("annualize", True))

    def ppy() -> float:
        return resolve_periods_per_year(periods_per_year, frame.index)

    if name in ("volatility", "sharpe_ratio"):
        ddof = _check_ddof(params.get("ddof", 1))
        rf = per_period_rate(params.get("risk_free", 0.0), periods_per_year, frame.index, name="risk_free")
        mean, m2, _, _ = _rolling_moments(x - rf, w)
        sd = np.sqrt(m2 * w / (w - ddof))
        if name == "volatility":
            out = sd
        else:
            _rolling_undefined(
                sd <= 1e-15 * np.abs(mean).clip(1e-300),
                frame,
                w,
                "Sharpe ratio",
                "the returns are constant (zero volatility)",
            )
            out = mean / sd
        if annualize:
            out = out * math.sqrt(ppy())
    elif name in ("downside_deviation", "sortino_ratio", "omega_ratio"):
        t = per_period_rate(params.get("target", 0.0), periods_per_year, frame.index, name="target")
        ex = x - t
        if name == "omega_ratio":
            down = _msum(np.maximum(-ex, 0.0), w)
            _rolling_undefined(down <= 0, frame, w, "Omega ratio", "no return falls below the target")
            out = _msum(np.maximum(ex, 0.0), w) / down
        else:
            low = np.minimum(ex, 0.0)
            dd = np.sqrt(np.maximum(_msum(low * low, w), 0.0) / w)
            if name == "downside_deviation":
                out = dd * (math.sqrt(ppy()) if annualize else 1.0)
            else:
                _rolling_undefined(dd <= 0, frame, w, "Sortino ratio", "no return falls below the target")
                out = (_msum(ex, w) / w) / dd * (math.sqrt(ppy()) if annualize else 1.0)
    elif name in ("skewness", "kurtosis"):
        _, m2, m3, m4 = _rolling_moments(x, w)
        _rolling_undefined(m2 <= 0, frame, w, name, "the returns are constant")
        nn = np.full_like(m2, float(w))
        bias = bool(params.get("bias", False))
        out = _skew_from(nn, m2, m3, bias) if name == "skewness" else _kurt_from(nn, m2, m4, bias)
    elif name in ("max_drawdown", "ulcer_index", "average_drawdown"):
        xp = _path_values(x, frame)
        with np.errstate(divide="ignore"):
            logw = np.maximum(np.log1p(xp), -1e6)
        lw = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(logw, axis=0)])

        def _mdd(v: np.ndarray) -> np.ndarray:
            return np.expm1((v - np.maximum.accumulate(v, axis=-1)).min(axis=-1))

        def _dd_mean(v: np.ndarray) -> np.ndarray:
            # drawdowns of the w dates after the window's starting value (itself a peak)
            dd = np.expm1(v[..., 1:] - np.maximum.accumulate(v, axis=-1)[..., 1:])
            return np.sqrt(np.mean(dd * dd, axis=-1)) if name == "ulcer_index" else dd.mean(axis=-1)

        out = _window_blocks(lw, w + 1, _mdd if name == "max_drawdown" else _dd_mean)
    elif name == "stability":
        logw = _log_returns(x, frame)

        def _stab(v: np.ndarray) -> np.ndarray:
            y = np.moveaxis(np.cumsum(v, axis=-1), -1, 0).reshape(w, -1)
            flat = _flat(y, None).reshape(v.shape[:-1])
            r2 = _r_squared_on_time(y, None).reshape(v.shape[:-1])
            return np.where(flat, np.nan, r2)

        out = _window_blocks(logw, w, _stab)
        _rolling_undefined(np.isnan(out), frame, w, "stability", "the log wealth is flat in the window")
    elif name in ("value_at_risk", "conditional_value_at_risk", "tail_ratio"):
        level = check_level(params.get("level", 0.95))
        method = check_choice(params.get("method", "historical"), VAR_METHODS, name="method")
        if name == "tail_ratio" or method == "historical":
            if name == "conditional_value_at_risk":
                k = int(_hist_cut(np.array([float(w)]), level)[0])

                def _es(v: np.ndarray) -> np.ndarray:
                    return -np.partition(v, k - 1, axis=-1)[..., :k].mean(axis=-1)

                out = _window_blocks(x, w, _es)
            else:
                qs = [1.0 - level] if name == "value_at_risk" else [level, 1.0 - level]

                def _q(v: np.ndarray) -> np.ndarray:
                    q = np.quantile(v, qs, axis=-1)
                    if name == "value_at_risk":
                        return -q[0]
                    low = np.abs(q[1])
                    return np.abs(q[0]) / np.where(low > 0, low, np.nan)

                out = _window_blocks(x, w, _q)
                if name == "tail_ratio":
                    _rolling_undefined(np.isnan(out), frame, w, "tail ratio", "the lower quantile is zero")
        else:
            mean, m2, m3, m4 = _rolling_moments(x, w)
            sd = np.sqrt(m2 * w / (w - 1))
            want = "var" if name == "value_at_risk" else "es"
            if method == "gaussian":
                out = _parametric_loss(mean, sd, level, want)
            else:
                _rolling_undefined(m2 <= 0, frame, w, name, "the returns are constant")
                nn = np.full_like(m2, float(w))
                s, kk = _skew_from(nn, m2, m3, False), _kurt_from(nn, m2, m4, False)
                out = _parametric_loss(mean, sd, level, want, s, kk)
    elif name in ("up_capture", "down_capture", "up_beta", "down_beta"):
        side = name.split("_")[0]
        sel = _market_periods(x, b, side)
        m = sel.astype("float64")
        n = _msum(m, w)
        if name.endswith("capture"):
            moved = "rose" if side == "up" else "fell"
            _rolling_undefined(n < 1, frame, w, name, f"the benchmark never {moved}")
            if (b < -1.0).any():
                raise DataError("`benchmark` has a return below -100 %; simple returns cannot fall below -1.")
            with np.errstate(divide="ignore"):
                lx = np.maximum(np.log1p(_path_values(np.where(sel, x, 0.0), frame)), -1e6)
                lb = np.maximum(np.log1p(np.where(sel, b, 0.0)), -1e6)
            p = ppy()
            out = np.expm1(_msum(lx, w) * p / n) / np.expm1(_msum(lb, w) * p / n)
        else:
            moved = "rose" if side == "up" else "fell"
            _rolling_undefined(n < 2, frame, w, name, f"the benchmark {moved} on fewer than two dates")
            # centred on this side's overall means: the moving sums then keep their accuracy
            cnt = np.maximum(m.sum(axis=0), 1.0)
            xc = np.where(sel, x - (np.where(sel, x, 0.0).sum(axis=0) / cnt), 0.0)
            bc = np.where(sel, b - (np.where(sel, b, 0.0).sum(axis=0) / cnt), 0.0)
            sx, sb = _msum(xc, w), _msum(bc, w)
            var_b = _msum(bc * bc, w) - sb * sb / n
            _rolling_undefined(var_b <= 0, frame, w, name, "the benchmark is constant on those dates")
            out = (_msum(xc * bc, w) - sx * sb / n) / var_b
    else:  # benchmark statistics
        if name in ("beta", "alpha"):
            xm, bm = x.mean(axis=0), b.mean(axis=0)
            xc, bc = x - xm, b - bm
            sx, sb = _msum(xc, w), _msum(bc, w)
            var_b = _msum(bc * bc, w) - sb * sb / w
            _rolling_undefined(var_b <= 0, frame, w, name, "the benchmark is constant")
            bt = (_msum(xc * bc, w) - sx * sb / w) / var_b
            if name == "beta":
                out = bt
            else:
                rf = per_period_rate(
                    params.get("risk_free", 0.0), periods_per_year, frame.index, name="risk_free"
                )
                a = (sx / w + xm - rf) - bt * (sb / w + bm - rf)
                out = annual_rate(a, ppy())
        else:
            mean, m2, _, _ = _rolling_moments(x - b, w)
            te = np.sqrt(m2 * w / (w - 1))
            if name == "tracking_error":
                out = te
            else:
                _rolling_undefined(te <= 0, frame, w, "information ratio", "zero tracking error")
                out = mean / te
            if annualize:
                out = out * math.sqrt(ppy())
    index = frame.index[w - 1 :]
    if was_series:
        res: pd.DataFrame | pd.Series = pd.Series(out[:, 0], index=index.copy(), name=frame.columns[0])
    else:
        res = pd.DataFrame(out, index=index.copy(), columns=frame.columns.copy())
    res.attrs.update({"statistic": name, "window": w})
    return res

r"""Systemic-risk indicators: how tightly a whole universe moves together, date by date.

Pooling removes the risk specific to each asset, never the risk the assets share. These
indicators measure the shared part as it changes: the average pairwise correlation, the
absorption ratio (the share of variance the first principal components absorb), financial
turbulence (how unusual each date's returns are given their history) and lower-tail
dependence (how often assets, or pools, crash together). Rolling indicators are computed
for whole blocks of windows at once: moving sums, rolling covariances by rank-one updates,
numpy's batched ``eigvalsh``, ``cholesky`` and ``matmul`` on ``sliding_window_view``
blocks, in chunks that bound the memory; no window is computed on its own (the only step
taken window by window is adding the wide rolling matrices of a block in turn).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from poolkit._validation import (
    check_aligned,
    check_choice,
    check_fraction,
    check_positive_int,
    check_returns,
)
from poolkit.exceptions import CovarianceError, DataError, InsufficientDataError, ParameterError
from poolkit.pooling._common import POOL_NAME, check_pools, membership

__all__ = [
    "ABSORPTION_ON",
    "SINGULAR",
    "absorption_ratio",
    "average_correlation",
    "co_exceedance",
    "systemic_indicators",
    "tail_dependence",
    "turbulence",
]

#: What the absorption ratio takes the eigenvalues of.
ABSORPTION_ON = ("covariance", "correlation")
#: What turbulence does with a singular covariance: refuse it, or use the pseudo-inverse.
SINGULAR = ("raise", "pinv")
_CHUNK = 4_000_000  # float64 elements per block of windows (about 32 MB): bounds memory, not a loop per window
_REFRESH = 256  # rolling covariances are recomputed exactly at least every this many windows


# --------------------------------------------------------------------------- shared checks and blocks
def _checked(returns: object, *, min_obs: int, nan_policy: str = "raise") -> pd.DataFrame:
    """Check returns: a float frame with sorted unique dates and at least two assets (named errors)."""
    if isinstance(returns, pd.Series):
        raise TypeError("`returns` must be a DataFrame of dates x assets: these indicators compare assets.")
    frame, _ = check_returns(returns, name="returns", min_obs=min_obs, nan_policy=nan_policy)
    if frame.shape[1] < 2:
        raise InsufficientDataError("`returns` has one asset; a systemic indicator needs at least two.")
    return frame


def _check_window(window: object, frame: pd.DataFrame, *, minimum: int = 3) -> int:
    w = check_positive_int(window, name="window", minimum=minimum)
    if w > len(frame):
        raise InsufficientDataError(
            f"`window` is {w} periods but `returns` has only {len(frame)} dates; use a shorter window or a "
            f"longer history."
        )
    return w


def _blocks(n_windows: int, per_window: int, *, at_least: int = 1) -> list[slice]:
    """Slices of window numbers so that each block holds about ``_CHUNK`` elements."""
    step = max(at_least, _CHUNK // max(1, per_window))
    return [slice(i, min(i + step, n_windows)) for i in range(0, n_windows, step)]


def _rolling_mean_sd(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and volatility (``ddof=1``) of each asset in every window, by moving sums: O(T N)."""
    from poolkit.risk._rolling import _msum

    s1 = _msum(x, w) / w
    var = np.maximum(_msum(x * x, w) / w - s1 * s1, 0.0) * (w / (w - 1))
    return s1, np.sqrt(var)


def _rolling_scatter(x: np.ndarray, w: int, n_windows: int) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    r"""Yield ``(block, scatter matrices, means)`` of windows ``block`` (window j = rows j .. j + w - 1).

    The scatter matrix :math:`\sum_s (x_s - \bar x)(x_s - \bar x)^\top` is ``w - 1`` times the
    window's covariance (callers divide only where the scale matters). The raw second moment of
    a window is that of the window before plus its new row's outer product minus its oldest one
    (a cumulative sum over each block), so a window costs :math:`O(N^2)` instead of
    :math:`O(wN^2)`; it is recomputed exactly by one matrix product at least every ``_REFRESH``
    windows, which bounds the rounding drift. ``x`` must be demeaned over the whole history
    (the moving sums then stay accurate).
    """
    n = x.shape[1]
    csum = np.zeros((len(x) + 1, n))
    np.cumsum(x, axis=0, out=csum[1:])
    last: np.ndarray | None = None
    exact = 0  # window whose moment was last computed exactly
    step = min(_REFRESH, max(1, _CHUNK // (3 * n * n)))
    for block in [slice(i, min(i + step, n_windows)) for i in range(0, n_windows, step)]:
        a, b = block.start, block.stop - block.start
        moment = np.empty((b, n, n))
        if last is None or a - exact + b > _REFRESH:
            moment[0] = x[a : a + w].T @ x[a : a + w]
            exact = a
        else:
            moment[0] = last + np.outer(x[a + w - 1], x[a + w - 1]) - np.outer(x[a - 1], x[a - 1])
        if b > 1:  # new_s new_s' - old_s old_s' as one product of (n x 2) and (2 x n) blocks
            new, old = x[a + w : a + w + b - 1], x[a : a + b - 1]
            np.matmul(np.stack([new, old], axis=2), np.stack([new, -old], axis=1), out=moment[1:])
            if n * n <= 4096:
                np.cumsum(moment, axis=0, out=moment)
            else:  # numpy's cumsum along the first axis of wide matrices is ~10x slower than adding them in turn
                for i in range(1, b):  # at most _REFRESH whole-matrix additions per block
                    np.add(moment[i], moment[i - 1], out=moment[i])
        last = moment[-1].copy()
        mean = (csum[a + w : a + w + b] - csum[a : a + b]) / w
        moment -= (w * mean)[:, :, None] * mean[:, None, :]
        yield block, moment, mean


def _undefined_window(bad: np.ndarray, frame: pd.DataFrame, w: int, first: int, why: str) -> None:
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(
            f"the window of {w} periods ending {frame.index[first + i + w - 1]!r} has {why} for "
            f"{frame.columns[j]!r}; the indicator is undefined there. Use a longer window or drop that asset."
        )


# --------------------------------------------------------------------------- average correlation
def average_correlation(returns: pd.DataFrame, window: int = 252, *, nan_policy: str = "raise") -> pd.Series:
    r"""Average pairwise correlation of the assets over a moving window.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates, at least two assets.
    window : int, default 252
        Number of periods in each window (the window ending on each date, that date included).
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing before the windows are cut.

    Returns
    -------
    Series
        :math:`\bar\rho_t`, indexed by the last date of each window (the first ``window - 1``
        dates have no full window and are not in the index), named ``average_correlation``.

    Raises
    ------
    DataError
        For shuffled or duplicated dates, NaNs, or an asset constant over a window.
    InsufficientDataError
        If ``window`` exceeds the number of dates.

    Notes
    -----
    With :math:`z_{i,s}` the returns standardised within the window,

    .. math:: \bar\rho_t = \frac{2}{N(N-1)} \sum_{i<j} \rho_{ij,t}
              = \frac{\sum_s \big(\sum_i z_{i,s}\big)^2 / (w - 1) - N}{N (N - 1)} ,

    so each window costs :math:`O(wN)`, not the :math:`O(wN^2)` of its correlation matrix.

    References
    ----------
    .. [1] Pollet, J. M. and Wilson, M. (2010). Average correlation and stock market returns.
       J. Financial Economics 96(3), 364-380.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> common = rng.normal(size=(500, 1))
    >>> r = pd.DataFrame(common + rng.normal(size=(500, 3)), columns=list("ABC"))
    >>> round(float(average_correlation(r, window=500).iloc[0]), 1)  # 1 / (1 + 1)
    0.5
    """
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    w = _check_window(window, frame)
    x = frame.to_numpy()
    x = x - x.mean(axis=0)
    n = x.shape[1]
    mean, sd = _rolling_mean_sd(x, w)
    _undefined_window(sd <= 1e-7 * np.abs(x).max(axis=0), frame, w, 0, "zero volatility")
    inv = 1.0 / sd
    offset = np.einsum("ji,ji->j", mean, inv)  # sum_i m_i / s_i of each window
    from numpy.lib.stride_tricks import as_strided

    out = np.empty(len(mean))
    for block in _blocks(len(mean), 2 * n * w, at_least=w):
        b = block.stop - block.start
        prod = x[block.start : block.stop + w - 1] @ inv[block].T  # row s, window j: sum_i x_si / s_ji
        s0, s1 = prod.strides
        band = as_strided(prod, shape=(b, w), strides=(s0 + s1, s0), writeable=False)  # rows j .. j + w - 1
        total = band - offset[block, None]  # sum_i z_{i,s} over the window
        out[block] = (np.einsum("js,js->j", total, total) / (w - 1) - n) / (n * (n - 1))
    return pd.Series(np.clip(out, -1.0, 1.0), index=frame.index[w - 1 :].copy(), name="average_correlation")


# --------------------------------------------------------------------------- absorption ratio
def _default_components(n: int, n_components: object) -> int:
    if n_components is None:
        return max(1, int(round(n / 5)))
    k = check_positive_int(n_components, name="n_components")
    if k >= n:
        raise ParameterError(
            f"`n_components` must be below the number of assets ({n}): the first {n} components absorb "
            f"all the variance. Got {k}."
        )
    return k


def _rolling_eigvals(x: np.ndarray, w: int, on: str) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) of every window's covariance or correlation, and each window's trace.

    Returns arrays of shape ``(n_windows, m)`` and ``(n_windows,)`` with ``m = min(n_assets, w)``.
    ``x`` is demeaned over the whole history. With at least as many dates as assets in a
    window, the matrices come from :func:`_rolling_scatter`; with fewer, the non-zero
    eigenvalues come from the (w x w) Gram matrix of the demeaned window, which has the same
    non-zero spectrum as the (n x n) covariance at a fraction of the cost.
    """
    from numpy.lib.stride_tricks import as_strided

    t, n = x.shape
    n_win = t - w + 1
    m = min(n, w)
    eig = np.empty((n_win, m))
    trace = np.empty(n_win)
    if n <= w:
        for block, scatter, _ in _rolling_scatter(x, w, n_win):  # eigenvalues up to the factor w - 1
            if on == "correlation":
                d = np.sqrt(np.clip(np.diagonal(scatter, axis1=1, axis2=2), 1e-300, None))
                scatter = scatter / d[:, :, None] / d[:, None, :]
            eig[block] = np.linalg.eigvalsh(scatter)
            trace[block] = np.trace(scatter, axis1=1, axis2=2)
        return eig, trace
    if on == "correlation":  # per-window standardisation: one (w x w) product per window
        from numpy.lib.stride_tricks import sliding_window_view

        view = sliding_window_view(x, w, axis=0)  # (n_windows, n, w)
        for block in _blocks(n_win, 2 * n * w + w * w):
            vc = view[block] - view[block].mean(axis=2, keepdims=True)
            sd = np.sqrt(np.einsum("bis,bis->bi", vc, vc) / (w - 1))
            z = vc / np.where(sd > 0, sd, 1.0)[..., None]
            g = np.matmul(z.transpose(0, 2, 1), z) / (w - 1)
            eig[block] = np.linalg.eigvalsh(g)
            trace[block] = np.trace(g, axis1=1, axis2=2)
        return eig, trace
    # covariance with fewer dates than assets: one Gram product per block of windows, whose
    # diagonal (w x w) blocks are the raw Gram matrices of the windows; centring is O(w^2).
    for block in _blocks(n_win, 3 * w * w, at_least=w):
        b = block.stop - block.start
        rows = x[block.start : block.stop + w - 1]
        gram = rows @ rows.T
        s0, s1 = gram.strides
        g = as_strided(gram, shape=(b, w, w), strides=(s0 + s1, s0, s1), writeable=False)
        rmean = g.mean(axis=2)
        g = g - rmean[:, :, None]  # centred in place from here: (I - J/w) G (I - J/w), up to the factor w - 1
        g -= rmean[:, None, :]
        g += rmean.mean(axis=1)[:, None, None]
        eig[block] = np.linalg.eigvalsh(g)
        trace[block] = np.trace(g, axis1=1, axis2=2)
    return eig, trace


def absorption_ratio(
    returns: pd.DataFrame,
    window: int = 252,
    n_components: int | None = None,
    *,
    on: str = "covariance",
    nan_policy: str = "raise",
) -> pd.Series:
    r"""Absorption ratio: the share of total variance absorbed by the first principal components.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates, at least two assets.
    window : int, default 252
        Number of periods in each window (ending on each date, that date included). Kritzman
        et al. use 500 trading days.
    n_components : int, optional
        Number of eigenvectors :math:`k`, below the number of assets. Default
        :math:`\operatorname{round}(N/5)` (at least 1), "approximately one fifth of the number
        of assets" as in the paper.
    on : {"covariance", "correlation"}, default "covariance"
        Eigenvalues of the covariance matrix (the paper's choice: volatile assets weigh more) or
        of the correlation matrix (every asset counts alike).
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing before the windows are cut.

    Returns
    -------
    Series
        :math:`AR_t \in [k/N, 1]` for the covariance of equal-variance assets, in (0, 1] in
        general; indexed by the last date of each window, named ``absorption_ratio``.

    Raises
    ------
    DataError
        For shuffled or duplicated dates, NaNs, or a window where every asset is constant (or,
        with ``on="correlation"``, one asset is).
    ParameterError
        If ``n_components`` is not below the number of assets, or not below the rank
        ``window - 1`` of a window's covariance (every component would be absorbed).
    InsufficientDataError
        If ``window`` exceeds the number of dates.

    Notes
    -----
    With :math:`\lambda_1 \ge \dots \ge \lambda_N` the eigenvalues of the window's covariance
    :math:`\Sigma_t` (the variances of its principal components),

    .. math:: AR_t = \frac{\sum_{j=1}^{k} \lambda_j}{\sum_{i=1}^{N} \sigma_i^2}
              = \frac{\sum_{j=1}^{k} \lambda_j}{\operatorname{tr} \Sigma_t} .

    A high ratio means a few factors drive everything: the market is tightly coupled and
    shocks spread (and pooling diversifies little). When the window is shorter than the
    number of assets, the eigenvalues come from the :math:`w \times w` Gram matrix
    :math:`\tilde X \tilde X^\top / (w - 1)` of the demeaned window, whose non-zero spectrum is
    that of :math:`\Sigma_t`.

    References
    ----------
    .. [1] Kritzman, M., Li, Y., Page, S. and Rigobon, R. (2011). Principal components as a
       measure of systemic risk. J. Portfolio Management 37(4), 112-126.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> r = pd.DataFrame(rng.normal(size=(300, 10)), columns=[f"S{i}" for i in range(10)])
    >>> ar = absorption_ratio(r, window=250, n_components=2)
    >>> bool((ar > 0.2).all() and (ar < 0.35).all())  # about 2/10 without common factor
    True
    """
    check_choice(on, ABSORPTION_ON, name="on")
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    w = _check_window(window, frame)
    n = frame.shape[1]
    k = _default_components(n, n_components)
    if k >= w - 1:
        raise ParameterError(
            f"`n_components` ({k}) must be below the rank of a {w}-period window's covariance ({w - 1}); "
            f"use a longer window or fewer components."
        )
    x = frame.to_numpy()
    x = x - x.mean(axis=0)
    if on == "correlation":
        _, sd = _rolling_mean_sd(x, w)
        _undefined_window(sd <= 1e-7 * np.abs(x).max(axis=0), frame, w, 0, "zero volatility")
    eig, trace = _rolling_eigvals(x, w, on)
    flat = trace <= 1e-300
    if flat.any():
        raise DataError(
            f"every asset is constant in the window ending {frame.index[int(np.argmax(flat)) + w - 1]!r}; "
            f"the absorption ratio is undefined there."
        )
    absorbed = np.clip(eig[:, -k:], 0.0, None).sum(axis=1)
    return pd.Series(np.clip(absorbed / trace, 0.0, 1.0), index=frame.index[w - 1 :].copy(), name="absorption_ratio")


# --------------------------------------------------------------------------- turbulence
def _mahalanobis_full(x: np.ndarray, singular: str, frame: pd.DataFrame) -> np.ndarray:
    t, n = x.shape
    dx = x - x.mean(axis=0)
    cov = (dx.T @ dx) / (t - 1)
    lam, vec = np.linalg.eigh((cov + cov.T) / 2.0)
    tol = max(t, n) * np.finfo(float).eps * max(float(lam[-1]), 1e-300)
    keep = lam > tol
    if not keep.all() and singular == "raise":
        top = np.argsort(-np.abs(vec[:, 0]))[:2]
        raise CovarianceError(
            f"the covariance of `returns` is singular (smallest eigenvalue {lam[0]:.3g}; {int((~keep).sum())} "
            f"direction(s) with no variance, driven mostly by {frame.columns[top[0]]!r} and "
            f"{frame.columns[top[-1]]!r}): turbulence divides by it. Drop redundant assets, use more dates "
            f"than assets, or pass singular='pinv' to measure only the directions that vary."
        )
    proj = dx @ vec[:, keep]
    return np.asarray(np.einsum("tj,tj->t", proj, proj / lam[keep]))


def _mahalanobis_trailing(x: np.ndarray, w: int, singular: str, frame: pd.DataFrame) -> np.ndarray:
    """Distance of each date t >= w from the mean and covariance of the w dates before it."""
    from scipy.linalg import solve_triangular

    t, n = x.shape
    x = x - x.mean(axis=0)
    n_win = t - w  # window j covers dates j .. j + w - 1 and measures date j + w
    out = np.empty(n_win)
    if n > w:  # fewer dates than assets (pseudo-inverse only): Gram form per window
        from numpy.lib.stride_tricks import sliding_window_view

        view = sliding_window_view(x[:-1], w, axis=0)
        for block in _blocks(n_win, 2 * n * w + 2 * w * w):
            mean = view[block].mean(axis=2)
            vc = view[block] - mean[..., None]
            dx = x[block.start + w : block.stop + w] - mean
            lam, u = np.linalg.eigh(np.matmul(vc.transpose(0, 2, 1), vc))  # X X' = U M U'
            proj = np.einsum("bsj,bs->bj", u, np.einsum("bis,bi->bs", vc, dx))  # sqrt(M) V' dx
            lam = np.clip(lam, 0.0, None)
            keep = lam > max(n, w) * np.finfo(float).eps * np.clip(lam[:, -1:], 1e-300, None)
            # covariance eigenvalues M / (w - 1); (v_j' dx)^2 / (M_j / (w - 1)) = (w - 1) proj^2 / M^2
            out[block] = (w - 1) * np.where(keep, proj * proj / np.where(keep, lam, 1.0) ** 2, 0.0).sum(axis=1)
        return out
    for block, scatter, mean in _rolling_scatter(x, w, n_win):  # covariance = scatter / (w - 1)
        dx = x[block.start + w : block.stop + w] - mean
        if singular == "pinv":
            lam, vec = np.linalg.eigh(scatter)
            proj = np.einsum("bij,bi->bj", vec, dx)
            keep = lam > max(n, w) * np.finfo(float).eps * np.clip(lam[:, -1:], 1e-300, None)
            out[block] = (w - 1) * np.where(keep, proj * proj / np.where(keep, lam, 1.0), 0.0).sum(axis=1)
            continue
        try:
            chol = np.linalg.cholesky(scatter)
            diag = np.diagonal(chol, axis1=1, axis2=2)
            ok = bool((diag.min(axis=1) ** 2 > 1e-12 * (diag.max(axis=1) ** 2)).all())
        except np.linalg.LinAlgError:
            ok = False
        if not ok:
            lam = np.linalg.eigvalsh(scatter) / (w - 1)
            bad = int(np.argmax(lam[:, 0] <= 1e-12 * lam[:, -1]))
            raise CovarianceError(
                f"the covariance of the {w} periods before {frame.index[block.start + bad + w]!r} is singular "
                f"(smallest eigenvalue {lam[bad, 0]:.3g}): turbulence divides by it. Use a longer `window`, "
                f"drop redundant assets, or pass singular='pinv'."
            )
        y = solve_triangular(chol, dx[..., None], lower=True)[..., 0]  # L y = dx, so d = (w - 1) |y|^2
        out[block] = (w - 1) * np.einsum("bi,bi->b", y, y)
    return out


def turbulence(
    returns: pd.DataFrame,
    window: int | None = None,
    *,
    singular: str = "raise",
    nan_policy: str = "raise",
) -> pd.Series:
    r"""Financial turbulence: how unusual each date's returns are, given their history.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates, at least two assets.
    window : int, optional
        ``None`` (default): the mean and covariance of the **full history** (in sample, as in
        Kritzman and Li, so every date is measured against the same yardstick and dates are
        comparable). An integer: the mean and covariance of the ``window`` periods **before**
        each date (that date excluded, so a shock is not part of its own yardstick); the first
        ``window`` dates then have no value and are not in the index.
    singular : {"raise", "pinv"}, default "raise"
        What to do when a covariance is singular (fewer dates than assets, a redundant asset):
        refuse by name, or use the Moore-Penrose pseudo-inverse, which measures the distance in
        the directions that vary and ignores the others.
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing.

    Returns
    -------
    Series
        :math:`d_t \ge 0` in units of "squared standard deviations" (for :math:`N` normal
        assets, :math:`E[d_t] \approx N`), named ``turbulence``.

    Raises
    ------
    CovarianceError
        If a covariance is singular and ``singular="raise"``.
    DataError
        For shuffled or duplicated dates or NaNs.
    InsufficientDataError
        If ``window`` is not below the number of dates.

    Notes
    -----
    The squared Mahalanobis distance of the returns :math:`r_t` from their mean :math:`\mu`,

    .. math:: d_t = (r_t - \mu)^\top \Sigma^{-1} (r_t - \mu) , \qquad
              \Sigma^{-1} \to \Sigma^{+} = \sum_{\lambda_j > \epsilon} \lambda_j^{-1} v_j v_j^\top
              \ \text{(pseudo-inverse)},

    is large when returns are extreme *or* when they break the usual correlations (assets that
    normally offset each other falling together). It does not change when the returns are
    rescaled or the assets reordered. Trailing windows are solved by batched Cholesky
    factorisations (:math:`d_t = \lVert L^{-1}(r_t - \mu_t) \rVert^2`); the pseudo-inverse uses
    batched eigendecompositions (of the :math:`w \times w` Gram matrix when the window is
    shorter than the number of assets).

    References
    ----------
    .. [1] Kritzman, M. and Li, Y. (2010). Skulls, financial turbulence, and risk management.
       Financial Analysts Journal 66(5), 30-41.
    .. [2] Chow, G., Jacquier, E., Kritzman, M. and Lowry, K. (1999). Optimal portfolios in
       good times and bad. Financial Analysts Journal 55(3), 65-73.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.01, -0.01, 0.01, -0.01, 0.05], "B": [0.01, -0.01, -0.01, 0.01, -0.05]})
    >>> d = turbulence(r)
    >>> int(d.idxmax())  # the last date breaks the pattern and is the most extreme
    4
    """
    check_choice(singular, SINGULAR, name="singular")
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    x = frame.to_numpy()
    if window is None:
        if len(frame) - 1 < frame.shape[1] and singular == "raise":
            raise CovarianceError(
                f"`returns` has {len(frame)} dates for {frame.shape[1]} assets: the covariance is singular. "
                f"Use more dates than assets, or pass singular='pinv'."
            )
        d = _mahalanobis_full(x, singular, frame)
        return pd.Series(d, index=frame.index.copy(), name="turbulence")
    w = check_positive_int(window, name="window", minimum=3)
    if w >= len(frame):
        raise InsufficientDataError(
            f"`window` is {w} periods but `returns` has only {len(frame)} dates; a trailing window needs at "
            f"least one date after it."
        )
    if w - 1 < frame.shape[1] and singular == "raise":
        raise CovarianceError(
            f"a window of {w} periods cannot give an invertible covariance of {frame.shape[1]} assets (its rank is "
            f"at most {w - 1}); use window > {frame.shape[1]}, window=None (full history), or singular='pinv'."
        )
    d = _mahalanobis_trailing(x, w, singular, frame)
    return pd.Series(d, index=frame.index[w:].copy(), name="turbulence")


# --------------------------------------------------------------------------- all three
def systemic_indicators(
    returns: pd.DataFrame,
    window: int = 252,
    *,
    n_components: int | None = None,
    on: str = "covariance",
    turbulence_window: int | None = None,
    singular: str = "raise",
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Compute the average correlation, absorption ratio and turbulence on the same dates.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates, at least two assets.
    window : int, default 252
        Window of :func:`average_correlation` and :func:`absorption_ratio`.
    n_components, on
        As in :func:`absorption_ratio`.
    turbulence_window, singular
        ``window`` and ``singular`` of :func:`turbulence` (default: full history).
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing.

    Returns
    -------
    DataFrame
        Columns ``average_correlation``, ``absorption_ratio``, ``turbulence``, indexed by the
        dates where all three are defined (from the end of the first window on).

    Raises
    ------
    DataError, CovarianceError, InsufficientDataError, ParameterError
        As the three functions.

    Notes
    -----
    .. math:: \bar\rho_t = \tfrac{2}{N(N-1)}\textstyle\sum_{i<j}\rho_{ij,t}, \qquad
              AR_t = \frac{\sum_{j \le k}\lambda_{j,t}}{\operatorname{tr}\Sigma_t}, \qquad
              d_t = (r_t - \mu)^\top \Sigma^{-1} (r_t - \mu) .

    References
    ----------
    .. [1] Kritzman, M., Li, Y., Page, S. and Rigobon, R. (2011). J. Portfolio Management 37(4).
    .. [2] Kritzman, M. and Li, Y. (2010). Financial Analysts Journal 66(5), 30-41.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> r = pd.DataFrame(rng.normal(0, 0.01, (300, 5)), columns=list("ABCDE"),
    ...                  index=pd.bdate_range("2020-01-01", periods=300, name="date"))
    >>> systemic_indicators(r, window=100).shape
    (201, 3)
    """
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    parts = [
        average_correlation(frame, window),
        absorption_ratio(frame, window, n_components, on=on),
        turbulence(frame, turbulence_window, singular=singular),
    ]
    return pd.concat(parts, axis=1, join="inner")


# --------------------------------------------------------------------------- tail dependence
def _exceedances(frame: pd.DataFrame, q: float) -> np.ndarray:
    x = frame.to_numpy()
    cut = np.quantile(x, q, axis=0)
    return (x <= cut).astype("float64")


def within_pool_weights(w: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(v, W)``: members' weights rescaled to 1 inside each pool, and each pool's total weight.

    ``m`` is the (n_assets, n_pools) 0/1 membership matrix; :math:`v_i = w_i / W_k` for asset
    :math:`i` of pool :math:`k`, equal weights inside a pool whose total weight is 0 (the
    convention of :func:`poolkit.pooling.pool_summary`).
    """
    totals = w @ m
    held = np.abs(totals) > 1e-15
    v = np.where(held, m * w[:, None] / np.where(held, totals, 1.0), m / np.maximum(m.sum(axis=0), 1.0))
    return v, totals


def _pooled(frame: pd.DataFrame, pools: object, weights: pd.Series | None) -> pd.DataFrame:
    labels, order = check_pools(pools, frame.columns)
    n = frame.shape[1]
    w = np.full(n, 1.0 / n) if weights is None else check_aligned(weights, frame.columns, name="weights").to_numpy()
    v, _ = within_pool_weights(w, membership(labels, order))
    return pd.DataFrame(frame.to_numpy() @ v, index=frame.index, columns=pd.Index(order, name=POOL_NAME))


def _check_q(q: object) -> float:
    return check_fraction(q, name="q", low=0.0, high=0.5, low_open=True, high_open=True)


def tail_dependence(
    returns: pd.DataFrame,
    q: float = 0.05,
    *,
    pools: object = None,
    weights: pd.Series | None = None,
    nan_policy: str = "raise",
) -> pd.DataFrame:
    r"""Lower-tail dependence: how often two assets (or pools) fall into their lower tails together.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates.
    q : float, default 0.05
        Tail probability, in (0, 0.5): a date is in an asset's lower tail when its return is at
        or below the asset's empirical :math:`q`-quantile over ``returns``.
    pools : Series or dict, optional
        Asset -> pool label: the pools' returns (members held with ``weights`` rescaled to 1
        inside each pool, equal by default) are compared instead of the assets.
    weights : Series, optional
        Holdings of the assets, used only with ``pools``.
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing.

    Returns
    -------
    DataFrame of shape (n, n)
        :math:`\hat\lambda_{ij}(q)`, labelled by asset (or pool); the diagonal is the share of
        dates in each own tail divided by :math:`q` (1 up to the quantile's interpolation).

    Raises
    ------
    ParameterError
        If ``q`` is not in (0, 0.5).
    DataError, AlignmentError
        For shuffled or duplicated dates, NaNs, or pools/weights that do not name the assets.

    Notes
    -----
    .. math:: \hat\lambda_{ij}(q) = \frac{\hat P\big(r_i \le \hat Q_i(q),\ r_j \le \hat Q_j(q)\big)}{q}
              = \frac{1}{T q} \sum_t \mathbf 1\{r_{i,t} \le \hat Q_i(q)\}\,\mathbf 1\{r_{j,t} \le \hat Q_j(q)\} ,

    the empirical tail-dependence (co-exceedance) coefficient: about :math:`q` for independent
    assets, 1 for assets that always crash together, and the lower-tail dependence
    coefficient :math:`\lambda_L` as :math:`q \to 0`. It uses ranks only, so it does not move
    when returns are rescaled. Two pools can be little correlated on average and still crash
    together: that is the risk pooling keeps.

    References
    ----------
    .. [1] Sibuya, M. (1960). Bivariate extreme statistics. Ann. Inst. Statist. Math. 11, 195-210.
    .. [2] Longin, F. and Solnik, B. (2001). Extreme correlation of international equity markets.
       J. Finance 56(2), 649-676.

    Examples
    --------
    >>> x = np.arange(100.0) / 1000
    >>> r = pd.DataFrame({"A": x, "B": x, "C": -x})
    >>> tail_dependence(r, q=0.1).loc["A"].round(2).tolist()  # B crashes with A, C never does
    [1.0, 1.0, 0.0]
    """
    alpha = _check_q(q)
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    if weights is not None and pools is None:
        raise ParameterError("`weights` weigh the members of each pool; pass `pools` with them.")
    if pools is not None:
        frame = _pooled(frame, pools, weights)
    e = _exceedances(frame, alpha)
    mat = (e.T @ e) / (len(frame) * alpha)
    return pd.DataFrame(mat, index=frame.columns.copy(), columns=frame.columns.copy())


def co_exceedance(returns: pd.DataFrame, q: float = 0.05, *, nan_policy: str = "raise") -> pd.Series:
    r"""Share of the assets in their lower tail on each date.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns, sorted unique dates.
    q : float, default 0.05
        Tail probability, in (0, 0.5), as in :func:`tail_dependence`.
    nan_policy : {"raise", "drop"}, default "raise"
        ``"drop"`` drops every date where an asset is missing.

    Returns
    -------
    Series
        :math:`c_t \in [0, 1]` per date, named ``co_exceedance``; its mean is about :math:`q`.

    Raises
    ------
    ParameterError
        If ``q`` is not in (0, 0.5).
    DataError
        For shuffled or duplicated dates or NaNs.

    Notes
    -----
    .. math:: c_t = \frac{1}{N} \sum_i \mathbf 1\{r_{i,t} \le \hat Q_i(q)\} .

    On a calm date about :math:`qN` assets are in their tail by chance; on a crash date most of
    them are at once.

    References
    ----------
    .. [1] Bae, K.-H., Karolyi, G. A. and Stulz, R. M. (2003). A new approach to measuring
       financial contagion. Rev. Financial Studies 16(3), 717-763.

    Examples
    --------
    >>> r = pd.DataFrame({"A": [0.0, 0.01, -0.1, 0.02], "B": [0.01, 0.0, -0.2, 0.03]})
    >>> co_exceedance(r, q=0.25).tolist()
    [0.0, 0.0, 1.0, 0.0]
    """
    alpha = _check_q(q)
    frame = _checked(returns, min_obs=3, nan_policy=nan_policy)
    return pd.Series(_exceedances(frame, alpha).mean(axis=1), index=frame.index.copy(), name="co_exceedance")

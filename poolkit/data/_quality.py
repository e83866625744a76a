"""Data quality of a panel: coverage, gaps, stale values, extreme moves."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from poolkit._validation import check_choice, check_positive_int
from poolkit.data._frequency import calendar_gaps
from poolkit.data._loading import _detect_kind
from poolkit.exceptions import InsufficientDataError, ParameterError


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

"""Systemic risk: stress the correlations, trace the diversification curve, compare crisis and calm."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd

from poolkit._numerics import (
    asset_volatilities,
    corr_to_cov,
    cov_to_corr,
    diversification_ratio,
    portfolio_variance,
    portfolio_volatility,
    resolve_periods_per_year,
    standalone_volatility,
)
from poolkit._validation import check_aligned, check_covariance, check_fraction, check_returns
from poolkit.exceptions import AlignmentError, InsufficientDataError, ParameterError, PoolkitWarning
from poolkit.pooling._common import check_correlation, repair_correlation

__all__ = ["correlation_stress", "crisis_comparison", "diversification_curve", "nearest_correlation"]


def nearest_correlation(corr: pd.DataFrame, *, floor: float = 0.0) -> pd.DataFrame:
    r"""Repair a symmetric matrix into a valid correlation matrix (PSD, unit diagonal).

    Parameters
    ----------
    corr : DataFrame of shape (n_assets, n_assets)
        Candidate correlations, labelled by asset (e.g. stressed or hand-set); must be
        symmetric with entries in [-1, 1].
    floor : float, default 0.0
        Smallest eigenvalue kept before the diagonal is rescaled to 1.

    Returns
    -------
    DataFrame
        The repaired correlation matrix, same labels; ``attrs["min_eigenvalue"]`` holds the
        smallest eigenvalue before repair. Returned unchanged (as a copy) when already PSD.

    Raises
    ------
    CovarianceError
        If ``corr`` is not symmetric or has entries outside [-1, 1].

    Notes
    -----
    With :math:`C = E \Lambda E^\top`, the repair is :math:`\tilde C = E \max(\Lambda, f) E^\top`
    followed by :math:`D^{-1/2} \tilde C D^{-1/2}` with :math:`D = \operatorname{diag}(\tilde C)`,
    a one-step version of Higham's nearest correlation matrix.

    References
    ----------
    .. [1] Rebonato, R. and Jäckel, P. (2000). The most general methodology for creating a
       valid correlation matrix for risk management and option pricing purposes.
       J. Risk 2(2), 17-27.
    .. [2] Higham, N. J. (2002). Computing the nearest correlation matrix. IMA J. Numer.
       Anal. 22(3), 329-343.

    Examples
    --------
    >>> c = pd.DataFrame([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], index=list("ABC"), columns=list("ABC"))
    >>> bool(np.linalg.eigvalsh(nearest_correlation(c).to_numpy())[0] >= -1e-12)
    True
    """
    if not isinstance(corr, pd.DataFrame):
        raise TypeError(f"`corr` must be a DataFrame labelled by asset, got {type(corr).__name__}.")
    mat = corr.to_numpy(dtype="float64")
    # check everything except positive semi-definiteness
    check_correlation(np.where(np.eye(len(mat)) == 1, 1.0, mat), corr.columns, name="corr", psd_tol=np.inf)
    fixed, lowest = repair_correlation(mat, floor=float(floor))
    out = pd.DataFrame(fixed, index=corr.index.copy(), columns=corr.columns.copy())
    out.attrs["min_eigenvalue"] = lowest
    return out


def correlation_stress(
    cov: pd.DataFrame,
    to: float | None = None,
    *,
    shift: float | None = None,
    regime: pd.DataFrame | None = None,
    blend: float = 1.0,
) -> pd.DataFrame:
    r"""Return a stressed covariance: the same volatilities, correlations moved towards a crisis.

    Parameters
    ----------
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns, labelled by asset (any period unit; kept).
    to : float, optional
        Target correlation for every pair, in [-1, 1] (``to=1.0``: everything moves together).
    shift : float, optional
        Amount added to every correlation (clipped to [-1, 1]), e.g. ``0.3``.
    regime : DataFrame, optional
        Returns of a crisis window (dates x the same assets); its correlations are used.
    blend : float, default 1.0
        Fraction of the way from the current correlations :math:`R` to the target
        :math:`R^*`: :math:`(1 - b) R + b R^*`. Ignored with ``shift``.

    Returns
    -------
    DataFrame
        Stressed covariance labelled like ``cov``; ``attrs`` holds ``repaired`` (whether the
        stressed correlations had to be made PSD) and ``min_eigenvalue`` (before repair).

    Raises
    ------
    ParameterError
        If not exactly one of ``to``, ``shift``, ``regime`` is given, or one is out of range.
    AlignmentError
        If ``regime`` names other assets than ``cov``.
    CovarianceError
        If ``cov`` is not a valid covariance matrix.

    Warns
    -----
    PoolkitWarning
        When the stressed correlations were not PSD and were repaired.

    Notes
    -----
    With :math:`\Sigma = D R D`, the stress keeps :math:`D` and replaces :math:`R` by

    .. math:: R_s = (1 - b) R + b R^*, \qquad R^*_{ij} = \rho^* \ (i \ne j)
              \ \text{or}\ R^{crisis}_{ij}, \qquad
              \text{or}\ (R_s)_{ij} = \operatorname{clip}(R_{ij} + \delta, -1, 1),

    then, if :math:`R_s` has negative eigenvalues, clips them at 0 and rescales to a unit
    diagonal (:func:`nearest_correlation`). Keeping the volatilities isolates the correlation
    effect: in a crisis both rise, see :func:`crisis_comparison`.

    References
    ----------
    .. [1] Kritzman, M., Lowry, K. and Van Royen, A.-S. (2001). Risk, regimes, and
       overconfidence. J. Derivatives 8(3), 32-42.
    .. [2] Rebonato, R. and Jäckel, P. (2000). J. Risk 2(2), 17-27.

    Examples
    --------
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.09]], index=["A", "B"], columns=["A", "B"])
    >>> correlation_stress(cov, to=1.0).round(4).to_numpy().tolist()
    [[0.04, 0.06], [0.06, 0.09]]
    """
    given = [name for name, v in (("to", to), ("shift", shift), ("regime", regime)) if v is not None]
    if len(given) != 1:
        raise ParameterError(
            f"give exactly one of `to` (target correlation), `shift` (added to every correlation) or "
            f"`regime` (crisis returns); got {given or 'none'}."
        )
    c_df = check_covariance(cov, name="cov")
    names = c_df.columns
    vols, corr = cov_to_corr(c_df.to_numpy())
    b = check_fraction(blend, name="blend")
    n = len(names)
    if to is not None:
        if isinstance(to, bool) or not isinstance(to, numbers.Real) or not -1.0 <= float(to) <= 1.0:
            raise ParameterError(f"`to` must be a correlation in [-1, 1], got {to!r}.")
        target = np.full((n, n), float(to))
        np.fill_diagonal(target, 1.0)
        stressed = (1.0 - b) * corr + b * target
    elif shift is not None:
        if isinstance(shift, bool) or not isinstance(shift, numbers.Real) or not -2.0 <= float(shift) <= 2.0:
            raise ParameterError(f"`shift` must be a number in [-2, 2] added to every correlation, got {shift!r}.")
        stressed = np.clip(corr + float(shift), -1.0, 1.0)
    else:
        frame, _ = check_returns(regime, name="regime", min_obs=3)
        missing = [a for a in names if a not in frame.columns]
        if missing:
            raise AlignmentError(
                f"`regime` returns lack asset(s) {missing[:10]} of `cov`; select the same assets for both."
            )
        values = frame[names].to_numpy()
        flat = names[np.ptp(values, axis=0) == 0].tolist()
        if flat:
            raise InsufficientDataError(
                f"`regime` returns of {flat[:10]} do not move over its {len(frame)} dates, so their correlations "
                f"are undefined; choose a window in which every asset of `cov` moves, or leave those assets out."
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            crisis = np.corrcoef(values, rowvar=False)
        if not np.isfinite(crisis).all():
            raise InsufficientDataError("`regime` returns give undefined correlations; check that every asset moves.")
        stressed = (1.0 - b) * corr + b * crisis
    np.fill_diagonal(stressed, 1.0)
    fixed, lowest = repair_correlation(stressed)
    repaired = lowest < -1e-12
    if repaired:
        warnings.warn(
            f"the stressed correlations were not positive semi-definite (smallest eigenvalue {lowest:.4g}); "
            f"they were repaired by clipping eigenvalues at 0 and rescaling the diagonal to 1.",
            PoolkitWarning,
            stacklevel=2,
        )
    out = pd.DataFrame(corr_to_cov(vols, fixed), index=names.copy(), columns=names.copy())
    out.attrs.update(repaired=bool(repaired), min_eigenvalue=float(lowest))
    return out


def diversification_curve(weights: pd.Series, cov: pd.DataFrame, rhos: object = None) -> pd.DataFrame:
    r"""Trace pooled risk and the diversification benefit as a common correlation rises.

    Parameters
    ----------
    weights : Series of shape (n_assets,)
        Holding of each asset, indexed by asset name.
    cov : DataFrame of shape (n_assets, n_assets)
        Covariance of asset returns (its volatilities are kept; its correlations replaced).
    rhos : sequence of float, optional
        Common correlations to try, each in :math:`[-1/(N-1), 1]`. Default 0, 0.05, ..., 1.

    Returns
    -------
    DataFrame
        Indexed by ``rho``; columns ``pooled_volatility``, ``standalone_volatility``
        (:math:`\sum|w_i|\sigma_i`), ``diversification_ratio``, ``absolute_benefit`` and
        ``relative_benefit``. ``attrs["implied_correlation"]`` is the common correlation
        giving the same pooled risk as ``cov`` itself (where the pool stands today).

    Raises
    ------
    ParameterError
        If a correlation is outside :math:`[-1/(N-1), 1]` (the matrix would not be PSD).
    AlignmentError
        If the assets of ``weights`` and ``cov`` differ.

    Notes
    -----
    With a common correlation :math:`\rho`, :math:`a = \sum_i w_i^2\sigma_i^2` and
    :math:`s = \sum_i w_i \sigma_i`,

    .. math:: \sigma_P^2(\rho) = (1-\rho)\,a + \rho\, s^2 ,

    so the whole curve is one vectorised expression. At :math:`\rho = 1`,
    :math:`\sigma_P = s`: the benefit is zero (the seed's FAQ 6.2). For :math:`N` equal assets
    held equally, :math:`\sigma_P = \sigma\sqrt{\rho + (1 - \rho)/N}`.

    References
    ----------
    .. [1] Elton, E. J. and Gruber, M. J. (1977). Risk reduction and portfolio size: an
       analytical solution. J. Business 50(4), 415-437.

    Examples
    --------
    >>> w = pd.Series({"A": 0.5, "B": 0.5})
    >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.04]], index=["A", "B"], columns=["A", "B"])
    >>> diversification_curve(w, cov, rhos=[0.0, 1.0])["relative_benefit"].round(4).tolist()
    [0.2929, 0.0]
    """
    c_df = check_covariance(cov, name="cov")
    w = check_aligned(weights, c_df.columns, name="weights").to_numpy()
    n = len(w)
    grid = np.linspace(0.0, 1.0, 21) if rhos is None else np.atleast_1d(np.asarray(rhos, dtype="float64"))
    if grid.ndim != 1 or len(grid) == 0 or not np.isfinite(grid).all():
        raise ParameterError(f"`rhos` must be a non-empty list of correlations, got {rhos!r}.")
    low = -1.0 / (n - 1) if n > 1 else -1.0
    bad = grid[(grid < low - 1e-12) | (grid > 1.0)]
    if len(bad):
        raise ParameterError(
            f"`rhos` holds {bad[0]:g}: a common correlation among {n} assets must lie in [{low:.4g}, 1], "
            f"else the correlation matrix has the negative eigenvalue 1 + (N-1)rho = {1 + (n - 1) * bad[0]:.4g} "
            f"(or is outside [-1, 1])."
        )
    wv = w * asset_volatilities(c_df.to_numpy())
    a = float(wv @ wv)
    s = float(wv.sum())
    standalone = float(standalone_volatility(w, c_df.to_numpy()))
    pooled = np.sqrt(np.clip((1.0 - grid) * a + grid * s * s, 0.0, None))
    if standalone <= 0 or (pooled <= 0).any():
        raise ParameterError("the pool has zero risk at some correlation in `rhos`; the ratios are undefined.")
    out = pd.DataFrame(
        {
            "pooled_volatility": pooled,
            "standalone_volatility": standalone,
            "diversification_ratio": standalone / pooled,
            "absolute_benefit": standalone - pooled,
            "relative_benefit": 1.0 - pooled / standalone,
        },
        index=pd.Index(grid, name="rho"),
    )
    var = float(portfolio_variance(w, c_df.to_numpy()))
    out.attrs["implied_correlation"] = float((var - a) / (s * s - a)) if s * s - a > 0 else float("nan")
    return out


def _window(frame: pd.DataFrame, start: str, end: str, *, name: str) -> pd.DataFrame:
    try:
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`{name}` dates must be ISO strings such as '2008-09-01', got {start!r}..{end!r}.") from exc
    if hi < lo:
        raise ParameterError(f"`{name}` ends ({end}) before it starts ({start}).")
    tz = getattr(frame.index, "tz", None)
    if tz is not None:  # dates given without a time zone are read in the data's
        lo = lo.tz_localize(tz) if lo.tzinfo is None else lo.tz_convert(tz)
        hi = hi.tz_localize(tz) if hi.tzinfo is None else hi.tz_convert(tz)
    return frame.loc[(frame.index >= lo) & (frame.index <= hi)]


def crisis_comparison(
    returns: pd.DataFrame,
    crisis_start: str,
    crisis_end: str,
    weights: pd.Series | None = None,
    *,
    calm_start: str = "",
    calm_end: str = "",
    periods_per_year: int | None = None,
) -> pd.DataFrame:
    r"""Compare what pooling bought in calm times and in a crisis window, on real dates.

    Parameters
    ----------
    returns : DataFrame of shape (n_dates, n_assets)
        Periodic returns with a DatetimeIndex, no missing values.
    crisis_start, crisis_end : str
        The crisis window, ISO dates, both included (e.g. ``"2008-09-01"``, ``"2009-03-31"``).
    weights : Series, optional
        Holding of each asset; equal weights by default.
    calm_start, calm_end : str, default ""
        The calm window; empty = every date outside the crisis window.
    periods_per_year : int, optional
        Used to annualise volatilities; inferred from the dates when omitted.

    Returns
    -------
    DataFrame
        Rows ``calm``, ``crisis`` and ``calm vols, crisis correlations`` (the crisis
        correlations applied to calm volatilities, via :func:`correlation_stress`); columns
        ``periods``, ``average_correlation`` (mean pairwise), ``pooled_volatility`` and
        ``standalone_volatility`` (annualised), ``diversification_ratio`` and
        ``relative_benefit``.

    Raises
    ------
    InsufficientDataError
        If a window holds fewer than 10 dates.
    ParameterError
        If a date cannot be parsed or a window ends before it starts.

    Notes
    -----
    Pooled risk :math:`\sigma_P = \sqrt{w^\top D R D w}` rises in a crisis through both the
    volatilities :math:`D` and the correlations :math:`R`; the third row isolates the
    correlation channel. The relative benefit is :math:`1 - \sigma_P / \sum_i w_i \sigma_i`.

    References
    ----------
    .. [1] Longin, F. and Solnik, B. (2001). Extreme correlation of international equity
       markets. J. Finance 56(2), 649-676.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dates = pd.bdate_range("2020-01-01", periods=300, name="date")
    >>> r = pd.DataFrame(rng.normal(0, 0.01, size=(300, 3)), index=dates, columns=list("ABC"))
    >>> crisis_comparison(r, "2020-06-01", "2020-08-31", periods_per_year=252).shape
    (3, 6)
    """
    from poolkit.risk import covariance

    frame, _ = check_returns(returns, name="returns", min_obs=3)
    ppy = resolve_periods_per_year(periods_per_year, frame.index)
    crisis = _window(frame, crisis_start, crisis_end, name="crisis_start/crisis_end")
    if calm_start or calm_end:
        calm = _window(frame, calm_start or str(frame.index[0]), calm_end or str(frame.index[-1]), name="calm_start/calm_end")
    else:
        calm = frame.loc[~frame.index.isin(crisis.index)]
    for label, part in (("crisis", crisis), ("calm", calm)):
        if len(part) < 10:
            raise InsufficientDataError(
                f"the {label} window holds {len(part)} dates of `returns` (from {frame.index[0].date()} to "
                f"{frame.index[-1].date()}); it needs at least 10. Check `{label}_start`/`{label}_end` and `start`/`end`."
            )
    names = frame.columns
    if weights is None:
        w = np.full(len(names), 1.0 / len(names))
    else:
        w = check_aligned(weights, names, name="weights").to_numpy()
    rows = {}
    covs = {
        label: covariance(part, annualize=True, periods_per_year=ppy).to_numpy()
        for label, part in (("calm", calm), ("crisis", crisis))
    }
    calm_df = pd.DataFrame(covs["calm"], index=names, columns=names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PoolkitWarning)
        covs["calm vols, crisis correlations"] = correlation_stress(calm_df, regime=crisis).to_numpy()
    n_obs = {"calm": len(calm), "crisis": len(crisis), "calm vols, crisis correlations": len(crisis)}
    iu = np.triu_indices(len(names), k=1)
    for label, mat in covs.items():
        corr = cov_to_corr(mat)[1]
        pooled = float(portfolio_volatility(w, mat))
        standalone = float(standalone_volatility(w, mat))
        rows[label] = {
            "periods": n_obs[label],
            "average_correlation": float(corr[iu].mean()) if len(iu[0]) else 1.0,
            "pooled_volatility": pooled,
            "standalone_volatility": standalone,
            "diversification_ratio": float(diversification_ratio(w, mat)),
            "relative_benefit": 1.0 - pooled / standalone if standalone > 0 else 0.0,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "window"
    return out

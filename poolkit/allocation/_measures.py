r"""Portfolio risk measures for risk budgeting and hierarchical allocation, with their Euler split.

Four measures, each a function :math:`\rho(w)` of the weights that is positively
homogeneous (:math:`\rho(c\,w) = c^k \rho(w)` for :math:`c > 0`), so Euler's theorem
splits it exactly into one contribution per asset,
:math:`RC_i = \tfrac1k\, w_i\, \partial\rho/\partial w_i` with :math:`\sum_i RC_i = \rho(w)`:

- ``"variance"`` (:math:`k = 2`): :math:`w^\top\Sigma w`, from a covariance;
- ``"semi_variance"`` (:math:`k = 2`): :math:`\frac{1}{T-1}\sum_t \min\big((r_t - \bar r)^\top w, 0\big)^2`,
  the variance of the returns below their mean (Markowitz 1959), from returns;
- ``"cvar"`` (:math:`k = 1`): historical conditional value at risk of the losses
  :math:`L_t = -r_t^\top w` at level :math:`\beta` (Rockafellar & Uryasev 2000), from returns;
- ``"cdar"`` (:math:`k = 1`): conditional drawdown at risk (Chekhlov, Uryasev & Zabarankin
  2005): the CVaR, over the dates, of the drawdowns of the *uncompounded* cumulative return
  :math:`P_t = \sum_{s \le t} r_s^\top w` from its running peak (the start, 0, counts as a peak).

The historical CVaR is the Rockafellar-Uryasev value
:math:`\min_\alpha \alpha + \frac{1}{(1-\beta)T}\sum_t (L_t - \alpha)^+`, which equals a weighted
mean of the losses :math:`\sum_t q_t L_t` with weight :math:`1/((1-\beta)T)` on every loss above
the :math:`\beta`-quantile and the rest of the unit mass on the quantile itself (shared equally
by ties). Its Euler contributions are the sample-based ones of Tasche (1999) and Scaillet (2004),
:math:`RC_i = w_i \sum_t q_t (-r_{ti})`: the expected loss of asset :math:`i` in the tail
scenarios. CDaR is split the same way, with the drawdown of date :math:`t` measured from its
peak date :math:`s(t)`: :math:`RC_i = w_i \sum_t q_t (C_{s(t),i} - C_{t,i})`, :math:`C` the
cumulative returns. At a kink (ties between scenarios) the gradient is not unique; these are
the contributions of the subgradient chosen by the equal split of ties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from poolkit._numerics import portfolio_variance, variance_contributions
from poolkit._validation import check_choice, check_level
from poolkit.exceptions import (
    AlignmentError,
    CovarianceError,
    DataError,
    InsufficientDataError,
    ParameterError,
)

__all__ = ["RISK_MEASURES", "RiskModel", "historical_cvar", "risk_model"]

#: Risk measures of risk budgeting, HRP and HERC.
RISK_MEASURES = ("variance", "semi_variance", "cvar", "cdar")
#: Measures computed from returns (the others from a covariance).
RETURNS_MEASURES = ("semi_variance", "cvar", "cdar")


def _tail_weights(losses: np.ndarray, level: float) -> np.ndarray:
    r"""Weights :math:`q_t` (columns sum to 1) with :math:`\\mathrm{CVaR} = \\sum_t q_t L_t`, per column.

    ``losses`` is (T,) or (T, k). A loss above the ``ceil(level * T)``-th smallest gets
    ``1 / ((1 - level) T)``; the rest of the unit mass goes to the losses equal to that
    quantile (shared equally).
    """
    loss = np.asarray(losses, dtype="float64")
    one = loss.ndim == 1
    if one:
        loss = loss[:, None]
    t_obs = loss.shape[0]
    k = min(t_obs - 1, max(0, int(np.ceil(level * t_obs - 1e-12)) - 1))
    alpha = np.partition(loss, k, axis=0)[k]
    unit = 1.0 / ((1.0 - level) * t_obs)
    above = loss > alpha
    at = loss == alpha
    rest = 1.0 - unit * above.sum(axis=0)
    q = np.where(above, unit, 0.0) + np.where(at, rest / np.maximum(at.sum(axis=0), 1), 0.0)
    return q[:, 0] if one else q


def historical_cvar(portfolio_returns: np.ndarray, level: float) -> float:
    r"""Rockafellar-Uryasev CVaR of losses ``-r``: :math:`\min_\alpha \alpha + E[(L-\alpha)^+]/(1-\beta)`.

    Examples
    --------
    >>> historical_cvar(np.array([0.01, -0.02, 0.03, -0.04]), 0.75)  # the worst loss
    0.04
    """
    losses = -np.asarray(portfolio_returns, dtype="float64")
    if losses.size == 0:
        raise DataError("no returns to compute CVaR from.")
    return float(_cvar_values(losses[:, None], level)[0])


def _cvar_values(losses: np.ndarray, level: float) -> np.ndarray:
    r"""RU CVaR of each column of ``losses`` (T, k)."""
    t_obs = losses.shape[0]
    k = min(t_obs - 1, max(0, int(np.ceil(level * t_obs - 1e-12)) - 1))
    alpha = np.partition(losses, k, axis=0)[k]
    return np.asarray(alpha + np.maximum(losses - alpha, 0.0).sum(axis=0) / ((1.0 - level) * t_obs))


def _drawdowns(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drawdowns (T, k) of cumulative paths (T + 1, k) starting at 0, and the peak row of each."""
    peaks = np.maximum.accumulate(paths, axis=0)
    draw = (peaks - paths)[1:]
    return draw, peaks


@dataclass(frozen=True)
class RiskModel:
    r"""A risk measure with the data it is computed from (see the module notes).

    ``data`` is the covariance (variance), the centred returns divided by
    :math:`\\sqrt{T-1}` (semi-variance), the returns (CVaR) or the cumulative returns with
    a leading row of zeros (CDaR), each with one column per asset.
    """

    measure: str
    assets: pd.Index
    data: np.ndarray
    level: float = 0.95

    @property
    def degree(self) -> int:
        """Degree :math:`k` of homogeneity: 2 for the variances, 1 for CVaR and CDaR."""
        return 2 if self.measure in ("variance", "semi_variance") else 1

    @property
    def n(self) -> int:
        return len(self.assets)

    def value(self, weights: np.ndarray) -> np.ndarray:
        """Risk of each portfolio: ``weights`` (n,) gives shape (), (n, k) gives (k,)."""
        w = np.asarray(weights, dtype="float64")
        if self.measure == "variance":
            return portfolio_variance(w, self.data)
        p = self.data @ w
        out = self.value_of_paths(p if p.ndim == 2 else p[:, None])
        return out if p.ndim == 2 else np.asarray(out[0])

    def value_of_paths(self, paths: np.ndarray) -> np.ndarray:
        """Risk of portfolios given by their data ``data @ w`` (one column each, shape (k,))."""
        p = np.asarray(paths, dtype="float64")
        if self.measure == "semi_variance":
            return np.asarray((np.minimum(p, 0.0) ** 2).sum(axis=0))
        if self.measure == "cvar":
            return _cvar_values(-p, self.level)
        if self.measure == "cdar":
            draw, _ = _drawdowns(p)
            return _cvar_values(draw, self.level)
        raise ParameterError("the variance is not computed from paths; use value()")  # pragma: no cover

    def contributions(self, weights: np.ndarray) -> np.ndarray:
        r"""Euler risk contributions :math:`RC_i = \tfrac1k w_i \partial_i\rho(w)` of one portfolio (sum = value)."""
        w = np.asarray(weights, dtype="float64")
        if self.measure == "variance":
            return variance_contributions(w, self.data)
        p = self.data @ w
        if self.measure == "semi_variance":
            return w * (self.data.T @ np.minimum(p, 0.0))
        if self.measure == "cvar":
            q = _tail_weights(-p, self.level)
            return w * (q @ -self.data)
        draw, peaks = _drawdowns(p[:, None])
        q = _tail_weights(draw[:, 0], self.level)
        # peak date of each date: the last date up to it where the path reached its running maximum
        at_peak = np.flatnonzero(p >= peaks[:, 0])
        where = at_peak[np.searchsorted(at_peak, np.arange(len(p)), side="right") - 1]
        return w * (q @ (self.data[where[1:]] - self.data[1:]))

    def standalone(self) -> np.ndarray:
        """Risk of each asset held alone (shape (n,)): the diagonal, or each asset's own column of data."""
        if self.measure == "variance":
            return np.diag(self.data).copy()
        return np.asarray(self.value_of_paths(self.data))


def risk_model(
    returns_or_cov: Any,
    risk_measure: str = "variance",
    *,
    level: float = 0.95,
    cov_method: str = "sample",
    what: str = "the allocation",
) -> tuple[RiskModel, pd.DataFrame]:
    """Build the risk model of ``risk_measure`` and the covariance used for clustering.

    A square frame whose index and columns hold the same labels is a covariance (reordered
    so that its index follows its columns); any other frame is returns (dates x assets).
    The variance needs a covariance (estimated from returns with ``cov_method``); the other
    measures need returns.
    """
    from poolkit.allocation._core import GRAM_METHODS, cov_array

    measure = check_choice(risk_measure, RISK_MEASURES, name="risk_measure")
    beta = check_level(level)
    kind, frame = classify_frame(returns_or_cov, what=what)
    if kind == "cov":
        if measure != "variance":
            raise ParameterError(
                f"{what}: risk_measure={measure!r} is computed from returns, but a covariance matrix was "
                f"given; pass the returns (dates x assets) instead."
            )
        cov, s = cov_array(frame)
        return RiskModel("variance", cov.columns.copy(), s, beta), cov
    from poolkit import risk
    from poolkit.risk._common import _checked

    if measure == "variance":  # the covariance checks the returns itself (once)
        frame_cov, s = cov_array(risk.covariance(frame, method=cov_method), gram=cov_method in GRAM_METHODS)
        return RiskModel("variance", frame_cov.columns.copy(), s, beta), frame_cov
    rets, _ = _checked(frame, min_obs=2)
    cov = risk.covariance(rets, method=cov_method)
    x = rets.to_numpy()
    t_obs = x.shape[0]
    if measure == "semi_variance":
        data = (x - x.mean(axis=0)) / np.sqrt(t_obs - 1.0)
    else:
        need = max(2, int(np.ceil(1.0 / (1.0 - beta) - 1e-9)))
        if t_obs < need:
            raise InsufficientDataError(
                f"{what}: risk_measure={measure!r} at level {beta:g} needs at least {need} dates, got "
                f"{t_obs}; use a longer history or a lower level."
            )
        data = x if measure == "cvar" else np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    model = RiskModel(measure, rets.columns.copy(), np.ascontiguousarray(data), beta)
    alone = model.standalone()
    bad = rets.columns[~(alone > 0)].tolist()
    if bad:
        raise CovarianceError(
            f"{what}: asset(s) {bad} have no {measure.replace('_', '-')} risk on their own in these returns "
            f"(e.g. no loss or no drawdown), so risk cannot be split; drop them or use risk_measure='variance'."
        )
    return model, cov


def classify_frame(obj: Any, *, what: str) -> tuple[str, pd.DataFrame]:
    """Tell a covariance from returns: ``("cov", cov reordered)`` or ``("returns", frame)``.

    A square frame whose index and columns hold the same labels (in any order) is a
    covariance; its rows are put in the order of its columns. A frame whose index holds
    some asset labels but not all, or repeats them, is ambiguous and refused by name.
    """
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(
            f"{what} needs a DataFrame of returns (dates x assets) or a covariance (assets x assets), "
            f"got {type(obj).__name__}."
        )
    cols = obj.columns
    if obj.shape[0] == obj.shape[1] and not cols.duplicated().any():
        if obj.index.equals(cols):
            return "cov", obj
        if not obj.index.duplicated().any() and set(obj.index) == set(cols):
            return "cov", obj.loc[cols]
    shared = [a for a in obj.index if a in set(cols)] if not isinstance(obj.index, pd.DatetimeIndex) else []
    if shared:
        raise AlignmentError(
            f"{what}: the frame's index holds asset names {shared[:5]} but is not a covariance (index "
            f"{list(obj.index)[:5]}... vs columns {list(cols)[:5]}...): a covariance has every asset once on "
            f"each axis; returns are indexed by dates. Pass cov.loc[cov.columns, cov.columns] or the returns."
        )
    return "returns", obj

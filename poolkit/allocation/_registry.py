r"""The registry of allocation methods: each name, its function and the inputs it takes.

Every caller that picks an allocation method by name (:func:`~poolkit.allocation.allocate`,
:func:`~poolkit.allocation.allocate_many`, the backtests, the pooling functions and the
explorers of :mod:`poolkit.widgets`) looks the name up here and calls
:meth:`MethodSpec.weights`, so a method is declared once: which estimates it needs (the
asset names, a covariance, expected returns or the returns themselves), whether it takes
constraints and a risk-free rate, and its default parameters.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from poolkit._validation import did_you_mean
from poolkit.allocation._hierarchical import herc, hrp
from poolkit.allocation._mean_variance import max_diversification, max_sharpe, mean_variance, min_variance
from poolkit.allocation._risk_based import (
    equal_weights,
    inverse_variance,
    inverse_volatility,
    min_cvar,
    risk_parity,
)
from poolkit.exceptions import ParameterError, PoolkitWarning

__all__ = ["DEFAULT_RISK_AVERSION", "METHODS", "MethodSpec", "method_spec"]

#: Risk aversion :math:`\delta` of "mean_variance" when no target is given (unit-free:
#: the utility :math:`\mu^\top w - \tfrac{\delta}{2} w^\top\Sigma w` scales with the period
#: length as a whole, so the same :math:`\delta` fits daily and annual estimates).
DEFAULT_RISK_AVERSION = 2.5

#: The estimates a method can take, in the order its function takes them positionally.
INPUTS = ("assets", "expected_returns", "cov", "returns")
_CONSTRAINTS = ("bounds", "groups", "group_bounds")
_RATES = ("risk_free", "periods_per_year")


@dataclass(frozen=True)
class MethodSpec:
    """One allocation method of the registry.

    Attributes
    ----------
    name : str
        The method's name in :data:`METHODS` (and in ``allocate(returns, name)``).
    function : callable
        The public function of :mod:`poolkit.allocation` that computes the weights.
    inputs : tuple of str
        The estimates the function takes first, in order, among ``"assets"`` (the asset
        names), ``"expected_returns"`` (Series), ``"cov"`` (DataFrame) and ``"returns"``
        (DataFrame of dates x assets).
    constrained : bool
        True when the method takes ``bounds``, ``groups`` and ``group_bounds``; the others
        are long-only by construction.
    takes_risk_free : bool
        True when the method takes ``risk_free`` (annual) and ``periods_per_year``.
    defaults : mapping
        Parameters filled in when the caller gives none of ``defaults_unless``.
    defaults_unless : frozenset of str
        Parameters that, when given, replace the ``defaults``.
    summary : str
        The objective in one line.
    """

    name: str
    function: Callable[..., pd.Series]
    inputs: tuple[str, ...]
    constrained: bool = False
    takes_risk_free: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    defaults_unless: frozenset[str] = frozenset()
    summary: str = ""

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the method's own parameters (e.g. ``level``, ``linkage``, ``budgets``)."""
        taken = {*_CONSTRAINTS, *_RATES}
        params = list(inspect.signature(self.function).parameters)[len(self.inputs) :]
        return tuple(p for p in params if p not in taken)

    def weights(
        self,
        *,
        assets: pd.Index | None = None,
        expected_returns: pd.Series | None = None,
        cov: pd.DataFrame | None = None,
        returns: pd.DataFrame | None = None,
        risk_free: float = 0.0,
        periods_per_year: float | None = None,
        bounds: Any = (0.0, 1.0),
        groups: Mapping[Any, Any] | pd.Series | None = None,
        group_bounds: Mapping[Any, Any] | tuple[float, float] | None = None,
        **params: Any,
    ) -> pd.Series:
        r"""Compute the method's weights from the estimates it takes.

        Parameters
        ----------
        assets : Index, optional
            Asset names (needed by "equal").
        expected_returns : Series of shape (n_assets,), optional
            Expected returns, in the period unit of ``cov``.
        cov : DataFrame of shape (n_assets, n_assets), optional
            Covariance of asset returns, indexed and labelled by asset.
        returns : DataFrame of shape (n_dates, n_assets), optional
            Periodic returns (needed by "min_cvar").
        risk_free : float, default 0.0
            Annual risk-free rate, for methods that take it (max Sharpe).
        periods_per_year : float, optional
            Periods per year of the estimates; None means they are annual.
        bounds, groups, group_bounds
            Constraints, as in :func:`~poolkit.allocation.min_variance`, for constrained
            methods; any other method warns that it ignores them.
        **params
            The method's own parameters (see :attr:`parameters`).

        Returns
        -------
        Series
            Weights indexed by asset, summing to 1, named after the method.

        Raises
        ------
        ParameterError
            If an estimate the method needs is missing, or a parameter is not one of the
            method's (with the nearest name).

        Warns
        -----
        PoolkitWarning
            If bounds or groups are given to a method that does not take them.

        Examples
        --------
        >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
        >>> method_spec("min_variance").weights(cov=cov).round(4).tolist()  # w ~ 1 / sigma^2
        [0.2, 0.8]
        """
        given = {"assets": assets, "expected_returns": expected_returns, "cov": cov, "returns": returns}
        missing = [k for k in self.inputs if given[k] is None]
        if missing:
            raise ParameterError(
                f"method {self.name!r} needs {' and '.join(f'`{k}`' for k in missing)}; it takes "
                f"{', '.join(self.inputs)}."
            )
        unknown = [p for p in params if p not in self.parameters]
        if unknown:
            hint = did_you_mean(unknown[0], self.parameters)
            takes = f"its parameters are {list(self.parameters)}" if self.parameters else "it takes no parameter"
            raise ParameterError(
                f"method {self.name!r} does not take parameter(s) {unknown}; {takes}.{hint}"
            )
        kwargs: dict[str, Any] = dict(params)
        if self.defaults and not self.defaults_unless & set(params):
            kwargs = {**self.defaults, **kwargs}
        if self.constrained:
            kwargs.update(bounds=bounds, groups=groups, group_bounds=group_bounds)
        elif _constrained(bounds, groups):
            warnings.warn(
                f"method {self.name!r} does not take bounds or group constraints; they are ignored "
                f"(it is long-only by construction).",
                PoolkitWarning,
                stacklevel=2,
            )
        if self.takes_risk_free:
            kwargs.update(risk_free=risk_free, periods_per_year=periods_per_year)
        return self.function(*(given[k] for k in self.inputs), **kwargs).rename(self.name)


def _constrained(bounds: Any, groups: object) -> bool:
    """Return True when ``bounds`` or ``groups`` differ from the long-only default."""
    default_bounds = isinstance(bounds, (tuple, list)) and tuple(bounds) == (0.0, 1.0)
    return (bounds is not None and not default_bounds) or bool(groups)


def _register(*specs: MethodSpec) -> dict[str, MethodSpec]:
    return {spec.name: spec for spec in specs}


#: Every allocation method by name, in teaching order.
REGISTRY: dict[str, MethodSpec] = _register(
    MethodSpec("equal", equal_weights, ("assets",), summary="w_i = 1/N"),
    MethodSpec("inverse_volatility", inverse_volatility, ("cov",), summary="w_i ~ 1/sigma_i"),
    MethodSpec("inverse_variance", inverse_variance, ("cov",), summary="w_i ~ 1/sigma_i^2"),
    MethodSpec("min_variance", min_variance, ("cov",), constrained=True, summary="min w'Sw"),
    MethodSpec(
        "max_sharpe",
        max_sharpe,
        ("expected_returns", "cov"),
        constrained=True,
        takes_risk_free=True,
        summary="max (mu'w - r_f) / sqrt(w'Sw)",
    ),
    MethodSpec(
        "mean_variance",
        mean_variance,
        ("expected_returns", "cov"),
        constrained=True,
        defaults={"risk_aversion": DEFAULT_RISK_AVERSION},
        defaults_unless=frozenset({"target_return", "target_volatility", "risk_aversion"}),
        summary="max mu'w - delta/2 w'Sw, or a return / volatility target",
    ),
    MethodSpec("risk_parity", risk_parity, ("cov",), summary="w_i (Sw)_i = b_i w'Sw"),
    MethodSpec(
        "max_diversification", max_diversification, ("cov",), constrained=True, summary="max w'sigma / sqrt(w'Sw)"
    ),
    MethodSpec("min_cvar", min_cvar, ("returns",), constrained=True, summary="min historical CVaR"),
    MethodSpec("hrp", hrp, ("cov",), summary="hierarchical risk parity"),
    MethodSpec("herc", herc, ("cov",), summary="hierarchical equal risk contribution"),
)

#: Other names accepted for a method: the name of its function.
ALIASES = {"equal_weights": "equal"}

#: Methods known to :func:`~poolkit.allocation.allocate`, in teaching order.
METHODS: tuple[str, ...] = tuple(REGISTRY)


def method_spec(method: object, *, argument: str = "method") -> MethodSpec:
    """Look up an allocation method by name.

    Parameters
    ----------
    method : str
        One of :data:`METHODS` ("equal", "inverse_volatility", "inverse_variance",
        "min_variance", "max_sharpe", "mean_variance", "risk_parity",
        "max_diversification", "min_cvar", "hrp", "herc"), or ``"equal_weights"`` (the
        function's name of "equal").
    argument : str, default "method"
        Name of the caller's argument, used in the error message.

    Returns
    -------
    MethodSpec
        The method's function, the estimates it takes and whether it takes constraints
        and a risk-free rate; :meth:`MethodSpec.weights` computes its weights.

    Raises
    ------
    ParameterError
        If ``method`` is not a known name (the nearest names are suggested).

    Examples
    --------
    >>> spec = method_spec("max_sharpe")
    >>> spec.inputs, spec.constrained, spec.takes_risk_free
    (('expected_returns', 'cov'), True, True)
    >>> method_spec("min_varaince")
    Traceback (most recent call last):
    ...
    poolkit.exceptions.ParameterError: `method` must be one of [...], got 'min_varaince'. Did you mean 'min_variance' ...?
    """
    if isinstance(method, str):
        spec = REGISTRY.get(ALIASES.get(method, method))
        if spec is not None:
            return spec
    hint = did_you_mean(method, [*METHODS, *ALIASES]) if isinstance(method, str) else ""
    raise ParameterError(f"`{argument}` must be one of {list(METHODS)}, got {method!r}.{hint}")

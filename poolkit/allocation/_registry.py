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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from poolkit._validation import did_you_mean
from poolkit.allocation._hierarchical import herc, hrp
from poolkit.allocation._mean_variance import max_diversification, max_sharpe, mean_variance, min_variance
from poolkit.allocation._measures import RETURNS_MEASURES
from poolkit.allocation._risk_based import (
    equal_weights,
    inverse_variance,
    inverse_volatility,
    risk_parity,
)
from poolkit.allocation._tail import min_cdar, min_cvar
from poolkit.exceptions import ParameterError

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
        True when the method takes ``bounds``, ``groups`` and ``group_bounds`` (every
        registered method does).
    constraint_rule : str
        How the method meets the constraints: ``"optimised"`` (the optimum under them),
        ``"risk budgeting"`` (the constrained convex problem of :func:`risk_parity`),
        ``"inside the splits"`` (bounds clipped in each split of the tree, group bounds by the
        closest feasible weights) or ``"closest feasible"`` (the rule's weights, moved the
        least in relative terms).
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
    constrained: bool = True
    constraint_rule: str = "optimised"
    takes_risk_free: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    defaults_unless: frozenset[str] = frozenset()
    summary: str = ""

    def inputs_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the estimates the method takes with these parameters.

        A ``risk_measure`` computed from returns (semi-variance, CVaR, CDaR) makes a method
        that otherwise takes a covariance take the returns instead.
        """
        if "risk_measure" in self.parameters and params.get("risk_measure") in RETURNS_MEASURES:
            return tuple("returns" if k == "cov" else k for k in self.inputs)
        return self.inputs

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
            Constraints, as in :func:`~poolkit.allocation.min_variance` (met as
            :attr:`constraint_rule` says).
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

        Examples
        --------
        >>> cov = pd.DataFrame([[0.04, 0.0], [0.0, 0.01]], index=["A", "B"], columns=["A", "B"])
        >>> method_spec("min_variance").weights(cov=cov).round(4).tolist()  # w ~ 1 / sigma^2
        [0.2, 0.8]
        """
        given = {"assets": assets, "expected_returns": expected_returns, "cov": cov, "returns": returns}
        inputs = self.inputs_for(params)
        missing = [k for k in inputs if given[k] is None]
        if missing:
            raise ParameterError(
                f"method {self.name!r} needs {' and '.join(f'`{k}`' for k in missing)}; it takes "
                f"{', '.join(inputs)}."
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
        if self.takes_risk_free:
            kwargs.update(risk_free=risk_free, periods_per_year=periods_per_year)
        return self.function(*(given[k] for k in inputs), **kwargs).rename(self.name)


def _register(*specs: MethodSpec) -> dict[str, MethodSpec]:
    return {spec.name: spec for spec in specs}


#: Every allocation method by name, in teaching order.
REGISTRY: dict[str, MethodSpec] = _register(
    MethodSpec("equal", equal_weights, ("assets",), constraint_rule="closest feasible", summary="w_i = 1/N"),
    MethodSpec(
        "inverse_volatility", inverse_volatility, ("cov",), constraint_rule="closest feasible",
        summary="w_i ~ 1/sigma_i",
    ),
    MethodSpec(
        "inverse_variance", inverse_variance, ("cov",), constraint_rule="closest feasible",
        summary="w_i ~ 1/sigma_i^2",
    ),
    MethodSpec("min_variance", min_variance, ("cov",), summary="min w'Sw"),
    MethodSpec(
        "max_sharpe",
        max_sharpe,
        ("expected_returns", "cov"),
        takes_risk_free=True,
        summary="max (mu'w - r_f) / sqrt(w'Sw)",
    ),
    MethodSpec(
        "mean_variance",
        mean_variance,
        ("expected_returns", "cov"),
        defaults={"risk_aversion": DEFAULT_RISK_AVERSION},
        defaults_unless=frozenset({"target_return", "target_volatility", "risk_aversion"}),
        summary="max mu'w - delta/2 w'Sw, or a return / volatility target",
    ),
    MethodSpec(
        "risk_parity", risk_parity, ("cov",), constraint_rule="risk budgeting",
        summary="RC_i(w) = b_i rho(w) (variance, semi-variance, CVaR or CDaR)",
    ),
    MethodSpec("max_diversification", max_diversification, ("cov",), summary="max w'sigma / sqrt(w'Sw)"),
    MethodSpec("min_cvar", min_cvar, ("returns",), summary="min historical CVaR"),
    MethodSpec("min_cdar", min_cdar, ("returns",), summary="min conditional drawdown at risk"),
    MethodSpec("hrp", hrp, ("cov",), constraint_rule="inside the splits", summary="hierarchical risk parity"),
    MethodSpec(
        "herc", herc, ("cov",), constraint_rule="inside the splits", summary="hierarchical equal risk contribution"
    ),
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
        "max_diversification", "min_cvar", "min_cdar", "hrp", "herc"), or ``"equal_weights"``
        (the function's name of "equal").
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

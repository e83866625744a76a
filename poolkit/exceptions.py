"""Errors and warnings raised by poolkit.

Every error a user can trigger with bad input is a :class:`PoolkitError`, which is
also a :class:`ValueError`, so ``except ValueError`` keeps working. Each message
names the file, column, date or parameter at fault and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AlignmentError",
    "ConfigurationError",
    "CovarianceError",
    "DataError",
    "InfeasibleError",
    "IRRError",
    "InsufficientDataError",
    "ParameterError",
    "PoolkitError",
    "PoolkitWarning",
    "ReportError",
    "SolverError",
    "UnboundedError",
]


class PoolkitError(ValueError):
    """Base class of every error poolkit raises for bad input or a failed computation."""


class DataError(PoolkitError):
    """A data file or frame is missing, malformed or holds values poolkit cannot use."""


class InsufficientDataError(PoolkitError):
    """Too few observations (dates, assets, loans) for what was asked."""


class ParameterError(PoolkitError):
    """A parameter value is outside its allowed range or of the wrong kind."""


class AlignmentError(PoolkitError):
    """Two inputs name different assets (or dates) where they must match."""


class CovarianceError(PoolkitError):
    """A covariance or correlation matrix is not symmetric, not PSD or singular."""


class InfeasibleError(PoolkitError):
    """The constraints of an allocation problem cannot all be met."""


class UnboundedError(PoolkitError):
    """An allocation problem has no finite optimum: its objective improves without limit."""


class SolverError(PoolkitError):
    """A numerical solver failed or returned a solution that does not verify."""


class IRRError(SolverError):
    """No internal rate of return, or several, solve the cash flows' NPV = 0.

    Attributes
    ----------
    roots : list of float
        The rates found (empty when there is none).
    """

    def __init__(self, message: str, roots: list[float] | None = None) -> None:
        super().__init__(message)
        self.roots = list(roots or [])


class ReportError(PoolkitError):
    """A notebook or report run failed; the partial output is kept and named."""


class ConfigurationError(PoolkitError):
    """A report or batch configuration (parameters, grid file) is invalid."""


class PoolkitWarning(UserWarning):
    """A result is valid but deserves care (sorted input, short sample, ...)."""

"""Static types that tell a pandas Series from a DataFrame in ``typing.overload`` signatures.

pandas ships no type information (``pandas-stubs`` is not a dependency), so for mypy
``pd.Series`` and ``pd.DataFrame`` are both ``Any`` and an overload written with them could
not choose. These protocols name the one attribute that sets each apart (a Series has a
``name``, a DataFrame has ``columns``): with pandas-stubs installed they pick the right
overload (a Series in gives a float out), without them a pandas argument is ``Any`` and so
is the result. They exist for type checkers only; nothing is checked at run time.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DataFrameLike", "SeriesLike"]


class SeriesLike(Protocol):
    """A pandas Series as seen by a type checker: one named column of values."""

    @property
    def name(self) -> Any:
        """The Series' name (the asset)."""


class DataFrameLike(Protocol):
    """A pandas DataFrame as seen by a type checker: labelled columns (one per asset)."""

    @property
    def columns(self) -> Any:
        """The column labels (the assets)."""

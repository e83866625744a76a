"""Figures for every poolkit concern.

Every plot function takes pandas objects and an optional matplotlib ``ax``,
returns the axes (or the figure for multi-panel plots), never calls
``plt.show()`` and never writes files. matplotlib is imported inside the
functions, so importing this package is cheap. The private files group the
figures by concern; users only need ``poolkit.plotting.<name>``.
"""

from __future__ import annotations

from poolkit.plotting._allocation import *  # noqa: F403
from poolkit.plotting._allocation import __all__ as _allocation_all
from poolkit.plotting._credit import *  # noqa: F403
from poolkit.plotting._credit import __all__ as _credit_all
from poolkit.plotting._data import *  # noqa: F403
from poolkit.plotting._data import __all__ as _data_all
from poolkit.plotting._funds import *  # noqa: F403
from poolkit.plotting._funds import __all__ as _funds_all
from poolkit.plotting._pooling import *  # noqa: F403
from poolkit.plotting._pooling import __all__ as _pooling_all
from poolkit.plotting._risk import *  # noqa: F403
from poolkit.plotting._risk import __all__ as _risk_all
from poolkit.plotting._systemic import *  # noqa: F403
from poolkit.plotting._systemic import __all__ as _systemic_all

__all__ = sorted([*_allocation_all, *_credit_all, *_data_all, *_funds_all, *_pooling_all, *_risk_all, *_systemic_all])

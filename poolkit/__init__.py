"""poolkit: pooling in finance, measured.

Combine assets, portfolios and loans into pools so that their risks diversify,
and measure what the pooling bought. Each concern lives in its own module::

    import poolkit as pk
    returns = pk.data.load_returns("sample")
    pk.risk.summary(returns)

Modules are imported on first use (``pk.risk`` imports :mod:`poolkit.risk`),
and heavy dependencies (scipy, matplotlib, papermill, ipywidgets) are imported
inside the functions that need them, so ``import poolkit`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "allocation",
    "credit",
    "data",
    "exceptions",
    "funds",
    "plotting",
    "pooling",
    "reporting",
    "risk",
    "widgets",
]

_MODULES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    """Import the public module ``poolkit.<name>`` on first access."""
    if name in _MODULES:
        module = importlib.import_module(f"poolkit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'poolkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the public modules with the module's own names."""
    return sorted(set(globals()) | _MODULES)

r"""Interactive explorers of pooling: allocation, diversification and loan pools.

Each explorer is a function returning an ipywidgets panel: controls on the left,
the key figures and a chart on the right, recomputed (debounced) when a control
moves. The finance comes from :mod:`poolkit.risk`, :mod:`poolkit.allocation`,
:mod:`poolkit.pooling` and :mod:`poolkit.credit`; this module only turns control
values into a *view* and a view into a picture. The views are public
(:func:`diversification_view`, :func:`allocation_view`, :func:`loan_pool_view`):
they compute the figures an explorer shows, without drawing anything.

A control combination that poolkit refuses (a group limit that cannot be met, a
correlation outside the valid range) never raises into the page: the error
message is shown above the figures and the last valid result stays visible.

In a report run (papermill, ``poolkit report``, any run without a live browser)
:func:`show` renders a *static* version instead: the same key figures and chart at
the default settings, embedded as an image, so HTML reports stay complete and
work offline. ``poolkit app`` (:mod:`poolkit.cli`) serves
``notebooks/06_explorers.ipynb`` as a Voilà web app; this module starts no server.

ipywidgets and matplotlib are imported inside the functions that use them.
"""

from __future__ import annotations

from poolkit.widgets._allocation import (
    ALLOCATION_METHODS,
    COV_ESTIMATORS,
    allocation_explorer,
    allocation_view,
)
from poolkit.widgets._core import INTERACTIVE_ENV, SEED_ASSETS, live_frontend
from poolkit.widgets._diversification import diversification_explorer, diversification_view
from poolkit.widgets._loan_pool import LOAN_POOL, loan_pool_explorer, loan_pool_view
from poolkit.widgets._show import show

__all__ = [
    "ALLOCATION_METHODS",
    "COV_ESTIMATORS",
    "INTERACTIVE_ENV",
    "LOAN_POOL",
    "SEED_ASSETS",
    "allocation_view",
    "allocation_explorer",
    "diversification_explorer",
    "diversification_view",
    "live_frontend",
    "loan_pool_explorer",
    "loan_pool_view",
    "show",
]

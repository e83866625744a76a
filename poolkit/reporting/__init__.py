"""Run notebooks into reports, and save what a notebook wants to keep.

This module is the bridge between the finance modules and the report runs:
notebooks call :func:`save_tables` and :func:`record` to leave tables and key
figures in their ``out_dir`` and :func:`table` to show a table formatted for
reading (percentages, sensible digits); :func:`run_notebook` executes one parameterised
notebook with papermill (refusing parameters it does not declare, see
:func:`check_parameters`), and :func:`run_suite` executes the notebooks shipped
with poolkit (:func:`notebooks_dir`; :func:`copy_notebooks` makes editable
copies) into a report folder ``reports/<name>/`` with an offline HTML
export and a ``manifest.json`` that makes the run reproducible. A report folder
appears only when every notebook succeeded; a failed run is kept, with the
failing cell, beside it.

The command line is ``poolkit report`` (:mod:`poolkit.cli`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from poolkit._display_hooks import use_readable_display

if TYPE_CHECKING:
    from poolkit._parameters import RESERVED_PARAMETERS, check_parameters, declared_parameters
    from poolkit._runs import git_revision, package_versions, sha256
    from poolkit.reporting._display import format_number, table
    from poolkit.reporting._execute import run_notebook
    from poolkit.reporting._kernel import KERNEL_NAME
    from poolkit.reporting._notebooks import copy_notebooks, list_notebooks, notebooks_dir
    from poolkit.reporting._outputs import format_figure, record, save_tables
    from poolkit.reporting._suite import run_suite

# Loaded on first use: ``poolkit report`` starts its kernels' fork server (poolkit.reporting._forkserver)
# before pandas is imported by the rest.
_HOMES = {
    "RESERVED_PARAMETERS": "poolkit._parameters", "check_parameters": "poolkit._parameters",
    "declared_parameters": "poolkit._parameters", "git_revision": "poolkit._runs",
    "package_versions": "poolkit._runs", "sha256": "poolkit._runs", "format_number": "poolkit.reporting._display",
    "table": "poolkit.reporting._display", "run_notebook": "poolkit.reporting._execute",
    "KERNEL_NAME": "poolkit.reporting._kernel", "copy_notebooks": "poolkit.reporting._notebooks",
    "list_notebooks": "poolkit.reporting._notebooks", "notebooks_dir": "poolkit.reporting._notebooks",
    "format_figure": "poolkit.reporting._outputs", "record": "poolkit.reporting._outputs",
    "save_tables": "poolkit.reporting._outputs", "run_suite": "poolkit.reporting._suite",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'poolkit.reporting' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "KERNEL_NAME",
    "RESERVED_PARAMETERS",
    "check_parameters",
    "copy_notebooks",
    "declared_parameters",
    "format_figure",
    "format_number",
    "git_revision",
    "list_notebooks",
    "notebooks_dir",
    "package_versions",
    "record",
    "run_notebook",
    "run_suite",
    "save_tables",
    "sha256",
    "table",
    "use_readable_display",
]

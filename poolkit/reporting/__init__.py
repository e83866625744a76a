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

from poolkit._display_hooks import use_readable_display
from poolkit._parameters import RESERVED_PARAMETERS, check_parameters, declared_parameters
from poolkit._runs import git_revision, package_versions, sha256
from poolkit.reporting._display import format_number, table
from poolkit.reporting._execute import run_notebook
from poolkit.reporting._kernel import KERNEL_NAME
from poolkit.reporting._notebooks import copy_notebooks, list_notebooks, notebooks_dir
from poolkit.reporting._outputs import format_figure, record, save_tables
from poolkit.reporting._suite import run_suite

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

"""Run notebooks into reports, and save what a notebook wants to keep.

This module is the bridge between the finance modules and the report runs:
notebooks call :func:`save_tables` and :func:`record` to leave tables and key
figures in their ``out_dir``; :func:`run_notebook` executes one parameterised
notebook with papermill (refusing parameters it does not declare, see
:func:`check_parameters`), and :func:`run_suite` executes the notebooks of
``notebooks/`` into a report folder ``reports/<name>/`` with an offline HTML
export and a ``manifest.json`` that makes the run reproducible. A report folder
appears only when every notebook succeeded; a failed run is kept, with the
failing cell, beside it.

The command line is ``poolkit report`` (:mod:`poolkit.cli`).
"""

from __future__ import annotations

from poolkit._parameters import RESERVED_PARAMETERS, check_parameters, declared_parameters
from poolkit._runs import git_revision, package_versions, sha256
from poolkit.reporting._execute import run_notebook
from poolkit.reporting._kernel import KERNEL_NAME
from poolkit.reporting._outputs import format_figure, record, save_tables
from poolkit.reporting._suite import run_suite

__all__ = [
    "KERNEL_NAME",
    "RESERVED_PARAMETERS",
    "check_parameters",
    "declared_parameters",
    "format_figure",
    "git_revision",
    "package_versions",
    "record",
    "run_notebook",
    "run_suite",
    "save_tables",
    "sha256",
]

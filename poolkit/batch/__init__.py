r"""Run report notebooks over a grid of parameter sets, in parallel with Dask.

A *grid file* (YAML) names the notebooks, the parameters shared by every run and
the parameter sets to run, as a list and/or a Cartesian ``product`` of lists::

    name: nightly-risk              # reports/<name>/ (default: the file's stem)
    notebooks:                      # paths relative to the grid file (else to the current folder)
      - ../notebooks/02_risk.ipynb
    parameters:                     # shared by every run
      source: sample
    grid:
      - product:                    # 2 x 3 = 6 runs
          assets: [[AAPL, MSFT], [JPM, BAC]]
          level: [0.95, 0.975, 0.99]
      - {assets: [XOM, CVX], level: 0.99, run_id: energy-99}

Each parameter set becomes one report folder ``reports/<name>/<run-id>/``
written by :func:`poolkit.reporting.run_suite` (temporary folder, renamed when
complete, with its ``manifest.json``). Every value is type-checked against the
notebooks' declared parameters before anything runs; runs execute on a Dask
cluster (an embedded :class:`~dask.distributed.LocalCluster` by default, or an
existing scheduler); one failing run never stops the others; ``--resume`` skips
a run only when its folder holds a complete report made from the same inputs
(the inputs key of its manifest: parameters, notebooks, data files and poolkit's
code) and redoes the others. The batch writes ``reports/<name>/index.html``
(every run, its parameters, status, duration, key figures and links) and
``reports/<name>/batch.json`` (the batch manifest).

A batch only ever writes into a folder it owns: ``reports/<name>/`` must be
absent or a poolkit batch folder, each run folder absent or a poolkit report;
one batch or report per name runs at a time (see :func:`run_batch`).

The command line is ``poolkit batch GRID.yaml`` (:mod:`poolkit.cli`); its exit
codes: 0 every run succeeded, 1 some runs failed, 2 the configuration is invalid
(nothing ran).
"""

from __future__ import annotations

from poolkit._runs import check_name
from poolkit.batch._grid import Grid, GridRun, load_grid, make_run_id
from poolkit.batch._index import INDEX_FILE, write_index
from poolkit.batch._run import BATCH_MANIFEST, LOG_FILE, BatchResult, ClusterError, is_complete, run_batch

__all__ = [
    "BATCH_MANIFEST",
    "INDEX_FILE",
    "LOG_FILE",
    "BatchResult",
    "ClusterError",
    "Grid",
    "GridRun",
    "check_name",
    "is_complete",
    "load_grid",
    "make_run_id",
    "run_batch",
    "write_index",
]

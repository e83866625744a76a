"""One BLAS thread count for every library of a benchmark run, set before numpy is imported.

BLAS libraries read their thread count once, when they load, so each benchmark script calls
:func:`pin_blas_threads` before its first ``import numpy`` (this module imports nothing heavy).
"""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas_threads(argv: list[str]) -> None:
    """Set the BLAS thread variables to ``--blas-threads N`` from ``argv`` (1 when absent)."""
    threads = "1"
    for k, arg in enumerate(argv[:-1]):
        if arg == "--blas-threads":
            threads = argv[k + 1]
    for var in THREAD_VARIABLES:
        os.environ[var] = threads

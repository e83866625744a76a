"""Efficient frontier (50 points): the critical line walk against one QP per point, in one run.

Usage::

    python benchmarks/frontier.py [--repeats 3] [--sparse 500 2000] [--dense 500 1000]

Times ``efficient_frontier(mu, cov, n_points=50)`` on the sparse factor universes of
``run.py`` (``universe.factor_universe(n, 2520, seed=n)``) and the dense universe of
``solvers.py`` (``dense_universe(n)``), with BLAS single-threaded, for each way the
interior points can be found (``poolkit.allocation._frontier``):

- ``qp``: one warm-started QP per point from the previous point's active set (the method
  before the walk);
- ``qp+predict``: the same, warm-started from the active set extrapolated from the last two
  points;
- ``path``: the critical line walk (down from the top, else up from the minimum variance);
- ``auto``: what ``efficient_frontier`` does (the walk unless the optimum is dense).

Each variant is warmed up once, then the variants take turns ``--repeats`` times; the median
is printed with the walk's counts and the largest volatility gap between the variants.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from blas import pin_blas_threads  # before numpy: BLAS reads its thread count once

if __name__ == "__main__":
    pin_blas_threads(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from solvers import dense_universe  # noqa: E402
from universe import factor_universe  # noqa: E402

import poolkit as pk  # noqa: E402
from poolkit.allocation import _frontier, _mean_variance  # noqa: E402

VARIANTS = {"qp": ("qp", False), "qp+predict": ("qp", True), "path": ("path", True), "auto": ("auto", True)}


def _run(mu: pd.Series, cov: pd.DataFrame, variant: str, counts: list[dict[str, int]]) -> pd.DataFrame:
    _frontier.METHOD, _frontier.PREDICT = VARIANTS[variant]
    return pk.allocation.efficient_frontier(mu, cov, n_points=50)


def measure(label: str, returns: pd.DataFrame, repeats: int) -> list[str]:
    cov = pk.risk.covariance(returns)
    mu = returns.mean()
    counts: list[dict[str, int]] = []
    original, down = _mean_variance.trace_frontier, _mean_variance.descend

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        w, stats = original(*args, **kwargs)
        counts.append(stats)
        return w, stats

    def spy_down(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = down(*args, **kwargs)
        if out is not None:
            counts.append(out.stats)
        return out

    _mean_variance.trace_frontier, _mean_variance.descend = spy, spy_down
    try:
        fronts: dict[str, pd.DataFrame] = {}
        stats: dict[str, dict[str, int]] = {}
        for v in VARIANTS:  # warm-up (and the walk's counts)
            fronts[v] = _run(mu, cov, v, counts)
            stats[v] = counts[-1]
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(repeats):
            for v in VARIANTS:
                start = time.perf_counter()
                _run(mu, cov, v, counts)
                times[v].append(time.perf_counter() - start)
    finally:
        _mean_variance.trace_frontier, _mean_variance.descend = original, down
        _frontier.METHOD, _frontier.PREDICT = "auto", True
    ref = fronts["qp"]["volatility"].to_numpy()
    gap = max(float(np.max(np.abs(f["volatility"].to_numpy() - ref) / ref)) for f in fronts.values())
    held = int((fronts["qp"].iloc[0, 3:] > 1e-9).sum())
    med = {v: statistics.median(t) for v, t in times.items()}
    cells = " | ".join(f"{med[v]:.3f}" for v in VARIANTS)
    walk, auto = stats["path"], stats["auto"]
    how = "descent" if auto.get("descent") else ("walk up" if auto["path"] else "QP per point")
    return [f"| {label} | {held} | {cells} | {med['qp'] / med['auto']:.1f}× | {how} | {walk['breakpoints']} | "
            f"{walk['path']}/{walk['qp']} | {gap:.1e} |"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sparse", type=int, nargs="*", default=[500, 2000])
    parser.add_argument("--dense", type=int, nargs="*", default=[500, 1000])
    args = parser.parse_args(argv)
    lines = ["| universe | held at min. variance | qp (s) | qp+predict (s) | path (s) | auto (s) | qp / auto | "
             "auto uses | path: breakpoints | path: walk / QP points | max vol. gap |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in args.sparse:
        lines += measure(f"sparse N={n} × 2520", factor_universe(n, 2520, seed=n), args.repeats)
        print(lines[-1], flush=True)
    for n in args.dense:
        lines += measure(f"dense N={n} × 2520", dense_universe(n), args.repeats)
        print(lines[-1], flush=True)
    print("\n".join(lines))
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""poolkit against an earlier revision of itself: the optimisers on the synthetic universes, in one run.

    python benchmarks/versus.py --rev 72b20c1                    # N = 500 and 2000, 5 rounds
    python benchmarks/versus.py --rev 72b20c1 --sizes 2000 --rounds 3
    python benchmarks/versus.py --rev 72b20c1 --ops min_variance hrp     # some operations only

A target such as "no slower than before" is a ratio between two versions of poolkit, so
both are timed in the same run on the same data. The revision is checked out into a
temporary git worktree, which is removed afterwards. Each round runs one child process
per side, alternating sides, so a change in the machine's load falls on both. A child
builds the universe (``factor_universe(n, 2520, seed=n)`` from this checkout's
``universe.py``, the synthetic rows of ``results.md``), calls each optimiser once to warm
up and then times ``--repeats`` calls (their median). The table gives the medians over the rounds, the ratio
(earlier / current: above 1× the current code is faster) and the largest gap between the
two versions' weights (for the frontier, between their volatilities).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from blas import pin_blas_threads  # noqa: E402  (the children inherit the thread count)

OPS = ["min_variance", "max_sharpe", "risk_parity", "hrp", "efficient frontier (50 points)"]


def _child(size: int, days: int, repeats: int, ops: list[str]) -> None:
    """Time every optimiser (median of ``repeats`` calls after a warm-up) with the poolkit on ``sys.path``; print JSON."""
    from universe import factor_universe

    import poolkit as pk

    returns = factor_universe(size, days, seed=size)
    cov = pk.risk.covariance(returns)
    mu = returns.mean()
    calls = {
        "min_variance": lambda: pk.allocation.min_variance(cov),
        "max_sharpe": lambda: pk.allocation.max_sharpe(mu, cov),
        "risk_parity": lambda: pk.allocation.risk_parity(cov),
        "hrp": lambda: pk.allocation.hrp(returns, linkage="single"),
        "efficient frontier (50 points)": lambda: pk.allocation.efficient_frontier(mu, cov, n_points=50)["volatility"],
    }
    out: dict[str, Any] = {"poolkit": str(Path(pk.__file__).resolve().parent)}
    for name in ops:
        call = calls[name]
        values = call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        out[name] = {"seconds": statistics.median(times), "values": [float(v) for v in values]}
    print(json.dumps(out))


def _run_child(tree: Path, size: int, days: int, repeats: int, ops: list[str]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(size), "--days", str(days),
                           "--repeats", str(repeats), "--ops", *ops],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the timing run in {tree} failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if Path(result["poolkit"]) != (tree / "poolkit").resolve():
        raise SystemExit(f"the run meant for {tree} imported poolkit from {result['poolkit']}")
    return result


def compare(rev: str, sizes: list[int], rounds: int, days: int, repeats: int, ops: list[str]) -> str:
    """Time both versions in alternation and return the markdown table."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="poolkit-versus-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree), commit], check=True)
        try:
            rows = []
            for size in sizes:
                runs: dict[str, list[dict[str, Any]]] = {"earlier": [], "current": []}
                for k in range(rounds):
                    order = [("earlier", tree), ("current", ROOT)]
                    for side, path in order if k % 2 == 0 else order[::-1]:
                        runs[side].append(_run_child(path, size, days, repeats, ops))
                    print(f"  N={size}: round {k + 1} of {rounds} done", file=sys.stderr, flush=True)
                for op in ops:
                    old = statistics.median(r[op]["seconds"] for r in runs["earlier"])
                    new = statistics.median(r[op]["seconds"] for r in runs["current"])
                    a, b = runs["earlier"][0][op]["values"], runs["current"][0][op]["values"]
                    gap = max(abs(x - y) for x, y in zip(a, b, strict=True)) if len(a) == len(b) else float("nan")
                    rows.append(f"| {op} | N={size} × {days} | {old:.4f} | {new:.4f} | {old / new:.2f}× | {gap:.1e} |")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    load = os.getloadavg()[0]
    head_line = (f"poolkit at {commit} (earlier) and at {head} (current), medians of {rounds} alternating rounds "
                 f"(each the median of {repeats} calls after a warm-up), "
                 f"load average at the end {load:.1f} on {os.cpu_count()} cores.")
    table = ["| operation | size | earlier s | current s | earlier/current | largest gap |", "|---|---|---|---|---|---|", *rows]
    return "\n".join([head_line, "", *table])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per child (their median counts)")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads of both versions")
    parser.add_argument("--ops", nargs="+", choices=OPS, default=OPS, metavar="OP",
                        help=f"operations to time (default all: {', '.join(OPS)})")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child, args.days, args.repeats, args.ops)
        return 0
    if not args.rev:
        parser.error("--rev is required")
    pin_blas_threads(["--blas-threads", str(args.blas_threads)])
    print(compare(args.rev, args.sizes, args.rounds, args.days, args.repeats, args.ops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

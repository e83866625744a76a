"""The optimisers on a universe whose optimal portfolios are dense, against Clarabel and the peers.

Usage (``run.py --dense`` calls :func:`dense_section`; standalone it rewrites only the
dense-universe section of ``results.md``)::

    python benchmarks/solvers.py [--sizes 500 1000 3000 5000] [--out benchmarks/results.md]
    python benchmarks/solvers.py --sizes 3000 5000 --only Clarabel --ops min_variance max_sharpe

The universe is the generator of the dense case: ten common factors of 1 %/day and an
idiosyncratic noise of 1.5 %/day, Gaussian, 2520 business days, seed 0. Its long-only
minimum-variance portfolio holds most of the assets (about 60-90 %), the case where
active-set solvers are weakest. Clarabel (an interior-point conic solver, through
cvxpy) is the independent reference: min_variance as ``min w'Σw``, max_sharpe in the
homogenised form ``min y'Σy, mu'y = 1, y >= 0``, risk parity as Spinu's log-barrier
problem (exponential cone), the frontier as one QP per target return. A peer or
Clarabel whose time at one size, scaled by the cube of the size ratio, would exceed
the budget is not run at the next size.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from blas import pin_blas_threads  # before numpy: BLAS reads its thread count once

if __name__ == "__main__":  # run alone: one BLAS thread for every library (see estimators.py)
    pin_blas_threads(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import peers  # noqa: E402

import poolkit as pk  # noqa: E402

BUDGET_S = 120.0
CLARABEL_BUDGET_S = 600.0  # the reference of the targets (N = 3000, 5000) gets a longer budget
START, END = "<!-- dense-universe:start -->", "<!-- dense-universe:end -->"


def dense_universe(n_assets: int, n_days: int = 2520, n_factors: int = 10, seed: int = 0) -> pd.DataFrame:
    """Daily returns whose long-only optima hold most assets: k factors plus noise of the same size."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_days, n_factors)) * 0.01 @ rng.standard_normal((n_factors, n_assets))
    x = x + rng.standard_normal((n_days, n_assets)) * 0.015
    return pd.DataFrame(x, index=pd.bdate_range("2010-01-01", periods=n_days),
                        columns=[f"a{i}" for i in range(n_assets)])


# --------------------------------------------------------------------------- Clarabel through cvxpy
def _clarabel(problem: Any) -> None:
    problem.solve(solver="CLARABEL")
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Clarabel status {problem.status}")


def clarabel_min_variance(cov: pd.DataFrame) -> pd.Series:
    import cvxpy as cp

    w = cp.Variable(len(cov))
    _clarabel(cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov.to_numpy()))), [cp.sum(w) == 1, w >= 0]))
    return pd.Series(np.asarray(w.value).ravel(), index=cov.index)


def clarabel_max_sharpe(cov: pd.DataFrame, mu: pd.Series) -> pd.Series:
    import cvxpy as cp

    y = cp.Variable(len(cov))
    _clarabel(cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(cov.to_numpy()))), [mu.to_numpy() @ y == 1, y >= 0]))
    v = np.asarray(y.value).ravel()
    return pd.Series(v / v.sum(), index=cov.index)


def clarabel_risk_parity(cov: pd.DataFrame) -> pd.Series:
    import cvxpy as cp

    n = len(cov)
    s = cov.to_numpy()
    sd = np.sqrt(np.diag(s))
    y = cp.Variable(n)
    corr = s / np.outer(sd, sd)
    _clarabel(cp.Problem(cp.Minimize(0.5 * cp.quad_form(y, cp.psd_wrap(corr)) - cp.sum(cp.log(y)) / n)))
    x = np.asarray(y.value).ravel() / sd
    return pd.Series(x / x.sum(), index=cov.index)


def clarabel_frontier(cov: pd.DataFrame, mu: pd.Series, targets: np.ndarray) -> pd.DataFrame:
    """One QP per target return (a cvxpy parameter, so the problem is compiled once)."""
    import cvxpy as cp

    w = cp.Variable(len(cov))
    target = cp.Parameter()
    problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(cov.to_numpy()))),
                         [cp.sum(w) == 1, w >= 0, mu.to_numpy() @ w >= target])
    rows = []
    for t in targets:
        target.value = float(t)
        _clarabel(problem)
        v = np.asarray(w.value).ravel()
        rows.append((float(mu.to_numpy() @ v), float(np.sqrt(max(v @ cov.to_numpy() @ v, 0.0)))))
    return pd.DataFrame(rows, columns=["return", "volatility"])


# --------------------------------------------------------------------------- operations
def _objective_gap(objective):
    def gap(ours: pd.Series, theirs: pd.Series) -> float:
        f_ours, f_theirs = objective(ours), objective(theirs.reindex(ours.index).fillna(0.0))
        return (f_theirs - f_ours) / max(abs(f_theirs), 1e-300)

    return gap


def _max_abs(a: pd.Series, b: pd.Series) -> float:
    return float(np.max(np.abs(a.to_numpy() - b.reindex(a.index).to_numpy())))


def _frontier_gap(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    o = ours.sort_values("return")
    vol = np.interp(theirs["return"], o["return"], o["volatility"])
    return float(np.max(np.abs(vol - theirs["volatility"]) / theirs["volatility"]))


def dense_ops(n: int, avail: dict[str, bool], skip: dict[tuple[str, str], str]) -> list[harness.Operation]:
    returns = dense_universe(n)
    cov = pk.risk.covariance(returns)
    mu = returns.mean()
    sigma = cov.to_numpy()
    size = f"dense N={n} × 2520"

    def variance(w: pd.Series) -> float:
        v = w.reindex(cov.index).to_numpy()
        return float(v @ sigma @ v)

    def neg_sharpe(w: pd.Series) -> float:
        v = w.reindex(cov.index).to_numpy()
        return -float(v @ mu.to_numpy() / np.sqrt(v @ sigma @ v))

    front: dict[str, pd.DataFrame] = {}

    def frontier() -> pd.DataFrame:
        front["ours"] = pk.allocation.efficient_frontier(mu, cov, n_points=50)[["return", "volatility"]]
        return front["ours"]

    specs: dict[str, tuple[Any, Any, dict[str, Any]]] = {
        "min_variance": (lambda: pk.allocation.min_variance(cov), _objective_gap(variance),
                         {"Clarabel": lambda: clarabel_min_variance(cov)}),
        "max_sharpe": (lambda: pk.allocation.max_sharpe(mu, cov), _objective_gap(neg_sharpe),
                       {"Clarabel": lambda: clarabel_max_sharpe(cov, mu)}),
        "risk_parity": (lambda: pk.allocation.risk_parity(cov), _max_abs,
                        {"Clarabel": lambda: clarabel_risk_parity(cov)}),
        "hrp": (lambda: pk.allocation.hrp(cov, linkage="single"), _max_abs, {}),
        "efficient frontier (50 points)": (frontier, _frontier_gap, {}),
    }
    offered = {
        "PyPortfolioOpt": {"min_variance", "max_sharpe", "hrp"},
        "skfolio": {"min_variance", "max_sharpe", "risk_parity", "hrp"},
        "Riskfolio-Lib": {"min_variance", "max_sharpe", "risk_parity", "hrp"},
    }
    adapters = {"PyPortfolioOpt": peers.pypfopt, "skfolio": peers.skfolio_opt, "Riskfolio-Lib": peers.riskfolio_opt}
    ops = []
    for method, (ours, gap, refs) in specs.items():
        impls: dict[str, Any] = {"poolkit": ours}
        op = harness.Operation(method, size, impls, gap, "long-only, fully invested, sample covariance")
        others = dict(refs) if avail.get("Clarabel") else {}
        for peer, methods in offered.items():
            if method in methods and avail.get(peer):
                run = adapters[peer](method)
                others[peer] = lambda run=run: run(returns, cov, mu)
        if method.startswith("efficient") and avail.get("Clarabel"):
            def clar_front() -> pd.DataFrame:
                base = front["ours"] if "ours" in front else frontier()
                targets = np.linspace(base["return"].min(), base["return"].max(), 50)[1:-1]
                return clarabel_frontier(cov, mu, targets)
            others["Clarabel"] = clar_front
        for peer, func in others.items():
            if (peer, method) in skip:
                op.skipped[peer] = skip[(peer, method)]
            else:
                impls[peer] = func
        ops.append(op)
    return ops


def dense_section(
    sizes: list[int], *, repeats: int = 3, checkpoint: Path | None = None, only: list[str] | None = None,
    operations: list[str] | None = None,
) -> str:
    """Run the dense-universe rows and return the markdown section (with its markers).

    With ``checkpoint``, the section so far is written there after each size; ``only``
    limits the references run beside poolkit (e.g. ``["Clarabel"]``), ``operations`` the
    rows (e.g. ``["min_variance", "max_sharpe"]``).
    """
    avail = peers.available()
    try:
        import clarabel  # noqa: F401
        import cvxpy  # noqa: F401

        avail["Clarabel"] = True
    except ImportError:
        avail["Clarabel"] = False
    if only is not None:
        avail = {name: ok and name in only for name, ok in avail.items()}
    skip: dict[tuple[str, str], str] = {}
    ops: list[harness.Operation] = []
    for k, n in enumerate(sizes):
        clarabel_qp: list[float] = []
        for op in dense_ops(n, avail, skip):
            if operations is not None and op.name not in operations:
                continue
            if op.name.startswith("efficient") and clarabel_qp and "Clarabel" in op.impls:
                # 48 QPs, each about as long as Clarabel's min_variance at this size
                projected = 48 * clarabel_qp[0]
                if projected > CLARABEL_BUDGET_S:
                    del op.impls["Clarabel"]
                    op.skipped["Clarabel"] = f"48 QPs × {clarabel_qp[0]:.1f} s, projected ≥ {projected:.0f} s"
            if ("poolkit", op.name) in skip:
                print(f"  not run: {op.name} [{op.size}] ({skip[('poolkit', op.name)]})", flush=True)
                continue
            harness.run_operation(op, repeats=repeats if n <= 1000 else 1, peers_once=n > 1000)
            print(f"  done: {op.name} [{op.size}]", flush=True)
            ops.append(op)
            clar = op.outcomes.get("Clarabel")
            if op.name == "min_variance" and clar is not None and clar.seconds is not None:
                clarabel_qp.append(clar.seconds)
            if k + 1 < len(sizes):
                for peer, out in op.outcomes.items():
                    # poolkit's optimisers are the subject of the targets at every size: never skipped
                    if peer == "poolkit" and not op.name.startswith("efficient"):
                        continue
                    if out.seconds is not None:
                        projected = out.seconds * (sizes[k + 1] / n) ** 3
                        if projected > (CLARABEL_BUDGET_S if peer == "Clarabel" else BUDGET_S):
                            skip[(peer, op.name)] = f"{out.seconds:.1f} s at N={n}, projected ≥ {projected:.0f} s"
        if checkpoint is not None:
            write_section(checkpoint, _section(ops))
    return _section(ops)


def _section(ops: list[harness.Operation]) -> str:
    from run import table

    labels = ["Clarabel", "PyPortfolioOpt", "skfolio", "Riskfolio-Lib"]
    load = os.getloadavg()[0]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    lines = [START, "## Dense universe (optima hold most assets; see solvers.py)", "",
             f"BLAS threads: {threads}; load average at the end of the run: {load:.1f} on {os.cpu_count()} cores.", "",
             table(ops, labels), "",
             "Ratios above 1× mean poolkit is faster. The agreement is the signed relative gap of the objective "
             "(> 0: the peer stops short of poolkit's optimum) for min_variance / max_sharpe, the largest weight "
             "gap for risk_parity / hrp, the largest relative volatility gap at Clarabel's target returns for "
             "the frontier.", END]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace the dense-universe section of ``path`` (append it when absent); nothing else changes."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    anchor = "## Conventions behind the agreement column"
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    elif anchor in text:
        text = text.replace(anchor, section + "\n\n" + anchor, 1)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 3000, 5000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads of every library")
    parser.add_argument("--only", nargs="+", default=None, metavar="REFERENCE",
                        help="run only these references beside poolkit (e.g. Clarabel)")
    parser.add_argument("--ops", nargs="+", default=None, metavar="OPERATION",
                        choices=["min_variance", "max_sharpe", "risk_parity", "hrp", "efficient frontier (50 points)"],
                        help="run only these operations (default: all)")
    args = parser.parse_args(argv)
    section = dense_section(args.sizes, repeats=args.repeats, checkpoint=args.out, only=args.only,
                            operations=args.ops)
    print(section)
    write_section(args.out, section)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

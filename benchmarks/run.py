"""poolkit against the libraries a quant would use instead, side by side in one run.

Usage (``make bench`` installs the ``bench`` extra and runs this)::

    python benchmarks/run.py [--quick] [--sizes 100 500 2000] [--dense-sizes 500 1000 3000 5000]
                             [--out benchmarks/results.md]
    python benchmarks/run.py --only-reports   # the report and batch timings alone, into their section
    python benchmarks/run.py --only-systemic  # the rolling systemic-risk indicators alone, likewise

Every operation runs for poolkit and for each peer that offers it, in this one
process, alternating, after a warm-up, as the median of repeats (see
``harness.py``). The table gives seconds, the ratio peer/poolkit (> 1 means
poolkit is faster) and the agreement with each peer under the convention written
below the table. Data: the bundled 20-stock sample, a seeded factor-model universe
at N = 100, 500, 2000 assets x 2520 days (``universe.py``), a dense universe whose
optima hold most assets at N = 500-5000 against Clarabel (``solvers.py``), and a
seeded tape of 10,000 loans. The section on mandates and min_cdar comes from
``constraints.py`` (which also runs alone and rewrites only its section).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import constraints  # noqa: E402
import harness  # noqa: E402
import peers  # noqa: E402
from universe import factor_universe, loan_tape  # noqa: E402

import poolkit as pk  # noqa: E402

PEER_BUDGET_S = 60.0  # a peer whose time, scaled by (N_next / N)^3, would exceed this is not run at N_next


# --------------------------------------------------------------------------- agreement measures
def _aligned(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """Both results as float arrays in poolkit's label order (arrays take poolkit's labels)."""
    if isinstance(a, pd.Series):
        other = b if isinstance(b, pd.Series) else pd.Series(np.asarray(b, dtype=float).ravel(), index=a.index)
        return a.to_numpy(dtype=float), other.reindex(a.index).to_numpy(dtype=float)
    a = pd.DataFrame(a)
    if not isinstance(b, pd.DataFrame):
        b = pd.DataFrame(np.asarray(b, dtype=float), index=a.index, columns=a.columns)
    return a.to_numpy(dtype=float), b.reindex(index=a.index, columns=a.columns).to_numpy(dtype=float)


def max_abs_diff(a: object, b: object) -> float:
    x, y = _aligned(a, b)
    return float(np.max(np.abs(x - y)))


def max_rel_diff(a: object, b: object) -> float:
    x, y = _aligned(a, b)
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))


def objective_gap(objective):
    """Signed relative gap of a minimised objective: > 0 when poolkit's value is the better (lower) one."""

    def gap(ours: pd.Series, theirs: pd.Series) -> float:
        f_ours, f_theirs = objective(ours), objective(theirs.reindex(ours.index).fillna(0.0))
        return (f_theirs - f_ours) / max(abs(f_theirs), 1e-300)

    return gap


def frontier_gap(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    """Max relative gap in volatility at the peer's returns (poolkit frontier interpolated)."""
    o = ours.sort_values("return")
    t = theirs.sort_values("return")
    inside = (t["return"] >= o["return"].min()) & (t["return"] <= o["return"].max())
    vol_ours = np.interp(t.loc[inside, "return"], o["return"], o["volatility"])
    return float(np.max(np.abs(vol_ours - t.loc[inside, "volatility"]) / t.loc[inside, "volatility"]))


# --------------------------------------------------------------------------- operations
def risk_ops(returns: pd.DataFrame, size: str, avail: dict[str, bool]) -> list[harness.Operation]:
    ops = []
    impls = {"poolkit": lambda: pk.risk.covariance(returns), "numpy": lambda: np.cov(returns.to_numpy(), rowvar=False)}
    if avail["PyPortfolioOpt"]:
        impls["PyPortfolioOpt"] = lambda: peers.pypfopt_sample_cov(returns)
    ops.append(harness.Operation("sample covariance", size, impls, max_abs_diff, peers.CONVENTIONS["covariance"]))

    impls = {"poolkit": lambda: pk.risk.covariance(returns, method="ledoit_wolf")}
    if avail["scikit-learn"]:
        impls["scikit-learn"] = lambda: peers.sklearn_ledoit_wolf(returns)
    if avail["PyPortfolioOpt"]:
        impls["PyPortfolioOpt"] = lambda: peers.pypfopt_ledoit_wolf(returns)
    if avail["skfolio"]:
        impls["skfolio"] = lambda: peers.skfolio_ledoit_wolf(returns)
    ops.append(harness.Operation("Ledoit-Wolf covariance", size, impls, max_rel_diff, peers.CONVENTIONS["ledoit_wolf"]))

    def ours() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "volatility": pk.risk.volatility(returns, periods_per_year=252),
                "sharpe": pk.risk.sharpe_ratio(returns, periods_per_year=252),
                "sortino": pk.risk.sortino_ratio(returns, periods_per_year=252),
                "max_drawdown": -pk.risk.max_drawdown(returns),  # poolkit reports drawdowns negative
                "var": pk.risk.value_at_risk(returns, level=0.95),
                "cvar": pk.risk.conditional_value_at_risk(returns, level=0.95),
            }
        )

    impls = {"poolkit": ours, "numpy": lambda: peers.numpy_stats(returns)}
    if avail["empyrical"]:
        impls["empyrical"] = lambda: peers.empyrical_stats(returns)
    if avail["quantstats"]:
        impls["quantstats"] = lambda: peers.quantstats_stats(returns)

    def stats_gap(a: pd.DataFrame, b: pd.DataFrame) -> float:
        cols = ["volatility", "sharpe", "sortino", "max_drawdown"]
        return max_rel_diff(a[cols], b[cols])

    ops.append(harness.Operation("six risk statistics", size, impls, stats_gap,
                                 peers.CONVENTIONS["risk statistics"] + "; agreement over vol, Sharpe, Sortino, "
                                 "max drawdown (VaR/CVaR quantile rules differ: see the notes)"))
    return ops


def optimiser_ops(returns: pd.DataFrame, size: str, avail: dict[str, bool], skip: dict[tuple[str, str], str]) -> list[harness.Operation]:
    cov = pk.risk.covariance(returns)
    mu = returns.mean()
    sigma = cov.to_numpy()
    x = returns.to_numpy()

    def variance(w: pd.Series) -> float:
        v = w.reindex(cov.index).to_numpy()
        return float(v @ sigma @ v)

    def neg_sharpe(w: pd.Series) -> float:
        v = w.reindex(cov.index).to_numpy()
        return -float(v @ mu.to_numpy() / np.sqrt(v @ sigma @ v))

    def cvar(w: pd.Series) -> float:
        port = x @ w.reindex(returns.columns).to_numpy()
        q = np.quantile(port, 0.05)
        # Rockafellar-Uryasev CVaR at the empirical quantile
        return float(-q + np.mean(np.maximum(q - port, 0.0)) / 0.05)

    specs = {
        "min_variance": (lambda: pk.allocation.min_variance(cov), objective_gap(variance)),
        "max_sharpe": (lambda: pk.allocation.max_sharpe(mu, cov), objective_gap(neg_sharpe)),
        "risk_parity": (lambda: pk.allocation.risk_parity(cov), max_abs_diff),
        "hrp": (lambda: pk.allocation.hrp(returns, linkage="single"), max_abs_diff),
        "herc": (lambda: pk.allocation.herc(returns, linkage="ward"), max_abs_diff),
        "min_cvar": (lambda: pk.allocation.min_cvar(returns, level=0.95), objective_gap(cvar)),
    }
    offered = {
        "PyPortfolioOpt": {"min_variance", "max_sharpe", "hrp", "min_cvar"},
        "skfolio": {"min_variance", "max_sharpe", "risk_parity", "hrp", "herc", "min_cvar"},
        "Riskfolio-Lib": {"min_variance", "max_sharpe", "risk_parity", "hrp", "herc", "min_cvar"},
    }
    adapters = {"PyPortfolioOpt": peers.pypfopt, "skfolio": peers.skfolio_opt, "Riskfolio-Lib": peers.riskfolio_opt}
    ops = []
    for method, (ours, gap) in specs.items():
        impls = {"poolkit": ours}
        op = harness.Operation(method, size, impls, gap, peers.CONVENTIONS[method])
        for peer, methods in offered.items():
            if method in methods and avail[peer]:
                if (peer, method) in skip:
                    op.skipped[peer] = skip[(peer, method)]
                    continue
                run = adapters[peer](method)
                impls[peer] = lambda run=run: run(returns, cov, mu)
        ops.append(op)
    return ops


def frontier_op(returns: pd.DataFrame, size: str, avail: dict[str, bool], skip: dict[tuple[str, str], str]) -> harness.Operation:
    cov = pk.risk.covariance(returns)
    mu = returns.mean()

    def ours() -> pd.DataFrame:
        return pk.allocation.efficient_frontier(mu, cov, n_points=50)[["return", "volatility"]]

    impls = {"poolkit": ours}
    op = harness.Operation("efficient frontier (50 points)", size, impls, frontier_gap, peers.CONVENTIONS["efficient_frontier"])
    front = ours()
    targets = np.linspace(front["return"].min(), front["return"].max(), 50)[1:-1]
    if avail["PyPortfolioOpt"]:
        if ("PyPortfolioOpt", "frontier") in skip:
            op.skipped["PyPortfolioOpt"] = skip[("PyPortfolioOpt", "frontier")]
        else:
            impls["PyPortfolioOpt"] = lambda: peers.pypfopt_frontier(returns, cov, mu, targets)
    if avail["skfolio"]:
        if ("skfolio", "frontier") in skip:
            op.skipped["skfolio"] = skip[("skfolio", "frontier")]
        else:
            impls["skfolio"] = lambda: peers.skfolio_frontier(returns, 50)
    return op


def pooling_op(returns: pd.DataFrame, size: str) -> harness.Operation:
    def ours():
        pools = pk.pooling.cluster_pools(returns, n_pools=10)
        return pk.pooling.two_level_allocation(returns, pools, inner="risk_parity", outer="risk_parity")

    return harness.Operation("cluster_pools + two_level_allocation", size, {"poolkit": ours})


def credit_ops() -> list[harness.Operation]:
    loans = loan_tape(10_000, seed=1)
    exposures = pd.Series(np.random.default_rng(2).lognormal(0, 1, 1000), name="exposure")
    return [
        harness.Operation("pool cash flows (loan level, 360 months)", "10,000 loans",
                          {"poolkit": lambda: pk.credit.pool_from_loans(loans, prepayment="150 PSA")}),
        harness.Operation("pool loss simulation (one-factor copula)", "1e6 scenarios x 1,000 loans",
                          {"poolkit": lambda: pk.credit.simulate_pool_losses(
                              exposures=exposures, pd=0.02, lgd=0.45, rho=0.12, n_sims=1_000_000, seed=1)}),
    ]


# --------------------------------------------------------------------------- systemic-risk indicators
def _indicators_loop(returns: pd.DataFrame, window: int, k: int) -> pd.DataFrame:
    """The plain way: one covariance, correlation and eigvalsh per window; full-history turbulence."""
    x = returns.to_numpy()
    t, n = x.shape
    iu = np.triu_indices(n, 1)
    avg, ar = [], []
    for end in range(window, t + 1):
        cov = np.cov(x[end - window : end], rowvar=False)
        sd = np.sqrt(np.diag(cov))
        avg.append((cov / np.outer(sd, sd))[iu].mean())
        lam = np.linalg.eigvalsh(cov)
        ar.append(lam[-k:].sum() / lam.sum())
    d = x - x.mean(axis=0)
    turb = np.einsum("ti,ij,tj->t", d, np.linalg.inv(np.cov(x, rowvar=False)), d)
    return pd.DataFrame({"average_correlation": avg, "absorption_ratio": ar, "turbulence": turb[window - 1 :]},
                        index=returns.index[window - 1 :])


def _turbulence_loop(returns: pd.DataFrame, window: int) -> pd.Series:
    """Trailing-window turbulence the plain way: a covariance and a solve per day."""
    x = returns.to_numpy()
    out = []
    for day in range(window, len(x)):
        win = x[day - window : day]
        dx = x[day] - win.mean(axis=0)
        out.append(dx @ np.linalg.solve(np.cov(win, rowvar=False), dx))
    return pd.Series(out, index=returns.index[window:], name="turbulence")


def indicator_gap(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Largest gap: absolute on correlations and absorption ratios, relative on turbulence."""
    a, b = pd.DataFrame(a), pd.DataFrame(b)
    gaps = [max_abs_diff(a[c], b[c]) for c in a.columns if c != "turbulence"]
    if "turbulence" in a.columns:
        gaps.append(max_rel_diff(a["turbulence"], b["turbulence"]))
    return max(gaps)


def systemic_section(days: int, sizes: list[int], repeats: int) -> str:
    """Rolling systemic-risk indicators: poolkit's batched windows against a plain loop over windows."""
    window, long_window = 252, 756
    ops = []
    sample = pk.data.load_returns("sample")
    universes = [("sample", sample)] + [(f"N={n} × {days}", factor_universe(n, days, seed=n)) for n in sizes]
    for label, returns in universes:
        k = max(1, round(returns.shape[1] / 5))
        size = f"{label} ({returns.shape[1]} × {returns.shape[0]})" if label == "sample" else label
        ops.append(harness.Operation(
            f"systemic indicators, rolling {window} (avg corr, AR k=N/5, turbulence full history)", size,
            {"poolkit": lambda r=returns: pk.pooling.systemic_indicators(r, window),
             "numpy loop": lambda r=returns, k=k: _indicators_loop(r, window, k)},
            indicator_gap, "same windows (ending on each date), ddof=1, eigenvalues of the covariance"))
        if returns.shape[1] < long_window:
            ops.append(harness.Operation(
                f"turbulence, trailing {long_window}-period window", size,
                {"poolkit": lambda r=returns: pk.pooling.turbulence(r, long_window),
                 "numpy loop": lambda r=returns: _turbulence_loop(r, long_window)},
                max_rel_diff, "mean and covariance (ddof=1) of the window before each date"))
    for op in ops:
        harness.run_operation(op, repeats=repeats, peers_once=True)
        print(f"  done: {op.name} [{op.size}]", flush=True)
    return ("## Systemic-risk indicators over rolling windows (batched windows vs a plain loop)\n\n"
            + table(ops, ["numpy loop"])
            + "\n\nThe loop is timed once (first call). poolkit computes every window at once: moving sums "
              "for the average correlation, rolling covariances by rank-one updates, (w × w) Gram matrices when "
              "a window is shorter than the number of assets, batched eigvalsh / Cholesky.")


# --------------------------------------------------------------------------- report runs
def _cell_seconds(folder: Path, pattern: str) -> list[float]:
    """Sum of the cell execution times (papermill's per-cell durations) of each executed notebook."""
    import json

    sums = []
    for nb in sorted(folder.glob(pattern)):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        sums.append(sum((c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0) for c in cells))
    return sums


def _out_dir_files(folder: Path) -> dict[str, bytes]:
    """The files each notebook saved in its ``out_dir`` (``<report>/<notebook>/*``: tables, summary.json)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob("*/*")) if p.is_file()}


def report_timings(workers: int = 2, n_batch: int = 8) -> tuple[list[tuple[str, float, str]], list[str]]:
    """Time `poolkit report` sequential and fresh vs parallel with kernels started ahead, and a batch.

    Returns the rows (run, seconds, note) and the target lines: the suite's wall time in the default
    mode over the sequential run in the same benchmark run (target <= 0.5); whether the two runs saved
    byte-identical ``out_dir`` files (tables and key figures) although one ran every notebook in a fresh
    kernel and the other in kernels started ahead; and the batch's per-report overhead, wall time x
    workers / reports minus the mean sum of cell execution times (HTML export included; target <= 1 s).
    """
    rows, targets = [], []
    cli = [sys.executable, "-m", "poolkit.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        suite, folders = {}, []
        for label, flags in (("sequential, fresh kernels (--workers 1 --no-prestart)", ["--workers", "1", "--no-prestart"]),
                             (f"default ({os.cpu_count()} workers = CPUs, kernels started ahead)", [])):
            name = f"bench-{len(suite)}"
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run([*cli, "report", "--name", name, "--reports-dir", tmp, "--quiet", *flags],
                           check=True, cwd=ROOT)
            suite[label] = time.perf_counter() - start
            folders.append(Path(tmp) / name)
            cells = sum(_cell_seconds(folders[-1], "*.ipynb"))
            rows.append((f"poolkit report, whole suite on the sample, {label}", suite[label],
                         f"sum of cell times {cells:.1f} s; CLI process included; load {load:.1f} at start"))
        seq, par = suite.values()
        targets.append(f"poolkit report: default / sequential wall time {par / seq:.2f} "
                       f"({'met' if par / seq <= 0.5 else 'missed'}; target <= 0.5 on {os.cpu_count()} CPUs).")
        fresh, warm = (_out_dir_files(f) for f in folders)
        differ = sorted(k for k in fresh.keys() | warm.keys() if fresh.get(k) != warm.get(k))
        targets.append(f"out_dir files (tables, summary.json) of the fresh-kernel and the started-ahead runs: "
                       f"{len(fresh) - len(differ)} of {len(fresh)} byte-identical"
                       + (f" ({'met' if not differ else 'missed'}" + (f": {', '.join(differ[:5])} differ" if differ else "")
                          + "; target: all identical)."))
        grid = Path(tmp) / "grid.yaml"
        levels = [0.90, 0.95, 0.975, 0.99, 0.925, 0.96, 0.98, 0.995][:n_batch]
        grid.write_text(
            "notebooks: [02_risk_statistics]\n"
            "grid:\n  product:\n    level: [" + ", ".join(str(v) for v in levels) + "]\n",
            encoding="utf-8",
        )
        load = os.getloadavg()[0]
        start = time.perf_counter()
        subprocess.run([*cli, "batch", str(grid), "--workers", str(workers), "--name", "bench-batch",
                        "--reports-dir", tmp, "--quiet"], check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        cells = _cell_seconds(Path(tmp) / "bench-batch", "*/02_risk_statistics.ipynb")
        overhead = wall * workers / len(cells) - float(np.mean(cells))
        rows.append((f"batch of {len(cells)} reports (02) on {workers} workers", wall,
                     f"mean sum of cell times {np.mean(cells):.2f} s; CLI and cluster start included; "
                     f"load {load:.1f} at start"))
        targets.append(f"batch: per-report overhead (wall x workers / reports - mean cell time) {overhead:.2f} s "
                       f"({'met' if overhead <= 1.0 else 'missed'}; target <= 1 s).")
    return rows, targets


def report_section() -> str:
    """The "Report runs" section of the results: the rows of :func:`report_timings` and its targets."""
    before = os.getloadavg()[0]
    rows, targets = report_timings()
    after = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    busy = max(before, after) > cores
    lines = [f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {cpu_name()} ({cores} cores), "
             f"every run in this one benchmark run; 1-minute load average {before:.1f} before, {after:.1f} after ("
             + ("above the number of cores: other processes shared the CPUs, the times are upper bounds and the "
                "parallel runs, which need both cores, lose more to them than the sequential one)." if busy else
                "at most the number of cores: the machine was otherwise quiet)."), "",
             "| run | seconds | note |", "|---|---|---|"] + [f"| {a} | {b:.1f} | {c} |" for a, b, c in rows]
    lines += ["", *(f"- {t}" for t in targets)]
    return "## Report runs\n\n" + "\n".join(lines)


def replace_section(text: str, section: str) -> str:
    """Put ``section`` (a "## title" block) in place of the block of the same title in ``text``, or before the conventions."""
    title = section.split("\n", 1)[0] + "\n"
    if title in text:
        start = text.index(title)
        # the block ends at the next heading or at the next section marker (a "<!-- ... -->" line
        # that opens the section written by another script), whichever comes first
        ends = [e for e in (text.find("\n## ", start + len(title)), text.find("\n<!--", start + len(title))) if e >= 0]
        end = min(ends) if ends else -1
        return text[:start] + section + ("\n" + text[end:] if end >= 0 else "\n")
    anchor = text.find("## Conventions behind")
    if anchor < 0:
        return text.rstrip("\n") + "\n\n" + section + "\n"
    return text[:anchor] + section + "\n\n" + text[anchor:]


# Reading the agreement column: what the larger numbers are (checked point by point when they
# first appeared; they come from the peers' conventions or solvers, not from poolkit).
NOTES = """\
- **min_variance / max_sharpe / min_cvar**: the agreement is signed, (peer − poolkit) / peer on the
  minimised objective; a positive number is a peer stopping short of the optimum. At N=2000
  PyPortfolioOpt's min-variance solve (cvxpy's default solver) returns an inexact solution that keeps
  all 2000 assets with tiny weights and a variance about 3 % above poolkit's.
- **max_sharpe**: PyPortfolioOpt fails at N=500 and N=2000 ("Solver status: user_limit").
- **efficient frontier**: PyPortfolioOpt's larger gap at N=500 sits at a few target returns where its
  solve stops short (its volatility is above poolkit's there); elsewhere the frontiers agree to 1e-10.
  The gap also includes the error of interpolating poolkit's 50 points linearly.
- **hrp**: PyPortfolioOpt and Riskfolio-Lib match poolkit to 1e-14 with single linkage; skfolio's HRP
  orders and splits the tree its own way (its default distance and bisection), hence ~5e-3.
- **herc**: skfolio matches poolkit to 1e-17 (same cut rule); Riskfolio-Lib cuts the tree into a
  different number of clusters (see the conventions), so its weights differ by design.
- **Ledoit-Wolf**: poolkit's costs one matrix product plus O(np) work (about 1.2× the sample
  covariance); PyPortfolioOpt calls scikit-learn's and wraps it in a DataFrame, so the ratio to it
  hovers around the 4× target (3.8-4.2× across runs on this machine), set by scikit-learn's own cost.
- **skipped** peers: their time at the previous size, scaled by the size ratio cubed (QPs) or squared
  (others), exceeded the budget; the N=2000 rows show which peers still finish and agree.
"""


# --------------------------------------------------------------------------- targets
TARGETS = [
    # (operation, what it is compared with, required ratio other/poolkit, direction)
    ("six risk statistics", "numpy", 1 / 1.5, "within 1.5× of plain vectorised numpy"),
    ("Ledoit-Wolf covariance", "PyPortfolioOpt", 4.0, "≥ 4× faster than PyPortfolioOpt"),
    ("min_variance", "fastest peer", 5.0, "≥ 5× faster than the fastest peer"),
    ("max_sharpe", "fastest peer", 5.0, "≥ 5× faster than the fastest peer"),
    ("risk_parity", "fastest peer", 5.0, "≥ 5× faster than the fastest peer"),
    ("hrp", "fastest peer", 30.0, "≥ 30× faster than the fastest peer"),
]


def target_lines(ops: list[harness.Operation], size: str) -> list[str]:
    """One line per speed target of the issue at N = 500: met or missed, with the figures."""
    lines = ["| target (N=500) | poolkit s | compared with | ratio | met? |", "|---|---|---|---|---|"]
    by_name = {op.name: op for op in ops if op.size == size}
    for name, other, need, text in TARGETS:
        op = by_name.get(name)
        if op is None or "poolkit" not in op.outcomes or op.outcomes["poolkit"].seconds is None:
            lines.append(f"| {name}: {text} | — | — | — | not run |")
            continue
        ours = op.outcomes["poolkit"].seconds
        if other == "fastest peer":
            peer_times = {k: v.seconds for k, v in op.outcomes.items()
                          if k not in ("poolkit", "numpy") and v.seconds is not None}
            if not peer_times:
                lines.append(f"| {name}: {text} | {fmt_s(ours)} | no peer finished | — | — |")
                continue
            other = min(peer_times, key=peer_times.get)
        out = op.outcomes.get(other)
        if out is None or out.seconds is None:
            lines.append(f"| {name}: {text} | {fmt_s(ours)} | {other}: not run | — | — |")
            continue
        ratio = out.seconds / ours
        lines.append(f"| {name}: {text} | {fmt_s(ours)} | {other} {fmt_s(out.seconds)} | {ratio:.1f}× | "
                     f"{'yes' if ratio >= need else 'MISSED'} |")
    return lines


# --------------------------------------------------------------------------- output
def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.4f}" if seconds < 1 else f"{seconds:.2f}"


def table(ops: list[harness.Operation], labels: list[str]) -> str:
    head = ["operation", "size", "poolkit s"] + [f"{p} s" for p in labels] + [f"{p}/poolkit" for p in labels] + ["agreement"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in ops:
        ours = op.outcomes.get("poolkit")
        base = ours.seconds if ours and ours.error is None else None
        cells = [op.name, op.size, fmt_s(base) if ours and not ours.error else f"FAILED: {ours.error}" if ours else "—"]
        ratios, agree = [], []
        for peer in labels:
            out = op.outcomes.get(peer)
            if peer in op.skipped:
                cells.append(f"skipped ({op.skipped[peer]})")
                ratios.append("—")
            elif out is None:
                cells.append("—")
                ratios.append("—")
            elif out.error:
                cells.append(f"failed: {out.error}")
                ratios.append("—")
            else:
                cells.append(fmt_s(out.seconds) + (f" ({out.note})" if out.note else ""))
                ratios.append(f"{out.seconds / base:.1f}×" if base and out.seconds else "—")
                a = harness.agreement_of(op, peer)
                if a is not None:
                    agree.append(f"{peer}: {a:.1e}")
        cells += ratios + ["; ".join(agree) or "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_results(args: argparse.Namespace, sections: list[str], *, final: bool) -> None:
    """Write (or, mid-run, checkpoint) the results file and print it at the end."""
    notes = "\n".join(f"- **{k}**: {v}" for k, v in peers.CONVENTIONS.items())
    vers = ", ".join(f"{k} {v}" for k, v in peers.versions().items())
    text = (
        f"# poolkit benchmark\n\nRun {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {cpu_name()} "
        f"({os.cpu_count()} cores), Python {platform.python_version()}, poolkit {pk.__version__}.\n"
        f"Packages: {vers}.\n\nRatios are peer time / poolkit time: above 1× poolkit is faster. "
        f"Medians of {args.repeats} alternating runs after a warm-up (one timed run for calls slower than 2 s; at "
        f"N=2000 peers are timed on their first call). A peer whose time at one size, scaled by the cube of the "
        f"size ratio (for QPs; the square for the others), would exceed {PEER_BUDGET_S:.0f} s is not run at the next size.\n\n"
        + ("" if final else "**Partial results: the run is still going.**\n\n")
        + "\n\n".join(sections)
        + "\n\n## Conventions behind the agreement column\n\n" + notes + "\n"
        + "\n## Reading the agreement column\n\n" + NOTES
    )
    if final:
        print(text)
    if not args.quick:
        args.out.write_text(text, encoding="utf-8")
        if final:
            print(f"written: {args.out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000])
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="N = 100 only, no report runs (a smoke run)")
    parser.add_argument("--no-reports", action="store_true", help="skip the report/batch timings")
    parser.add_argument("--dense-sizes", type=int, nargs="*", default=[500, 1000, 3000, 5000],
                        help="sizes of the dense universe (solvers.py); none to skip it")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    parser.add_argument("--only-reports", action="store_true",
                        help="run only the report/batch timings and replace their section of --out")
    parser.add_argument("--only-systemic", action="store_true",
                        help="run only the systemic-risk indicators (sizes up to 500) and replace their section of --out")
    args = parser.parse_args(argv)
    if args.only_reports or args.only_systemic:
        if args.only_reports:
            section = report_section()
        else:
            section = systemic_section(args.days, [n for n in args.sizes if n <= 500], args.repeats)
        print(section)
        previous = args.out.read_text(encoding="utf-8") if args.out.is_file() else "# poolkit benchmark\n"
        args.out.write_text(replace_section(previous, section), encoding="utf-8")
        print(f"written: {args.out}")
        return 0
    sizes = [100] if args.quick else args.sizes
    avail = peers.available()
    print("peers available:", ", ".join(k for k, v in avail.items() if v) or "none", flush=True)

    sample = pk.data.load_returns("sample")
    sections: list[str] = []

    # 1. the bundled sample
    ops = risk_ops(sample, f"sample {sample.shape[1]} × {sample.shape[0]}", avail)
    ops += optimiser_ops(sample.iloc[-2520:], f"sample {sample.shape[1]} × 2520", avail, {})
    for op in ops:
        harness.run_operation(op, repeats=args.repeats)
        print(f"  done: {op.name} [{op.size}]", flush=True)
    labels = ["numpy", "scikit-learn", "PyPortfolioOpt", "skfolio", "Riskfolio-Lib", "empyrical", "quantstats"]
    sections.append("## Bundled sample (20 S&P 500 stocks, daily)\n\n" + table(ops, labels))
    write_results(args, sections, final=False)

    # 2. synthetic universes, and the scaling of each optimiser with N
    skip: dict[tuple[str, str], str] = {}
    scaling: dict[str, dict[int, list[harness.Operation]]] = {}
    all_synth: list[harness.Operation] = []
    for n in sizes:
        returns = factor_universe(n, args.days, seed=n)
        size = f"N={n} × {args.days}"
        ops = risk_ops(returns, size, avail) + optimiser_ops(returns, size, avail, skip)
        ops.append(frontier_op(returns, size, avail, skip))
        ops.append(pooling_op(returns, size))
        later = [m for m in sizes if m > n]
        for op in ops:
            # at the largest size, peers are timed on one (cold) call: a 60 s solve says enough
            harness.run_operation(op, repeats=args.repeats if n <= 500 else 1, peers_once=n > 500)
            print(f"  done: {op.name} [{size}]", flush=True)
            for peer, out in op.outcomes.items():
                if peer in ("poolkit", "numpy") or out.seconds is None or not later:
                    continue
                # the peers' QP solves grow about cubically with N; clustering and LPs about quadratically
                power = 3 if op.name in ("min_variance", "max_sharpe", "risk_parity") else 2
                projected = out.seconds * (later[0] / n) ** power
                if projected > PEER_BUDGET_S:
                    key = op.name if op.name in ("min_variance", "max_sharpe", "risk_parity", "hrp", "herc", "min_cvar") else "frontier"
                    skip[(peer, key)] = f"{out.seconds:.1f} s at N={n}, projected ≥ {projected:.0f} s"
            scaling.setdefault(op.name, {})[n] = op
        all_synth += ops
        write_results(args, [*sections, "## Synthetic universes so far\n\n" + table(all_synth, labels)], final=False)
    sections.append("## Synthetic factor-model universes (seeded, Student-t noise; see universe.py)\n\n" + table(all_synth, labels))
    if 500 in sizes:
        sections.append("## Speed targets\n\n" + "\n".join(target_lines(all_synth, f"N=500 × {args.days}")))

    # 3. scaling table: poolkit time per optimiser and size
    opt_names = ["min_variance", "max_sharpe", "risk_parity", "hrp", "herc", "min_cvar", "efficient frontier (50 points)",
                 "cluster_pools + two_level_allocation"]
    head = "| optimiser | " + " | ".join(f"N={n} s" for n in sizes) + " | growth per ×N |"
    rows = [head, "|" + "---|" * (len(sizes) + 2)]
    for name in opt_names:
        times = [scaling.get(name, {}).get(n) for n in sizes]
        secs = [t.outcomes["poolkit"].seconds if t and "poolkit" in t.outcomes else None for t in times]
        growth = "—"
        if len(sizes) > 1 and secs[0] and secs[-1]:
            growth = f"N^{np.log(secs[-1] / secs[0]) / np.log(sizes[-1] / sizes[0]):.2f}"
        rows.append(f"| {name} | " + " | ".join(fmt_s(s) for s in secs) + f" | {growth} |")
    sections.append("## Scaling of poolkit's optimisers with the number of assets\n\n" + "\n".join(rows))

    # 3b. the dense universe: optima that hold most assets, against Clarabel and the peers
    dense = [] if args.quick else args.dense_sizes
    if dense:
        import solvers

        sections.append(solvers.dense_section(dense, repeats=min(args.repeats, 3)))
        write_results(args, sections, final=False)

    # 4. loan pools
    ops = credit_ops()
    for op in ops:
        harness.run_operation(op, repeats=3)
        print(f"  done: {op.name}", flush=True)
    sections.append("## Loan pools (no peer offers these)\n\n" + table(ops, []))

    # 4b. systemic-risk indicators over rolling windows
    sections.append(systemic_section(args.days, [n for n in sizes if n <= 500], args.repeats))
    write_results(args, sections, final=False)

    # 4c. constraints (mandates) and min_cdar, at N = 500 (the targets' size) or the largest size up to it
    small = [n for n in sizes if n <= 500]
    if small:
        text = constraints.section([max(small)], args.days, args.repeats, avail, table)
        sections.append(f"{constraints.MARK_START}\n{text}\n{constraints.MARK_END}")
        write_results(args, sections, final=False)

    # 5. report runs
    if not (args.quick or args.no_reports):
        sections.append(report_section())

    write_results(args, sections, final=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

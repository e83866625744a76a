"""Benchmark rows for constraints and tail risk: constrained risk parity, HRP and HERC, min CDaR.

Operations (``constraint_ops``), in the format of ``harness.Operation`` so that ``run.py`` can
run them with the others:

- risk_parity, hrp, herc at N assets, unconstrained and under a mandate (max weight 2/N, ten
  sectors of N/10 assets each capped at 12 %, at least 5 %), poolkit only for the ratio
  constrained / unconstrained (target: at most 3× at N = 500), and the peers that take weight
  bounds (skfolio's RiskBudgeting, HRP and HERC; Riskfolio-Lib's HRP and HERC) on the bounds;
- min_cdar at N = 100 × 2520 days against PyPortfolioOpt's EfficientCDaR, Riskfolio-Lib and
  skfolio (target: poolkit within 0.5× of the fastest peer, i.e. at least twice as fast).

The peers solve related but not always identical problems under bounds: skfolio's risk
budgeting homogenises the constraints (w <= s u with 1'w = s) where poolkit fixes the scale by
the log-barrier multiplier (Richard & Roncalli 2019); skfolio's HERC applies bounds after the
tree by a relative-deviation QP where poolkit clips every split. Their agreement columns show
the size of that difference, not an error. Standalone::

    python benchmarks/constraints.py [--sizes 500] [--repeats 5] [--write benchmarks/results.md]
    python benchmarks/constraints.py --only-cdar --cdar-days 750 2520 --write benchmarks/results.md

``--write`` replaces this section of the results file between its markers (``run.py``
writes the same section in a full run); with ``--only-cdar`` only the min_cdar rows of the
section are replaced. Run alone, every library gets one BLAS thread (``--blas-threads``),
set before numpy is imported, as in ``estimators.py``; the 1-minute load average before and
after the rows is written beside them (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from blas import pin_blas_threads  # before numpy: BLAS reads its thread count once

if __name__ == "__main__":  # run alone: one BLAS thread for every library (see estimators.py)
    pin_blas_threads(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import peers  # noqa: E402
from universe import factor_universe  # noqa: E402

import poolkit as pk  # noqa: E402

CONVENTIONS = {
    "mandate": "max weight 2/N per asset; ten sectors (asset i in sector i mod 10), each between 5 % and 12 %",
    "risk_parity (bounds)": "equal risk budgets, sample covariance, 0 <= w <= 2/N; poolkit: Richard & Roncalli's "
    "problem (free assets keep equal contributions), skfolio: min risk s.t. sum log w >= 0 with homogenised "
    "bounds, a different problem once a bound binds; agreement = max |Δw|",
    "hrp (bounds)": "single linkage, leaf order of the tree, bounds clipped in every split (Pfitzinger & Katzke "
    "2019), the same rule in skfolio (agreement to rounding with its leaf order, which it optimises) and "
    "Riskfolio-Lib; agreement = max |Δw|",
    "herc (bounds)": "Ward linkage; poolkit clips every split and scales within clusters, skfolio applies the "
    "bounds after the tree (a relative-deviation QP); agreement = max |Δw|",
    "min_cdar": "long-only, CDaR at 95 % of the drawdowns of the uncompounded cumulative return (Chekhlov, "
    "Uryasev & Zabarankin 2005, an LP); agreement = signed relative difference of the CDaR objective, "
    "(peer − poolkit) / peer: > 0 means poolkit's CDaR is the lower",
}


def _mandate(assets: pd.Index) -> dict[str, object]:
    n = len(assets)
    groups = {a: f"sector {i % 10}" for i, a in enumerate(assets)}
    return {"bounds": (0.0, 2.0 / n), "groups": groups, "group_bounds": (0.05, 0.12)}


def _max_abs(a: pd.Series, b: pd.Series) -> float:
    return float(np.max(np.abs(a.to_numpy() - b.reindex(a.index).to_numpy())))


def _cdar_gap(returns: pd.DataFrame) -> Callable[[pd.Series, pd.Series], float]:
    from poolkit.allocation._measures import risk_model

    model, _ = risk_model(returns, "cdar")

    def gap(ours: pd.Series, theirs: pd.Series) -> float:
        a = float(model.value(ours.reindex(returns.columns).to_numpy()))
        b = float(model.value(theirs.reindex(returns.columns).to_numpy()))
        return (b - a) / b

    return gap


def constraint_ops(returns: pd.DataFrame, size: str, avail: dict[str, bool]) -> list[harness.Operation]:
    """Constrained vs unconstrained risk parity, HRP and HERC on ``returns`` (with the peers on bounds)."""
    cov = pk.risk.covariance(returns)
    n = returns.shape[1]
    mandate = _mandate(returns.columns)
    cap = 2.0 / n
    al = pk.allocation
    ops = [
        harness.Operation("risk_parity (unconstrained)", size, {"poolkit": lambda: al.risk_parity(cov)}),
        harness.Operation("risk_parity (mandate)", size, {"poolkit": lambda: al.risk_parity(cov, **mandate)},
                          convention=CONVENTIONS["mandate"]),
        harness.Operation("hrp (unconstrained)", size, {"poolkit": lambda: al.hrp(cov, "single")}),
        harness.Operation("hrp (mandate)", size, {"poolkit": lambda: al.hrp(cov, "single", **mandate)},
                          convention=CONVENTIONS["mandate"]),
        harness.Operation("herc (unconstrained)", size, {"poolkit": lambda: al.herc(cov, "ward")}),
        harness.Operation("herc (mandate)", size, {"poolkit": lambda: al.herc(cov, "ward", **mandate)},
                          convention=CONVENTIONS["mandate"]),
    ]
    rp_b = harness.Operation("risk_parity (bounds)", size, {"poolkit": lambda: al.risk_parity(cov, bounds=(0, cap))},
                             _max_abs, CONVENTIONS["risk_parity (bounds)"])
    hrp_b = harness.Operation("hrp (bounds)", size, {"poolkit": lambda: al.hrp(cov, "single", bounds=(0, cap))},
                              _max_abs, CONVENTIONS["hrp (bounds)"])
    herc_b = harness.Operation("herc (bounds)", size, {"poolkit": lambda: al.herc(cov, "ward", bounds=(0, cap))},
                               _max_abs, CONVENTIONS["herc (bounds)"])
    if avail.get("skfolio"):
        rp_b.impls["skfolio"] = lambda: skfolio_bounded("risk_parity", returns, cap)
        hrp_b.impls["skfolio"] = lambda: skfolio_bounded("hrp", returns, cap)
        herc_b.impls["skfolio"] = lambda: skfolio_bounded("herc", returns, cap)
    if avail.get("Riskfolio-Lib"):
        hrp_b.impls["Riskfolio-Lib"] = lambda: riskfolio_bounded("hrp", returns, cap)
        herc_b.impls["Riskfolio-Lib"] = lambda: riskfolio_bounded("herc", returns, cap)
    return [*ops, rp_b, hrp_b, herc_b]


def cdar_op(returns: pd.DataFrame, size: str, avail: dict[str, bool]) -> harness.Operation:
    """min_cdar against the peers that offer it."""
    op = harness.Operation("min_cdar", size, {"poolkit": lambda: pk.allocation.min_cdar(returns, 0.95)},
                           _cdar_gap(returns), CONVENTIONS["min_cdar"])
    if avail.get("PyPortfolioOpt"):
        op.impls["PyPortfolioOpt"] = lambda: pypfopt_cdar(returns)
    if avail.get("Riskfolio-Lib"):
        op.impls["Riskfolio-Lib"] = lambda: riskfolio_cdar(returns)
    if avail.get("skfolio"):
        op.impls["skfolio"] = lambda: skfolio_cdar(returns)
    return op


# --------------------------------------------------------------------------- peer adapters
def skfolio_bounded(method: str, returns: pd.DataFrame, cap: float) -> pd.Series:
    from skfolio import RiskMeasure
    from skfolio.cluster import HierarchicalClustering, LinkageMethod
    from skfolio.optimization import HierarchicalEqualRiskContribution, HierarchicalRiskParity, RiskBudgeting

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "risk_parity":
            model = RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, max_weights=cap)
        elif method == "hrp":
            model = HierarchicalRiskParity(
                risk_measure=RiskMeasure.VARIANCE, max_weights=cap,
                hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.SINGLE),
            )
        else:
            model = HierarchicalEqualRiskContribution(
                risk_measure=RiskMeasure.VARIANCE, max_weights=cap,
                hierarchical_clustering_estimator=HierarchicalClustering(linkage_method=LinkageMethod.WARD),
            )
        return pd.Series(model.fit(returns).weights_, index=returns.columns)


def riskfolio_bounded(method: str, returns: pd.DataFrame, cap: float) -> pd.Series:
    import riskfolio as rp

    port = rp.HCPortfolio(returns=returns, w_max=pd.Series(cap, index=returns.columns),
                          w_min=pd.Series(0.0, index=returns.columns))
    w = port.optimization(model=method.upper(), codependence="pearson", rm="MV", rf=0,
                          linkage="single" if method == "hrp" else "ward", leaf_order=method == "herc")
    return peers._series(w, returns.columns)


def pypfopt_cdar(returns: pd.DataFrame) -> pd.Series:
    from pypfopt import EfficientCDaR

    w = EfficientCDaR(returns.mean(), returns, beta=0.95, weight_bounds=(0, 1)).min_cdar()
    return peers._series(w, returns.columns)


def riskfolio_cdar(returns: pd.DataFrame) -> pd.Series:
    import riskfolio as rp

    port = rp.Portfolio(returns=returns)
    port.assets_stats(method_mu="hist", method_cov="hist")
    w = port.optimization(model="Classic", rm="CDaR", obj="MinRisk", rf=0, l=0, hist=True)
    if w is None:
        raise RuntimeError("Riskfolio returned None (solver failed)")
    return peers._series(w, returns.columns)


def skfolio_cdar(returns: pd.DataFrame) -> pd.Series:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk

    model = MeanRisk(risk_measure=RiskMeasure.CDAR, cdar_beta=0.95).fit(returns)
    return pd.Series(model.weights_, index=returns.columns)


# --------------------------------------------------------------------------- targets
def ratio_lines(ops: list[harness.Operation], size: str) -> list[str]:
    """Constrained / unconstrained time of poolkit's risk parity, HRP and HERC (target: at most 3×)."""
    times = {op.name: op.outcomes["poolkit"].seconds for op in ops
             if op.size == size and "poolkit" in op.outcomes and op.outcomes["poolkit"].seconds is not None}
    lines = [f"| target ({size}) | unconstrained s | mandate s | ratio | met? |", "|---|---|---|---|---|"]
    for method in ("risk_parity", "hrp", "herc"):
        free, held = times.get(f"{method} (unconstrained)"), times.get(f"{method} (mandate)")
        if free is None or held is None:
            lines.append(f"| {method}: mandate within 3× | — | — | — | not run |")
            continue
        ratio = held / free
        lines.append(f"| {method}: mandate within 3× | {free:.4f} | {held:.4f} | {ratio:.2f}× | "
                     f"{'yes' if ratio <= 3.0 else 'MISSED'} |")
    return lines


def cdar_line(op: harness.Operation) -> str:
    """min_cdar: poolkit's time at most half the fastest peer's."""
    ours = op.outcomes.get("poolkit")
    peer_times = {k: v.seconds for k, v in op.outcomes.items() if k != "poolkit" and v.seconds is not None}
    if ours is None or ours.seconds is None or not peer_times:
        return f"| min_cdar ({op.size}): within 0.5× of the fastest peer | — | — | — | not run |"
    fastest = min(peer_times, key=peer_times.get)
    ratio = ours.seconds / peer_times[fastest]
    return (f"| min_cdar ({op.size}): within 0.5× of the fastest peer | {ours.seconds:.4f} | {fastest} "
            f"{peer_times[fastest]:.4f} | {ratio:.2g}× | {'yes' if ratio <= 0.5 else 'MISSED'} |")


MARK_START = "<!-- constraints: written by benchmarks/constraints.py -->"
MARK_END = "<!-- constraints: end -->"


def cdar_rows(days: int, repeats: int, avail: dict[str, bool],
              table: Callable[[list[harness.Operation], list[str]], str]) -> list[str]:
    """Run min_cdar at N = 100 × ``days`` against the peers; return its subsection (markdown lines)."""
    labels = ["skfolio", "Riskfolio-Lib", "PyPortfolioOpt"]
    returns = factor_universe(100, days, seed=100)
    op = cdar_op(returns, f"N=100 × {days}", avail)
    before = os.getloadavg()[0]
    harness.run_operation(op, repeats=repeats)
    after = os.getloadavg()[0]
    print(f"  done: {op.name} [{op.size}]", flush=True)
    return [f"### min_cdar, N=100 × {days}", "", table([op], labels), "",
            "| target | poolkit s | fastest peer | ratio | met? |", "|---|---|---|---|---|", cdar_line(op), "",
            f"1-minute load average {before:.1f} before these rows, {after:.1f} after ({os.cpu_count()} cores).", ""]


def section(sizes: list[int], days: int, repeats: int, avail: dict[str, bool],
            table: Callable[[list[harness.Operation], list[str]], str], *,
            cdar_days: int | Sequence[int] | None = None, header: bool = True) -> str:
    """Run the constraint and min_cdar rows; return the markdown section for results.md.

    ``sizes`` may be empty (min_cdar only); ``cdar_days`` (one number of days or several) = 0
    or empty skips min_cdar.
    """
    labels = ["skfolio", "Riskfolio-Lib", "PyPortfolioOpt"]
    if cdar_days is None:
        cdar_days = [days]
    elif isinstance(cdar_days, int):
        cdar_days = [cdar_days] if cdar_days else []
    out: list[str] = [
        "## Constraints and tail risk (mandates; min_cdar)", "",
        "poolkit under a mandate against poolkit without it (the ratio targets), and against the peers "
        "that take weight bounds or offer min CDaR. " + CONVENTIONS["mandate"][:1].upper() + CONVENTIONS["mandate"][1:] + ".", "",
    ] if header else []
    for n in sizes:
        returns = factor_universe(n, days, seed=n)
        size = f"N={n} × {days}"
        ops = constraint_ops(returns, size, avail)
        for op in ops:
            harness.run_operation(op, repeats=repeats)
            print(f"  done: {op.name} [{size}]", flush=True)
        out += [f"### Constraints, {size}", "", table(ops, labels), "", *ratio_lines(ops, size), ""]
    for d in cdar_days:
        out += cdar_rows(d, repeats, avail, table)
    if header:
        out += ["### Conventions of these rows", "", *[f"- **{k}**: {v}" for k, v in CONVENTIONS.items()]]
    return "\n".join(out)


def splice(path: Path, text: str) -> None:
    """Put ``text`` between the markers in ``path`` (replacing the previous run), else append it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{MARK_START}\n{text}\n{MARK_END}"
    if MARK_START in old and MARK_END in old:
        head, rest = old.split(MARK_START, 1)
        new = head + block + rest.split(MARK_END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    _write(path, new)


def splice_cdar(path: Path, text: str) -> None:
    """Replace only the min_cdar subsections (and their run line) of the section in ``path`` with ``text``.

    The constraint rows of an earlier full run stay as they are; without an earlier section
    the min_cdar rows become the section.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARK_START not in old or MARK_END not in old:
        splice(path, text)
        return
    head, rest = old.split(MARK_START, 1)
    body, tail = rest.split(MARK_END, 1)
    kept: list[str] = []
    skipping = False
    for line in body.split("\n"):
        if line.startswith("### "):
            skipping = line.startswith("### min_cdar")
        if line.startswith("min_cdar rows: run "):
            continue
        if not skipping:
            kept.append(line)
    lines = "\n".join(kept).strip("\n").split("\n")
    at = next((i for i, line in enumerate(lines) if line.startswith("### Conventions")), len(lines))
    new_lines = [*lines[:at], *text.strip("\n").split("\n"), "", *lines[at:]]
    _write(path, head + MARK_START + "\n" + "\n".join(new_lines) + "\n" + MARK_END + tail)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    import datetime as dt
    import platform

    from run import table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[500])
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cdar-days", type=int, nargs="+", default=None,
                        help="days of the min_cdar universe, one or several (default --days; 0 skips min_cdar)")
    parser.add_argument("--only-cdar", action="store_true",
                        help="run the min_cdar rows only and replace only them in the --write file")
    parser.add_argument("--blas-threads", default="1", help="BLAS threads of every library (default 1)")
    parser.add_argument("--write", type=Path, default=None,
                        help="splice the section into this results file (e.g. benchmarks/results.md)")
    args = parser.parse_args(argv)
    avail = peers.available()
    cdar_days = [d for d in (args.cdar_days or [args.days]) if d]
    vers = ", ".join(f"{k} {v}" for k, v in peers.versions().items())
    stamp = (f"run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/constraints.py`, "
             f"{os.cpu_count()} cores, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
             f"Python {platform.python_version()}, poolkit {pk.__version__}; {vers}. Medians of {args.repeats} "
             f"alternating runs after a warm-up (one timed run for calls slower than 2 s).")
    if args.only_cdar:
        text = "\n".join(line for d in cdar_days for line in cdar_rows(d, args.repeats, avail, table))
        text += "\nmin_cdar rows: " + stamp
    else:
        text = section(args.sizes, args.days, args.repeats, avail, table, cdar_days=cdar_days)
        text += "\n\n" + stamp[0].upper() + stamp[1:]
    print(text)
    if args.write is not None:
        (splice_cdar if args.only_cdar else splice)(args.write, text)
        print(f"written: {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

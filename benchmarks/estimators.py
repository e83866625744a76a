"""poolkit's covariance estimators and path statistics against the peers that offer them, in one run.

Usage::

    python benchmarks/estimators.py [--sizes 100 500] [--days 2520] [--repeats 5] [--blas-threads 1] [--out PATH]

Same method as ``run.py`` (``harness.py``): every implementation runs once to warm up,
then all take turns ``repeats`` times; the table gives the median seconds, the ratio
peer / poolkit (> 1: poolkit is faster) and the agreement with each peer under the
convention written below the table. Data: the bundled 20-stock sample (where the
Marchenko-Pastur fit is weakest: few eigenvalues for the kernel density) and the seeded
factor-model universes of ``universe.py``. BLAS runs single-threaded by default for every
library alike (``--blas-threads``): on a shared, loaded machine multi-threaded BLAS calls
wait for busy cores and their timings say more about the load than about the code.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path

from blas import pin_blas_threads  # before numpy: BLAS reads its thread count once

pin_blas_threads(sys.argv)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
import peers  # noqa: E402
from run import cpu_name, table  # noqa: E402
from universe import factor_universe  # noqa: E402

import poolkit as pk  # noqa: E402

CONVENTIONS = {
    "semicovariance": "E[min(r_i - B, 0) min(r_j - B, 0)], divisor T, per period, B = 0 (PyPortfolioOpt "
    "risk_models.semicovariance with benchmark=0, frequency=1). Riskfolio-Lib's covar_matrix(method='semi') "
    "uses each asset's mean as B and divides by T - 1: timed, not compared",
    "LW single index": "Ledoit & Wolf (2003), demeaned, ddof=0, market = equal-weighted average of the assets "
    "(PyPortfolioOpt CovarianceShrinkage.ledoit_wolf('single_factor'), frequency=1)",
    "LW constant correlation": "Ledoit & Wolf (2004), ddof=0 as the authors' covCor.m. PyPortfolioOpt "
    "builds the target from the ddof=1 covariance: an O(1/T) difference (the tests show exact agreement "
    "once its covariance is set to the ddof=0 one)",
    "denoise": "López de Prado (2020) ch. 2 on the sample covariance (ddof=1): Marchenko-Pastur fit by "
    "L-BFGS-B from 0.5, Gaussian KDE bandwidth 0.01 on 1000 points, q = T/N, constant residual "
    "eigenvalues (skfolio DenoiseCovariance with nearest=False; Riskfolio-Lib covar_matrix(method='fixed'))",
    "detone": "remove the first principal component of the correlation and re-scale to a unit diagonal "
    "(skfolio DetoneCovariance with nearest=False; Riskfolio-Lib's detone does not re-scale: not run)",
    "path statistics": "ulcer index, average drawdown, stability, up/down capture, up/down beta against "
    "the equal-weighted average of the assets as benchmark, 252 periods a year. empyrical and "
    "quantstats take one series at a time (looped over assets, as their users would); quantstats' "
    "ulcer index (divisor T - 1) is rescaled by sqrt((T-1)/T); Riskfolio-Lib's ADD is reported positive "
    "(sign flipped)",
}


class Different:
    """A peer result under another convention: timed, not compared."""

    def __init__(self, value: object) -> None:
        self.value = value


def rel_to_max(a: object, b: object) -> float:
    """max |a - b| / max |b| over the aligned matrices (or tables)."""
    if isinstance(b, Different):
        raise TypeError("not comparable")
    x = np.asarray(pd.DataFrame(a).to_numpy(dtype=float))
    if isinstance(b, pd.DataFrame) and isinstance(a, pd.DataFrame):
        common = [c for c in a.columns if c in b.columns]
        x = a[common].to_numpy(dtype=float)
        y = b.reindex(index=a.index)[common].to_numpy(dtype=float)
    else:
        y = np.asarray(b, dtype=float)
    return float(np.max(np.abs(x - y)) / np.max(np.abs(y)))


# --------------------------------------------------------------------------- peer adapters
def pypfopt_semicov(r: pd.DataFrame) -> pd.DataFrame:
    from pypfopt import risk_models

    return risk_models.semicovariance(r, returns_data=True, benchmark=0.0, frequency=1)


def pypfopt_lw(r: pd.DataFrame, target: str) -> pd.DataFrame:
    from pypfopt import risk_models

    return risk_models.CovarianceShrinkage(r, returns_data=True, frequency=1).ledoit_wolf(target)


def skfolio_clean(r: pd.DataFrame, kind: str) -> np.ndarray:
    from skfolio.moments import DenoiseCovariance, DetoneCovariance, EmpiricalCovariance

    est = DenoiseCovariance if kind == "denoise" else DetoneCovariance
    return est(covariance_estimator=EmpiricalCovariance(), nearest=False).fit(r.to_numpy()).covariance_


def riskfolio_cov(r: pd.DataFrame, method: str) -> object:
    import riskfolio as rp

    cov = rp.ParamsEstimation.covar_matrix(r, method=method)
    return Different(cov) if method == "semi" else cov


def stats_table(r: pd.DataFrame, b: pd.Series) -> pd.DataFrame:
    risk = pk.risk
    return pd.DataFrame(
        {
            "ulcer": risk.ulcer_index(r),
            "add": risk.average_drawdown(r),
            "stability": risk.stability(r),
            "up_capture": risk.up_capture(r, b, periods_per_year=252),
            "down_capture": risk.down_capture(r, b, periods_per_year=252),
            "up_beta": risk.up_beta(r, b),
            "down_beta": risk.down_beta(r, b),
        }
    )


def empyrical_stats(r: pd.DataFrame, b: pd.Series) -> pd.DataFrame:
    import empyrical as ep

    rows = {}
    for col in r.columns:
        x = r[col]
        rows[col] = {
            "stability": ep.stability_of_timeseries(x),
            "up_capture": ep.up_capture(x, b),
            "down_capture": ep.down_capture(x, b),
            "up_beta": ep.up_alpha_beta(x, b)[1],
            "down_beta": ep.down_alpha_beta(x, b)[1],
        }
    return pd.DataFrame(rows).T


def quantstats_stats(r: pd.DataFrame) -> pd.DataFrame:
    import quantstats as qs

    t = len(r)
    return pd.DataFrame({"ulcer": {c: qs.stats.ulcer_index(r[c]) * np.sqrt((t - 1) / t) for c in r.columns}})


def riskfolio_stats(r: pd.DataFrame) -> pd.DataFrame:
    import riskfolio as rp

    return pd.DataFrame(
        {
            "ulcer": {c: rp.RiskFunctions.UCI_Rel(r[c].to_numpy()) for c in r.columns},
            "add": {c: -rp.RiskFunctions.ADD_Rel(r[c].to_numpy()) for c in r.columns},
        }
    )


# --------------------------------------------------------------------------- operations
def operations(r: pd.DataFrame, size: str, avail: dict[str, bool]) -> list[harness.Operation]:
    risk = pk.risk
    ops = []
    impls = {"poolkit": lambda: risk.semicovariance(r)}
    if avail["PyPortfolioOpt"]:
        impls["PyPortfolioOpt"] = lambda: pypfopt_semicov(r)
    if avail["Riskfolio-Lib"]:
        impls["Riskfolio-Lib"] = lambda: riskfolio_cov(r, "semi")
    ops.append(harness.Operation("semicovariance", size, impls, rel_to_max, CONVENTIONS["semicovariance"]))
    for name, ours, theirs in (
        ("LW single index", "single_index", "single_factor"),
        ("LW constant correlation", "constant_correlation", "constant_correlation"),
    ):
        impls = {"poolkit": lambda t=ours: risk.covariance(r, "ledoit_wolf", shrinkage_target=t)}
        if avail["PyPortfolioOpt"]:
            impls["PyPortfolioOpt"] = lambda t=theirs: pypfopt_lw(r, t)
        ops.append(harness.Operation(name, size, impls, rel_to_max, CONVENTIONS[name]))
    impls = {"poolkit": lambda: risk.covariance(r, denoise=True)}
    if avail["skfolio"]:
        impls["skfolio"] = lambda: skfolio_clean(r, "denoise")
    if avail["Riskfolio-Lib"]:
        impls["Riskfolio-Lib"] = lambda: riskfolio_cov(r, "fixed")
    ops.append(harness.Operation("denoise", size, impls, rel_to_max, CONVENTIONS["denoise"]))
    impls = {"poolkit": lambda: risk.covariance(r, detone=True)}
    if avail["skfolio"]:
        impls["skfolio"] = lambda: skfolio_clean(r, "detone")
    ops.append(harness.Operation("detone", size, impls, rel_to_max, CONVENTIONS["detone"]))
    bench = r.mean(axis=1)
    impls = {"poolkit": lambda: stats_table(r, bench)}
    if avail["empyrical"]:
        impls["empyrical"] = lambda: empyrical_stats(r, bench)
    if avail["quantstats"]:
        impls["quantstats"] = lambda: quantstats_stats(r)
    if avail["Riskfolio-Lib"]:
        impls["Riskfolio-Lib"] = lambda: riskfolio_stats(r)
    ops.append(harness.Operation("path statistics", size, impls, rel_to_max, CONVENTIONS["path statistics"]))
    return ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--days", type=int, default=2520)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads of every library")
    parser.add_argument("--out", type=Path, default=HERE / "estimators_results.md")
    args = parser.parse_args(argv)
    avail = peers.available()
    print("peers available:", ", ".join(k for k, v in avail.items() if v) or "none", flush=True)
    labels = ["PyPortfolioOpt", "skfolio", "Riskfolio-Lib", "empyrical", "quantstats"]
    datasets = [("sample", pk.data.load_returns("sample"))]
    datasets += [(f"N={n} × {args.days}", factor_universe(n, args.days, seed=n)) for n in args.sizes]
    all_ops: list[harness.Operation] = []
    for label, r in datasets:
        size = f"{label}" if label != "sample" else f"sample {r.shape[1]} × {r.shape[0]}"
        for op in operations(r, size, avail):
            harness.run_operation(op, repeats=args.repeats)
            print(f"  done: {op.name} [{size}]", flush=True)
            all_ops.append(op)
    vers = ", ".join(f"{k} {v}" for k, v in peers.versions().items())
    notes = "\n".join(f"- **{k}**: {v}" for k, v in CONVENTIONS.items())
    text = (
        f"# poolkit covariance estimators and path statistics\n\nRun {dt.datetime.now():%Y-%m-%d %H:%M} on "
        f"{cpu_name()} ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, BLAS threads "
        f"{args.blas_threads}), Python "
        f"{platform.python_version()}, poolkit {pk.__version__}.\nPackages: {vers}.\n\n"
        f"Ratios are peer time / poolkit time: above 1× poolkit is faster. Medians of {args.repeats} "
        f"alternating runs after a warm-up (one timed run for calls slower than 2 s). Agreement: "
        f"max |poolkit − peer| / max |peer|.\n\n"
        + table(all_ops, labels)
        + "\n\n## Conventions behind the agreement column\n\n"
        + notes
        + "\n"
    )
    print(text)
    args.out.write_text(text, encoding="utf-8")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

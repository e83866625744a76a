"""Securitisation benchmark: the vectorised waterfall against a scalar reference waterfall.

No peer library runs a deal's waterfall in a notebook (the open deal engines need a server),
so the yardstick is an independent, deliberately plain implementation of the same rules for
the bundled senior/subordinate deal: a Python loop over scenarios, months and tranches. It
gives the agreement column (tranche losses and principal, scenario by scenario) and the
speed ratio. Cases: the headline (10,000 simulated pools x 360 months x 6 tranches), one
scenario (where vectorising across scenarios cannot help: the month loop's overhead is all
there is), every month kept (``record="full"``), many tranches, and the loan-level
simulation that feeds the waterfall.

    python benchmarks/securitisation.py            # the full run (about a minute on 2 cores)
    python benchmarks/securitisation.py --quick    # a smoke run

Wall-clock and CPU seconds are both reported: on a shared machine the wall clock includes
waiting for a core.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import poolkit as pk
from poolkit.credit._deal import STANDARD_SHIFTING_INTEREST

C = pk.credit
FIELDS = ("interest", "principal", "principal_loss", "voluntary_prepayments", "principal_recovery", "beginning_balance")


def reference_waterfall(deal: Any, flows: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pay simulated pools to a senior/subordinate deal with plain Python loops (the independent check).

    Rules (those of ``run_waterfall`` for senior/subordinate and sequential deals whose excess
    spread is released): interest by seniority with
    shortfalls carried; excess spread released; the month's losses written off from the most
    junior tranche up before principal is shared; the seniors receive SP x scheduled +
    (SP + s (1 - SP)) x (prepaid + recovered) with the standard step-down (s = 100 % while the
    cumulative loss test fails or SP rose above its closing value), in order of seniority; the
    subordinates the rest, in order; what no subordinate can take goes back to the seniors.
    Returns principal paid and principal written down, each (n_scenarios, n_tranches).
    """
    order = sorted(deal.tranches, key=deal.seniority_of)
    names = [t.name for t in order]
    senior = [deal.tranche_type(t) != "subordinate" for t in order]
    coupons = [float(t.coupon) / 12.0 for t in order]
    b0 = [deal.balance_of(t) for t in order]
    coll = float(deal.collateral.balance)
    sched = list(deal.shifting_interest.schedule if deal.shifting_interest else STANDARD_SHIFTING_INTEREST)
    limit = (deal.shifting_interest.cumulative_loss_limit or np.inf) * coll if deal.shifting_interest else np.inf
    sp0 = sum(b for b, s in zip(b0, senior, strict=True) if s) / coll
    n_s, months = flows["principal"].shape
    paid_out = np.zeros((n_s, len(order)))
    written_out = np.zeros((n_s, len(order)))
    for s in range(n_s):
        b = list(b0)
        short = [0.0] * len(b)
        cum_loss = 0.0
        begin = coll
        for k in range(months):
            cash_i = flows["interest"][s, k]
            cash_p = flows["principal"][s, k]
            loss = flows["principal_loss"][s, k]
            unsched = min(flows["voluntary_prepayments"][s, k] + flows["principal_recovery"][s, k], cash_p)
            end = max(begin - cash_p - loss, 0.0)
            funds = cash_i
            for j in range(len(b)):  # interest by seniority
                due = b[j] * coupons[j] + short[j]
                pay = min(due, funds)
                funds -= pay
                short[j] = due - pay
            gap = max(sum(b) - cash_p - end, 0.0)
            for j in reversed(range(len(b))):  # losses from the bottom up
                cut = min(gap, b[j])
                b[j] -= cut
                gap -= cut
                written_out[s, j] += cut
            sp = min(max(sum(x for x, sen in zip(b, senior, strict=True) if sen) / begin, 0.0), 1.0) if begin > 0 else 1.0
            shift = sched[min(k // 12, len(sched) - 1)]
            if cum_loss + loss > limit or sp > sp0 + 1e-12:
                shift = 1.0
            to_senior = min(sp * (cash_p - unsched) + (sp + shift * (1.0 - sp)) * unsched, cash_p)
            left = cash_p
            for group, budget in ((True, to_senior), (False, None), (True, None)):
                room = left if budget is None else budget
                for j in range(len(b)):
                    if senior[j] != group:
                        continue
                    pay = min(b[j], room)
                    b[j] -= pay
                    room -= pay
                    left -= pay
                    paid_out[s, j] += pay
            cum_loss += loss
            begin = end
    cols = [names.index(t.name) for t in deal.tranches]
    return paid_out[:, cols], written_out[:, cols]


def timed(func: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Median wall-clock and CPU seconds of ``repeats`` calls after one warm-up."""
    result = func()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = func()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), result


def fmt(seconds: float) -> str:
    return f"{seconds:.4f}" if seconds < 1 else f"{seconds:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=10_000, help="simulated pools of the headline case")
    parser.add_argument("--reference", type=int, default=100, help="scenarios run by the scalar reference")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 pools, 20 reference scenarios, one repeat")
    args = parser.parse_args(argv)
    n_sims, n_ref, repeats = (1000, 20, 1) if args.quick else (args.sims, args.reference, args.repeats)

    deal = C.load_deal("senior_sub")
    rows: list[str] = []

    def row(case: str, size: str, wall: float, cpu: float, ref: float | None = None, agree: str = "—") -> None:
        ratio = f"{ref / cpu:.2g}×" if ref else "—"
        rows.append(f"| {case} | {size} | {fmt(wall)} | {fmt(cpu)} | {fmt(ref) if ref else '—'} | {ratio} | {agree} |")
        print(rows[-1], flush=True)

    def reference(deal: Any, flows: dict[str, np.ndarray]) -> tuple[float, np.ndarray, np.ndarray]:
        """CPU seconds per scenario of the scalar reference, and its results."""
        c0 = time.process_time()
        paid, written = reference_waterfall(deal, flows)
        return (time.process_time() - c0) / flows["principal"].shape[0], paid, written

    def agreement(res: Any, paid: np.ndarray, written: np.ndarray, scale: float) -> str:
        n = paid.shape[0]
        gap = max(np.abs(res.arrays["total_principal"][:n] - paid).max(),
                  np.abs(res.arrays["total_writedown"][:n] - written).max()) / scale
        return f"{gap:.1e} of the pool ({n} scenarios)"

    sim = lambda: C.simulate_pool_cashflows(  # noqa: E731
        100e6, 0.08, 360, n_loans=1000, pd=0.08, lgd=0.35, rho=0.12, net_coupon=0.075, prepayment="150 PSA",
        recovery_lag=12, n_sims=n_sims, seed=1983)
    wall, cpu, sims = timed(sim, 1)
    row("loan-level simulation (one-factor defaults, monthly cash flows)", f"{n_sims:,} pools × 360 months", wall, cpu)
    flows = {f: getattr(sims, f) for f in FIELDS}

    # the headline: every pool through the 6-tranche waterfall, totals kept
    wall, cpu, res = timed(lambda: C.run_waterfall(deal, flows, record="summary"), repeats)
    subset = {f: v[:n_ref] for f, v in flows.items()}
    ref_per_scenario, ref_paid, ref_written = reference(deal, subset)
    row("waterfall, senior/subordinate with shifting interest (totals)", f"{n_sims:,} × 360 × 6 tranches", wall, cpu,
        ref_per_scenario * n_sims, agreement(res, ref_paid, ref_written, float(deal.collateral.balance)))

    # weakest case: one scenario, nothing to vectorise across
    one = {f: v[:1] for f, v in flows.items()}
    wall, cpu, _ = timed(lambda: C.run_waterfall(deal, one), repeats)
    row("waterfall, one scenario (the month loop's overhead)", "1 × 360 × 6", wall, cpu, reference(deal, one)[0])

    # every month kept, as the notebooks and the explorer use it
    n_full = min(n_sims, 1000)
    part = {f: v[:n_full] for f, v in flows.items()}
    wall, cpu, _ = timed(lambda: C.run_waterfall(deal, part, record="full"), repeats)
    row("waterfall, every month kept (record='full')", f"{n_full:,} × 360 × 6", wall, cpu, ref_per_scenario * n_full)

    # many tranches: 30 sequential classes
    many = C.Deal("thirty", C.Collateral(balance=100e6), tuple(
        C.Tranche(f"T{i:02d}", share=1 / 30, coupon=0.05, seniority=i + 1) for i in range(30)), excess_spread="release")
    wall, cpu, res = timed(lambda: C.run_waterfall(many, part, record="summary"), repeats)
    per, paid, written = reference(many, {f: v[:n_ref] for f, v in part.items()})
    row("waterfall, 30 sequential tranches (totals)", f"{n_full:,} × 360 × 30", wall, cpu, per * n_full,
        agreement(res, paid, written, float(many.collateral.balance)))

    # a PAC/support deal by speed: the prospectus table
    pac = C.load_deal("fabozzi_cmo3")
    wall, cpu, _ = timed(lambda: C.prospectus_table(pac, [0, 50, 100, 150, 200, 300, 400]), repeats)
    row("prospectus table (PAC/support, 7 speeds, yields and durations)", "7 × 357 × 2", wall, cpu)

    head = ("| case | size | poolkit wall s | poolkit CPU s | scalar reference CPU s | reference/poolkit (CPU) | agreement |\n"
            "|---|---|---|---|---|---|---|")
    print(f"\n## Securitisation (poolkit {pk.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})\n")
    print(head)
    print("\n".join(rows))
    print("\nThe reference's time for more scenarios than it ran is its CPU time per scenario times the count; the "
          "ratio compares CPU seconds (steadier than the wall clock on a shared machine).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

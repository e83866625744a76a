"""Timing harness: every implementation of an operation in one process, alternating.

For each operation, every implementation runs once to warm up (imports, caches,
JIT), then the implementations take turns ``repeats`` times (poolkit, peer 1,
peer 2, ..., poolkit, ...) so that machine noise hits them alike; the median of
each one's times is reported. A peer that raises is recorded as failed with the
error's first line, never silently dropped.
"""

from __future__ import annotations

import statistics
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """Timings and result of one implementation of one operation."""

    seconds: float | None = None
    result: Any = None
    error: str | None = None
    note: str = ""


@dataclass
class Operation:
    """One row of the benchmark table."""

    name: str
    size: str
    impls: dict[str, Callable[[], Any]]
    agreement: Callable[[Any, Any], float] | None = None
    convention: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def run_operation(op: Operation, *, repeats: int = 5, slow: float = 2.0, peers_once: bool = False) -> Operation:
    """Warm up every implementation once, then time them alternately; store medians.

    The warm-up call is never timed (it pays imports and caches). Implementations
    that take longer than ``slow`` seconds on warm-up are timed once more only
    (repeating a 30 s peer call adds nothing but time). With ``peers_once``, peers
    are timed on their first call only (marked "first call").
    """
    rounds: dict[str, int] = {}
    for name, func in op.impls.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            try:
                result = func()
            except Exception as exc:  # a peer failing is a result, not a crash
                op.outcomes[name] = Outcome(error=_first_line(exc))
                if name == "poolkit":
                    traceback.print_exc()
                continue
            elapsed = time.perf_counter() - start
        op.outcomes[name] = Outcome(result=result)
        if peers_once and name != "poolkit":
            op.outcomes[name].seconds = elapsed
            op.outcomes[name].note = "first call"
            continue
        rounds[name] = 1 if elapsed > slow else repeats
    times: dict[str, list[float]] = {k: [] for k in rounds}
    for turn in range(max(rounds.values(), default=0)):
        for name, n in rounds.items():
            if turn >= n:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                op.impls[name]()
                times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        op.outcomes[name].seconds = statistics.median(values)
        if len(values) == 1 and repeats > 1:
            op.outcomes[name].note = "one run"
    return op


def agreement_of(op: Operation, peer: str) -> float | None:
    """Agreement between poolkit's result and ``peer``'s (None when not comparable)."""
    if op.agreement is None:
        return None
    ours, theirs = op.outcomes.get("poolkit"), op.outcomes.get(peer)
    if ours is None or theirs is None or ours.error or theirs.error:
        return None
    try:
        return float(op.agreement(ours.result, theirs.result))
    except Exception:  # agreement is a report column; a shape mismatch is shown as n/a
        return None

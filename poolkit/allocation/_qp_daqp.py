"""DAQP, the dual active-set solver, as the QP engine's last resort on small problems (see :mod:`._qp`)."""

from __future__ import annotations

import numpy as np

from poolkit.allocation._qp import KKT_TOL, RIDGES, _Failed, _Scaled, _verified

__all__ = ["solve_daqp"]


def solve_daqp(p: _Scaled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the scaled problem with DAQP (ridges tried in turn); return ``(x, y, z)`` or raise _Failed."""
    import daqp

    n, m = p.n, p.m
    sense = np.zeros(n + m, dtype=np.intc)
    sense[n:][p.a_lo == p.a_hi] = 5
    big = 1e30  # DAQP's own encoding of "no bound"; never used in a check
    bl = np.concatenate([np.where(np.isfinite(p.lower), p.lower, -big), np.where(np.isfinite(p.a_lo), p.a_lo, -big)])
    bu = np.concatenate([np.where(np.isfinite(p.upper), p.upper, big), np.where(np.isfinite(p.a_hi), p.a_hi, big)])
    for ridge in (0.0, *RIDGES):
        h = p.h + ridge * np.eye(n) if ridge else p.h
        x, _fval, flag, info = daqp.solve(
            np.ascontiguousarray(h),
            np.ascontiguousarray(p.f),
            np.ascontiguousarray(p.a),
            np.ascontiguousarray(bu),
            np.ascontiguousarray(bl),
            sense,
            primal_tol=1e-12,
            iter_limit=100 * (n + m) + 1000,
            eps_prox=0.0,
        )
        x = np.asarray(x, dtype="float64")
        if flag in (1, 2) and np.isfinite(x).all():
            lam = np.asarray(info["lam"], dtype="float64")
            if _verified(p, x, lam[n:], lam[:n], KKT_TOL)[0]:
                return x, lam[n:], lam[:n]
    raise _Failed(f"DAQP exit flag {flag}, or no verified answer")

"""Seeded synthetic data for the benchmark: a factor-model stock universe and a loan pool.

Returns follow a linear factor model with fat-tailed (Student-t) noise::

    r_{t,i} = mu_i + sum_k beta_{i,k} f_{t,k} + sigma_i * eps_{t,i}

with K = 5 factors (a market factor of 1 %/day volatility and four style factors of
0.4 %/day), market betas ~ N(1, 0.3²), style loadings ~ N(0, 0.5²), idiosyncratic
volatilities ~ U(1 %, 2.5 %)/day, mu_i ~ N(0.03 %, 0.02 %²)/day, and eps and f
scaled Student-t with 4 degrees of freedom (unit variance). Dates are business days
from 2010-01-04. Everything is drawn from ``numpy.random.default_rng(seed)``, so a
(n_assets, n_days, seed) triple always gives the same frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

N_FACTORS = 5
DOF = 4.0


def _t(rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(DOF, size=size) * np.sqrt((DOF - 2.0) / DOF)


def factor_universe(n_assets: int, n_days: int = 2520, seed: int = 0) -> pd.DataFrame:
    """Daily simple returns of ``n_assets`` synthetic stocks over ``n_days`` business days."""
    rng = np.random.default_rng(seed)
    factor_vol = np.array([0.010] + [0.004] * (N_FACTORS - 1))
    betas = np.column_stack(
        [rng.normal(1.0, 0.3, n_assets), rng.normal(0.0, 0.5, (n_assets, N_FACTORS - 1))]
    )
    idio = rng.uniform(0.010, 0.025, n_assets)
    mu = rng.normal(0.0003, 0.0002, n_assets)
    factors = _t(rng, (n_days, N_FACTORS)) * factor_vol
    noise = _t(rng, (n_days, n_assets)) * idio
    values = mu + factors @ betas.T + noise
    values = np.maximum(values, -0.95)  # a simple return cannot fall below -100 %
    index = pd.bdate_range("2010-01-04", periods=n_days, name="date")
    columns = [f"S{i:04d}" for i in range(n_assets)]
    return pd.DataFrame(values, index=index, columns=columns)


def loan_tape(n_loans: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """A seeded table of fixed-rate mortgages: balance, rate, remaining_term, age (months)."""
    rng = np.random.default_rng(seed)
    term = rng.choice([180, 240, 360], size=n_loans, p=[0.2, 0.1, 0.7])
    age = (rng.uniform(0.0, 0.3, n_loans) * term).astype(int)
    return pd.DataFrame(
        {
            "balance": np.round(rng.lognormal(np.log(250_000), 0.5, n_loans), 2),
            "rate": np.round(rng.uniform(0.03, 0.08, n_loans), 4),
            "remaining_term": term - age,
            "age": age,
        },
        index=pd.Index([f"L{i:05d}" for i in range(n_loans)], name="loan"),
    )

"""Properties of the credit functions: results invariant to loan order, labels and money units,
and pd / lgd / rho impossible to swap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolkit import credit
from poolkit.exceptions import ParameterError

MONEY = [c for c in credit.CASHFLOW_COLUMNS if c not in ("smm", "mdr")]
ASSUMPTIONS = dict(prepayment="150 PSA", default="100 SDA", severity=0.35, recovery_lag=6)


def _loans(n: int, seed: int, segments: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "balance": rng.uniform(10_000, 500_000, n),
        "rate": rng.uniform(0.02, 0.10, n),
        "remaining_term": rng.integers(12, 361, n),
        "age": rng.integers(0, 120, n),
    }, index=[f"loan{i}" for i in range(n)])
    if segments:
        frame["segment"] = rng.choice(["prime", "subprime", "jumbo"], n)
    return frame


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 25), seed=st.integers(0, 10_000), segments=st.booleans(), data=st.data())
def test_loan_order_and_labels_do_not_change_the_pool(n, seed, segments, data):
    loans = _loans(n, seed, segments)
    perm = data.draw(st.permutations(range(n)))
    shuffled = loans.iloc[list(perm)].set_axis([f"id-{i}" for i in range(n)])  # reorder and relabel the loans
    if segments:  # relabelling the segments renames them, nothing else
        shuffled["segment"] = shuffled["segment"].map({"prime": "A", "subprime": "B", "jumbo": "C"})
    ours, theirs = credit.pool_from_loans(loans, **ASSUMPTIONS), credit.pool_from_loans(shuffled, **ASSUMPTIONS)
    np.testing.assert_allclose(theirs.cashflows.to_numpy(), ours.cashflows.to_numpy(), rtol=1e-10, atol=1e-6)
    pd.testing.assert_series_equal(theirs.summary.loc["pool"], ours.summary.loc["pool"], rtol=1e-12)
    if segments:
        renamed = ours.segment_cashflows.rename(index={"prime": "A", "subprime": "B", "jumbo": "C"}, level="segment")
        pd.testing.assert_frame_equal(theirs.segment_cashflows.sort_index(), renamed.sort_index(), rtol=1e-10,
                                      atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 20), seed=st.integers(0, 10_000), scale=st.sampled_from([1e-3, 0.5, 7.0, 1e6]))
def test_scaling_every_balance_scales_the_cash_flows(n, seed, scale):
    loans = _loans(n, seed, segments=True)
    base = credit.pool_from_loans(loans, **ASSUMPTIONS)
    scaled = credit.pool_from_loans(loans.assign(balance=loans["balance"] * scale), **ASSUMPTIONS)
    np.testing.assert_allclose(scaled.cashflows[MONEY].to_numpy(), scale * base.cashflows[MONEY].to_numpy(),
                               rtol=1e-10, atol=1e-9 * scale)
    np.testing.assert_allclose(scaled.cashflows[["smm", "mdr"]], base.cashflows[["smm", "mdr"]], rtol=1e-9, atol=1e-15)
    cols = ["wac", "wam", "wala", "pool_factor", "share"]
    pd.testing.assert_frame_equal(scaled.summary[cols], base.summary[cols], rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(balance=st.floats(1.0, 1e9), scale=st.floats(1e-3, 1e3), term=st.integers(12, 480),
       cpr=st.floats(0.0, 0.5), cdr=st.floats(0.0, 0.2))
def test_one_pool_scales_with_its_balance(balance, scale, term, cpr, cdr):
    kwargs = dict(prepayment=cpr, default=cdr, severity=0.4, recovery_lag=3)
    a = credit.pool_cashflows(balance, 0.06, term, **kwargs)
    b = credit.pool_cashflows(balance * scale, 0.06, term, **kwargs)
    np.testing.assert_allclose(b[MONEY].to_numpy(), scale * a[MONEY].to_numpy(), rtol=1e-9, atol=1e-9 * balance * scale)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), data=st.data(), scale=st.sampled_from([1e-4, 3.0, 1e6]))
def test_simulated_losses_ignore_loan_order_labels_and_money_units(seed, data, scale):
    # three kinds of loan, ten of each: the exact bucket method draws one binomial per kind,
    # so a reordered, relabelled, rescaled pool gives the same scenario losses for the same seed
    kinds = np.repeat([0, 1, 2], 10)
    ead = pd.Series(np.array([1.0, 2.5, 4.0])[kinds], index=[f"L{i}" for i in range(30)])
    pds = pd.Series(np.array([0.01, 0.03, 0.08])[kinds], index=ead.index)
    lgds = pd.Series(np.array([0.2, 0.45, 0.7])[kinds], index=ead.index)
    base = credit.simulate_pool_losses(exposures=ead, pd=pds, lgd=lgds, rho=0.15, n_sims=2_000, seed=seed)
    perm = list(data.draw(st.permutations(range(30))))
    relabel = {name: f"x{j}" for j, name in enumerate(ead.index[perm])}
    moved = credit.simulate_pool_losses(
        exposures=(ead.iloc[perm] * scale).rename(relabel), pd=pds.rename(relabel).sample(frac=1, random_state=seed),
        lgd=lgds.rename(relabel), rho=0.15, n_sims=2_000, seed=seed,
    )
    np.testing.assert_allclose(moved.to_numpy(), base.to_numpy(), rtol=1e-12, atol=1e-15)


VALUES = {"pd": 0.02, "lgd": 0.45, "rho": 0.12}
CALLS = {
    "vasicek_loss_quantile": lambda *a, **k: credit.vasicek_loss_quantile(0.99, *a, **k),
    "vasicek_loss_cdf": lambda *a, **k: credit.vasicek_loss_cdf(0.05, *a, **k),
    "vasicek_tranche_loss": lambda *a, **k: credit.vasicek_tranche_loss(0.03, 0.07, *a, **k),
    "irb_capital": lambda *a, **k: credit.irb_capital(*a, **k, maturity_adjustment=False),
    "simulate_pool_losses": lambda *a, **k: credit.simulate_pool_losses(*a, **k, n_loans=50, n_sims=500, seed=1),
    "loss_distribution_by_pool_size": lambda *a, **k: credit.loss_distribution_by_pool_size(
        *a, **k, n_loans=[5], n_sims=500, seed=1),
}


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(list(CALLS)), order=st.permutations(["pd", "lgd", "rho"]), n_positional=st.integers(1, 3))
def test_pd_lgd_and_rho_cannot_be_swapped(name, order, n_positional):
    call = CALLS[name]
    reference = call(**VALUES)
    # by name, the order of the keywords does not matter
    result = call(**{k: VALUES[k] for k in order})
    if isinstance(reference, float):
        assert result == reference
    else:
        assert result.equals(reference)
    # by position, in any order, the call is refused with the call to write
    with pytest.raises(ParameterError, match="by name only"):
        call(*[VALUES[k] for k in order[:n_positional]], **{k: VALUES[k] for k in order[n_positional:]})

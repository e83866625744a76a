"""The credit API refuses what it cannot answer right: swappable arguments by name, counts vs amounts,
seeds, size limits, foreign exceptions, and percent units on every rate argument.

Each test reproduces a way to get a plausible but wrong number (or a numpy/scipy error, or a
hang) from the credit functions, and checks for a named poolkit error that says what to do.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from poolkit import credit
from poolkit.exceptions import AlignmentError, DataError, ParameterError

# ---------------------------------------------------------------------------------------
# arguments by name: pd, lgd and rho are easy to swap
# ---------------------------------------------------------------------------------------

# Calls written for the former positional signatures, and the call each error must suggest.
POSITIONAL_CALLS = [
    (lambda: credit.simulate_pool_losses(100, 0.02, 0.45, 0.1, 10),
     "simulate_pool_losses(n_loans=100, pd=0.02, lgd=0.45, rho=0.1, n_sims=10)"),
    (lambda: credit.simulate_pool_losses(100.0, pd=0.02, lgd=0.45, rho=0.1, n_sims=50, seed=1),
     "simulate_pool_losses(exposures=[100.0], pd=0.02, lgd=0.45, rho=0.1, n_sims=50, seed=1)"),
    (lambda: credit.simulate_pool_losses(True, 0.02, 0.45, 0.1, n_sims=50),
     "simulate_pool_losses(n_loans=1, pd=0.02, lgd=0.45, rho=0.1, n_sims=50)"),
    (lambda: credit.vasicek_loss_cdf(0.05, 0.02, 0.12),
     "vasicek_loss_cdf(0.05, pd=0.02, rho=0.12)"),
    (lambda: credit.vasicek_loss_pdf(0.05, 0.02, 0.12, lgd=0.45),
     "vasicek_loss_pdf(0.05, pd=0.02, rho=0.12, lgd=0.45)"),
    (lambda: credit.vasicek_loss_quantile(0.999, 0.01, 0.12, lgd=0.45),
     "vasicek_loss_quantile(0.999, pd=0.01, rho=0.12, lgd=0.45)"),
    (lambda: credit.vasicek_tranche_loss(0.0, 0.03, 0.02, 0.2),
     "vasicek_tranche_loss(0.0, 0.03, pd=0.02, rho=0.2)"),
    (lambda: credit.irb_capital(0.01, 0.45),
     "irb_capital(pd=0.01, lgd=0.45)"),
    (lambda: credit.irb_risk_weight(0.01, 0.25, 0.15, maturity_adjustment=False),
     "irb_risk_weight(pd=0.01, lgd=0.25, rho=0.15, maturity_adjustment=False)"),
    (lambda: credit.loss_distribution_by_pool_size(0.02, 0.45, 0.1, [1, 10], n_sims=100, seed=0),
     "loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_loans=[1, 10], n_sims=100, seed=0)"),
    (lambda: credit.loss_distribution_by_correlation(0.02, 0.45, [0.0, 0.1]),
     "loss_distribution_by_correlation(pd=0.02, lgd=0.45, rhos=[0.0, 0.1])"),
]


@pytest.mark.parametrize("call, suggestion", POSITIONAL_CALLS, ids=lambda v: v if isinstance(v, str) else "")
def test_positional_calls_are_refused_with_the_call_to_write(call, suggestion):
    # a positional call used to run (with the arguments in whatever order the caller believed)
    with pytest.raises(ParameterError, match="by name only") as err:
        call()
    message = str(err.value)
    assert f"write {suggestion}" in message
    # the suggested call is valid Python and runs as written
    written = re.search(r"write (\w+\(.*?\))(?:\.|$)", message).group(1)
    eval("credit." + written, {"credit": credit})  # noqa: S307 - the text is built by poolkit from literals


def test_swapping_lgd_and_rho_can_no_longer_happen_silently():
    # Former signatures: vasicek_*(x, pd, rho, lgd=...) but simulate_pool_losses(n, pd, lgd, rho):
    # a caller mixing them got a mean loss of 0.02 * 0.15 = 0.0030 instead of 0.02 * 0.45 = 0.0090.
    with pytest.raises(ParameterError, match="by name only"):
        credit.vasicek_loss_quantile(0.5, 0.02, 0.45)
    # by name, every function reads the same argument the same way
    lo = credit.vasicek_loss_quantile(0.999, pd=0.02, lgd=0.45, rho=0.15)
    assert lo == pytest.approx(credit.vasicek_loss_quantile(0.999, rho=0.15, lgd=0.45, pd=0.02))
    losses = credit.simulate_pool_losses(n_loans=2000, pd=0.02, lgd=0.45, rho=0.15, n_sims=40_000, seed=3)
    assert losses.mean() == pytest.approx(0.0090, abs=4 * losses.std() / np.sqrt(len(losses)))


# ---------------------------------------------------------------------------------------
# number of loans vs exposures
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [100.0, True, np.float64(100.0), "100"])
def test_n_loans_must_be_an_int(value):
    with pytest.raises(ParameterError, match=r"`n_loans` must be a whole number of loans \(an int"):
        credit.simulate_pool_losses(n_loans=value, pd=0.02, lgd=0.45, rho=0.1, n_sims=10)


def test_a_single_exposure_is_refused_with_both_readings():
    with pytest.raises(ParameterError, match=r"write exposures=\[100.0\]; for 100 equal loans write n_loans=100"):
        credit.simulate_pool_losses(exposures=100.0, pd=0.02, lgd=0.45, rho=0.1, n_sims=10)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "neither"),
    ({"n_loans": 10, "exposures": [1.0, 2.0]}, "both"),
    ({"exposures": [[1.0, 2.0]]}, "one-dimensional"),
    ({"exposures": []}, "empty"),
    ({"n_loans": 0}, "at least 1"),
    ({"n_loans": 10**9}, "at most 10,000,000"),
])
def test_the_pool_is_given_exactly_once(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        credit.simulate_pool_losses(**kwargs, pd=0.02, lgd=0.45, rho=0.1, n_sims=10)


def test_one_loan_given_by_its_exposure_loses_all_or_nothing():
    losses = credit.simulate_pool_losses(exposures=[100.0], pd=0.1, lgd=0.5, rho=0.2, n_sims=20_000, seed=0)
    assert set(np.unique(losses)) <= {0.0, 0.5}
    same = credit.simulate_pool_losses(n_loans=1, pd=0.1, lgd=0.5, rho=0.2, n_sims=20_000, seed=0)
    pd.testing.assert_series_equal(losses, same)


def test_numpy_integers_count_loans():
    a = credit.simulate_pool_losses(n_loans=np.int64(40), pd=0.05, lgd=0.5, rho=0.1, n_sims=500, seed=1)
    b = credit.simulate_pool_losses(n_loans=40, pd=0.05, lgd=0.5, rho=0.1, n_sims=500, seed=1)
    pd.testing.assert_series_equal(a, b)


def test_labelled_pd_must_name_the_same_loans():
    ead = pd.Series([1.0, 2.0], index=["a", "b"])
    with pytest.raises(AlignmentError, match=r"missing \['b'\], not in `exposures` \['c'\]"):
        credit.simulate_pool_losses(exposures=ead, pd=pd.Series([0.01, 0.02], index=["a", "c"]), lgd=0.4, rho=0.1,
                                    n_sims=10)
    with pytest.raises(ParameterError, match=r"one value per loan \(2\)"):
        credit.simulate_pool_losses(exposures=ead, pd=[0.01, 0.02, 0.03], lgd=0.4, rho=0.1, n_sims=10)


def test_pool_size_table_takes_ints_once():
    one = credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_loans=50, n_sims=2000, seed=1)
    assert list(one.index) == [50.0, np.inf]
    with pytest.raises(ParameterError, match="more than once"):
        credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_loans=[10, 10], n_sims=10)
    with pytest.raises(ParameterError, match="whole number of loans"):
        credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_loans=[10.5], n_sims=10)
    with pytest.raises(ParameterError, match="more than once"):
        credit.loss_distribution_by_correlation(pd=0.02, lgd=0.45, rhos=[0.1, 0.1])


# ---------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------

SIMULATIONS = [
    lambda seed: credit.simulate_pool_losses(n_loans=20, pd=0.05, lgd=0.5, rho=0.1, n_sims=200, seed=seed),
    lambda seed: credit.loss_distribution_by_pool_size(pd=0.05, lgd=0.5, rho=0.1, n_loans=[5], n_sims=200, seed=seed),
    lambda seed: credit.loss_distribution_by_correlation(pd=0.05, lgd=0.5, rhos=[0.1], n_loans=5, n_sims=200,
                                                         seed=seed),
]


@pytest.mark.parametrize("sim", SIMULATIONS)
@pytest.mark.parametrize("seed", [-1, "x", 1.5, True, [1, 2]])
def test_bad_seeds_are_named(sim, seed):
    # numpy raised ValueError('Seed must be between 0 and 2**32 - 1') or TypeError before
    with pytest.raises(ParameterError, match=r"`seed` must be None .* non-negative int .* numpy Generator"):
        sim(seed)


@pytest.mark.parametrize("sim", SIMULATIONS)
def test_a_generator_seeds_as_well_as_an_int(sim):
    a = sim(np.random.default_rng(7))
    b = sim(np.random.default_rng(7))
    assert a.equals(b)
    assert sim(np.int64(7)).equals(sim(7))


# ---------------------------------------------------------------------------------------
# limits checked up front: no hang, no MemoryError
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: credit.pool_cashflows(100.0, 0.05, 10**7),  # ran unbounded before (1e5 months took 14 s)
    lambda: credit.pool_cashflows(100.0, 0.05, 1201),
    lambda: credit.speed_scenarios(100.0, 0.05, 10**6, [100]),
    lambda: credit.speed_table(100.0, 0.05, 10**6, [100]),
    lambda: credit.scheduled_balance(100.0, 0.05, 10**9),
    lambda: credit.level_payment(100.0, 0.05, 1e300),
], ids=["pool_cashflows", "one_month_over", "speed_scenarios", "speed_table", "scheduled_balance", "level_payment"])
def test_terms_beyond_100_years_are_refused_before_any_work(call):
    with pytest.raises(ParameterError, match=r"at most 1200 months \(100 years\)"):
        call()


def test_the_longest_term_is_accepted():
    cf = credit.pool_cashflows(100.0, 0.05, 1200, prepayment="100 PSA")
    assert len(cf) == 1200 and cf["balance"].iloc[-1] == pytest.approx(0.0, abs=1e-9)


def test_loan_table_terms_are_limited_too():
    loans = pd.DataFrame({"balance": [1.0, 2.0], "rate": [0.05, 0.05], "remaining_term": [1100, 10],
                          "age": [200, 0]}, index=["old", "new"])
    with pytest.raises(ParameterError, match=r"loan 'old': remaining_term \+ age is 1300 months"):
        credit.pool_from_loans(loans)


@pytest.mark.parametrize("call, match", [
    (lambda: credit.pool_cashflows(100.0, 0.05, 360, recovery_lag=10**12), "recovery_lag"),
    (lambda: credit.speed_scenarios(100.0, 0.05, 360, list(range(2000))), "at most 1,000"),
    (lambda: credit.speed_scenarios(100.0, 0.05, 360, [100, 100.0]), "more than once"),
    (lambda: credit.simulate_pool_losses(n_loans=10, pd=0.02, lgd=0.45, rho=0.1, n_sims=10**9), "n_sims"),
    (lambda: credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_sims=10**9), "n_sims"),
    (lambda: credit.pool_cashflows(1e300, 0.05, 360), "above 1e\\+18"),
])
def test_sizes_that_would_exhaust_memory_are_refused(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# ---------------------------------------------------------------------------------------
# foreign exceptions: each input below raised a numpy, pandas or builtin error before
# ---------------------------------------------------------------------------------------

def _cf() -> pd.DataFrame:
    return credit.pool_cashflows(100.0, 0.05, 24)


@pytest.mark.parametrize("call, error, match", [
    (lambda: credit.pool_cashflows(100.0, [0.05, 0.06], 360), ParameterError, "one number"),
    (lambda: credit.pool_cashflows(100.0, 0.05, [360, 120]), ParameterError, "one whole number"),
    (lambda: credit.pool_cashflows(100.0, 0.05, 360, advancing=np.array([True, False])), ParameterError,
     "True or False"),
    (lambda: credit.pool_cashflows(100.0, 0.05, 360, severity=True), ParameterError, "severity"),
    (lambda: credit.pool_cashflows(100.0, 0.05, 360, prepayment=pd.Series([0.1, 0.2], index=[5, 3])),
     ParameterError, "indexed by projection month"),
    (lambda: credit.pool_cashflows(100.0, 0.05, 360, prepayment=np.array([[0.1, 0.2]])), ParameterError, "1-D"),
    (lambda: credit.scheduled_balance(100.0, [0.05, 0.06], 360), ParameterError, "one number"),
    (lambda: credit.speed_scenarios(100.0, 0.05, 360, 150), None, None),  # a single speed is fine
    (lambda: credit.speed_scenarios(100.0, 0.05, 360, [100], kind=None), ParameterError, "kind"),
    (lambda: credit.pool_from_loans(pd.DataFrame({"balance": [1.0], "rate": [0.05], "remaining_term": [10],
                                                  "age": [0]}), severity=[[0.1]]), ParameterError, "one number"),
    (lambda: credit.weighted_average_life(_cf(), delay_days=None), ParameterError, "delay_days"),
    (lambda: credit.weighted_average_life(_cf(), delay_days=1e300), ParameterError, "delay_days"),
    (lambda: credit.weighted_average_life(_cf(), column=["principal"]), DataError, "no column"),
    (lambda: credit.cash_flow_yield(_cf().iloc[:0], 100.0), DataError, "empty"),
    (lambda: credit.cash_flow_yield(_cf(), [100.0]), ParameterError, "one number"),
    (lambda: credit.cash_flow_yield(_cf().assign(cash_flow="a"), 100.0), DataError, "must hold numbers"),
    (lambda: credit.macaulay_duration(_cf().set_axis(pd.date_range("2020-01-01", periods=24, freq="MS")), 0.05),
     DataError, "projection month"),
    (lambda: credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, quantiles=None), ParameterError,
     "quantiles"),
    (lambda: credit.tranche_table(np.array([]), {"equity": 0.03, "senior": 1.0}), ParameterError, "empty"),
    (lambda: credit.tranche_table(np.array([0.01]), {"equity": 0.03}, pd=0.02), ParameterError, "both `pd` and `rho`"),
    (lambda: credit.vasicek_loss_cdf(0.05, pd=[0.01, 0.02], rho=0.1), ParameterError, "one number"),
])
def test_inputs_that_raised_foreign_errors_are_named(call, error, match):
    if error is None:
        call()
        return
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------
# units: every rate argument says "did you mean 6 % = 0.06?"
# ---------------------------------------------------------------------------------------

LOANS = pd.DataFrame({"balance": [100.0], "rate": [0.05], "remaining_term": [120], "age": [0]})
LOSSES = np.array([0.01, 0.02])

PERCENT_CALLS = {
    "cpr": lambda v: credit.smm_from_cpr(v),
    "smm": lambda v: credit.cpr_from_smm(v),
    "cdr": lambda v: credit.mdr_from_cdr(v),
    "level_payment rate": lambda v: credit.level_payment(100.0, v, 360),
    "scheduled_balance rate": lambda v: credit.scheduled_balance(100.0, v, 360),
    "coupon": lambda v: credit.pool_cashflows(100.0, v, 360),
    "net_coupon": lambda v: credit.pool_cashflows(100.0, 0.09, 360, net_coupon=v),
    "prepayment": lambda v: credit.pool_cashflows(100.0, 0.05, 360, prepayment=v),
    "default": lambda v: credit.pool_cashflows(100.0, 0.05, 360, default=v),
    "prepayment vector": lambda v: credit.pool_cashflows(100.0, 0.05, 360, prepayment=[0.01, v]),
    "severity": lambda v: credit.pool_cashflows(100.0, 0.05, 360, severity=v),
    "speed_scenarios coupon": lambda v: credit.speed_scenarios(100.0, v, 360, [100]),
    "speed_table severity": lambda v: credit.speed_table(100.0, 0.05, 360, [100], severity=v),
    "loan rate": lambda v: credit.pool_from_loans(LOANS.assign(rate=v)),
    "loan net_rate": lambda v: credit.pool_from_loans(LOANS.assign(rate=0.09, net_rate=v)),
    "pool_from_loans severity": lambda v: credit.pool_from_loans(LOANS, severity=v),
    "yield_rate": lambda v: credit.macaulay_duration(_cf(), v),
    "vasicek pd": lambda v: credit.vasicek_loss_cdf(0.05, pd=v, rho=0.1),
    "vasicek lgd": lambda v: credit.vasicek_loss_pdf(0.05, pd=0.02, lgd=v, rho=0.1),
    "vasicek rho": lambda v: credit.vasicek_loss_quantile(0.99, pd=0.02, rho=v),
    "vasicek q": lambda v: credit.vasicek_loss_quantile(v, pd=0.02, rho=0.1),
    "vasicek x": lambda v: credit.vasicek_loss_cdf(v, pd=0.02, rho=0.1),
    "tranche bound": lambda v: credit.vasicek_tranche_loss(0.0, v, pd=0.02, rho=0.1),
    "irb pd": lambda v: credit.irb_capital(pd=v, lgd=0.45),
    "irb lgd": lambda v: credit.irb_capital(pd=0.01, lgd=v),
    "irb rho": lambda v: credit.irb_risk_weight(pd=0.01, lgd=0.45, rho=v, maturity_adjustment=True),
    "irb confidence": lambda v: credit.irb_capital(pd=0.01, lgd=0.45, confidence=v),
    "irb_correlation pd": lambda v: credit.irb_correlation(v),
    "simulate pd": lambda v: credit.simulate_pool_losses(n_loans=10, pd=v, lgd=0.45, rho=0.1, n_sims=10),
    "simulate lgd": lambda v: credit.simulate_pool_losses(n_loans=10, pd=0.02, lgd=[0.4, v] * 5, rho=0.1, n_sims=10),
    "simulate rho": lambda v: credit.simulate_pool_losses(n_loans=10, pd=0.02, lgd=0.45, rho=v, n_sims=10),
    "tranche_loss losses": lambda v: credit.tranche_loss(np.array([0.01, v]), 0.03, 0.07),
    "tranche_loss attachment": lambda v: credit.tranche_loss(LOSSES, v, 1.0),
    "tranche_table detachment": lambda v: credit.tranche_table(LOSSES, {"equity": v}),
    "tranche_table pd": lambda v: credit.tranche_table(LOSSES, {"equity": 0.03, "senior": 1.0}, pd=v, rho=0.1),
    "pool size pd": lambda v: credit.loss_distribution_by_pool_size(pd=v, lgd=0.45, rho=0.1, n_sims=10),
    "pool size lgd": lambda v: credit.loss_distribution_by_pool_size(pd=0.02, lgd=v, rho=0.1, n_sims=10),
    "pool size quantiles": lambda v: credit.loss_distribution_by_pool_size(pd=0.02, lgd=0.45, rho=0.1, n_sims=10,
                                                                           quantiles=[0.5, v]),
    "correlation rhos": lambda v: credit.loss_distribution_by_correlation(pd=0.02, lgd=0.45, rhos=[0.1, v]),
    "correlation pd": lambda v: credit.loss_distribution_by_correlation(pd=v, lgd=0.45),
}


@pytest.mark.parametrize("name", list(PERCENT_CALLS))
def test_every_rate_argument_hints_at_percent_units(name):
    value = 99.9 if name in ("irb confidence", "vasicek q", "pool size quantiles") else 6.0
    with pytest.raises(ParameterError, match=rf"(?i)did you mean {value:g} % = {value / 100:g}\?"):
        PERCENT_CALLS[name](value)

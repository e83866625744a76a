r"""Pools of loans: prepayment, default and loss, and pooled credit loss distributions.

Pooling in finance began with pools of loans. In 1970 the Government National
Mortgage Association (Ginnie Mae) guaranteed the first mortgage *pass-through*
security: the monthly payments of a pool of home loans were passed, pro rata, to
investors. Freddie Mac (1971) and Fannie Mae (1981) followed, and the pooled
mortgage became the template of every later securitisation (CMOs in 1983, asset
backed securities, CLOs). This package covers that history:

* **Cash flows of a loan pool** following the Bond Market Association (now SIFMA)
  *Uniform Practices / Standard Formulas*, chapter SF [1]_: SMM and CPR, the PSA
  prepayment ramp, CDR/MDR and the SDA default curve, the SF-18/19 recursion with
  defaults (performing balance, new defaults, loans in foreclosure, expected and
  actual amortisation, voluntary prepayments, amortised default balance, principal
  recovery and loss, lost interest), and the yield, average life and durations of
  SF section G with payment delay days.
* **Pooled credit loss** of a portfolio of loans: the one-factor Gaussian
  (Vasicek) model [2]_, the Basel II IRB capital formula by asset class [3]_, a
  finite-pool Monte Carlo simulation, tranche losses, and the *pooling view* (the loss
  distribution narrows as loans are added and widens as their correlation rises).
* **Securitisation**: a deal as data (tranches, payment rules, credit enhancement; from
  Python or a YAML/JSON file), a waterfall vectorised across scenarios that pays any of
  these cash flows to the tranches, per-tranche average life, yield, duration and losses,
  prospectus tables by speed, and loan-level Monte Carlo of each tranche's losses beside
  the large-pool Vasicek view [4]_.

Conventions: every rate is a **fraction** (a 9.5 % coupon is ``0.095``, 6 % CPR is
``0.06``); a value that looks like a percentage gets a "did you mean" hint.
Strings use the market's percent notation: ``"150 PSA"``, ``"6 CPR"``,
``"1 SMM"``, ``"100 SDA"``, ``"0.5 CDR"``, ``"1 MDR"``. Months are counted from 1
(month ``k`` is the accrual period during which the loan age goes from ``age + k - 1``
to ``age + k``), and a loan's original term is at most 1200 months (100 years). Losses
are positive numbers. The probability of default, loss given default and asset
correlation are passed by name, ``pd=``, ``lgd=``, ``rho=``, in every function (they are
all fractions and easy to swap); a pool is ``n_loans=`` (a count) or ``exposures=`` (one
amount per loan); a ``seed`` is None, a non-negative int or a numpy Generator.

References
----------
.. [1] The Bond Market Association (1999). *Uniform Practices/Standard Formulas*,
   chapter SF: Standard Formulas for the Analysis of Mortgage-Backed Securities and
   Other Related Securities (02/01/99).
.. [2] Vasicek, O. (2002). The distribution of loan portfolio value. *Risk* 15(12), 160-162.
.. [3] Basel Committee on Banking Supervision (2005). *An Explanatory Note on the
   Basel II IRB Risk Weight Functions*; BCBS (2006), *International Convergence of
   Capital Measurement and Capital Standards*, comprehensive version, paragraphs 272-273,
   285, 318-320, 327-331 and Annex 5.
.. [4] Fabozzi, F. J. and Jones, F. J. (2019). *Foundations of Global Financial Markets and
   Institutions*, 5th ed., MIT Press, chapter 30 (CMOs, PACs, stripped and private-label MBS).
"""

from __future__ import annotations

from poolkit.credit._analytics import (
    cash_flow_yield,
    convexity,
    macaulay_duration,
    modified_duration,
    speed_table,
    weighted_average_life,
)
from poolkit.credit._cashflows import (
    CASHFLOW_COLUMNS as CASHFLOW_COLUMNS,  # the columns of pool_cashflows
)
from poolkit.credit._cashflows import (
    LoanPool,
    level_payment,
    pool_cashflows,
    pool_from_loans,
    scheduled_balance,
    speed_scenarios,
)
from poolkit.credit._conventions import cpr_from_smm, mdr_from_cdr, psa_cpr, sda_cdr, smm_from_cpr
from poolkit.credit._deal import (
    STANDARD_SHIFTING_INTEREST as STANDARD_SHIFTING_INTEREST,  # the shifting-interest step-down by deal year
)
from poolkit.credit._deal import (
    TRANCHE_TYPES as TRANCHE_TYPES,  # the tranche types of a deal
)
from poolkit.credit._deal import (
    Collateral,
    Deal,
    Floater,
    Reserve,
    ShiftingInterest,
    Tranche,
    Trigger,
)
from poolkit.credit._dealfile import deal_names, deal_table, load_deal
from poolkit.credit._irb import ASSET_CLASSES as ASSET_CLASSES  # the Basel II classes of irb_capital
from poolkit.credit._irb import irb_capital, irb_correlation, irb_risk_weight
from poolkit.credit._simulation import (
    loss_distribution_by_correlation,
    loss_distribution_by_pool_size,
    simulate_pool_losses,
    tranche_loss,
    tranche_table,
)
from poolkit.credit._tranches import (
    attachment_points,
    pac_schedule,
    prospectus_table,
    simulate_pool_cashflows,
    tranche_loss_distribution,
    tranche_loss_table,
    tranche_summary,
)
from poolkit.credit._vasicek import (
    vasicek_loss_cdf,
    vasicek_loss_pdf,
    vasicek_loss_quantile,
    vasicek_tranche_loss,
)
from poolkit.credit._waterfall import PoolScenarios, WaterfallResult, run_waterfall

__all__ = [
    "LoanPool",
    "cash_flow_yield",
    "convexity",
    "cpr_from_smm",
    "irb_capital",
    "irb_correlation",
    "irb_risk_weight",
    "level_payment",
    "loss_distribution_by_correlation",
    "loss_distribution_by_pool_size",
    "macaulay_duration",
    "mdr_from_cdr",
    "modified_duration",
    "pool_cashflows",
    "pool_from_loans",
    "psa_cpr",
    "scheduled_balance",
    "sda_cdr",
    "simulate_pool_losses",
    "smm_from_cpr",
    "speed_scenarios",
    "speed_table",
    "tranche_loss",
    "tranche_table",
    "vasicek_loss_cdf",
    "vasicek_loss_pdf",
    "vasicek_loss_quantile",
    "vasicek_tranche_loss",
    "weighted_average_life",
    # securitisation: deals, the waterfall, tranche measures
    "Collateral",
    "Deal",
    "Floater",
    "PoolScenarios",
    "Reserve",
    "ShiftingInterest",
    "Tranche",
    "Trigger",
    "WaterfallResult",
    "attachment_points",
    "deal_names",
    "deal_table",
    "load_deal",
    "pac_schedule",
    "prospectus_table",
    "run_waterfall",
    "simulate_pool_cashflows",
    "tranche_loss_distribution",
    "tranche_loss_table",
    "tranche_summary",
]

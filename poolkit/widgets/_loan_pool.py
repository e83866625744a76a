"""The loan-pool explorer: prepayment, default and severity through a pool and a deal's tranches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from poolkit._validation import check_choice
from poolkit.widgets._core import _build, _figures_html, _new_figure, _percent, _png, _Spec

# --------------------------------------------------------------------------------------------
# Loan pool explorer
# --------------------------------------------------------------------------------------------

#: The pool of the loan explorer: a 30-year fixed-rate mortgage pool.
LOAN_POOL = {"balance": 100e6, "coupon": 0.065, "net_coupon": 0.06, "term": 360, "recovery_lag": 12}
#: Deals the loan explorer can cut the pool into (bundled deal files sized as shares of the pool; "" = none).
LOAN_POOL_DEALS = ("", "senior_sub", "sequential_four", "pac_support", "excess_spread_oc")


def _loan_pool_deal(deal: str, terms: Mapping[str, Any], cf: pd.DataFrame) -> dict[str, Any]:
    """Cut the explorer's pool into the tranches of a bundled deal: balances and per-tranche figures."""
    import poolkit.credit as credit

    name = check_choice(deal, LOAN_POOL_DEALS, name="deal")
    if not name:
        return {"deal": "", "deal_name": "", "tranches": None, "tranche_summary": None}
    structure = credit.load_deal(name, collateral={
        "balance": float(terms["balance"]), "coupon": float(terms["coupon"]),
        "net_coupon": float(terms["net_coupon"]), "term": int(terms["term"]), "age": 0,
    })
    result = credit.run_waterfall(structure, cf)
    summary = credit.tranche_summary(result)
    principal = [t.name for t in structure.tranches if structure.tranche_type(t) != "io"]
    return {
        "deal": name,
        "deal_name": structure.name,
        "tranches": result.balances()[principal],
        "tranche_summary": summary.loc[principal, ["type", "original_balance", "average_life", "first_month",
                                                   "last_month", "loss"]],
    }


def loan_pool_view(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    r"""Compute what the loan pool explorer shows (cash flows, WAL, losses, tranches), without drawing.

    Parameters
    ----------
    psa : float, default 150
        Prepayment speed in percent of the PSA benchmark.
    default_model : {"CDR", "SDA"}, default "CDR"
        Which default rate applies: ``cdr`` or ``sda``.
    cdr : float, default 1.0
        Constant default rate in percent a year.
    sda : float, default 100
        Default speed in percent of the SDA benchmark.
    severity : float, default 0.35
        Loss as a fraction of the defaulted balance.
    deal : str, default "senior_sub"
        A bundled deal (one of ``LOAN_POOL_DEALS``) to cut the pool into; its tranches
        are sized as shares of the pool. ``""`` shows the pool alone.
    pool : mapping, optional
        Overrides of ``LOAN_POOL`` (balance, coupon, net_coupon, term, recovery_lag).

    Returns
    -------
    dict
        ``psa``, ``default`` (the default scenario, e.g. ``"1 CDR"``), ``severity``,
        ``cashflows`` (monthly table of :func:`poolkit.credit.pool_cashflows`), ``wal``
        (years), ``loss`` and ``loss_share`` (principal lost, in currency and as a
        share of the pool), ``interest`` (paid to investors) and ``balance``; and for the
        deal: ``deal`` (its file name, ``""`` for none), ``deal_name``, ``tranches``
        (balance of each tranche at the end of each month, month 0 = closing) and
        ``tranche_summary`` (per tranche: ``type``, ``original_balance``,
        ``average_life``, principal window ``first_month``/``last_month``, ``loss``),
        both None without a deal.

    Raises
    ------
    ParameterError
        If ``default_model`` or ``deal`` is unknown or a rate is out of range.

    Notes
    -----
    .. math:: WAL = \frac{\sum_k (k/12)\, PR_k}{\sum_k PR_k}, \qquad
              \text{loss} = \text{severity} \times \text{liquidated balance}.

    The deal's waterfall (:func:`poolkit.credit.run_waterfall`) pays the same monthly
    cash flows to its tranches: prepayments shorten the tranches paid first; losses are
    written off from the most junior tranche up.

    Examples
    --------
    >>> view = loan_pool_view(psa=0, cdr=0)  # a plain 30-year 6.5 % annuity
    >>> view["loss"], round(view["wal"], 2)
    (0.0, 19.62)
    >>> view["tranche_summary"]["loss"].max()  # no defaults: no tranche loses
    0.0
    """
    import poolkit.credit as credit

    model = check_choice(default_model, ("CDR", "SDA"), name="default_model")
    terms = {**LOAN_POOL, **(pool or {})}
    default = f"{float(cdr):g} CDR" if model == "CDR" else f"{float(sda):g} SDA"
    cf = credit.pool_cashflows(
        terms["balance"], terms["coupon"], int(terms["term"]), net_coupon=terms["net_coupon"],
        prepayment=f"{float(psa):g} PSA", default=default, severity=float(severity),
        recovery_lag=int(terms["recovery_lag"]),
    )
    balance = float(terms["balance"])
    return {
        "psa": float(psa),
        "default": default,
        "severity": float(severity),
        "cashflows": cf,
        "wal": credit.weighted_average_life(cf),
        "loss": float(cf["principal_loss"].sum()),
        "loss_share": float(cf["principal_loss"].sum()) / balance,
        "interest": float(cf["interest"].sum()),
        "balance": balance,
        **_loan_pool_deal(deal, terms, cf),
    }


def _loan_pool_render(view: dict[str, Any]) -> tuple[str, bytes]:
    cf = view["cashflows"]
    rows = [
        ("Prepayments", f"{view['psa']:g} PSA"),
        ("Defaults", view["default"]),
        ("Loss severity", f"{view['severity']:.0%}"),
        ("Weighted average life (years)", f"{view['wal']:.2f}"),
        ("Principal lost", f"{view['loss_share']:.2%} of the pool"),
        ("Interest paid to investors", f"{view['interest'] / view['balance']:.1%} of the pool"),
    ]
    table = view.get("tranche_summary")
    if table is not None:
        rows += [
            ("Deal", view["deal_name"]),
            ("Tranche average life (years)", " · ".join(
                f"{n} {v:.1f}" if np.isfinite(v) else f"{n} written off" for n, v in table["average_life"].items())),
            ("Tranche principal lost", " · ".join(f"{n} {v:.0%}" for n, v in table["loss"].items())),
        ]
    fig, axes = _new_figure(3 if table is not None else 2, width=16.0 if table is not None else 12.0)
    ax1, ax2 = axes[0], axes[1]
    years = cf.index.to_numpy() / 12.0
    ax1.plot(years, cf["balance"].to_numpy() / view["balance"], color="C0", label="pool balance")
    ax1.axvline(view["wal"], color="C3", ls="--", lw=1, label=f"WAL {view['wal']:.1f} y")
    ax1.set(title="Balance (fraction of the original)", xlabel="years")
    ax1.yaxis.set_major_formatter(_percent())
    ax1.legend(fontsize=8)
    scheduled = cf["expected_amortization"].to_numpy()
    prepaid = cf["voluntary_prepayments"].to_numpy()
    recovered = cf["principal_recovery"].to_numpy()
    parts = [cf["interest"].to_numpy(), scheduled, prepaid, recovered]
    ax2.stackplot(years, *[p / view["balance"] for p in parts],
                  labels=["interest", "scheduled principal", "prepayments", "recoveries"], alpha=0.85)
    ax2.plot(years, cf["principal_loss"].to_numpy() / view["balance"], color="black", lw=1, label="losses")
    ax2.set(title="Monthly cash flows (fraction of the pool)", xlabel="years")
    ax2.legend(fontsize=8)
    if table is not None:
        ax3 = axes[2]
        balances = view["tranches"]
        ax3.stackplot(balances.index.to_numpy() / 12.0, balances.to_numpy().T / view["balance"],
                      labels=[str(c) for c in balances.columns], alpha=0.85)
        ax3.set(title=f"Tranche balances: {view['deal_name']}", xlabel="years")
        ax3.yaxis.set_major_formatter(_percent())
        ax3.legend(fontsize=8, ncol=2)
    return _figures_html(rows), _png(fig)


def _loan_pool_controls(defaults: Mapping[str, Any]) -> dict[str, Any]:
    import ipywidgets as w

    style = {"description_width": "130px"}
    return {
        "psa": w.FloatSlider(value=defaults["psa"], min=0, max=800, step=25, description="prepayment % PSA",
                             continuous_update=False, style=style, readout_format=".0f"),
        "default_model": w.ToggleButtons(options=("CDR", "SDA"), value=defaults["default_model"],
                                         description="default model", style={"button_width": "60px", **style}),
        "cdr": w.FloatSlider(value=defaults["cdr"], min=0, max=20, step=0.25, description="CDR (% a year)",
                             continuous_update=False, style=style, readout_format=".2f"),
        "sda": w.FloatSlider(value=defaults["sda"], min=0, max=1000, step=25, description="% SDA",
                             continuous_update=False, style=style, readout_format=".0f"),
        "severity": w.FloatSlider(value=defaults["severity"], min=0, max=1, step=0.05, description="loss severity",
                                  continuous_update=False, style=style, readout_format=".2f"),
        "deal": w.Dropdown(options=[("none (the pool alone)", ""), *[(d.replace("_", " "), d) for d in LOAN_POOL_DEALS
                                                                     if d]],
                           value=defaults["deal"], description="deal", style=style),
    }


def _loan_pool_spec(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
) -> _Spec:
    defaults = {"psa": float(psa), "default_model": default_model, "cdr": float(cdr), "sda": float(sda),
                "severity": float(severity), "deal": deal}

    def compute(values: Mapping[str, Any]) -> dict[str, Any]:
        return loan_pool_view(values["psa"], values["default_model"], values["cdr"], values["sda"],
                               values["severity"], deal=values["deal"], pool=pool)

    compute(defaults)
    return _Spec("loan_pool", "Loan pool: prepayments, defaults and losses", defaults, compute,
                 _loan_pool_render, _loan_pool_controls)


def loan_pool_explorer(
    psa: float = 150.0,
    default_model: str = "CDR",
    cdr: float = 1.0,
    sda: float = 100.0,
    severity: float = 0.35,
    *,
    deal: str = "senior_sub",
    pool: Mapping[str, Any] | None = None,
    debounce: float = 0.3,
) -> Any:
    r"""Explore a mortgage pool's cash flows under prepayment, default and severity scenarios.

    Sliders set the prepayment speed (% PSA), the default rate (CDR in % a year,
    or a % SDA speed) and the loss severity; the panel shows the balance and the
    monthly cash flows (interest, scheduled principal, prepayments, recoveries,
    losses), the weighted average life (WAL) and the share of principal lost. A
    deal menu cuts the pool into the tranches of a securitisation and shows their
    balances over time, average lives and losses.

    Parameters
    ----------
    psa : float, default 150
        Prepayment speed in percent of the PSA benchmark.
    default_model : {"CDR", "SDA"}, default "CDR"
        Which default slider applies.
    cdr : float, default 1.0
        Constant default rate in percent a year.
    sda : float, default 100
        Default speed in percent of the SDA benchmark.
    severity : float, default 0.35
        Loss as a fraction of the defaulted balance.
    deal : str, default "senior_sub"
        The deal shown first (one of ``LOAN_POOL_DEALS``; ``""`` for none).
    pool : mapping, optional
        Overrides of ``LOAN_POOL`` (balance, coupon, net_coupon, term, recovery_lag).
    debounce : float, default 0.3
        Seconds to wait after the last slider move before recomputing.

    Returns
    -------
    ipywidgets.VBox
        The panel; ``panel.poolkit_panel.view`` holds the last valid result.

    Raises
    ------
    ParameterError
        If the initial settings are invalid (later invalid settings are shown in the panel).

    Notes
    -----
    100 % PSA prepays at an annual rate (CPR) rising by 0.2 % a month to 6 % at
    month 30; the monthly rate is :math:`SMM = 1 - (1 - CPR)^{1/12}`, and likewise
    :math:`MDR = 1 - (1 - CDR)^{1/12}` for defaults. With principal :math:`PR_k` paid
    at month :math:`k`,

    .. math:: WAL = \frac{\sum_k (k/12)\, PR_k}{\sum_k PR_k}.

    Faster prepayments shorten the WAL; defaults shorten it too but lose
    :math:`\text{severity} \times` the defaulted balance.

    References
    ----------
    .. [1] Bond Market Association (1999), Uniform Practices/Standard Formulas, SF-4 to SF-49.

    Examples
    --------
    >>> panel = loan_pool_explorer(psa=0, cdr=0, debounce=0)
    >>> panel.poolkit_panel.view["loss"]
    0.0
    """
    return _build(_loan_pool_spec(psa, default_model, cdr, sda, severity, deal=deal, pool=pool), debounce)

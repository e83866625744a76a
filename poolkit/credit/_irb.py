"""Basel II IRB capital and risk weights, by asset class."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas  # not "as pd": `pd` is the probability of default here

from poolkit._validation import check_choice, check_fraction
from poolkit.credit._inputs import _by_name, _labelled, _lgd_array, _like, _pd_array, _positive, _rho_array
from poolkit.credit._vasicek import _conditional_pd, _threshold
from poolkit.exceptions import ParameterError

#: The Basel II IRB asset classes and what sets their correlation and maturity rule.
ASSET_CLASSES = (
    "corporate",
    "sovereign",
    "bank",
    "sme",
    "residential_mortgage",
    "qualifying_revolving",
    "other_retail",
)
_RETAIL = ("residential_mortgage", "qualifying_revolving", "other_retail")
#: Floor on the PD of every class but sovereigns (Basel II paragraphs 285 and 331): 0.03 %.
PD_FLOOR = 0.0003
#: Effective maturity in years: 2.5 by default (foundation approach, paragraph 318), at most 5 (paragraph 320).
DEFAULT_MATURITY = 2.5
MAX_MATURITY = 5.0
#: SME firm-size adjustment: annual sales in EUR millions, counted as 5 below 5, SME only below 50 (paragraph 273).
SME_SALES = (5.0, 50.0)


def _exp_weight(p: np.ndarray, k: float) -> np.ndarray:
    r""":math:`(1 - e^{-k\,\mathrm{PD}}) / (1 - e^{-k})`, the weight of the low correlation."""
    return np.asarray(-np.expm1(-k * p) / -math.expm1(-k))


def _sales(sales: object) -> np.ndarray:
    """Check SME sales in EUR millions; below 5 counts as 5, 50 or more is not an SME."""
    s = _positive(sales, name="sales")
    lo, hi = SME_SALES
    if (s > hi).any():
        x = float(s[s > hi].flat[0])
        unit = f" `sales` is in EUR millions: did you mean {x / 1e6:g}?" if x >= 1e5 else ""
        raise ParameterError(
            f"`sales` of EUR {x:g} million is not an SME: the firm-size adjustment applies below EUR {hi:g} million "
            f"(Basel II paragraph 273); use asset_class='corporate'.{unit}"
        )
    return np.maximum(s, lo)


def _correlation(p: np.ndarray, asset_class: str, sales: np.ndarray | None) -> np.ndarray:
    """Supervisory asset correlation R of an asset class at PD ``p`` (already floored)."""
    if asset_class in ("corporate", "sovereign", "bank", "sme"):
        w = _exp_weight(p, 50.0)
        r = 0.12 * w + 0.24 * (1.0 - w)
        if asset_class == "sme":
            lo, hi = SME_SALES
            assert sales is not None
            r = r - 0.04 * (1.0 - (sales - lo) / (hi - lo))
        return np.asarray(r)
    if asset_class == "residential_mortgage":
        return np.full_like(p, 0.15)
    if asset_class == "qualifying_revolving":
        return np.full_like(p, 0.04)
    w = _exp_weight(p, 35.0)  # other retail
    return np.asarray(0.03 * w + 0.16 * (1.0 - w))


def _floored(p: np.ndarray, asset_class: str | None) -> np.ndarray:
    """PD used by the formula: at least 0.03 % except for sovereigns (and for an explicit ``rho`` alone)."""
    if asset_class is None or asset_class == "sovereign":
        return p
    return np.maximum(p, PD_FLOOR)


def irb_correlation(pd: Any, *, asset_class: str = "corporate", sales: Any = None) -> Any:
    r"""Return the Basel II supervisory asset correlation R of an asset class.

    Parameters
    ----------
    pd : float, array or Series
        One-year probability of default, in (0, 1). The 0.03 % floor of every class
        but sovereigns is applied first, as in :func:`irb_capital`.
    asset_class : str, default "corporate"
        One of ``"corporate"``, ``"sovereign"``, ``"bank"``, ``"sme"``,
        ``"residential_mortgage"``, ``"qualifying_revolving"``, ``"other_retail"``.
    sales : float, array or Series, optional
        Annual sales of an SME borrower in EUR millions (``asset_class="sme"`` only).

    Returns
    -------
    float, array or Series
        :math:`R`, same shape and labels as ``pd``.

    Raises
    ------
    ParameterError
        If a PD is outside (0, 1), the class is unknown, ``sales`` is missing for an
        SME, given for another class, or 50 or more.

    Notes
    -----
    With :math:`w_k = (1 - e^{-k\,\mathrm{PD}})/(1 - e^{-k})`:

    * corporate, sovereign and bank (paragraph 272):
      :math:`R = 0.12\,w_{50} + 0.24\,(1 - w_{50})`, from 24 % (low PD) to 12 %;
    * SME (paragraph 273), sales :math:`S` in EUR millions with :math:`5 \le S < 50`
      (:math:`S < 5` counts as 5): the corporate :math:`R - 0.04\,(1 - (S - 5)/45)`;
    * residential mortgage (paragraph 328): :math:`R = 0.15`;
    * qualifying revolving retail (paragraph 329): :math:`R = 0.04`;
    * other retail (paragraph 330): :math:`R = 0.03\,w_{35} + 0.16\,(1 - w_{35})`.

    References
    ----------
    .. [1] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, comprehensive version, paragraphs 272-273, 285 and 328-331.
    .. [2] BCBS (2005), An Explanatory Note on the Basel II IRB Risk Weight Functions,
       sections 5.2 and 5.3.

    Examples
    --------
    >>> round(irb_correlation(0.01), 4)
    0.1928
    >>> round(irb_correlation(0.01, asset_class="other_retail"), 4)
    0.1216
    """
    cls = check_choice(asset_class, ASSET_CLASSES, name="asset_class")
    s = _sme_sales(cls, sales, rho=None)
    checked = {"pd": _pd_array(pd), **({} if s is None else {"sales": s})}
    values, template = _labelled({k: _relabel({"pd": pd, "sales": sales}[k], v) for k, v in checked.items()})
    p = _floored(values["pd"], cls)
    r = _correlation(p, cls, values.get("sales"))
    return _like(r, template if template is not None else pd)


def _sme_sales(asset_class: str, sales: object, *, rho: object) -> np.ndarray | None:
    """Check that ``sales`` comes with ``asset_class="sme"`` and only then, and not with ``rho``."""
    if asset_class != "sme":
        if sales is not None:
            raise ParameterError(
                f"`sales` sets the SME firm-size adjustment, but asset_class={asset_class!r}; pass "
                f"asset_class='sme' with it, or drop sales."
            )
        return None
    if sales is None:
        raise ParameterError(
            "asset_class='sme' needs `sales`: the borrower's annual sales in EUR millions (5 to 50; below 5 counts "
            "as 5, Basel II paragraph 273), e.g. sales=12.0."
        )
    if rho is not None:
        raise ParameterError(
            "`rho` overrides the correlation that `sales` adjusts; pass asset_class='sme' with sales, or rho, not both."
        )
    return _sales(sales)


def _rules(
    asset_class: str | None, rho: object, maturity: object, maturity_adjustment: bool | None, sales: object
) -> tuple[str | None, bool, np.ndarray | None]:
    """Resolve the class, the maturity rule and the SME sales; refuse contradictory combinations by name."""
    if asset_class is None and rho is not None and maturity_adjustment is None:
        raise ParameterError(
            "`rho` was given without `asset_class`, so the maturity rule is unknown. Name the class, e.g. "
            "irb_capital(pd=..., lgd=..., asset_class='residential_mortgage') (R = 0.15, no maturity "
            "adjustment), or keep your rho and say maturity_adjustment=False (retail) or True (corporate, "
            "sovereign, bank)."
        )
    cls = None if asset_class is None and rho is not None else check_choice(
        "corporate" if asset_class is None else asset_class, ASSET_CLASSES, name="asset_class"
    )
    retail = cls in _RETAIL
    if maturity_adjustment is not None and not isinstance(maturity_adjustment, bool):
        raise ParameterError(f"`maturity_adjustment` must be True, False or None, got {maturity_adjustment!r}.")
    if retail and maturity_adjustment:
        raise ParameterError(
            f"asset_class={cls!r} has no maturity adjustment (Basel II paragraph 327: none of the retail "
            f"risk-weight functions has one); drop maturity_adjustment=True, or use a corporate class."
        )
    adjust = (not retail) if maturity_adjustment is None else maturity_adjustment
    if maturity is not None and not adjust:
        why = f"asset_class={cls!r}" if retail else "maturity_adjustment=False"
        raise ParameterError(
            f"`maturity` only enters the maturity adjustment, which {why} does not apply; drop maturity=..."
        )
    if cls is None and sales is not None:
        raise ParameterError(
            "`sales` sets the SME firm-size adjustment of the supervisory correlation, which `rho` replaces; "
            "pass asset_class='sme' with sales (and no rho), or drop sales."
        )
    return cls, adjust, None if cls is None else _sme_sales(cls, sales, rho=rho)


@_by_name("pd", "lgd", "rho")
def irb_capital(
    *,
    pd: Any,
    lgd: Any,
    asset_class: str | None = None,
    rho: Any = None,
    maturity: Any = None,
    maturity_adjustment: bool | None = None,
    sales: Any = None,
    confidence: float = 0.999,
) -> Any:
    r"""Compute the Basel II IRB capital requirement K per unit of exposure at default.

    Parameters
    ----------
    pd : float, array or Series
        One-year probability of default, in (0, 1); floored at 0.03 % for every class
        but sovereigns (Basel II paragraphs 285 and 331). All arguments are by name:
        ``pd``, ``lgd`` and ``rho`` are fractions and easy to swap.
    lgd : float, array or Series
        Loss given default, in [0, 1].
    asset_class : str, optional
        ``"corporate"`` (the default when ``rho`` is not given), ``"sovereign"``,
        ``"bank"``, ``"sme"`` (needs ``sales``), ``"residential_mortgage"``,
        ``"qualifying_revolving"`` or ``"other_retail"``: sets the correlation
        (:func:`irb_correlation`), the maturity rule (corporate, sovereign, bank and
        SME have the maturity adjustment, retail classes none) and the PD floor.
    rho : float, array or Series, optional
        Asset correlation overriding the class's supervisory one, in [0, 1). Without
        ``asset_class`` it needs an explicit ``maturity_adjustment`` (and no floor applies).
    maturity : float, array or Series, optional
        Effective maturity M in years, in (0, 5] (paragraph 320); default 2.5. Only
        where the maturity adjustment applies.
    maturity_adjustment : bool, optional
        Override the class's maturity rule: ``False`` drops the adjustment of a
        corporate class; ``True`` is refused for a retail class.
    sales : float, array or Series, optional
        Annual sales in EUR millions of an SME borrower (``asset_class="sme"`` only).
    confidence : float, default 0.999
        Confidence level of the capital (Basel: 99.9 %).

    Returns
    -------
    float, array or Series
        K, capital per unit of EAD, labelled like the first Series among the inputs.
        Risk-weighted assets are ``12.5 * K * EAD`` (:func:`irb_risk_weight`).

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``lgd`` outside [0, 1], ``rho`` outside [0, 1),
        ``maturity`` outside (0, 5] or ``confidence`` outside (0.5, 1); for an unknown
        class; for contradictory combinations (``rho`` without ``asset_class`` or
        ``maturity_adjustment``, ``maturity_adjustment=True`` or ``maturity`` with a
        retail class, ``maturity`` without an adjustment, ``sales`` without
        ``asset_class="sme"`` or with ``rho``); or when ``pd``, ``lgd`` or ``rho`` is
        given by position (the message shows the call to write).
    AlignmentError
        If labelled inputs name different exposures.

    Notes
    -----
    With :math:`R` the class's correlation and :math:`b = (0.11852 - 0.05478 \ln \mathrm{PD})^2`,

    .. math:: K = \left[\mathrm{LGD}\; N\!\left(\frac{N^{-1}(\mathrm{PD}) + \sqrt{R}\,N^{-1}(0.999)}{\sqrt{1-R}}\right)
              - \mathrm{PD}\cdot\mathrm{LGD}\right]\frac{1 + (M - 2.5)\,b}{1 - 1.5\,b},

    the unexpected loss of an infinitely granular pool at 99.9 % (the Vasicek quantile
    of :func:`vasicek_loss_quantile` minus the expected loss), scaled for maturity
    (paragraph 272); the retail classes drop the last factor (paragraphs 328-330).

    References
    ----------
    .. [1] BCBS (2005), An Explanatory Note on the Basel II IRB Risk Weight Functions.
    .. [2] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, comprehensive version, paragraphs 272-273, 285, 318-320, 327-331 and
       Annex 5 (illustrative risk weights).

    Examples
    --------
    >>> round(12.5 * irb_capital(pd=0.01, lgd=0.45), 4)  # Annex 5: corporate, PD 1 %, LGD 45 %, M 2.5 -> 92.32 %
    0.9232
    >>> round(12.5 * irb_capital(pd=0.01, lgd=0.25, asset_class="residential_mortgage"), 4)  # Annex 5: 31.33 %
    0.3133
    """
    cls, adjust, s = _rules(asset_class, rho, maturity, maturity_adjustment, sales)
    inputs: dict[str, object] = {"pd": pd, "lgd": lgd, "rho": rho, "maturity": maturity, "sales": sales}
    checked = {
        "pd": _pd_array(pd),
        "lgd": _lgd_array(lgd),
        **({"rho": _rho_array(rho)} if rho is not None else {}),
        **({"maturity": _maturity(maturity)} if maturity is not None else {}),
        **({"sales": s} if s is not None else {}),
    }
    # keep the labels of Series inputs for the alignment, the checked numbers for the values
    values, template = _labelled({k: _relabel(inputs[k], v) for k, v in checked.items()})
    p = _floored(values["pd"], cls)
    g = values["lgd"]
    r = values["rho"] if "rho" in values else _correlation(p, cls or "corporate", values.get("sales"))
    conf = check_fraction(confidence, name="confidence", low=0.5, low_open=True, high_open=True)
    k = g * _conditional_pd(_threshold(p), r, -_threshold(conf)) - p * g
    if adjust:
        m = values.get("maturity", np.asarray(DEFAULT_MATURITY))
        b = (0.11852 - 0.05478 * np.log(p)) ** 2
        k = k * (1 + (m - 2.5) * b) / (1 - 1.5 * b)
    return _like(k, template if template is not None else pd)


def _maturity(maturity: object) -> np.ndarray:
    """Check an effective maturity in years, in (0, 5] (Basel II paragraph 320)."""
    m = _positive(maturity, name="maturity")
    if (m > MAX_MATURITY).any():
        x = float(m[m > MAX_MATURITY].flat[0])
        unit = f" `maturity` is in years: did you mean {x / 12:g} years ({x:g} months)?" if x >= 12 else ""
        raise ParameterError(
            f"`maturity` must be at most {MAX_MATURITY:g} years (Basel II paragraph 320 caps M at 5), got {x:g}.{unit}"
        )
    return m


def _relabel(original: object, checked: np.ndarray) -> object:
    """Put checked numbers back under the labels of a Series input (other inputs pass as arrays)."""
    if isinstance(original, pandas.Series):
        return pandas.Series(checked.reshape(-1), index=original.index)
    return checked


@_by_name("pd", "lgd", "rho")
def irb_risk_weight(
    *,
    pd: Any,
    lgd: Any,
    asset_class: str | None = None,
    rho: Any = None,
    maturity: Any = None,
    maturity_adjustment: bool | None = None,
    sales: Any = None,
    confidence: float = 0.999,
) -> Any:
    r"""Compute the Basel II IRB risk weight, ``12.5 * K`` (risk-weighted assets per unit of EAD).

    Parameters
    ----------
    pd, lgd, asset_class, rho, maturity, maturity_adjustment, sales, confidence
        As in :func:`irb_capital` (all by name).

    Returns
    -------
    float, array or Series
        Risk weight as a fraction (``0.9232`` = 92.32 %).

    Raises
    ------
    ParameterError
        As :func:`irb_capital`.

    Notes
    -----
    .. math:: \mathrm{RW} = 12.5\,K, \qquad \mathrm{RWA} = 12.5\,K\,\mathrm{EAD}
              \quad (12.5 = 1 / 8\,\%).

    References
    ----------
    .. [1] BCBS (2006), International Convergence of Capital Measurement and Capital
       Standards, paragraph 272 and Annex 5.

    Examples
    --------
    >>> round(irb_risk_weight(pd=0.0003, lgd=0.45), 4)  # Annex 5, corporate PD 0.03 %: 14.44 %
    0.1444
    >>> round(100 * irb_risk_weight(pd=0.01, lgd=0.45, asset_class="sme", sales=5), 1)  # Annex 5, SME EUR 5m: 72.40 %
    72.4
    """
    k = irb_capital(
        pd=pd, lgd=lgd, asset_class=asset_class, rho=rho, maturity=maturity,
        maturity_adjustment=maturity_adjustment, sales=sales, confidence=confidence,
    )
    return k * 12.5

"""Finite pools: Monte Carlo of pool losses, tranche losses, and the pooling view by size and correlation."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from poolkit.credit._inputs import (
    _by_name,
    _exposures,
    _lgd_array,
    _like,
    _loss_rates,
    _n_loans,
    _n_sims,
    _pd_array,
    _positive,
    _rho,
    _rho_array,
    _rng,
    _scalar,
    _tranche_bounds,
    _vasicek_args,
)
from poolkit.credit._vasicek import _conditional_pd, _threshold, _vasicek_row, vasicek_tranche_loss
from poolkit.exceptions import AlignmentError, ParameterError

_pandas = pd  # functions whose argument is called `pd` (probability of default) use this name


def _per_loan(value: object, checked: np.ndarray, *, name: str, n: int, labels: pd.Index | None) -> np.ndarray:
    """One value per loan: a single number, or one per loan aligned by label when both are labelled."""
    if isinstance(value, _pandas.Series) and labels is not None:
        if value.index.has_duplicates or not value.index.sort_values().equals(labels.sort_values()):
            missing = labels.difference(value.index).tolist()[:5]
            extra = value.index.difference(labels).tolist()[:5]
            raise AlignmentError(
                f"`{name}` must be labelled like `exposures`; missing {missing}, not in `exposures` {extra}."
            )
        checked = checked.reshape(-1)[value.index.get_indexer(labels)]
    flat = checked.reshape(-1)
    if checked.ndim > 1 or flat.size not in (1, n):
        raise ParameterError(f"`{name}` must be one number or one value per loan ({n}), got shape {checked.shape}.")
    return np.broadcast_to(flat, (n,)).copy()


def _loan_inputs(
    n_loans: object, exposures: object, pd: object, lgd: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check a pool given by its number of equal loans or by the exposure of each loan, with PD and LGD."""
    if (n_loans is None) == (exposures is None):
        given = "both" if n_loans is not None else "neither"
        raise ParameterError(
            f"give either n_loans= (the number of equal loans, an int) or exposures= (the amount of each loan, "
            f"a list, array or Series), not {given}; e.g. simulate_pool_losses(n_loans=1000, pd=0.02, lgd=0.45, "
            f"rho=0.12)."
        )
    if exposures is None:
        n = _n_loans(n_loans)
        ead = np.full(n, 1.0 / n)
    else:
        ead = _exposures(exposures)
        n = ead.size
    labels = exposures.index if isinstance(exposures, _pandas.Series) else None
    p = _per_loan(pd, _pd_array(pd), name="pd", n=n, labels=labels)
    g = _per_loan(lgd, _lgd_array(lgd), name="lgd", n=n, labels=labels)
    return ead, p, g


@_by_name("exposures", "pd", "lgd", "rho", "n_sims", "seed")
def simulate_pool_losses(
    *,
    n_loans: int | None = None,
    exposures: Sequence[float] | np.ndarray | pd.Series | None = None,
    pd: float | Sequence[float] | np.ndarray | pd.Series,
    lgd: float | Sequence[float] | np.ndarray | pd.Series,
    rho: float,
    n_sims: int = 100_000,
    seed: int | np.random.Generator | None = None,
    progress: bool = False,
    max_memory_mb: float = 64.0,
) -> pd.Series:
    r"""Simulate the loss rate of a finite pool of loans (one-factor Gaussian copula).

    Every argument is by name (the pool, PD, LGD and correlation are easy to swap);
    give the pool either as ``n_loans`` or as ``exposures``.

    Parameters
    ----------
    n_loans : int, optional
        Number of loans of equal exposure, 1 to 10 million (an int; a float or a bool is
        refused).
    exposures : list, array or Series, optional
        Exposure at default of each loan (amounts >= 0, at least one positive; up to
        10 million loans). A Series labels the loans: ``pd`` and ``lgd`` Series are
        aligned to its labels.
    pd : float, array or Series
        Probability of default over the horizon, one number or one per loan, in (0, 1).
    lgd : float, array or Series
        Loss given default, one number or one per loan, in [0, 1].
    rho : float
        Asset correlation in [0, 1).
    n_sims : int, default 100_000
        Number of scenarios, 1 to 10 million.
    seed : int, numpy Generator or None, default None
        ``None`` draws fresh random numbers; a non-negative int (or a
        ``numpy.random.Generator``) makes the run reproducible.
    progress : bool, default False
        Show a tqdm progress bar (useful for millions of scenarios).
    max_memory_mb : float, default 64
        Memory budget of one chunk of loan-level draws; scenarios are simulated in
        chunks that fit it.

    Returns
    -------
    Series
        Loss of the pool in each scenario, as a fraction of the total exposure,
        indexed by ``scenario`` and named ``"loss"``.

    Raises
    ------
    ParameterError
        If ``pd`` is outside (0, 1), ``lgd`` outside [0, 1], ``rho`` outside [0, 1),
        an exposure is negative, both or neither of ``n_loans`` and ``exposures`` are
        given, ``n_loans`` is not an int, ``exposures`` is a single number, a size limit
        is passed, ``n_sims`` < 1, ``seed`` is not None, a non-negative int or a
        Generator, or an argument is given by position (the message shows the call to
        write).
    AlignmentError
        If labelled ``pd`` or ``lgd`` name other loans than ``exposures``.

    Notes
    -----
    Loan :math:`i` defaults when :math:`\sqrt{\rho}\,Z + \sqrt{1-\rho}\,\varepsilon_i < N^{-1}(p_i)`,
    with one common factor :math:`Z` per scenario. Conditional on :math:`Z` defaults are
    independent with probability

    .. math:: p_i(Z) = N\!\left(\frac{N^{-1}(p_i) - \sqrt{\rho}\,Z}{\sqrt{1-\rho}}\right),
              \qquad L = \frac{\sum_i \mathrm{EAD}_i\,\mathrm{LGD}_i\,D_i}{\sum_i \mathrm{EAD}_i}.

    *Exact bucket method*: loans that share the same PD and loss amount
    :math:`\mathrm{EAD}_i\mathrm{LGD}_i` form a bucket whose number of defaults, given
    :math:`Z`, is Binomial(:math:`n_b`, :math:`p_b(Z)`); when the pool has few such
    buckets (always for a homogeneous pool) one binomial draw per bucket replaces the
    loan-level draws. *Exact subset method* (heterogeneous exposures or PDs): within a
    group of loans, with :math:`\bar p(Z) = \max_i p_i(Z)`, a number
    :math:`K \sim \mathrm{Binomial}(n_g, \bar p(Z))` of candidates is drawn, the
    candidates are a uniformly random subset of the group (each loan is then a
    candidate independently with probability :math:`\bar p`), and each candidate
    defaults with probability :math:`p_i(Z)/\bar p(Z)` (thinning), so every loan
    defaults with probability :math:`p_i(Z)`: the work grows with the number of
    defaults, not of loans. Loans are grouped by PD (up to 8 groups) to keep
    :math:`\bar p` close to each :math:`p_i`. Scenarios run in chunks that fit
    ``max_memory_mb``. The mean loss tends to
    :math:`\sum_i \mathrm{EAD}_i\mathrm{LGD}_i p_i / \sum_i \mathrm{EAD}_i` and, for a
    large homogeneous pool, the quantiles to :func:`vasicek_loss_quantile`.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).
    .. [2] Glasserman, P. (2004). Monte Carlo Methods in Financial Engineering, section 9.4.

    Examples
    --------
    >>> losses = simulate_pool_losses(n_loans=1000, pd=0.02, lgd=0.45, rho=0.1, n_sims=20_000, seed=1)
    >>> bool(abs(losses.mean() - 0.02 * 0.45) < 0.0005)
    True
    """
    ead, p, g = _loan_inputs(n_loans, exposures, pd, lgd)
    r = _rho(rho)
    n_s = _n_sims(n_sims)
    budget = float(_scalar(_positive(max_memory_mb, name="max_memory_mb"), name="max_memory_mb"))
    rng = _rng(seed)
    total = ead.sum()
    w = ead * g / total  # loss of each loan as a fraction of the pool
    n_total = ead.size
    if (p == p[0]).all() and (w == w[0]).all():  # a homogeneous pool is one bucket
        uniq, counts = np.array([[p[0]], [w[0]]]), np.array([n_total])
    else:
        uniq, counts = np.unique(np.stack([p, w]), axis=1, return_counts=True)
    method = "buckets" if uniq.shape[1] <= max(1, n_total // 4) else "subsets"
    budget_items = max(1, int(budget * 1e6 // 16))
    groups: list[np.ndarray] = []
    if method == "buckets":
        chunk = budget_items // max(uniq.shape[1], 1)
    else:
        threshold = _threshold(p)
        order = np.argsort(p, kind="stable")
        n_groups = int(min(np.unique(p).size, 8))
        groups = [g_idx for g_idx in np.array_split(order, n_groups) if g_idx.size]
        expected = float(p.max()) * n_total * 4 + 8  # candidates per scenario, generously
        chunk = int(budget_items // expected)
    chunk = int(max(1, min(n_s, chunk)))
    losses = np.empty(n_s)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_s, desc="scenarios", unit="scen")
    thr_b, loss_b = _threshold(uniq[0]), uniq[1]
    start = 0
    while start < n_s:
        size = min(chunk, n_s - start)
        z = rng.standard_normal(size)
        if method == "buckets":
            cond = _conditional_pd(thr_b[None, :], r, z[:, None])
            losses[start:start + size] = rng.binomial(counts[None, :], cond) @ loss_b
        else:
            total_loss = np.zeros(size)
            for idx in groups:
                thr = threshold[idx]
                top = float(thr.max())
                p_top = _conditional_pd(top, r, z)
                k = rng.binomial(idx.size, p_top)
                if float(thr.min()) == top:
                    accept = None
                else:
                    def accept(s_idx: np.ndarray, l_idx: np.ndarray, thr: np.ndarray = thr,
                               z: np.ndarray = z, p_top: np.ndarray = p_top) -> np.ndarray:
                        with np.errstate(divide="ignore", invalid="ignore"):
                            ratio = _conditional_pd(thr[l_idx], r, z[s_idx]) / p_top[s_idx]
                        return np.where(p_top[s_idx] > 0, ratio, 0.0)
                total_loss += _thinned_subset_losses(rng, k, w[idx], accept, budget_items)
            losses[start:start + size] = total_loss
        start += size
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()
    return _pd_series(np.clip(losses, 0.0, None), name="loss", index_name="scenario")


def _thinned_subset_losses(
    rng: np.random.Generator,
    k: np.ndarray,
    weights: np.ndarray,
    accept: Any,
    max_items: int,
) -> np.ndarray:
    """Loss of each scenario when a uniformly random subset of ``k[s]`` loans are candidates.

    Candidates are drawn with replacement and the repeated ones redrawn until every
    scenario holds ``k[s]`` distinct loans; the procedure treats all loans alike, so
    every subset of that size is equally likely (exact). Candidate ``i`` of scenario
    ``s`` then defaults with probability ``accept(s, i)`` (thinning; ``None`` means 1,
    when all loans of the group share one PD). When more than half the loans are candidates, the
    scenario is done loan by loan instead.
    """
    n = weights.size
    size = k.size
    out = np.zeros(size)
    dense = np.flatnonzero(k > n // 2)
    if dense.size:  # rare, very bad scenarios: every loan is a candidate, draw them all
        for lo in range(0, dense.size, max(1, max_items // max(n, 1))):
            rows = dense[lo:lo + max(1, max_items // max(n, 1))]
            cand = np.argsort(np.argsort(rng.random((rows.size, n)), axis=1), axis=1) < k[rows, None]
            if accept is not None:
                r_idx = np.broadcast_to(rows[:, None], (rows.size, n))
                l_idx = np.broadcast_to(np.arange(n)[None, :], (rows.size, n))
                cand &= rng.random((rows.size, n)) < accept(r_idx, l_idx)
            out[rows] = cand @ weights
    sparse = np.flatnonzero(k <= n // 2)
    picks = k[sparse]
    bounds = np.concatenate([[0], np.cumsum(picks)])
    per_batch = max(1, min(sparse.size, max_items // max(n, 1)))  # bounds the ownership table
    owner = np.full(per_batch * n, -1, dtype=np.int64)  # position that holds each (scenario, loan)
    start = 0
    while start < sparse.size:  # batches of scenarios whose picks and table fit in memory
        stop = int(np.searchsorted(bounds, bounds[start] + max_items, side="right")) - 1
        stop = min(max(stop, start + 1), start + per_batch, sparse.size)
        scen = np.repeat(np.arange(stop - start, dtype=np.int64), picks[start:stop])
        idx = rng.integers(0, n, scen.size)
        key = scen * n + idx
        pos = np.arange(key.size)
        owner[key[::-1]] = pos[::-1]  # the first draw of each (scenario, loan) owns it
        pending = pos[owner[key] != pos]
        while pending.size:
            idx[pending] = rng.integers(0, n, pending.size)
            new_key = scen[pending] * n + idx[pending]
            free = owner[new_key] < 0
            cand, cand_key = pending[free], new_key[free]
            owner[cand_key[::-1]] = cand[::-1]
            won = owner[cand_key] == cand
            pending = np.concatenate([pending[~free], cand[~won]])
        owner[scen * n + idx] = -1  # every entry written above belongs to a final pick: reset them
        rows = sparse[start:stop]
        lost = weights[idx]
        if accept is not None:
            lost = lost * (rng.random(scen.size) < accept(rows[scen], idx))
        out[rows] = np.bincount(scen, weights=lost, minlength=stop - start)
        start = stop
    return out


def _pd_series(values: np.ndarray, *, name: str, index_name: str) -> pd.Series:
    """Wrap values in a Series with a named RangeIndex."""
    return _pandas.Series(values, index=_pandas.RangeIndex(len(values), name=index_name), name=name)


def tranche_loss(losses: Any, attachment: float, detachment: float) -> Any:
    r"""Compute the loss of a tranche as a fraction of its notional, scenario by scenario.

    Parameters
    ----------
    losses : float, array or Series
        Pool loss rate(s) as fractions of the pool (e.g. from :func:`simulate_pool_losses`).
    attachment, detachment : float
        Tranche bounds as fractions of the pool, ``0 <= attachment < detachment <= 1``.

    Returns
    -------
    float, array or Series
        Tranche loss in [0, 1] for each scenario (a Series keeps the scenario index and
        is named ``"tranche a-d"``); its mean is the expected tranche loss.

    Raises
    ------
    ParameterError
        If ``attachment >= detachment``, a bound is outside [0, 1], or a loss rate is
        outside [0, 1] (a loss of 5 for 5 % gets a hint).

    Notes
    -----
    .. math:: \ell_{[a,d]}(L) = \frac{\min\{\max(L - a, 0),\ d - a\}}{d - a}.

    The equity tranche :math:`[0, a_1]` absorbs the first losses; senior tranches are hit
    only when the pool loss passes their attachment, which diversification makes rare
    and correlation makes likelier.

    References
    ----------
    .. [1] Hull, J. and White, A. (2004). Valuation of a CDO and an n-th to default CDS
       without Monte Carlo simulation. Journal of Derivatives 12(2), 8-23.

    Examples
    --------
    >>> tranche_loss(np.array([0.01, 0.05, 0.2]), 0.03, 0.07).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    a, d = _tranche_bounds(attachment, detachment)
    arr = _loss_rates(losses, name="losses")
    out = np.minimum(np.maximum(arr - a, 0.0), d - a) / (d - a)
    if isinstance(losses, pd.Series):
        return pd.Series(out, index=losses.index.copy(), name=f"tranche {a:g}-{d:g}")
    return _like(out, losses)


def tranche_table(
    losses: pd.Series | np.ndarray,
    tranches: Mapping[str, float],
    *,
    pd: float | None = None,
    lgd: float = 1.0,
    rho: float | None = None,
) -> pd.DataFrame:
    r"""Tabulate the expected loss and hit probabilities of a capital structure of tranches.

    Parameters
    ----------
    losses : Series or array
        Simulated pool loss rates (fractions of the pool).
    tranches : mapping of str to float
        Tranche name -> detachment point, from the most junior up, e.g.
        ``{"equity": 0.03, "mezzanine": 0.07, "senior": 1.0}``; each tranche attaches
        where the previous one detaches (the first at 0).
    pd, rho : float, optional
        Give both to add the large-pool (Vasicek) expected tranche loss.
    lgd : float, default 1.0
        Loss given default for the Vasicek column.

    Returns
    -------
    DataFrame
        Index ``tranche``; columns ``attachment``, ``detachment``, ``expected_loss``
        (fraction of the tranche), ``prob_hit`` (P[L > attachment]),
        ``prob_wiped_out`` (P[L >= detachment]), ``share_of_pool_loss`` and, with
        ``pd`` and ``rho``, ``vasicek_expected_loss``.

    Raises
    ------
    ParameterError
        If the detachment points are not increasing within (0, 1], ``losses`` is empty
        or holds a loss rate outside [0, 1], or only one of ``pd`` and ``rho`` is given.

    Notes
    -----
    The tranche losses add up to the pool loss:
    :math:`\sum_j (d_j - a_j)\,\ell_j = \min(L, d_{last})`.

    Examples
    --------
    >>> t = tranche_table(np.array([0.0, 0.02, 0.05, 0.10]), {"equity": 0.03, "senior": 1.0})
    >>> t["expected_loss"].round(4).tolist()
    [0.6667, 0.0232]
    """
    if not isinstance(tranches, Mapping) or not tranches:
        raise ParameterError(
            "`tranches` must be a non-empty mapping of name -> detachment point, e.g. "
            "{'equity': 0.03, 'mezzanine': 0.07, 'senior': 1.0}."
        )
    if (pd is None) != (rho is None):
        raise ParameterError(
            "give both `pd` and `rho` for the Vasicek column (e.g. pd=0.02, rho=0.12), or neither; "
            f"got pd={pd!r}, rho={rho!r}."
        )
    arr = _loss_rates(losses, name="losses").reshape(-1)
    total = float(arr.mean())
    rows = {}
    attach = 0.0
    for name, det in tranches.items():
        a, d = _tranche_bounds(attach, det)
        tl = tranche_loss(arr, a, d)
        row = {
            "attachment": a,
            "detachment": d,
            "expected_loss": float(np.mean(tl)),
            "prob_hit": float(np.mean(arr > a)),
            "prob_wiped_out": float(np.mean(arr >= d)),
            "share_of_pool_loss": float(np.mean(tl) * (d - a) / total) if total > 0 else 0.0,
        }
        if pd is not None and rho is not None:
            row["vasicek_expected_loss"] = vasicek_tranche_loss(a, d, pd=pd, lgd=lgd, rho=rho)
        rows[str(name)] = row
        attach = d
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tranche"
    return table


def _quantile_columns(quantiles: Sequence[float]) -> list[float]:
    """Check the loss quantiles of a table: probabilities in (0, 1), at least one."""
    if isinstance(quantiles, (str, bytes)) or not isinstance(quantiles, Iterable):
        raise ParameterError(f"`quantiles` must be a list of levels in (0, 1) such as [0.95, 0.999], got {quantiles!r}.")
    qs = _pd_array(list(quantiles), name="quantiles").reshape(-1)
    return [float(q) for q in qs]


def _binomial_losses(p: float, g: float, r: float, size: int, n_s: int, rng: np.random.Generator) -> np.ndarray:
    """Loss rates of a homogeneous pool of ``size`` loans: Binomial(n, p(Z)) defaults given the factor."""
    z = rng.standard_normal(n_s)
    cond = _conditional_pd(_threshold(p), r, z)
    return g * rng.binomial(size, cond) / size


def _stats_row(sims: np.ndarray, qs: Sequence[float]) -> dict[str, float]:
    """Mean, standard deviation and quantiles of simulated loss rates."""
    row = {"mean": float(sims.mean()), "std": float(sims.std(ddof=1)) if sims.size > 1 else 0.0}
    for q, v in zip(qs, np.quantile(sims, qs), strict=True):
        row[f"q{q:g}"] = float(v)
    return row


@_by_name("pd", "lgd", "rho", "n_loans")
def loss_distribution_by_pool_size(
    *,
    pd: float,
    lgd: float,
    rho: float,
    n_loans: int | Sequence[int] = (1, 10, 100, 1000, 10_000),
    n_sims: int = 100_000,
    seed: int | np.random.Generator | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99, 0.999),
) -> pd.DataFrame:
    r"""Tabulate how the loss distribution of a homogeneous pool narrows as loans are added.

    Parameters
    ----------
    pd, lgd, rho : float
        Probability of default, loss given default and asset correlation of each loan
        (by name, like every argument: they are easy to swap).
    n_loans : int or sequence of int
        Pool sizes to compare: numbers of loans (ints, 1 to 10 million, no repeats).
    n_sims : int, default 100_000
        Scenarios per pool size (exact binomial draws given the factor), up to 10 million.
    seed : int, numpy Generator or None
        Seed of the random generator (see :func:`simulate_pool_losses`).
    quantiles : sequence of float
        Loss quantiles to report.

    Returns
    -------
    DataFrame
        Index ``n_loans`` (float; the last row ``inf`` is the infinitely granular
        Vasicek limit, computed in closed form); columns ``mean``, ``std`` and one
        ``q<level>`` column per quantile, all loss rates of the pool.

    Raises
    ------
    ParameterError
        For parameters out of range, a pool size that is not an int in [1, 10 million]
        or is repeated, a bad seed, or an argument given by position (the message shows
        the call to write).

    Notes
    -----
    The mean stays at :math:`\mathrm{PD}\cdot\mathrm{LGD}` whatever the size; the variance
    falls towards the systematic part,

    .. math:: \operatorname{Var}(L_n) = \mathrm{LGD}^2\left[\frac{\mathrm{PD} - p_2}{n} + p_2 - \mathrm{PD}^2\right],
              \quad p_2 = N_2\big(N^{-1}(\mathrm{PD}), N^{-1}(\mathrm{PD}); \rho\big),

    which is what pooling cannot diversify away (unless :math:`\rho = 0`).

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> t = loss_distribution_by_pool_size(pd=0.02, lgd=1.0, rho=0.1, n_loans=[1, 100], n_sims=20_000, seed=0)
    >>> bool(t.loc[1.0, "std"] > t.loc[100.0, "std"] > t.loc[np.inf, "std"])
    True
    """
    p, g, r = _vasicek_args(pd=pd, lgd=lgd, rho=rho, lgd_zero=True)
    sizes = _pool_sizes(n_loans)
    qs = _quantile_columns(quantiles)
    n_s = _n_sims(n_sims)
    rng = _rng(seed)
    rows = {float(n): _stats_row(_binomial_losses(p, g, r, n, n_s, rng), qs) for n in sizes}
    rows[np.inf] = _vasicek_row(p, r, g, qs)
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "n_loans"
    return table


def _pool_sizes(n_loans: object) -> list[int]:
    """Check the pool sizes of the pooling table: one int or a sequence of distinct ints."""
    if isinstance(n_loans, numbers.Integral):
        values: Iterable[object] = [n_loans]
    elif isinstance(n_loans, Iterable) and not isinstance(n_loans, (str, bytes)):
        values = n_loans
    else:
        raise ParameterError(f"`n_loans` must be a number of loans or a list of them, e.g. [1, 10, 100], got {n_loans!r}.")
    sizes = [_n_loans(n) for n in values]
    if not sizes:
        raise ParameterError("`n_loans` is empty; give pool sizes such as [1, 10, 100, 1000].")
    repeated = sorted({n for n in sizes if sizes.count(n) > 1})
    if repeated:
        raise ParameterError(f"`n_loans` lists {repeated} more than once; give each pool size once.")
    return sizes


@_by_name("pd", "lgd", "rhos")
def loss_distribution_by_correlation(
    *,
    pd: float,
    lgd: float,
    rhos: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    n_loans: int = 0,
    n_sims: int = 100_000,
    seed: int | np.random.Generator | None = None,
    quantiles: Sequence[float] = (0.5, 0.95, 0.99, 0.999),
) -> pd.DataFrame:
    r"""Tabulate how the loss distribution of a pool widens as the correlation of its loans rises.

    Parameters
    ----------
    pd, lgd : float
        Probability of default and loss given default of each loan (by name, like
        every argument).
    rhos : sequence of float
        Asset correlations to compare, each in [0, 1), no repeats.
    n_loans : int, default 0
        Pool size, an int up to 10 million; ``0`` means infinitely granular (Vasicek
        closed form, no simulation).
    n_sims : int, default 100_000
        Scenarios per correlation when ``n_loans > 0``, up to 10 million.
    seed : int, numpy Generator or None
        Seed of the random generator (see :func:`simulate_pool_losses`).
    quantiles : sequence of float
        Loss quantiles to report.

    Returns
    -------
    DataFrame
        Index ``rho``; columns ``mean``, ``std`` and ``q<level>`` per quantile.

    Raises
    ------
    ParameterError
        For parameters out of range, repeated correlations, a bad seed, or an argument
        given by position (the message shows the call to write).

    Notes
    -----
    The expected loss :math:`\mathrm{PD}\cdot\mathrm{LGD}` does not depend on
    :math:`\rho`, but the tail does: with the factor at its 99.9 % bad value the
    conditional default rate is
    :math:`N\big((N^{-1}(\mathrm{PD}) + \sqrt{\rho}N^{-1}(0.999))/\sqrt{1-\rho}\big)`,
    which rises steeply with :math:`\rho`: the systemic risk that pooling cannot remove.

    References
    ----------
    .. [1] Vasicek, O. (2002). The distribution of loan portfolio value. Risk 15(12).

    Examples
    --------
    >>> t = loss_distribution_by_correlation(pd=0.02, lgd=1.0, rhos=[0.0, 0.1, 0.3])
    >>> t["q0.999"].round(4).tolist()
    [0.02, 0.1282, 0.333]
    """
    rs = [float(r) for r in _rho_array(list(rhos) if isinstance(rhos, Iterable) else rhos, name="rhos").reshape(-1)]
    repeated = sorted({r for r in rs if rs.count(r) > 1})
    if repeated:
        raise ParameterError(f"`rhos` lists {repeated} more than once; give each correlation once.")
    p, g, _ = _vasicek_args(pd=pd, lgd=lgd, rho=rs[0], lgd_zero=True)
    qs = _quantile_columns(quantiles)
    n = _n_loans(n_loans, minimum=0)
    rng = _rng(seed)
    n_s = _n_sims(n_sims)
    rows = {
        r: _vasicek_row(p, r, g, qs) if n == 0 else _stats_row(_binomial_losses(p, g, r, n, n_s, rng), qs)
        for r in rs
    }
    table = _pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "rho"
    return table

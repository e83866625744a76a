r"""Cholesky solves in mixed precision: single-precision factors, double-precision answers.

A Cholesky factorisation costs :math:`n^3/3` multiply-adds and dominates the dense
optimisers on large universes; in single precision it runs about twice as fast. The
answer is brought to double precision by iterative refinement (Wilkinson; Moler 1967;
the scheme of LAPACK's ``dsposv``):

.. math:: x_0 = \tilde L^{-\top} \tilde L^{-1} b, \qquad
          r_k = b - A x_k \ (\text{double}), \qquad
          x_{k+1} = x_k + \tilde L^{-\top} \tilde L^{-1} r_k ,

which converges when :math:`\kappa(A)\, \varepsilon_{\text{single}} < 1` and stops when the
refinement no longer makes progress, accepted if the normwise backward error :math:`\|r_k\|_\infty / (\|A\|_\infty \|x_k\|_\infty + \|b\|_\infty)`
is at the level of double rounding (:math:`\sqrt{n}\, \varepsilon_{\text{double}}`; the norm of
:math:`A` is bounded by :math:`\max_i \sqrt{a_{ii}} \sum_j \sqrt{a_{jj}}`, since
:math:`|a_{ij}| \le \sqrt{a_{ii} a_{jj}}` for a positive semi-definite matrix): the
result is then as good as a double-precision solve. When refinement stalls (an
ill-conditioned matrix) :class:`Imprecise` is raised and the caller factorises in double
precision.

References
----------
.. [1] Moler, C. B. (1967). Iterative refinement in floating point. J. ACM 14(2), 316-321.
.. [2] Buttari, A., Dongarra, J., Langou, J., Langou, J., Luszczek, P., Kurzak, J. (2007).
       Mixed precision iterative refinement techniques for the solution of dense linear
       systems. Int. J. High Perform. Comput. Appl. 21(4), 457-466.
.. [3] van der Sluis, A. (1969). Condition numbers and equilibration of matrices. Numer.
       Math. 14, 14-23.
.. [4] Demmel, J. (1989). On floating point errors in Cholesky. LAPACK Working Note 14.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MIXED_MIN", "Cholesky", "Imprecise", "symmetric_times"]

#: Smallest matrix factorised in single precision first (below it a double factor is cheap).
MIXED_MIN = 1200
#: Smallest single-precision pivot accepted, relative to the root of its diagonal entry (a
#: condition number of the equilibrated matrix up to about 1e6).
SINGLE_PIVOT_SPREAD = 1e-3
#: Most right-hand sides solved column by column (BLAS trsv; at n = 5000 one pair of trsv takes a
#: quarter of the time of a trsm pair on one column, three pairs three quarters of it).
FEW_COLUMNS = 3
_EPS = float(np.finfo(np.float64).eps)


class Imprecise(Exception):
    """Iterative refinement on a single-precision factor did not reach double precision."""


def symmetric_times(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:math:`A x` for a symmetric float64 matrix and a vector, reading one triangle (BLAS symv).

    Half the memory traffic of a general product (about 1.8 times faster at n = 5000), for
    the interior point's residuals; other shapes and types use the general product.
    """
    if a.dtype != np.float64 or x.ndim != 1 or a.shape[0] < MIXED_MIN:
        return a @ x
    from scipy.linalg.blas import dsymv

    return np.asarray(dsymv(1.0, _fortran(a), np.ascontiguousarray(x, dtype=np.float64), lower=1))


def _fortran(a: np.ndarray) -> np.ndarray:
    """Return a symmetric matrix in the layout LAPACK factorises in place (a row-major one: its transpose)."""
    return a.T if a.flags.c_contiguous and not a.flags.f_contiguous else a


class Cholesky:
    r"""A Cholesky factor of a symmetric positive definite matrix, with solves to double precision.

    Parameters
    ----------
    a : ndarray of shape (n, n)
        The matrix (double precision). With ``single=True`` it is kept (not copied) for the
        residuals of the refinement, so the caller must not change it.
    single : bool
        Factorise in single precision and refine every solve (see the module notes).
    overwrite : bool
        Let the factorisation overwrite ``a`` (or, with ``single=True``, the single-precision
        source ``a32``, or ``a`` when it is single precision).
    shift : ndarray of shape (n,), optional
        Factorise :math:`A + \operatorname{diag}(\text{shift})` without forming it in double
        precision (the residuals use :math:`Ax + \text{shift} \odot x`).
    a32 : ndarray of shape (n, n), optional
        ``a`` already in single precision (reused by callers that factor many shifts of it;
        with ``overwrite`` and no shift it may be overwritten).
    times : callable, optional
        :math:`x \mapsto A x` in double precision, for the residuals when ``a`` itself is
        only held in single precision (``a`` then gives the size and the diagonal).
    out : ndarray of shape (n, n), float32, optional
        With ``single=True``: the buffer the single-precision factor is written to (a caller
        that factors many shifts of one matrix reuses it instead of allocating a new one).

    Raises
    ------
    numpy.linalg.LinAlgError
        When the factorisation fails (the matrix is not numerically positive definite in
        the precision used).

    Examples
    --------
    >>> a = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> Cholesky(a, single=True).solve(np.array([2.0, 1.0])).round(12).tolist()  # [[4,2],[2,3]] x = [2,1]
    [0.5, 0.0]
    """

    def __init__(
        self,
        a: np.ndarray,
        *,
        single: bool,
        overwrite: bool = False,
        shift: np.ndarray | None = None,
        a32: np.ndarray | None = None,
        times: Callable[[np.ndarray], np.ndarray] | None = None,
        out: np.ndarray | None = None,
    ) -> None:
        from scipy.linalg import cho_factor

        self.single = single
        self.n = a.shape[0]
        self.a = a
        self.shift = shift
        self.times = times
        diag = np.diag(a).astype(np.float64) if shift is None else np.diag(a) + shift
        self.diag = diag
        if single:
            work = a if a32 is None else a32
            if out is not None:
                # symmetric: copied as its transpose when that is the buffer's layout (no strided copy)
                swap = out.flags.f_contiguous != work.flags.f_contiguous
                np.copyto(out, work.T if swap else work, casting="same_kind")
                work = out
            elif work.dtype != np.float32:
                work = work.astype(np.float32)
            elif not overwrite:
                work = work.copy()
            if shift is not None:
                work[np.diag_indices(self.n)] += shift.astype(np.float32)
            self.factor: Any = cho_factor(_fortran(work), lower=True, check_finite=False, overwrite_a=True)
            # ||A||_inf bounded in O(n): |a_ij| <= sqrt(a_ii a_jj) for a positive semi-definite A
            root = np.sqrt(np.maximum(diag, 0.0))
            self.anorm = float(root.max(initial=0.0) * root.sum())
        else:
            work = a
            if shift is not None:
                work = a if overwrite else a.copy()
                work[np.diag_indices(self.n)] += shift
                overwrite = True
            self.factor = cho_factor(_fortran(work), lower=True, check_finite=False, overwrite_a=overwrite)
            self.anorm = 0.0

    def _times(self, x: np.ndarray) -> np.ndarray:
        """:math:`A x` with the double-precision matrix (and its diagonal shift)."""
        out = self.times(x) if self.times is not None else self.a @ x
        if self.shift is not None:
            out += self.shift[:, None] * x if x.ndim == 2 else self.shift * x
        return out

    @property
    def pivots(self) -> np.ndarray:
        """Absolute diagonal of the factor (double precision)."""
        return np.abs(np.diag(self.factor[0])).astype(np.float64)

    def well_conditioned(self) -> bool:
        r"""Tell whether a single-precision factor's pivots promise a refinement that converges.

        Each pivot is taken relative to the root of its own diagonal entry,
        :math:`\ell_{ii} / \sqrt{a_{ii}}`, the measure that does not change when rows and
        columns are scaled (the accuracy of a Cholesky factor depends on the condition number
        of :math:`DAD` with :math:`D = \operatorname{diag}(a_{ii})^{-1/2}`, van der Sluis
        1969; Demmel 1989): a large diagonal shift on a few entries, as an interior point's
        barrier makes, is no reason to refuse the factor.
        """
        piv = self.pivots
        if piv.size == 0:
            return True
        root = np.sqrt(np.maximum(self.diag, 1e-300))
        return bool(np.isfinite(piv).all() and (piv / root).min() > SINGLE_PIVOT_SPREAD)

    def apply_inverse(self, b: np.ndarray) -> np.ndarray:
        """One solve with the factor as it is, unrefined (e.g. a preconditioner); double-precision result."""
        return self._raw(np.asarray(b, dtype=np.float64))

    def _raw(self, b: np.ndarray) -> np.ndarray:
        # two triangular solves: LAPACK's potrs on one or a few right-hand sides goes through
        # the level-3 trsm and is 3-7 times slower than the level-2 trsv on a large factor
        from scipy.linalg.blas import get_blas_funcs

        c = self.factor[0]
        rhs = b.astype(c.dtype, copy=True)
        if rhs.size == 0:
            return rhs.astype(np.float64)
        if rhs.ndim == 1:
            (trsv,) = get_blas_funcs(("trsv",), (c,))
            y = trsv(c, rhs, overwrite_x=1, lower=1, trans=0)
            return np.asarray(trsv(c, y, overwrite_x=1, lower=1, trans=1), dtype=np.float64)
        if rhs.shape[1] <= FEW_COLUMNS:  # a row or two of constraints: trsv per column is faster still
            return np.column_stack([self._raw(np.ascontiguousarray(col)) for col in rhs.T])
        (trsm,) = get_blas_funcs(("trsm",), (c,))
        y = trsm(1.0, c, rhs, overwrite_b=1, lower=1, trans_a=0)
        return np.asarray(trsm(1.0, c, y, overwrite_b=1, lower=1, trans_a=1), dtype=np.float64)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """Solve :math:`A x = b` (``b`` of shape (n,) or (n, k)) to double precision."""
        b = np.asarray(b, dtype=np.float64)
        x = self._raw(b)
        if not self.single:
            return x
        bnorm = float(np.abs(b).max(initial=0.0))
        enough = np.sqrt(self.n) * _EPS
        prev = np.inf
        x_prev = x
        for _ in range(12):
            r = b - self._times(x)
            err = float(np.abs(r).max(initial=0.0)) / (self.anorm * float(np.abs(x).max(initial=0.0)) + bnorm + 1e-300)
            if err == 0.0:
                return x
            # refined until it stops making progress: the bound on ||A|| can exceed the norm many
            # times over, so a backward error at rounding by this measure is no stopping rule alone
            if not err < 0.5 * prev:  # no more progress: done if at double rounding, else refused
                if prev <= enough:
                    return x_prev
                break
            prev, x_prev = err, x
            x = x + self._raw(r)
        raise Imprecise("iterative refinement stalled")

"""Batched sparse linear solves ``A_b x_b = r_b`` that are differentiable by one adjoint solve.

All ``B`` systems share one :class:`SparsePattern` (``nnz`` entries, row-major sorted) and differ
in their values ``(B, nnz)``. For a loss ``L(x)`` the backward pass solves the adjoint system

.. math:: A^T \\lambda = \\partial L / \\partial x,\\qquad
          \\partial L / \\partial r = \\lambda,\\qquad
          \\partial L / \\partial A_{ij} = -\\lambda_i x_j

for ``(i, j)`` in the sparsity pattern only

(Giles & Pierce 2000; the torch-fem ``Solve`` function). Backends, all applied to the
block-diagonal matrix of the ``B`` systems; each keeps its factorization or preconditioner in a
:class:`Factorization` that the adjoint solve of ``backward`` reuses (and that
:meth:`SparseSolver.factorize` hands out for many right-hand sides, e.g. time stepping):

* ``"amg"`` — conjugate gradients preconditioned by one V-cycle of classical (Ruge–Stüben)
  algebraic multigrid (pyamg; Ruge & Stüben 1987, Briggs et al., *A Multigrid Tutorial*, ch. 8)
  on the host; for symmetric positive definite systems. Cost ~ ``O(nnz)`` per iteration and a
  mesh-independent iteration count, so it wins for large single solves (no fill-in).
* ``"cholesky"`` — sparse Cholesky ``A = LLᵀ`` (cholespy: CHOLMOD on CPU, its CUDA solver on
  GPU, the data stay on the values' device); SPD only. Factor once, then each solve is two
  triangular solves: the choice for repeated solves with one matrix.
* ``"direct"`` — SciPy SuperLU (``splu``) on the host: any non-singular matrix (the fallback);
  the adjoint uses ``trans="T"``.
* ``"cg"`` — batched Jacobi-preconditioned CG in torch on the values' device (no host round trip,
  no dependency); SPD only.

Iterative solves stop when every system reaches ``‖r - A x‖ ≤ tol · ‖r‖`` (else
:class:`ConvergenceError` with the residuals); direct solves check the same residual. The achieved
relative residual of every system is reported in :attr:`SparseSolver.last_info`.

``"auto"`` chooses by problem: a symmetric matrix with a positive diagonal (every SPD matrix
qualifies; Cholesky falls back to SuperLU if the factorization finds it indefinite) gets
``"cholesky"`` when it is factorized for repeated solves (:meth:`SparseSolver.factorize`), on a
non-CPU device, or below :attr:`SparseSolver.amg_min_rows` rows, and ``"amg"`` otherwise; any
other matrix gets ``"direct"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cholespy
import numpy as np
import pyamg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from sciml.solvers.fem.sorting import argsort_keys, unique_keys

__all__ = [
    "METHODS",
    "SparsePattern",
    "SparseSolver",
    "SolveInfo",
    "ConvergenceError",
    "SingularSystemError",
]


#: accepted ``method`` values of :class:`SparseSolver`
METHODS = ("auto", "amg", "cholesky", "direct", "cg")


class ConvergenceError(RuntimeError):
    """An iterative solve that did not reach its tolerance."""


class SingularSystemError(ValueError):
    """A singular (or numerically singular) system, e.g. pure Neumann without a constraint."""


@dataclass(frozen=True)
class SparsePattern:
    """Sparsity pattern of ``n × n`` matrices: unique ``(rows, cols)`` sorted row-major.

    ``transpose`` optionally gives :attr:`transpose_positions` where the builder knows it (a
    structurally symmetric pattern from :meth:`from_cell_dofs` or a condensation of one), which
    saves the sort of the transposed keys.
    """

    rows: Tensor
    cols: Tensor
    n: int
    transpose: Tensor | None = field(default=None, repr=False, compare=False)

    @property
    def nnz(self) -> int:
        return int(self.rows.shape[0])

    @classmethod
    def from_cell_dofs(
        cls, cell_dofs: Tensor, n: int, components: int = 1
    ) -> tuple[SparsePattern, Tensor]:
        """Pattern of an FE matrix and the map ``(E·K·K,) → nnz`` of each local entry.

        ``cell_dofs`` ``(E, k)`` are scalar dofs (distinct within a cell) among ``n``; with
        ``components = c`` the matrix acts on the interleaved vector dofs ``c·s + r`` and the
        local matrices are ``(E, K, K)``, ``K = k·c``, in the order (shape function, component).
        Computed once per mesh and element; assembly then only does ``index_add_`` of the local
        matrices through the returned map.

        Only the ``k(k-1)/2`` dof pairs of each cell are sorted (one unique over packed keys);
        every row holds its diagonal. The row of dof ``i`` lists its lower neighbours, ``i``
        itself, then its upper neighbours, so positions follow from neighbour counts, and the
        vector pattern from the scalar one by expanding each entry into a ``c × c`` block
        (torch-fem builds its pattern the same way).
        """
        e, k = cell_dofs.shape
        dev = cell_dofs.device
        iu, ju = torch.triu_indices(k, k, offset=1, device=dev)
        a, b = cell_dofs.index_select(1, iu), cell_dofs.index_select(1, ju)  # (E, k(k-1)/2)
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        keys, inverse = unique_keys(lo * n + hi, return_inverse=True)  # edges sorted by (lo, hi)
        up_row, up_col = keys // n, keys % n  # edge (i, j), i < j: entry (i, j) and (j, i)
        n_up = torch.bincount(up_row, minlength=n)
        n_low = torch.bincount(up_col, minlength=n)
        deg = n_low + 1 + n_up
        start = torch.cumsum(deg, 0) - deg  # row pointer
        up_first = torch.cumsum(n_up, 0) - n_up  # first edge with up_row = i (keys are sorted)
        low_first = torch.cumsum(n_low, 0) - n_low
        diag = start + n_low
        arange_e = torch.arange(len(keys), device=dev)
        # (index_select / index_copy_ / take: several times faster than [] indexing on CPU)
        pos_up = (diag + 1 - up_first).index_select(0, up_row) + arange_e
        order = argsort_keys(up_col * n + up_row)  # edges sorted by (j, i): entries (j, i)
        pos_low = torch.empty_like(pos_up).index_copy_(
            0, order, (start - low_first).index_select(0, up_col.index_select(0, order)) + arange_e
        )
        # scalar map: entry (i, j) of pair t = (i < j) is the edge's upper position when
        # dof_i < dof_j, else its lower one; (j, i) the other; then the diagonal entries
        table = torch.stack([pos_up, pos_low], dim=1).reshape(-1)
        idx = 2 * inverse + (a > b)  # (E, k(k-1)/2)
        local = torch.cat(
            [torch.take(table, idx), torch.take(table, idx ^ 1), torch.take(diag, cell_dofs)], dim=1
        )
        column = torch.empty(k, k, dtype=torch.long, device=dev)  # (i, j) → column of `local`
        npair = len(iu)
        column[iu, ju] = torch.arange(npair, device=dev)
        column[ju, iu] = torch.arange(npair, 2 * npair, device=dev)
        column[range(k), range(k)] = torch.arange(2 * npair, 2 * npair + k, device=dev)
        k_map = local.index_select(1, column.reshape(-1)).reshape(e, k, k)
        entries = (pos_up, pos_low, diag)
        arange_n = torch.arange(n, device=dev)

        def on_entries(up: Tensor, low: Tensor, on_diag: Tensor) -> Tensor:
            out = torch.empty(2 * len(keys) + n, dtype=torch.long, device=dev)
            for pos, v in zip(entries, (up, low, on_diag), strict=True):
                out.index_copy_(0, pos, v)
            return out

        rows_s = on_entries(up_row, up_col, arange_n)
        cols_s = on_entries(up_col, up_row, arange_n)
        tp_s = on_entries(pos_low, pos_up, diag)  # entry (i, j) ↔ (j, i)
        c = components
        if c == 1:
            return cls(rows_s, cols_s, n, tp_s), k_map.reshape(-1)
        # entry ((I, r), (J, s)) of scalar entry (I, J) at p sits at
        # c²·start[I] + r·c·deg[I] + c·(p - start[I]) + s (row (I, r) holds c·deg[I] entries)
        comp = torch.arange(c, device=dev)
        row_base, row_step = (c * c - c) * start, c * deg

        def per_row(table: Tensor, row: Tensor) -> Tensor:
            return table.index_select(0, row.reshape(-1)).reshape(row.shape)

        def vector_pos(p: Tensor, row: Tensor) -> Tensor:  # (...) → (..., r, s)
            base = c * p + per_row(row_base, row)
            return (base[..., None] + per_row(row_step, row)[..., None] * comp)[..., None] + comp

        vpos = vector_pos(torch.arange(len(rows_s), device=dev), rows_s).reshape(-1)

        def on_vector_entries(v: Tensor) -> Tensor:  # (nnz, r, s) in scalar order → sorted
            return torch.empty_like(vpos).index_copy_(0, vpos, v.reshape(-1))

        rows_v = on_vector_entries((rows_s[:, None, None] * c + comp[:, None]).expand(-1, c, c))
        cols_v = on_vector_entries((cols_s[:, None, None] * c + comp).expand(-1, c, c))
        # ((I, r), (J, s)) ↔ ((J, s), (I, r)): scalar transpose, components swapped
        tp_v = on_vector_entries(vector_pos(tp_s, cols_s).transpose(1, 2))
        # local entry ((i, r), (j, s)) of a cell, built in local order (E, k, r, k, s)
        base = c * k_map + per_row(row_base, cell_dofs)[:, :, None]  # (E, k, k)
        step = per_row(row_step, cell_dofs)[:, :, None] * comp  # (E, k, r)
        kv = (base[:, :, None, :] + step[..., None])[..., None] + comp
        return cls(rows_v, cols_v, n * c, tp_v), kv.reshape(-1)

    @cached_property
    def transpose_positions(self) -> Tensor | None:
        """Index of entry ``(j, i)`` for every entry ``(i, j)``, or ``None`` if the pattern is not
        structurally symmetric (computed once per pattern, unless given as ``transpose``)."""
        if self.transpose is not None:
            return self.transpose
        # entry q is the transpose of entry perm[q] when the transposed keys, sorted, are the keys
        # (one argsort; the map is an involution, so perm is its own inverse)
        keys_t = self.cols * self.n + self.rows
        perm = argsort_keys(keys_t)
        if not bool((keys_t[perm] == self.rows * self.n + self.cols).all()):
            return None
        return perm

    def is_symmetric(self, values: Tensor) -> bool:
        """Whether every matrix ``(B, nnz)`` equals its transpose (to 1e-12 relative, 1e-5 in
        float32)."""
        tp = self.transpose_positions
        if tp is None:
            return False
        v = values.detach()
        tol = (1e-12 if v.dtype == torch.float64 else 1e-5) * float(v.abs().max().clamp_min(1e-300))
        return bool(((v - v[:, tp]).abs() <= tol).all())

    def positions(self, rows: Tensor, cols: Tensor) -> Tensor:
        """Indices into the values of entries ``(rows, cols)``; all must be in the pattern."""
        keys = self.rows * self.n + self.cols
        q = rows * self.n + cols
        pos = torch.searchsorted(keys, q).clamp_max(self.nnz - 1)
        if not bool((keys[pos] == q).all()):
            raise ValueError("entries outside the sparsity pattern")
        return pos

    def matvec(self, values: Tensor, x: Tensor, transpose: bool = False) -> Tensor:
        """``A_b x_b`` (or ``A_bᵀ x_b``) for values ``(B, nnz)`` and ``x`` ``(B, n)``."""
        r, c = (self.cols, self.rows) if transpose else (self.rows, self.cols)
        out = torch.zeros(values.shape[0], self.n, dtype=x.dtype, device=x.device)
        return out.index_add_(1, r, values * x[:, c])

    def diagonal(self, values: Tensor) -> Tensor:
        """``(B, n)`` diagonal entries (zero where the pattern has none)."""
        rows, on = self._diagonal_positions
        out = torch.zeros(values.shape[0], self.n, dtype=values.dtype, device=values.device)
        return out.index_copy_(1, rows, values.index_select(1, on))

    @cached_property
    def _diagonal_positions(self) -> tuple[Tensor, Tensor]:
        """Rows ``(D,)`` and entry indices ``(D,)`` of the diagonal entries in the pattern."""
        on = (self.rows == self.cols).nonzero().flatten()
        return self.rows[on], on

    def to_dense(self, values: Tensor) -> Tensor:
        """``(B, n, n)`` dense matrices (for tests and small problems)."""
        out = torch.zeros(
            values.shape[0], self.n * self.n, dtype=values.dtype, device=values.device
        )
        return out.index_add_(1, self.rows * self.n + self.cols, values).reshape(-1, self.n, self.n)

    def csr_indices(self, batch: int = 1) -> tuple[Tensor, Tensor]:
        """``(indptr, indices)`` of the block-diagonal CSR matrix of ``batch`` systems.

        The pattern is sorted row-major, so the values ``(B, nnz)`` flattened are its CSR data
        as they are (no COO → CSR sort).
        """
        counts = torch.bincount(self.rows, minlength=self.n)
        indptr = torch.zeros(batch * self.n + 1, dtype=torch.long, device=self.rows.device)
        indptr[1:] = torch.cumsum(counts.repeat(batch), 0)
        off = (torch.arange(batch, device=self.rows.device) * self.n)[:, None]
        return indptr, (self.cols[None] + off).reshape(-1)

    def to_scipy(self, values: Tensor) -> sp.csr_matrix:
        """Block-diagonal SciPy CSR matrix of the ``B`` systems (host copy)."""
        b = values.shape[0]
        indptr, indices = self.csr_indices(b)
        vals = values.detach().reshape(-1).cpu().numpy()
        shape = (b * self.n, b * self.n)
        return sp.csr_matrix((vals, indices.cpu().numpy(), indptr.cpu().numpy()), shape=shape)


@dataclass
class SolveInfo:
    """What the last solve did: backend, iterations and relative residual per system."""

    method: str
    iterations: int = 0
    residual: Tensor | None = None
    tol: float = 0.0


@dataclass
class Factorization:
    """A reusable solver state for fixed matrix values: SuperLU or Cholesky factors, the AMG
    hierarchy or CG's diagonal (whichever ``method`` needs)."""

    method: str
    pattern: SparsePattern
    values: Tensor
    lu: Any = None
    diag: Tensor | None = None
    amg: Any = None
    cholesky: Any = None


class SparseSolver:
    """Differentiable batched sparse solver (see module docstring).

    Parameters
    ----------
    method:
        One of :data:`METHODS`: ``"auto"`` (by problem, see the module docstring), ``"amg"``,
        ``"cholesky"``, ``"direct"`` or ``"cg"``.
    tol:
        Relative residual tolerance of the iterative methods (also the acceptance bound of the
        factorizations' residual check); the achieved residuals are in :attr:`last_info`.
    maxiter:
        Iteration cap (default ``10 n`` for CG, 1000 for AMG-CG).
    """

    #: ``"auto"`` uses AMG-CG for single SPD solves with at least this many rows (all systems)
    amg_min_rows: int = 20_000

    def __init__(self, method: str = "auto", tol: float = 1e-10, maxiter: int | None = None):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if not 0 < tol < 1:
            raise ValueError(f"tol must be in (0, 1), got {tol}")
        self.method = method
        self.tol = tol
        self.maxiter = maxiter
        #: :class:`SolveInfo` of the most recent forward or adjoint solve
        self.last_info: SolveInfo | None = None

    def _resolve(
        self, pattern: SparsePattern, values: Tensor, repeated: bool, symmetric: bool
    ) -> str:
        """The backend for these values (see the module docstring for the ``"auto"`` rule)."""
        if self.method != "auto":
            return self.method
        spd_like = symmetric and bool((pattern.diagonal(values) > 0).all())
        if not spd_like:
            return "direct"
        rows = values.shape[0] * pattern.n
        if repeated or values.device.type != "cpu" or rows < self.amg_min_rows:
            return "cholesky"
        return "amg"

    def factorize(
        self, pattern: SparsePattern, values: Tensor, *, repeated: bool = True
    ) -> Factorization:
        """Prepare solves with fixed ``values`` ``(B, nnz)`` (factor once, solve many times).

        ``repeated=False`` says only one solve (and its adjoint) will follow, which lets
        ``"auto"`` prefer AMG over a factorization for large SPD systems.
        """
        values = values.detach()
        symmetric = self.method in ("auto", "amg", "cholesky") and pattern.is_symmetric(values)
        method = self._resolve(pattern, values, repeated, symmetric)
        if method in ("amg", "cholesky") and not symmetric:
            raise ValueError(
                f"method {method!r} needs a symmetric (positive definite) matrix; use 'direct' "
                "for this one"
            )
        fac = Factorization(method, pattern, values)
        if method == "cholesky":
            fac.cholesky = self._cholesky(pattern, values)
            if fac.cholesky is None:  # not positive definite: SuperLU instead
                method = fac.method = "direct"
        if method == "direct":
            a = pattern.to_scipy(values).tocsc()
            try:
                fac.lu = spla.splu(a)
            except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
                raise SingularSystemError(
                    f"the system matrix is singular ({exc}); a pure Neumann problem needs a "
                    "Dirichlet or Robin boundary (or another constraint) to fix the constant"
                ) from None
        elif method in ("cg", "amg"):
            diag = pattern.diagonal(values)
            if bool((diag <= 0).any()):
                raise SingularSystemError(
                    f"{method} needs a symmetric positive definite matrix, found a non-positive "
                    "diagonal"
                )
            fac.diag = diag
            if method == "amg":
                a = pattern.to_scipy(values.to(torch.float64))
                fac.amg = pyamg.ruge_stuben_solver(a, max_coarse=2000, coarse_solver="splu")
                coarsest = fac.amg.levels[-1]
                coarsest.coarse_lu = spla.splu(coarsest.A.tocsc())
        return fac

    @staticmethod
    def _cholesky(pattern: SparsePattern, values: Tensor) -> Any:
        """cholespy factor of the block-diagonal matrix on the values' device, or ``None`` if
        the matrix is not positive definite."""
        b = values.shape[0]
        indptr, indices = pattern.csr_indices(b)
        cls = (
            cholespy.CholeskySolverD if values.dtype == torch.float64 else cholespy.CholeskySolverF
        )
        try:
            return cls(
                b * pattern.n,
                indptr.to(torch.int32).contiguous(),
                indices.to(torch.int32).contiguous(),
                values.reshape(-1).contiguous(),
                cholespy.MatrixType.CSR,
            )
        except (ValueError, RuntimeError):  # CHOLMOD: "not positive definite"
            return None

    def __call__(
        self,
        pattern: SparsePattern,
        values: Tensor,
        rhs: Tensor,
        factorization: Factorization | None = None,
    ) -> Tensor:
        """Solve ``A_b x_b = r_b``: ``values`` ``(B, nnz)`` (or ``(nnz,)``), ``rhs`` ``(B, n)``.

        Differentiable w.r.t. ``values`` and ``rhs``. Pass a :meth:`factorize` result to reuse a
        factorization made from the same values.
        """
        if rhs.shape[-1] != pattern.n:
            raise ValueError(f"rhs has {rhs.shape[-1]} entries per system, expected {pattern.n}")
        if values.shape[-1] != pattern.nnz:
            raise ValueError(f"values have {values.shape[-1]} entries, expected nnz={pattern.nnz}")
        b = max(values.shape[0] if values.ndim == 2 else 1, rhs.shape[0] if rhs.ndim == 2 else 1)
        values2 = values.reshape(-1, pattern.nnz).expand(b, -1)
        rhs2 = rhs.reshape(-1, pattern.n).expand(b, -1)
        if factorization is None or factorization.values.shape[0] != b:
            factorization = self.factorize(pattern, values2, repeated=False)
        return _Solve.apply(values2, rhs2, factorization, self)

    # -- backends (no autograd) -----------------------------------------------------------------
    def solve_with(self, fac: Factorization, rhs: Tensor, transpose: bool = False) -> Tensor:
        """Solve ``A x = rhs`` (or ``Aᵀ``) with a :meth:`factorize` result; not differentiable.

        ``"amg"`` and ``"cholesky"`` factorizations are of symmetric matrices, so the transposed
        solve is the same solve.
        """
        if fac.method == "amg":
            return self._amg(fac, rhs.detach())
        if fac.method == "cholesky":
            x = torch.zeros_like(rhs, dtype=fac.values.dtype).reshape(-1).contiguous()
            fac.cholesky.solve(rhs.detach().to(fac.values.dtype).reshape(-1).contiguous(), x)
            out = x.reshape(rhs.shape).to(rhs.dtype)
            return self._checked(fac, out, rhs, transpose, "cholesky")
        if fac.method == "direct":
            b, n = rhs.shape
            r = rhs.detach().to(fac.values.dtype).reshape(-1).cpu().numpy()
            x = fac.lu.solve(r, trans="T" if transpose else "N")
            out = torch.from_numpy(np.ascontiguousarray(x)).to(rhs).reshape(b, n)
            return self._checked(fac, out, rhs, transpose, "direct")
        return self._cg(fac, rhs.detach(), transpose)

    def _checked(
        self, fac: Factorization, out: Tensor, rhs: Tensor, transpose: bool, method: str
    ) -> Tensor:
        """Record the residual of a factorization solve; refuse a (near-)singular result."""
        res = _relative_residual(fac, out, rhs, transpose)
        self.last_info = SolveInfo(method, 1, res, self.tol)
        # a backward-stable factorization leaves residuals ~ eps·cond; only a (near-)singular
        # matrix gets anywhere close to these bounds
        bound = max(self.tol, 1e-6 if out.dtype == torch.float64 else 1e-3)
        if not bool(torch.isfinite(out).all()) or bool((res > bound).any()):
            raise SingularSystemError(
                f"{method} solve is inaccurate (relative residuals {res.tolist()}): the matrix "
                "is numerically singular; a pure Neumann problem needs a constraint"
            )
        return out

    def _cg(self, fac: Factorization, rhs: Tensor, transpose: bool) -> Tensor:
        """Batched Jacobi-preconditioned CG; every system iterates until all have converged."""
        pattern, values, inv_diag = fac.pattern, fac.values, 1.0 / fac.diag
        maxiter = self.maxiter or 10 * pattern.n
        x = torch.zeros_like(rhs)
        r = rhs.clone()
        z = inv_diag * r
        p = z.clone()
        rz = (r * z).sum(-1)
        bnorm = rhs.norm(dim=-1).clamp_min(torch.finfo(rhs.dtype).tiny)
        res = r.norm(dim=-1) / bnorm
        it = 0
        while bool((res > self.tol).any()):
            if it >= maxiter:
                self.last_info = SolveInfo("cg", it, res, self.tol)
                raise ConvergenceError(
                    f"CG did not converge in {it} iterations: relative residuals "
                    f"{res.tolist()} > tol {self.tol}"
                )
            ap = pattern.matvec(values, p, transpose)
            pap = (p * ap).sum(-1)
            if bool((pap[res > self.tol] <= 0).any()):
                raise SingularSystemError(
                    f"CG met a non-positive curvature pᵀAp = {pap.min().item():.3e} at iteration "
                    f"{it}: the matrix is not positive definite (singular or indefinite system)"
                )
            alpha = torch.where(res > self.tol, rz / torch.where(pap == 0, 1, pap), 0)
            x = x + alpha[:, None] * p
            r = r - alpha[:, None] * ap
            z = inv_diag * r
            rz_new = (r * z).sum(-1)
            p = z + (rz_new / torch.where(rz == 0, 1, rz))[:, None] * p
            rz = rz_new
            res = r.norm(dim=-1) / bnorm
            it += 1
        self.last_info = SolveInfo("cg", it, res, self.tol)
        return x

    def _amg(self, fac: Factorization, rhs: Tensor) -> Tensor:
        """AMG-preconditioned CG on the host until every system reaches ``tol``.

        The Krylov loop is ours (float64 NumPy, per-system stopping, reductions by pairwise
        summation rather than BLAS calls, whose threads spin-wait on a shared machine); the
        preconditioner is :func:`_v_cycle` on pyamg's hierarchy.
        """
        b, n = rhs.shape
        hierarchy = fac.amg
        rhs64 = rhs.detach().to(torch.float64).cpu().numpy()
        bnorm = np.maximum(np.sqrt((rhs64 * rhs64).sum(-1)), np.finfo(np.float64).tiny)
        a = hierarchy.levels[0].A
        x = np.zeros(b * n)
        r = rhs64.reshape(-1).copy()
        z = _v_cycle(hierarchy, 0, r)
        p = z.copy()
        rz = (r * z).reshape(b, n).sum(-1)
        res = np.sqrt((r * r).reshape(b, n).sum(-1)) / bnorm
        maxiter = self.maxiter or 1000
        it = 0
        while (res > self.tol).any():
            if it >= maxiter:
                self.last_info = SolveInfo("amg", it, torch.from_numpy(res), self.tol)
                raise ConvergenceError(
                    f"AMG-CG did not converge in {it} iterations: relative residuals "
                    f"{res.tolist()} > tol {self.tol}"
                )
            ap = a @ p
            pap = (p * ap).reshape(b, n).sum(-1)
            active = res > self.tol
            if (pap[active] <= 0).any():
                raise SingularSystemError(
                    f"AMG-CG met a non-positive curvature pᵀAp = {pap.min():.3e} at iteration "
                    f"{it}: the matrix is not positive definite"
                )
            alpha = np.where(active, rz / np.where(pap == 0, 1, pap), 0).repeat(n)
            x += alpha * p
            r -= alpha * ap
            z = _v_cycle(hierarchy, 0, r)
            rz_new = (r * z).reshape(b, n).sum(-1)
            p = z + (rz_new / np.where(rz == 0, 1, rz)).repeat(n) * p
            rz = rz_new
            res = np.sqrt((r * r).reshape(b, n).sum(-1)) / bnorm
            it += 1
        # the true residual of the float64 solution (not the recursive one), reported before
        # rounding to rhs.dtype
        true = rhs64.reshape(-1) - a @ x
        res = np.sqrt((true * true).reshape(b, n).sum(-1)) / bnorm
        self.last_info = SolveInfo("amg", it, torch.from_numpy(res).to(rhs.device), self.tol)
        if not np.isfinite(x).all() or (res > max(self.tol, 1e-13)).any():
            raise ConvergenceError(
                f"AMG-CG stopped after {it} iterations with true relative residuals "
                f"{res.tolist()} > tol {self.tol}"
            )
        return torch.from_numpy(x.reshape(b, n)).to(rhs)


def _v_cycle(hierarchy: Any, level: int, rhs: np.ndarray) -> np.ndarray:
    """One symmetric V-cycle ``≈ A_level⁻¹ rhs``: forward Gauss–Seidel, coarse correction
    ``P A_c⁻¹ R r``, backward Gauss–Seidel (symmetric, so a valid CG preconditioner for
    ``R = Pᵀ``); SuperLU on the coarsest level."""
    lvl = hierarchy.levels[level]
    if level == len(hierarchy.levels) - 1:
        return lvl.coarse_lu.solve(rhs)
    x = np.zeros_like(rhs)
    pyamg.relaxation.relaxation.gauss_seidel(lvl.A, x, rhs, iterations=1, sweep="forward")
    coarse = _v_cycle(hierarchy, level + 1, lvl.R @ (rhs - lvl.A @ x))
    x += lvl.P @ coarse
    pyamg.relaxation.relaxation.gauss_seidel(lvl.A, x, rhs, iterations=1, sweep="backward")
    return x


def _relative_residual(fac: Factorization, x: Tensor, rhs: Tensor, transpose: bool) -> Tensor:
    r = rhs - fac.pattern.matvec(fac.values.to(x.device), x, transpose)
    return r.norm(dim=-1) / rhs.norm(dim=-1).clamp_min(torch.finfo(rhs.dtype).tiny)


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, rhs, fac, solver):  # noqa: ANN001
        x = solver.solve_with(fac, rhs)
        ctx.fac, ctx.solver = fac, solver
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad_x):  # noqa: ANN001
        (x,) = ctx.saved_tensors
        fac, solver = ctx.fac, ctx.solver
        lam = solver.solve_with(fac, grad_x.contiguous(), transpose=True)
        pattern = fac.pattern
        grad_values = (
            -lam[:, pattern.rows] * x[:, pattern.cols] if ctx.needs_input_grad[0] else None
        )
        return grad_values, lam, None, None

r"""Inverse problems through a differentiable solver: a Darcy permeability from sparse pressures.

Unknown: the nodal (P1) log-permeability :math:`m`, :math:`\kappa = e^m` (positive by
construction). Data: pressures :math:`d_{s,k}` at ``K`` observation nodes for ``S`` source terms
:math:`f_s` (several experiments on one medium make the problem far better posed than one),
with Gaussian noise of standard deviation :math:`\sigma`. We minimise the Tikhonov (MAP) objective

.. math:: J(m) = \frac{1}{2\sigma^2}\sum_{s,k}\big(p_s(m)(x_k) - d_{s,k}\big)^2
          + \frac{\alpha}{2}\int_\Omega |\nabla m|^2\,dx,
          \qquad -\nabla\cdot(e^m\nabla p_s) = f_s,\ p_s|_{\partial\Omega} = g,

whose gradient autograd computes through the FEM solve: the backward of
:class:`~sciml.solvers.fem.SparseSolver` is one adjoint solve per source, so :math:`\nabla J`
costs about one forward solve (the adjoint method; Vogel, *Computational Methods for Inverse
Problems*, SIAM 2002, ch. 1 and 5). The smoothness term is :math:`\tfrac12 m^T K m` with ``K``
the P1 stiffness matrix of the mesh. The optimiser is L-BFGS with a strong-Wolfe line search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from sciml.solvers.fem import Assembler, Darcy, FunctionSpace

__all__ = ["DarcyInverseProblem", "InverseResult", "minimize_lbfgs", "smoothness_penalty"]


class InverseResult(NamedTuple):
    """Recovered parameters and the objective after every L-BFGS iteration."""

    params: Tensor
    history: list[float]


def smoothness_penalty(darcy: Darcy) -> Callable[[Tensor], Tensor]:
    r"""The map :math:`m \mapsto \tfrac12\int_\Omega|\nabla m_h|^2 = \tfrac12 m^T K m` of nodal
    P1 fields ``(..., n_points)`` → ``(...)`` on the mesh of ``darcy`` (any degree).

    ``K`` is the P1 stiffness matrix with unit coefficient, assembled once.
    """
    p1 = darcy.space.degree == 1
    asm = darcy.assembler if p1 else Assembler(FunctionSpace(darcy.mesh, 1))
    values = asm.stiffness(1.0)[0]  # (nnz,)
    rows, cols = asm.pattern.rows, asm.pattern.cols

    def penalty(m: Tensor) -> Tensor:
        return 0.5 * (values * m[..., rows] * m[..., cols]).sum(-1)

    return penalty


def minimize_lbfgs(
    objective: Callable[[Tensor], Tensor], x0: Tensor, *, n_iters: int = 50, tol: float = 1e-10
) -> InverseResult:
    """Minimise a scalar ``objective(x)`` from ``x0`` with L-BFGS (strong-Wolfe line search).

    ``n_iters`` bounds the L-BFGS iterations (each evaluates the objective and its gradient about
    1-3 times); ``tol`` is the gradient/step tolerance. ``x0`` is not modified.
    """
    if isinstance(n_iters, bool) or not isinstance(n_iters, int) or n_iters < 1:
        raise ValueError(f"n_iters must be a positive integer, got {n_iters!r}")
    x = x0.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [x],
        lr=1.0,
        max_iter=n_iters,
        tolerance_grad=tol,
        tolerance_change=tol,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    history: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        value = objective(x)
        value.backward()
        history.append(value.item())
        return value

    opt.step(closure)
    return InverseResult(x.detach(), history)


class DarcyInverseProblem:
    r"""Recover a nodal log-permeability from pressures observed at a few nodes (see module doc).

    Parameters
    ----------
    darcy:
        The forward solver (mesh, P1/P2 space, Dirichlet boundary); its dtype is the mesh's.
    sources:
        Source terms ``(S, n_points)`` (nodal values) or ``(S, n_dofs)``, one per experiment.
    observed:
        Indices ``(K,)`` of the observed pressure dofs (vertices come first in every space).
    noise_std:
        :math:`\sigma`, the standard deviation of the observation noise (pressure units).
    reg_weight:
        :math:`\alpha \ge 0`, the weight of the smoothness term.
    """

    def __init__(
        self,
        darcy: Darcy,
        sources: Tensor,
        observed: Tensor,
        *,
        noise_std: float,
        reg_weight: float,
    ) -> None:
        if not isinstance(darcy, Darcy):
            raise TypeError(f"darcy must be a sciml.solvers.fem.Darcy solver, got {type(darcy)}")
        if not isinstance(sources, Tensor) or sources.ndim != 2:
            raise ValueError(
                "sources must be a tensor (S, n_points) of nodal source values, got "
                f"{tuple(sources.shape) if isinstance(sources, Tensor) else type(sources)}"
            )
        observed = torch.as_tensor(observed, device=sources.device)
        n_dofs = darcy.space.n_dofs
        if (
            observed.ndim != 1
            or observed.numel() == 0
            or observed.dtype not in (torch.int32, torch.int64)
            or int(observed.min()) < 0
            or int(observed.max()) >= n_dofs
        ):
            raise ValueError(
                f"observed must be a non-empty 1D integer tensor of dof indices in [0, {n_dofs}), "
                f"got {observed.tolist() if observed.numel() < 10 else tuple(observed.shape)}"
            )
        if not noise_std > 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std!r}")
        if not reg_weight >= 0:
            raise ValueError(f"reg_weight must be >= 0, got {reg_weight!r}")
        self.darcy = darcy
        self.sources = sources
        self.observed = observed.long()
        self.noise_std = float(noise_std)
        self.reg_weight = float(reg_weight)
        self._penalty = smoothness_penalty(darcy)

    @property
    def n_points(self) -> int:
        """Length of the unknown ``m`` (mesh vertices)."""
        return self.darcy.mesh.n_points

    def pressures(self, log_kappa: Tensor) -> Tensor:
        """Pressure dofs ``(S, n_dofs)`` for the nodal log-permeability ``(n_points,)``."""
        if log_kappa.shape != (self.n_points,):
            raise ValueError(
                f"log_kappa must have shape ({self.n_points},) (one value per mesh vertex), "
                f"got {tuple(log_kappa.shape)}"
            )
        kappa = log_kappa.exp().expand(self.sources.shape[0], -1)
        return self.darcy.solve(self.sources, kappa=kappa)

    def observe(self, log_kappa: Tensor) -> Tensor:
        """Predicted observations ``(S, K)``."""
        return self.pressures(log_kappa)[:, self.observed]

    def objective(self, log_kappa: Tensor, data: Tensor) -> Tensor:
        """:math:`J(m)` for observations ``data`` ``(S, K)``."""
        misfit = (self.observe(log_kappa) - data) / self.noise_std
        return 0.5 * misfit.square().sum() + self.reg_weight * self._penalty(log_kappa)

    def recover(
        self, data: Tensor, log_kappa0: Tensor | None = None, *, n_iters: int = 100
    ) -> InverseResult:
        """Minimise :math:`J` from ``log_kappa0`` (default 0, i.e. :math:`\\kappa = 1`)."""
        if data.shape != (self.sources.shape[0], self.observed.numel()):
            raise ValueError(
                f"data must have shape (S, K) = ({self.sources.shape[0]}, "
                f"{self.observed.numel()}), got {tuple(data.shape)}"
            )
        if log_kappa0 is None:
            log_kappa0 = torch.zeros(self.n_points, dtype=data.dtype, device=data.device)
        return minimize_lbfgs(lambda m: self.objective(m, data), log_kappa0, n_iters=n_iters)

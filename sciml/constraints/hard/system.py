r"""The per-sample least-squares system of a hard PDE constraint on :math:`u = b\cdot\omega`.

A basis :math:`b = (b^1, \dots, b^N)` and a PDE that is a pointwise function :math:`\rho` of
``F`` *linear* features of :math:`u` (the field, its derivatives, a velocity obtained from it by a
linear operator, ...) give, at ``P`` sampled points, the feature tensor
:math:`d_{pfn} = (\mathcal L_f b^n)(x_p)`, so that :math:`q_{pf} = \sum_n d_{pfn}\omega_n` and the
residual rows are

.. math::
    r(\omega) = \big[\ \rho(q_p(\omega))_{p=1..P}\ ;\ A\omega - c\ ;\ \epsilon\,\omega\ \big]
    \in \mathbb R^{P + L + N},

with ``L`` linear rows (initial and boundary conditions) and a ridge :math:`\epsilon` (1e-4 in
PI-HC-MoE's code; Chalapathi et al., ICLR 2024, §3 and App. A). The Jacobian is exact and needs no
autograd: :math:`J = [\ \partial_q\rho \cdot d\ ;\ A\ ;\ \epsilon I\ ]`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Pointwise", "LeastSquaresSystem", "ShiftedPointwise"]

#: ``rho(q) -> (r, dr/dq)``: ``q`` ``(..., F)`` → residual ``(...)`` and its gradient ``(..., F)``;
#: written with torch ops, so autograd can differentiate both (the exact-Hessian backward does).
Pointwise = Callable[[Tensor], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class ShiftedPointwise:
    """:data:`Pointwise` law of the features of ``offset + u``: ``q ↦ ρ(q + q₀)``.

    For a field with a fixed part (:meth:`~sciml.constraints.hard.pdes.PDEResidual.ansatz`):
    ``offset`` holds its features ``q₀`` ``(S, P, F)`` at the points (data, no gradient); the
    derivatives in ``q`` are those of ``ρ`` at ``q + q₀``.
    """

    pointwise: Pointwise
    offset: Tensor

    def __call__(self, q: Tensor) -> tuple[Tensor, Tensor]:
        return self.pointwise(q + self.offset)


@dataclass
class LeastSquaresSystem:
    """Rows of ``S`` independent problems (see module docstring).

    Attributes
    ----------
    features:
        ``d`` ``(S, P, F, N)``.
    pointwise:
        :data:`Pointwise` PDE residual of the ``F`` features.
    lhs, rhs:
        Linear rows ``A`` ``(S, L, N)`` and ``c`` ``(S, L)`` (``L`` may be 0).
    ridge:
        :math:`\\epsilon \\ge 0`.
    """

    features: Tensor
    pointwise: Pointwise
    lhs: Tensor
    rhs: Tensor
    ridge: float

    @property
    def n_unknowns(self) -> int:
        return self.features.shape[-1]

    @property
    def n_rows(self) -> int:
        """Rows per problem without the ridge."""
        return self.features.shape[1] + self.lhs.shape[1]

    def fields(self, w: Tensor) -> Tensor:
        """Features of ``u = b·w`` at the points, ``q`` ``(S, P, F)``."""
        return torch.einsum("spfn,sn->spf", self.features, w)

    def residual(self, w: Tensor) -> Tensor:
        """``r(w)`` ``(S, P + L + N)``, differentiable in every tensor."""
        r_pde, _ = self.pointwise(self.fields(w))
        return self._stack(r_pde, w)

    def residual_and_jacobian(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """``(r, J)`` with ``J = ∂r/∂w`` ``(S, P + L + N, N)`` in closed form."""
        r_pde, dr_dq = self.pointwise(self.fields(w))
        jac_pde = torch.einsum("spf,spfn->spn", dr_dq, self.features)
        eye = torch.eye(self.n_unknowns, dtype=w.dtype, device=w.device)
        ridge = (self.ridge * eye).expand(w.shape[0], -1, -1)
        return self._stack(r_pde, w), torch.cat([jac_pde, self.lhs, ridge], dim=1)

    def _stack(self, r_pde: Tensor, w: Tensor) -> Tensor:
        linear = torch.einsum("sln,sn->sl", self.lhs, w) - self.rhs
        return torch.cat([r_pde, linear, self.ridge * w], dim=1)

    def hessian(self, w: Tensor) -> Tensor:
        """Exact Hessian of :math:`\\tfrac12\\|r\\|^2`: :math:`J^\\top J + \\sum_i r_i\\nabla^2 r_i`.

        Only the PDE rows are nonlinear; their second derivatives are
        :math:`d^\\top (\\partial^2_q\\rho)\\, d` per point, with :math:`\\partial^2_q\\rho` from
        ``F`` autograd passes through ``pointwise``. Returns ``(S, N, N)``.
        """
        with torch.enable_grad():
            q = self.fields(w.detach()).detach().requires_grad_(True)
            r_pde, dr_dq = self.pointwise(q)
            rows = []
            for f in range(q.shape[-1]):
                h = None
                if dr_dq.requires_grad:
                    (h,) = torch.autograd.grad(
                        dr_dq[..., f].sum(), q, retain_graph=True, allow_unused=True
                    )
                rows.append(torch.zeros_like(q) if h is None else h)
        hess_q = torch.stack(rows, dim=-2)  # (S, P, F, F)
        d = self.features.detach()
        curvature = torch.einsum("sp,spab,span,spbm->snm", r_pde.detach(), hess_q, d, d)
        _, jac = self.residual_and_jacobian(w.detach())
        return jac.transpose(1, 2) @ jac + curvature

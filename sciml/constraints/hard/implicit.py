r"""Differentiable solve of a :class:`~sciml.constraints.hard.system.LeastSquaresSystem`.

Forward: batched Levenberg–Marquardt in float64 under ``no_grad``
(:func:`~sciml.constraints.hard.lm.levenberg_marquardt`). Backward, by ``mode``:

``"ift_exact"`` — implicit function theorem on the optimality condition
:math:`g(\theta, \omega^*) = J^\top r = 0` (PI-HC-MoE, Chalapathi et al., ICLR 2024, eqs. 1 and 5):
with :math:`H = \partial g/\partial\omega = J^\top J + \sum_i r_i \nabla^2 r_i` and the incoming
:math:`\bar\omega`, solve :math:`H v = \bar\omega` and return
:math:`\bar\theta = -(\partial g/\partial\theta)^\top v` (one vector–Jacobian product of ``g``).

``"ift_gn"`` — Gauss–Newton: the terms carrying the residual are dropped from both sides,
:math:`H \approx J^\top J` and :math:`\partial g/\partial\theta \approx J^\top\partial r/\partial\theta`,
so :math:`\bar\theta = -(\partial r/\partial\theta)^\top (J v)`. Exact when the optimum has zero
residual; otherwise an approximation whose error grows with the residual.

``"unrolled"`` — autograd through every LM iteration (for comparison: memory grows with the
iteration count; agrees with ``ift_exact`` when LM has converged tightly).

:math:`\theta` stands for the tensors of the system (features ``d``, rows ``A``, ``c``), through
which the gradient reaches the basis network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sciml.constraints.hard.lm import LMResult, levenberg_marquardt
from sciml.constraints.hard.system import LeastSquaresSystem, Pointwise

__all__ = ["BACKWARD_MODES", "LMOptions", "SingularSystemError", "solve_least_squares"]

BACKWARD_MODES = ("ift_exact", "ift_gn", "unrolled")


class SingularSystemError(ValueError):
    """The linear system of the implicit backward (or the rows themselves) is rank-deficient."""


@dataclass(frozen=True)
class LMOptions:
    """Options of the forward solve (see :func:`~sciml.constraints.hard.lm.levenberg_marquardt`)."""

    max_iter: int = 50
    rtol: float = 1e-4
    atol: float = 1e-4
    damping: float = 1e-3
    #: initial guess of every weight (PI-HC-MoE: 1 on diffusion–sorption, 0 on Navier–Stokes)
    init: float = 1.0


def _solve_adjoint(h: Tensor, rhs: Tensor, what: str) -> Tensor:
    v, info = torch.linalg.solve_ex(h, rhs.unsqueeze(-1))
    bad = (info != 0) | ~torch.isfinite(v).flatten(1).all(-1)
    if bad.any():
        idx = bad.nonzero().flatten().tolist()[:10]
        raise SingularSystemError(
            f"implicit backward: the {what} matrix is singular for problem(s) {idx}; the constraint "
            f"rows do not determine the basis weights (use ridge > 0 or more constrained points)"
        )
    return v.squeeze(-1)


class _ImplicitLeastSquares(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        features: Tensor,
        lhs: Tensor,
        rhs: Tensor,
        pointwise: Pointwise,
        ridge: float,
        options: LMOptions,
        mode: str,
        out: list[LMResult],
    ) -> Tensor:
        system = LeastSquaresSystem(features, pointwise, lhs, rhs, ridge)
        w0 = torch.full(
            (features.shape[0], features.shape[-1]),
            options.init,
            dtype=features.dtype,
            device=features.device,
        )
        result = levenberg_marquardt(
            system.residual_and_jacobian,
            w0,
            max_iter=options.max_iter,
            rtol=options.rtol,
            atol=options.atol,
            damping=options.damping,
        )
        out.append(result)
        ctx.save_for_backward(features, lhs, rhs, result.solution)
        ctx.pointwise, ctx.ridge, ctx.mode = pointwise, ridge, mode
        return result.solution

    @staticmethod
    def backward(ctx: Any, grad_w: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        features, lhs, rhs, w = ctx.saved_tensors
        with torch.enable_grad():
            inputs = [t.detach().requires_grad_(True) for t in (features, lhs, rhs)]
            system = LeastSquaresSystem(inputs[0], ctx.pointwise, inputs[1], inputs[2], ctx.ridge)
            if ctx.mode == "ift_gn":
                r, jac = system.residual_and_jacobian(w)
                jac_d = jac.detach()
                v = _solve_adjoint(jac_d.transpose(1, 2) @ jac_d, grad_w, "Gauss-Newton")
                seed = -(jac_d @ v.unsqueeze(-1)).squeeze(-1)
                grads = torch.autograd.grad(r, inputs, seed, allow_unused=True)
            else:
                v = _solve_adjoint(system.hessian(w), grad_w, "Hessian")
                r, jac = system.residual_and_jacobian(w)
                g = (jac.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
                grads = torch.autograd.grad(g, inputs, -v, allow_unused=True)
        return (*grads, None, None, None, None, None)


def solve_least_squares(
    system: LeastSquaresSystem,
    *,
    mode: str = "ift_exact",
    options: LMOptions | None = None,
    fixed_iterations: bool = False,
) -> tuple[Tensor, LMResult]:
    """Solve ``system`` per problem and return ``(w*, result)``, differentiable by ``mode``.

    Every tensor of ``system`` should be float64 (PI-HC-MoE runs in FP64; the IFT linear solve is
    ill-conditioned in float32). ``w*`` is ``(S, N)``; gradients reach ``system.features``,
    ``system.lhs`` and ``system.rhs``. ``fixed_iterations=True`` (the export mode of
    :func:`~sciml.constraints.hard.lm.levenberg_marquardt`) solves as the unrolled mode does,
    with ``max_iter`` masked iterations.
    """
    if mode not in BACKWARD_MODES:
        raise ValueError(f"backward_mode={mode!r} is not one of {list(BACKWARD_MODES)}")
    options = options or LMOptions()
    if mode == "unrolled" or fixed_iterations:
        w0 = torch.full(
            (system.features.shape[0], system.n_unknowns),
            options.init,
            dtype=system.features.dtype,
            device=system.features.device,
        )
        result = levenberg_marquardt(
            system.residual_and_jacobian,
            w0,
            max_iter=options.max_iter,
            rtol=options.rtol,
            atol=options.atol,
            damping=options.damping,
            fixed_iterations=fixed_iterations,
        )
        return result.solution, result
    out: list[LMResult] = []
    w = _ImplicitLeastSquares.apply(
        system.features, system.lhs, system.rhs, system.pointwise, system.ridge, options, mode, out
    )
    result = out[0]
    result.solution = result.solution.detach()
    return w, result

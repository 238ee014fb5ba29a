"""Nonlinear diffusion ``-∇·(κ(x)(1 + β u²) ∇u) = f`` by Newton, differentiable implicitly.

Residual and Jacobian of the P1/P2 discretisation (``κ_u = κ (1 + β u²)``):

.. math:: R_i(u) = \\int \\kappa_u \\nabla u\\cdot\\nabla N_i - \\int f N_i
          - \\int_{\\Gamma_N} h N_i,
          \\qquad J_{ij} = \\int \\kappa_u \\nabla N_j\\cdot\\nabla N_i
          + 2\\beta\\kappa\\, u N_j\\, \\nabla u\\cdot\\nabla N_i .

Newton stops when ``‖R_F‖ ≤ tol · max(‖R_F(u_0)‖, 1)``; failing that it raises
:class:`~.linear_solve.ConvergenceError` with the residual history. The solution ``u*(p)`` defined
by ``R(u*, p) = 0`` is differentiated by the implicit function theorem: for a loss gradient
``ḡ = ∂L/∂u*`` one adjoint solve ``J(u*)ᵀ λ = ḡ`` gives ``∂L/∂p = -(∂R/∂p)ᵀ λ`` for every
parameter ``p`` (``κ``, ``f``, ``g``, ``h``, node coordinates) — no backpropagation through the
Newton iterations (jax-fem ``implicit_vjp``; Blondel et al., NeurIPS 2022).
The Jacobian is not symmetric, so the default linear solver is the direct one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sciml.solvers.fem.boundary import dirichlet_values
from sciml.solvers.fem.linear_solve import ConvergenceError, SparseSolver
from sciml.solvers.fem.mesh import Mesh
from sciml.solvers.fem.poisson import Poisson, Tags
from sciml.solvers.fem.space import Coefficient

__all__ = ["NonlinearDiffusion"]

_PARAMS = ("kappa", "f", "g", "h", "points")


class NonlinearDiffusion:
    """Newton solver of the quasi-linear diffusion problem above.

    Parameters
    ----------
    mesh, degree, dirichlet, neumann:
        As for :class:`~.poisson.Poisson`.
    beta:
        Strength of the nonlinearity ``κ_u = κ (1 + β u²)``.
    tol, max_iter:
        Newton tolerance (relative residual) and iteration cap.
    """

    def __init__(
        self,
        mesh: Mesh,
        *,
        degree: int = 1,
        beta: float = 1.0,
        dirichlet: Tags = None,
        neumann: Tags = (),
        tol: float = 1e-12,
        max_iter: int = 30,
        solver: SparseSolver | None = None,
    ) -> None:
        self.problem = Poisson(
            mesh,
            degree=degree,
            dirichlet=dirichlet,
            neumann=neumann,
            solver=solver or SparseSolver("direct"),
        )
        self.space, self.beta, self.tol, self.max_iter = self.problem.space, beta, tol, max_iter
        #: Newton residual norms of the last solve
        self.history: list[float] = []

    # -- residual and Jacobian ------------------------------------------------------------------
    def _fields(self, u: Tensor, kappa, points):
        asm = self.problem.assembler
        qd = asm.quadrature(points, asm.form_degree(4, 2, kappa))  # κ u² ∇u·∇v, exact
        ue = u[:, self.space.scalar_cell_dofs]  # (B, E, n)
        uq = torch.einsum("ben,qn->beq", ue, qd.shape)
        guq = torch.einsum("ben,eqnd->beqd", ue, qd.grad)
        k = self.space.at_quadrature(kappa, qd, "kappa")
        return qd, uq, guq, k

    def residual(self, u: Tensor, *, kappa=1.0, f=0.0, h=0.0, points=None) -> Tensor:
        """Full residual ``R(u)`` ``(B, n_dofs)`` at dof values ``u`` ``(B, n_dofs)``."""
        asm = self.problem.assembler
        qd, uq, guq, k = self._fields(u, kappa, points)
        flux = (k * (1 + self.beta * uq**2) * qd.wdet)[..., None] * guq  # (B, E, Q, d)
        r = asm.scatter_vector(torch.einsum("beqd,eqid->bei", flux, qd.grad))
        r = r - asm.load(f, points)
        if self.problem.neumann is not None:
            r = r - self.problem.neumann.load(h, points)
        return r

    def jacobian(self, u: Tensor, *, kappa=1.0, points=None) -> Tensor:
        """``(B, nnz)`` values of ``∂R/∂u`` at ``u`` (row = test function, column = trial)."""
        qd, uq, guq, k = self._fields(u, kappa, points)
        ku = k * (1 + self.beta * uq**2) * qd.wdet
        dk = 2 * self.beta * k * uq * qd.wdet
        loc = torch.einsum("beq,eqid,eqjd->beij", ku, qd.grad, qd.grad)
        loc = loc + torch.einsum("beq,qj,beqd,eqid->beij", dk, qd.shape, guq, qd.grad)
        return self.problem.assembler.scatter_matrix(loc)

    # -- Newton + implicit differentiation ------------------------------------------------------
    def _reduced_residual(self, u_free: Tensor, params: dict) -> Tensor:
        cond = self.problem.condensation
        gv = dirichlet_values(self.space, params["g"], params["points"])
        u = cond.expand(u_free, gv)
        r = self.residual(
            u, kappa=params["kappa"], f=params["f"], h=params["h"], points=params["points"]
        )
        return r[:, cond.free]

    def solve(
        self,
        f: Coefficient = 0.0,
        *,
        kappa: Coefficient = 1.0,
        g: Coefficient | None = None,
        h: Coefficient = 0.0,
        points: Tensor | None = None,
        u0: Tensor | None = None,
    ) -> Tensor:
        """Solution dofs ``(B, n_dofs)``, differentiable w.r.t. every tensor argument.

        ``u0`` is an optional initial guess ``(B, n_dofs)`` (default: the lifting of ``g``).
        """
        params = {"kappa": kappa, "f": f, "g": g, "h": h, "points": points}
        cond, solver = self.problem.condensation, self.problem.solver
        detached = {k: v.detach() if isinstance(v, Tensor) else v for k, v in params.items()}
        with torch.no_grad():
            if u0 is None:
                pts = self.space.mesh.points
                u_free = torch.zeros(1, len(cond.free), dtype=pts.dtype, device=pts.device)
            else:
                u_free = u0.reshape(-1, self.space.n_dofs)[:, cond.free]
            r = self._reduced_residual(u_free, detached)
            b = r.shape[0]  # the batch of the data (κ, f, g, h) or of u0
            u_free = u_free.expand(b, -1).clone()
            scale = max(float(r.norm()), 1.0)
            self.history = [float(r.norm())]
            gv = dirichlet_values(self.space, detached["g"], detached["points"])
            for _ in range(self.max_iter):
                if self.history[-1] <= self.tol * scale:
                    break
                jac = self.jacobian(
                    cond.expand(u_free, gv), kappa=detached["kappa"], points=detached["points"]
                )
                fac = solver.factorize(cond.reduced, jac[:, cond.ff].expand(b, -1))
                u_free = u_free - solver.solve_with(fac, r)
                r = self._reduced_residual(u_free, detached)
                self.history.append(float(r.norm()))
            else:
                if self.history[-1] > self.tol * scale:
                    raise ConvergenceError(
                        f"Newton did not converge in {self.max_iter} iterations: residual norms "
                        f"{[f'{v:.3e}' for v in self.history]} (tol {self.tol:g} × {scale:.3e})"
                    )
            jac = self.jacobian(
                cond.expand(u_free, gv), kappa=detached["kappa"], points=detached["points"]
            )
            fac = solver.factorize(cond.reduced, jac[:, cond.ff].expand(b, -1))
        names = [k for k in _PARAMS if isinstance(params[k], Tensor)]
        u_free = _ImplicitSolution.apply(
            self, fac, params, names, u_free, *[params[k] for k in names]
        )
        return cond.expand(u_free, dirichlet_values(self.space, g, points))


class _ImplicitSolution(torch.autograd.Function):
    """Identity on the converged ``u*`` whose backward is the implicit-function-theorem VJP."""

    @staticmethod
    def forward(ctx, problem, fac, params, names, u_free, *tensors):  # noqa: ANN001
        ctx.problem, ctx.fac, ctx.params, ctx.names = problem, fac, params, names
        ctx.save_for_backward(u_free, *tensors)
        return u_free.clone()

    @staticmethod
    def backward(ctx, grad_u):  # noqa: ANN001
        u_free, *tensors = ctx.saved_tensors
        problem = ctx.problem
        lam = problem.problem.solver.solve_with(ctx.fac, grad_u.contiguous(), transpose=True)
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(True) for t in tensors]
            params = dict(ctx.params, **dict(zip(ctx.names, leaves)))
            r = problem._reduced_residual(u_free, params)
            grads = torch.autograd.grad(r, leaves, grad_outputs=-lam, allow_unused=True)
        return (None, None, None, None, None, *grads)

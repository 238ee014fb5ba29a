"""Heat equation ``ρ u_t - ∇·(κ ∇u) = f`` by P1/P2 in space and the θ-scheme in time.

.. math:: (M + \\theta\\,\\Delta t\\,K)\\,u^{n+1} = (M - (1-\\theta)\\,\\Delta t\\,K)\\,u^n
          + \\Delta t\\,(\\theta F^{n+1} + (1-\\theta) F^n)

with ``u = g`` (constant in time) on the Dirichlet boundary. ``θ = 1`` is backward Euler
(first order, L-stable), ``θ = 1/2`` Crank–Nicolson (second order), ``θ = 0`` forward Euler
(explicit, but still a mass-matrix solve). The system matrix is constant, so one factorization
serves every step and every adjoint step; the rollout is differentiable w.r.t. ``u0``, ``κ``,
``ρ``, ``f`` and ``g`` (Thomée, *Galerkin FEM for Parabolic Problems*, 2006, ch. 7).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sciml.solvers.fem.boundary import dirichlet_values
from sciml.solvers.fem.linear_solve import Factorization, SparseSolver
from sciml.solvers.fem.mesh import Mesh
from sciml.solvers.fem.poisson import Poisson, Tags
from sciml.solvers.fem.space import Coefficient

__all__ = ["HeatEquation"]

#: a source constant in time, or ``f(x, t)``
Source = Coefficient | Callable[[Tensor, float], Tensor]


class HeatEquation:
    """θ-scheme heat solver on a fixed mesh and time step.

    Parameters
    ----------
    mesh, degree, dirichlet, solver:
        As for :class:`~.poisson.Poisson` (default: ``u = g`` on the whole boundary).
    dt:
        Time step.
    theta:
        Implicitness in ``[0, 1]``.
    """

    def __init__(
        self,
        mesh: Mesh,
        dt: float,
        *,
        theta: float = 0.5,
        degree: int = 1,
        dirichlet: Tags = None,
        solver: SparseSolver | None = None,
    ) -> None:
        if not 0.0 <= theta <= 1.0:
            raise ValueError(f"theta must lie in [0, 1], got {theta}")
        if dt <= 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        self.dt, self.theta = float(dt), float(theta)
        self.problem = Poisson(mesh, degree=degree, dirichlet=dirichlet, solver=solver)
        self.space = self.problem.space

    def _operators(self, kappa: Coefficient, rho: Coefficient) -> tuple[Tensor, Tensor]:
        asm = self.problem.assembler
        k, m = asm.stiffness(kappa), asm.mass(rho)
        return m + self.theta * self.dt * k, m - (1 - self.theta) * self.dt * k

    def _load(self, f: Source) -> Callable[[float], Tensor]:
        """``t ↦ F(t)``; a source constant in time is assembled once."""
        asm = self.problem.assembler
        if callable(f):
            return lambda t: asm.load(lambda x: f(x, t))
        const = asm.load(f)
        return lambda t: const

    def _step(self, u, lhs, rhs_op, fac: Factorization | None, load, t: float, g) -> Tensor:
        pattern, cond = self.problem.assembler.pattern, self.problem.condensation
        th, dt = self.theta, self.dt
        b = max(u.shape[0], rhs_op.shape[0])
        rhs = pattern.matvec(rhs_op.expand(b, -1), u.expand(b, -1))
        if th > 0:
            rhs = rhs + th * dt * load(t + dt)
        if th < 1:
            rhs = rhs + (1 - th) * dt * load(t)
        vals_ff, rhs_f = cond.reduce(lhs, rhs, g)
        return cond.expand(self.problem.solver(cond.reduced, vals_ff, rhs_f, fac), g)

    def step(
        self,
        u: Tensor,
        *,
        t: float = 0.0,
        kappa: Coefficient = 1.0,
        rho: Coefficient = 1.0,
        f: Source = 0.0,
        g: Coefficient | None = None,
    ) -> Tensor:
        """One θ-step from ``u`` ``(B, n_dofs)`` at time ``t``."""
        lhs, rhs_op = self._operators(kappa, rho)
        return self._step(u, lhs, rhs_op, None, self._load(f), t, dirichlet_values(self.space, g))

    def rollout(
        self,
        u0: Tensor,
        n_steps: int,
        *,
        save_every: int = 1,
        kappa: Coefficient = 1.0,
        rho: Coefficient = 1.0,
        f: Source = 0.0,
        g: Coefficient | None = None,
    ) -> Tensor:
        """States ``(B, T, n_dofs)`` at ``t = k·save_every·dt``, ``T = n_steps // save_every + 1``.

        ``u0`` is ``(B, n_dofs)`` (or ``(n_dofs,)``); its Dirichlet entries are replaced by ``g``.
        """
        if n_steps < 0 or save_every < 1:
            raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps}, {save_every}")
        if u0.shape[-1] != self.space.n_dofs:
            raise ValueError(f"u0 has {u0.shape[-1]} values, expected {self.space.n_dofs}")
        u = u0.reshape(-1, self.space.n_dofs)
        gv = dirichlet_values(self.space, g)
        lhs, rhs_op = self._operators(kappa, rho)
        b = max(u.shape[0], lhs.shape[0], 1 if gv is None else gv.shape[0])
        u = u.expand(b, -1)
        cond = self.problem.condensation
        u = cond.expand(u[:, cond.free], gv)
        fac = self.problem.solver.factorize(cond.reduced, lhs[:, cond.ff].expand(b, -1))
        load = self._load(f)
        out = [u]
        for n in range(n_steps):
            u = self._step(u, lhs, rhs_op, fac, load, n * self.dt, gv)
            if (n + 1) % save_every == 0:
                out.append(u)
        return torch.stack(out, dim=1)

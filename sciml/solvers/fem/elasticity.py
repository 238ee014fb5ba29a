"""Linear elasticity: ``-∇·σ(u) = b`` with ``σ = λ tr(ε) I + 2 μ ε``, ``ε = (∇u + ∇uᵀ)/2``.

2D is plane strain (``ε_zz = 0``, same Lamé constants), 3D is the full solid. Lamé constants from
Young's modulus ``E`` and Poisson's ratio ``ν``:
``λ = E ν / ((1 + ν)(1 - 2ν))``, ``μ = E / (2(1 + ν))``. The element stiffness is

.. math:: K_{(ia)(jb)} = \\int \\lambda\\, \\partial_a N_i\\, \\partial_b N_j
          + \\mu\\,(\\delta_{ab}\\, \\nabla N_i\\cdot\\nabla N_j
          + \\partial_b N_i\\, \\partial_a N_j)

(Hughes, *The Finite Element Method*, 2000, §2.7). Displacements are prescribed per boundary tag
and component; tractions ``σ n = t`` on Neumann tags. Differentiable w.r.t. ``E``, ``ν``, loads,
prescribed displacements and node coordinates (one adjoint solve).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from sciml.solvers.fem.assembly import Assembler
from sciml.solvers.fem.boundary import DirichletCondensation, FacetIntegrator, dirichlet_values
from sciml.solvers.fem.linear_solve import SingularSystemError, SparseSolver
from sciml.solvers.fem.mesh import Mesh
from sciml.solvers.fem.space import Coefficient, FunctionSpace, QuadratureData

__all__ = ["LinearElasticity", "elasticity_stiffness", "lame"]


def lame(young: Tensor, poisson: Tensor) -> tuple[Tensor, Tensor]:
    """Lamé constants ``(λ, μ)`` from ``E`` and ``ν`` (plane strain / 3D)."""
    if bool(((poisson <= -1) | (poisson >= 0.5)).any()):
        raise ValueError(
            f"Poisson's ratio must lie in (-1, 0.5), got {poisson.min()}..{poisson.max()}"
        )
    if bool((young <= 0).any()):
        raise ValueError(f"Young's modulus must be > 0, got min {float(young.min()):.4g}")
    return young * poisson / ((1 + poisson) * (1 - 2 * poisson)), young / (2 * (1 + poisson))


def _vector_at_quadrature(value: Coefficient, qd: QuadratureData, d: int) -> Tensor:
    """``(B, E, Q, d)`` values of a vector coefficient: a ``(d,)`` / ``(B, d)`` constant or a
    function ``(E, Q, d) → (E, Q, d)`` or ``(B, E, Q, d)``."""
    if callable(value):
        v = value(qd.x)
        return v if v.ndim == 4 else v[None]
    v = torch.as_tensor(value, dtype=qd.wdet.dtype, device=qd.wdet.device)
    if v.ndim == 0:
        v = v.expand(d)
    if v.shape[-1] != d:
        raise ValueError(f"vector load must have {d} components, got shape {tuple(v.shape)}")
    return v.reshape(-1, 1, 1, d)


def elasticity_stiffness(
    assembler: Assembler,
    young: Coefficient = 1.0,
    poisson: Coefficient = 0.3,
    points: Tensor | None = None,
) -> Tensor:
    """``(B, nnz)`` stiffness values of a vector space's :class:`~.assembly.Assembler`.

    ``E`` and ``ν`` as in :meth:`FunctionSpace.at_quadrature`; the rule is the lowest exact one
    for piecewise-constant Lamé constants (one point for P1), higher for varying ones.
    """
    space = assembler.space
    d = space.mesh.dim
    if space.n_components != d:
        raise ValueError(f"elasticity needs a space with {d} components, got {space.n_components}")
    qd = assembler.quadrature(points, assembler.form_degree(2, 2, young, poisson))
    lam, mu = lame(
        space.at_quadrature(young, qd, "young"), space.at_quadrature(poisson, qd, "poisson")
    )
    lam, mu = lam * qd.wdet, mu * qd.wdet
    g = qd.grad
    # local dof (i, r) = component r of shape function i; z is the batch axis
    if space.degree == 1:  # constant gradients: Lamé constants integrated once per cell;
        # block (i, j) = λ g_i g_jᵀ + μ g_j g_iᵀ + μ (g_i·g_j) I: two outer products of the
        # cell's gradient vector v = (g_1, …, g_n), one added with (a, b) swapped, and the
        # Laplacian block on the component diagonal (elementwise, no tiny bmm per term)
        g = g[:, 0]  # (E, n, d)
        ne, n = g.shape[0], g.shape[1]
        lam, mu = lam.sum(-1)[..., None], mu.sum(-1)[..., None]  # (B, E, 1)
        v = g.reshape(ne, n * d)
        k = (lam * v)[..., :, None] * v[:, None, :]  # λ ∂_a N_i ∂_b N_j, (B, E, n·d, n·d)
        swap = ((mu * v)[..., :, None] * v[:, None, :]).view(-1, ne, n, d, n, d)
        k5 = k.view(-1, ne, n, d, n, d)
        k5.add_(swap.transpose(3, 5))  # μ ∂_b N_i ∂_a N_j
        laplace = torch.bmm(g, g.transpose(1, 2))  # (E, n, n): ∇N_i·∇N_j
        k5.diagonal(dim1=3, dim2=5).add_((mu[..., None] * laplace)[..., None])  # μ δ_ab (…)
        return assembler.scatter_matrix(k)
    eye = torch.eye(d, dtype=g.dtype, device=g.device)
    k = torch.einsum("zeq,eqir,eqjs->zeirjs", lam, g, g)
    k = k + torch.einsum("zeq,eqic,eqjc,rs->zeirjs", mu, g, g, eye)
    k = k + torch.einsum("zeq,eqis,eqjr->zeirjs", mu, g, g)
    b, ne, n = k.shape[0], k.shape[1], k.shape[2]
    return assembler.scatter_matrix(k.reshape(b, ne, n * d, n * d))


class LinearElasticity:
    """Small-strain elasticity with P1/P2 displacements.

    Parameters
    ----------
    mesh:
        Triangles (plane strain) or tetrahedra.
    degree:
        1 or 2.
    dirichlet:
        ``{tag: components}`` with prescribed displacement (``None`` components: all), or a
        sequence of tags (all components). Default: clamp the whole boundary.
    neumann:
        Tags carrying a traction.
    """

    def __init__(
        self,
        mesh: Mesh,
        *,
        degree: int = 1,
        dirichlet: Mapping[str, Sequence[int] | None] | Sequence[str] | None = None,
        neumann: str | Sequence[str] = (),
        solver: SparseSolver | None = None,
        quad_degree: int | None = None,
    ) -> None:
        self.mesh = mesh
        d = mesh.dim
        self.space = FunctionSpace(mesh, degree, n_components=d)
        self.assembler = Assembler(self.space, quad_degree)
        self.solver = solver or SparseSolver()
        if dirichlet is None:
            fixed = self.space.boundary_dofs(None)
        else:
            items = (
                dirichlet.items()
                if isinstance(dirichlet, Mapping)
                else ((t, None) for t in dirichlet)
            )
            parts = [self.space.boundary_dofs(t, c) for t, c in items]
            fixed = torch.unique(torch.cat(parts)) if parts else torch.zeros(0, dtype=torch.long)
        if len(fixed) == 0:
            raise SingularSystemError(
                f"{mesh.name}: no prescribed displacement: rigid motions make the system singular"
            )
        self.condensation = DirichletCondensation(self.assembler.pattern, fixed)
        neumann = [neumann] if isinstance(neumann, str) else list(neumann)
        self.neumann = FacetIntegrator(self.space, neumann) if neumann else None

    def stiffness(
        self, young: Coefficient = 1.0, poisson: Coefficient = 0.3, points=None
    ) -> Tensor:
        """``(B, nnz)`` stiffness values for (possibly batched / spatially varying) ``E``, ``ν``."""
        return self._stiffness(young, poisson, points)

    def _stiffness(self, young: Coefficient, poisson: Coefficient, points: Tensor | None) -> Tensor:
        return elasticity_stiffness(self.assembler, young, poisson, points)

    def solve(
        self,
        body_force: Coefficient = 0.0,
        *,
        young: Coefficient = 1.0,
        poisson: Coefficient = 0.3,
        traction: Coefficient = 0.0,
        g: Coefficient | None = None,
        points: Tensor | None = None,
    ) -> Tensor:
        """Displacement ``(B, n_nodes, d)`` (P2: vertices then edge midpoints).

        ``g`` (prescribed displacement) is a number, a ``(B, n_dofs)`` vector, or a function of
        the dof coordinates ``(N, d) → (N, d)``.
        """
        d = self.mesh.dim
        values = self._stiffness(young, poisson, points)
        asm = self.assembler  # a constant body force (d,) / (B, d) is of degree 0
        qd = asm.quadrature(
            points, asm.form_degree(1, 0, body_force if callable(body_force) else 0)
        )
        bf = _vector_at_quadrature(body_force, qd, d) * qd.wdet[..., None]
        local = torch.einsum("beqa,qi->beia", bf.expand(-1, qd.wdet.shape[0], -1, -1), qd.shape)
        rhs = self.assembler.scatter_vector(local.reshape(local.shape[0], local.shape[1], -1))
        if self.neumann is not None:
            rhs = rhs + self.neumann.load(traction, points)
        gv = dirichlet_values(self.space, g, points)
        vals_ff, rhs_f = self.condensation.reduce(values, rhs, gv)
        u = self.condensation.expand(self.solver(self.condensation.reduced, vals_ff, rhs_f), gv)
        return u.reshape(u.shape[0], -1, d)

"""APIC transfers conserve linear and angular momentum to round-off (Jiang et al. 2015)."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm import Grid
from sciml.solvers.mpm.transfer import g2p, grid_velocity, p2g


def _random_particles(dim: int, n: int = 200, batch: int = 2):
    gen = torch.Generator().manual_seed(dim)
    opts = {"dtype": torch.float64}
    x = 0.3 + 0.4 * torch.rand(batch, n, dim, generator=gen, **opts)
    v = torch.randn(batch, n, dim, generator=gen, **opts)
    C = torch.randn(batch, n, dim, dim, generator=gen, **opts)
    m = 0.5 + torch.rand(batch, n, generator=gen, **opts)
    return x, v, C, m


def _angular(dim: int, pos: torch.Tensor, mom: torch.Tensor) -> torch.Tensor:
    """Σ pos × mom over axis −2: ``(B,)`` in 2D, ``(B, 3)`` in 3D."""
    if dim == 2:
        return (pos[..., 0] * mom[..., 1] - pos[..., 1] * mom[..., 0]).sum(-1)
    return torch.linalg.cross(pos, mom, dim=-1).sum(-2)


def _particle_angular(dim, x, v, C, m, dx):
    """Particle angular momentum including the affine part ``m D Cᵀ`` (D = Δx²/4 I)."""
    L = _angular(dim, x, m.unsqueeze(-1) * v)
    K = m[..., None, None] * (dx**2 / 4) * C  # ε_kij K_ji
    if dim == 2:
        return L + (K[..., 1, 0] - K[..., 0, 1]).sum(-1)
    spin = torch.stack(
        [K[..., 2, 1] - K[..., 1, 2], K[..., 0, 2] - K[..., 2, 0], K[..., 1, 0] - K[..., 0, 1]], -1
    )
    return L + spin.sum(-2)


@pytest.mark.parametrize("dim", [2, 3])
def test_p2g_and_g2p_conserve_linear_and_angular_momentum(dim: int) -> None:
    grid = Grid(dim, 16)
    x, v, C, m = _random_particles(dim)
    st = grid.stencil(x)
    assert torch.allclose(st.weight.sum(-1), torch.ones_like(m), atol=1e-14)
    gm, gmv = p2g(grid, st, m, m.unsqueeze(-1) * v, m[..., None, None] * C)
    nodes = grid.node_positions(dtype=x.dtype, device=x.device)

    # P2G: mass, momentum and angular momentum of the grid equal the particles'.
    assert torch.allclose(gm.sum(-1), m.sum(-1), rtol=1e-13)
    p_particles = (m.unsqueeze(-1) * v).sum(-2)
    assert torch.allclose(gmv.sum(-2), p_particles, rtol=1e-12, atol=1e-12)
    L_particles = _particle_angular(dim, x, v, C, m, grid.dx)
    L_grid = _angular(dim, nodes.expand_as(gmv), gmv)
    assert torch.allclose(L_grid, L_particles, rtol=1e-12, atol=1e-12)

    # G2P: particles get back exactly the grid's momentum and angular momentum.
    v2, C2 = g2p(grid, st, grid_velocity(gm, gmv))
    assert torch.allclose((m.unsqueeze(-1) * v2).sum(-2), p_particles, rtol=1e-12, atol=1e-12)
    L_back = _particle_angular(dim, x, v2, C2, m, grid.dx)
    assert torch.allclose(L_back, L_grid, rtol=1e-12, atol=1e-12)


def test_affine_velocity_field_is_reproduced_exactly() -> None:
    """APIC transfers an affine velocity field v(x) = b + A x without loss (G2P∘P2G = id)."""
    grid = Grid(2, 16)
    x, _, _, m = _random_particles(2, n=400, batch=1)
    A = torch.tensor([[0.3, -1.2], [0.7, 0.1]], dtype=torch.float64)
    b = torch.tensor([0.5, -0.25], dtype=torch.float64)
    v = b + x @ A.T
    C = A.expand(1, x.shape[1], 2, 2)
    st = grid.stencil(x)
    gm, gmv = p2g(grid, st, m, m.unsqueeze(-1) * v, m[..., None, None] * C)
    v2, C2 = g2p(grid, st, grid_velocity(gm, gmv))
    assert torch.allclose(v2, v, atol=1e-12)
    assert torch.allclose(C2, C, atol=1e-11)

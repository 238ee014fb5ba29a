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


def _naive_transfers(grid: Grid, x, v, C, m, affine):
    """P2G, grid velocity and G2P by dense broadcasting over ``(B, N, S, d)`` (no GEMM, no
    chunks, no channel-first layout): the textbook formulas of the module docstring."""
    st = grid.stencil(x)
    dpos = st.dpos  # (B, N, S, d)
    w = st.weight
    b = x.shape[0]
    val = w.unsqueeze(-1) * (
        (m.unsqueeze(-1) * v).unsqueeze(-2) + (affine.unsqueeze(2) @ dpos.unsqueeze(-1))[..., 0]
    )
    index = st.index.reshape(-1)
    gm = torch.zeros(b * grid.n_nodes, dtype=x.dtype).index_add(
        0, index, (w * m[..., None]).reshape(-1)
    )
    gmv = torch.zeros(b * grid.n_nodes, grid.dim, dtype=x.dtype).index_add(
        0, index, val.reshape(-1, grid.dim)
    )
    gm, gmv = gm.view(b, -1), gmv.view(b, -1, grid.dim)
    gv = grid_velocity(gm, gmv)
    nodes_v = gv.reshape(-1, grid.dim)[st.index]  # (B, N, S, d)
    v_new = (w.unsqueeze(-1) * nodes_v).sum(-2)
    C_new = (4 / grid.dx**2) * (
        (w[..., None, None] * nodes_v.unsqueeze(-1) * dpos.unsqueeze(-2)).sum(-3)
    )
    return gm, gmv, v_new, C_new


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("chunk", [None, 3**3 * 4 * 7])
def test_transfers_match_the_textbook_formulas_in_cpu_chunks_and_whole(
    dim: int, chunk: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GEMM/scatter transfers, in one pass or in CPU chunks of 7 particles, agree with dense
    broadcasting to float64 round-off (the chunks change only the order of the sums)."""
    import sciml.solvers.mpm.transfer as transfer

    if chunk is not None:
        monkeypatch.setattr(transfer, "_CPU_CHUNK_ELEMENTS", chunk)
    grid = Grid(dim, 12)
    x, v, C, m = _random_particles(dim, n=60)
    affine = torch.randn(C.shape, generator=torch.Generator().manual_seed(5), dtype=C.dtype)
    st = grid.stencil(x)
    gm, gmv = p2g(grid, st, m, m.unsqueeze(-1) * v, affine)
    v2, C2 = g2p(grid, st, grid_velocity(gm, gmv))
    ref = _naive_transfers(grid, x, v, C, m, affine)
    for got, want in zip((gm, gmv, v2, C2), ref):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)

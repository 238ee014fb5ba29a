"""Particle ↔ grid transfers of MLS-MPM with APIC (Hu et al. 2018, SIGGRAPH; Jiang et al. 2015).

P2G scatters mass and momentum with ``scatter_add`` (differentiable; its backward is a gather)::

    m_i  = Σ_p w_ip m_p
    mv_i = Σ_p w_ip (m_p v_p + A_p (x_i − x_p)),   A_p = −Δt V⁰_p (4/Δx²) τ_p + m_p C_p

with τ the Kirchhoff stress. G2P gathers the grid velocity back::

    v_p = Σ_i w_ip v_i,   C_p = (4/Δx²) Σ_i w_ip v_i (x_i − x_p)ᵀ.

Both transfers conserve linear and angular momentum exactly (the angular momentum of a particle
includes its affine part ``m_p D_p C_pᵀ``, ``D_p = Δx²/4 I``).

Implementation: with ``x_i − x_p = (o − f) Δx`` (``o`` the node's stencil offset, ``f`` the
particle's fractional position) both sums are linear in the row ``[1, o]``, so the per-node work
is one GEMM against the ``(S, 1 + d)`` table of these rows, and P2G scatters mass and momentum
with 1D ``scatter_add_`` calls into channel-first grid arrays. The stencils of
:meth:`Grid.stencil` are stored stencil- and channel-major (``B·N`` innermost), where CPU
kernels vectorise.
"""

from __future__ import annotations

import functools

import torch

from sciml.solvers.mpm.grid import Grid, Stencil


@functools.lru_cache(maxsize=64)
def _offset_table(
    grid: Grid, dtype: torch.dtype, device: torch.device, scale: float
) -> torch.Tensor:
    """``(S, 1 + d)`` rows ``[1, scale · o_s]`` of the stencil offsets (cached: read only)."""
    o = grid.offsets.to(device=device, dtype=dtype) * scale
    return torch.cat([torch.ones_like(o[:, :1]), o], 1)


def _frac_t(stencil: Stencil) -> torch.Tensor:
    """``(d, B·N)`` fractional positions; a view for the stencils of ``Grid.stencil``."""
    return stencil.frac.reshape(-1, stencil.frac.shape[-1]).t()


def _stencil_major(t: torch.Tensor) -> torch.Tensor:
    """``(B, N, S)`` → ``(S, B·N)``; a view for the stencil-major tensors of ``Grid.stencil``."""
    return t.permute(2, 0, 1).reshape(t.shape[-1], -1)


# Particle chunk of the CPU transfers, in elements of the (1 + d, S, chunk) arrays: ~2 MiB of
# float32, so that the GEMM output, its weighting and the scatter stay in a core's L2 cache. In
# 3D (10k–30k particles) this makes P2G ~3x faster than one pass over arrays of ~10 MiB.
_CPU_CHUNK_ELEMENTS = 2**19


def _chunks(count: int, per_particle: int, device: torch.device) -> list[slice]:
    """Slices of the ``count`` particles for the transfers: cache-sized chunks on CPU, one
    slice on other devices (where each extra kernel launch costs more than it saves)."""
    if device.type != "cpu":
        return [slice(0, count)]
    size = max(1, _CPU_CHUNK_ELEMENTS // per_particle)
    return [slice(lo, min(lo + size, count)) for lo in range(0, count, size)]


def p2g(
    grid: Grid,
    stencil: Stencil,
    mass: torch.Tensor,
    momentum: torch.Tensor,
    affine: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scatter particle mass and APIC momentum to the grid.

    Parameters
    ----------
    mass:
        ``(B, N)`` particle masses (kg).
    momentum:
        ``(B, N, d)`` particle momenta ``m_p v_p`` (kg·m/s).
    affine:
        ``(B, N, d, d)`` the matrix ``A_p`` above (kg/s).

    Returns
    -------
    grid_mass, grid_momentum:
        ``(B, n_nodes)`` (kg) and ``(B, n_nodes, d)`` (kg·m/s).
    """
    b, n, d = momentum.shape
    # With x_i − x_p = (o − f) Δx:  m_p v_p + A_p (x_i − x_p) = q_p + Δx Σ_k o_k A_p[:, k], where
    # q_p = m_p v_p − Δx A_p f_p — linear in [1, Δx o]. For the d momentum channels c the node
    # values are one batched GEMM, value[c] = [1, Δx o] (S, 1+d) @ coef[c] (1+d, B·N) with
    # coef[c] = [q_c, A[c, :]], times the weights; the mass is w·m. Per-particle work is done
    # "channel-first" (B·N innermost), where CPU kernels vectorise; (…, d, d) layouts with tiny
    # inner dimensions do not. Affine matrices stored channel-first (``smallmat``) need no copy.
    A = affine.reshape(-1, d, d).permute(1, 2, 0).contiguous()  # (d, d, B·N): A[c, k, p]
    # q = m v − Δx A f as d multiply-adds on contiguous rows (a broadcast product summed over
    # the short axis k is a slow reduction on CPU)
    f = _frac_t(stencil)  # (d, B·N)
    q = torch.addcmul(momentum.reshape(-1, d).t(), A[:, 0], f[0], value=-grid.dx)  # (d, B·N)
    for k in range(1, d):
        q = q.addcmul_(A[:, k], f[k], value=-grid.dx)
    coef = torch.cat([q.unsqueeze(1), A], 1)  # (d, 1 + d, B·N)
    table = _offset_table(grid, momentum.dtype, momentum.device, grid.dx)
    weight = _stencil_major(stencil.weight)  # (S, B·N)
    m = mass.reshape(-1)
    # scatter_add along the node axis of channel-first (d, B·n_nodes) momentum, the index
    # broadcast over channels: each channel row is scattered contiguously, ~1.6x faster on CPU
    # than one index_add over the channel axis (whose every index writes d strided entries).
    grid_mass = momentum.new_zeros(b * grid.n_nodes)
    out = momentum.new_zeros(d, b * grid.n_nodes)
    for part in _chunks(b * n, (1 + d) * weight.shape[0], momentum.device):
        w = weight[:, part]
        index = stencil.chunk_index(part)
        grid_mass.scatter_add_(0, index.view(-1), (w * m[part]).view(-1))
        value = (table @ coef[..., part]).mul_(w)  # (d, S, chunk), weighted in place
        out.scatter_add_(1, index.view(1, -1).expand(d, -1), value.view(d, -1))
    # The momentum stays channel-first in memory, returned as a (B, n_nodes, d) view:
    # elementwise grid updates keep that layout and G2P gathers from its contiguous rows.
    return grid_mass.view(b, grid.n_nodes), out.view(d, b, grid.n_nodes).permute(1, 2, 0)


def grid_velocity(grid_mass: torch.Tensor, grid_momentum: torch.Tensor) -> torch.Tensor:
    """``(B, n_nodes, d)`` velocity ``mv/m`` on nodes with mass, 0 elsewhere (no NaN gradient)."""
    has_mass = grid_mass > 0
    safe = torch.where(has_mass, grid_mass, torch.ones_like(grid_mass))
    return torch.where(has_mass.unsqueeze(-1), grid_momentum / safe.unsqueeze(-1), 0.0)


def g2p(grid: Grid, stencil: Stencil, grid_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather particle velocities and APIC affine matrices from grid velocities.

    Parameters
    ----------
    grid_v:
        ``(B, n_nodes, d)`` node velocities (m/s).

    Returns
    -------
    v, C:
        ``(B, N, d)`` (m/s) and ``(B, N, d, d)`` (1/s).
    """
    b, n, s = stencil.weight.shape
    d = grid_v.shape[-1]
    # Gather channel-first, (d, S, B·N), so that one batched GEMM with the (S, 1 + d) table
    # [1, (4/Δx) o] yields v = Σ w v_i and M = (4/Δx) Σ w v_i oᵀ; then
    # C = 4/Δx² Σ w v_i (o − f)ᵀ Δx = M − v ((4/Δx) f)ᵀ. The gather reads contiguous rows: a
    # view for the channel-first grids of `p2g` and the grid update, one copy otherwise.
    rows = grid_v.permute(2, 0, 1).reshape(d, -1).contiguous()  # (d, B·n_nodes)
    weight = _stencil_major(stencil.weight)
    k = 4.0 / grid.dx
    table_t = _offset_table(grid, grid_v.dtype, grid_v.device, k).t()
    parts = []
    for part in _chunks(b * n, (1 + d) * s, grid_v.device):
        flat = stencil.chunk_index(part).view(-1)
        nodes_v = rows.index_select(1, flat).view(d, s, -1)
        parts.append(table_t @ nodes_v.mul_(weight[:, part]))  # (d, 1 + d, chunk)
    out = parts[0] if len(parts) == 1 else torch.cat(parts, -1)
    v_t = out[:, 0]  # (d, B·N)
    # (one addcmul: M − v (k f)ᵀ up to rounding, in one pass instead of three broadcasts;
    # 3D 29 791 particles 0.8 -> 0.1 ms on CPU)
    C_t = torch.addcmul(out[:, 1:], v_t.unsqueeze(1), _frac_t(stencil).unsqueeze(0), value=-k)
    return v_t.t().reshape(b, n, d), C_t.permute(2, 0, 1).reshape(b, n, d, d)

"""Particle ↔ grid transfers of MLS-MPM with APIC (Hu et al. 2018, SIGGRAPH; Jiang et al. 2015).

P2G scatters mass and momentum with ``index_add`` (differentiable; its backward is a gather)::

    m_i  = Σ_p w_ip m_p
    mv_i = Σ_p w_ip (m_p v_p + A_p (x_i − x_p)),   A_p = −Δt V⁰_p (4/Δx²) τ_p + m_p C_p

with τ the Kirchhoff stress. G2P gathers the grid velocity back::

    v_p = Σ_i w_ip v_i,   C_p = (4/Δx²) Σ_i w_ip v_i (x_i − x_p)ᵀ.

Both transfers conserve linear and angular momentum exactly (the angular momentum of a particle
includes its affine part ``m_p D_p C_pᵀ``, ``D_p = Δx²/4 I``).

Implementation: with ``x_i − x_p = (o − f) Δx`` (``o`` the node's stencil offset, ``f`` the
particle's fractional position) both sums are linear in the row ``[1, o]``, so the per-node work
is one GEMM against the ``(S, 1 + d)`` table of these rows, and P2G scatters mass and momentum in
a single ``(1 + d)``-channel ``index_add``. The stencils of :meth:`Grid.stencil` are stored
stencil- and channel-major (``B·N`` innermost), where CPU kernels vectorise.
"""

from __future__ import annotations

import torch

from sciml.solvers.mpm.grid import Grid, Stencil


def _offset_table(stencil: Stencil, dtype: torch.dtype, scale: float) -> torch.Tensor:
    """``(S, 1 + d)`` rows ``[1, scale · o_s]`` of the stencil offsets."""
    o = stencil.offsets.to(dtype) * scale
    return torch.cat([torch.ones_like(o[:, :1]), o], 1)


def _frac_t(stencil: Stencil) -> torch.Tensor:
    """``(d, B·N)`` fractional positions; a view for the stencils of ``Grid.stencil``."""
    return stencil.frac.reshape(-1, stencil.frac.shape[-1]).t()


def _stencil_major(t: torch.Tensor) -> torch.Tensor:
    """``(B, N, S)`` → ``(S, B·N)``; a view for the stencil-major tensors of ``Grid.stencil``."""
    return t.permute(2, 0, 1).reshape(t.shape[-1], -1)


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
    # q_p = m_p v_p − Δx A_p f_p — linear in [1, Δx o]. Mass rides along as channel 0
    # (coefficients [m_p, 0, …]), so for the 1 + d channels c the node values are one batched
    # GEMM, value[c] = [1, Δx o] (S, 1+d) @ coef[c] (1+d, B·N), and a single index_add scatters
    # mass and momentum together. Per-particle work is done "channel-first" (B·N innermost), where
    # CPU kernels vectorise; (…, d, d) layouts with tiny inner dimensions do not.
    A = affine.reshape(-1, d, d).permute(1, 2, 0).contiguous()  # (d, d, B·N): A[c, k, p]
    fdx = (_frac_t(stencil) * grid.dx).contiguous()  # (d, B·N)
    coef = momentum.new_zeros(1 + d, 1 + d, b * n)
    coef[0, 0] = mass.reshape(-1)
    coef[1:, 0] = momentum.reshape(-1, d).t() - (A * fdx).sum(1)
    coef[1:, 1:] = A
    value = _offset_table(stencil, momentum.dtype, grid.dx) @ coef  # (1 + d, S, B·N)
    value = value * _stencil_major(stencil.weight)
    index = _stencil_major(stencil.index).reshape(-1)
    out = momentum.new_zeros(1 + d, b * grid.n_nodes)
    out = out.index_add(1, index, value.view(1 + d, -1)).view(1 + d, b, grid.n_nodes)
    # (B, n_nodes, d) contiguous: the grid update and the walls then run on plain arrays
    return out[0], out[1:].permute(1, 2, 0).contiguous()


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
    b, n, s = stencil.index.shape
    d = grid_v.shape[-1]
    # Gather channel-first, (d, S, B·N), so that one batched GEMM with the (S, 1 + d) table
    # [1, (4/Δx) o] yields v = Σ w v_i and M = (4/Δx) Σ w v_i oᵀ; then
    # C = 4/Δx² Σ w v_i (o − f)ᵀ Δx = M − v ((4/Δx) f)ᵀ.
    index = _stencil_major(stencil.index).reshape(-1)
    nodes_v = grid_v.reshape(-1, d).t().index_select(1, index).view(d, s, b * n)
    wv = nodes_v * _stencil_major(stencil.weight)
    k = 4.0 / grid.dx
    out = _offset_table(stencil, grid_v.dtype, k).t() @ wv  # (d, 1 + d, B·N)
    v_t = out[:, 0]  # (d, B·N)
    C_t = out[:, 1:] - v_t.unsqueeze(1) * (_frac_t(stencil) * k).unsqueeze(0)  # (d, d, B·N)
    return v_t.t().reshape(b, n, d), C_t.permute(2, 0, 1).reshape(b, n, d, d)

r"""Spectral interpolation: a spectral solution and its derivatives at arbitrary coordinates.

A field known at the grid points is the truncated series of its grid (Fourier on a periodic
:class:`~sciml.solvers.spectral.grid.Grid`, sine/cosine on a
:class:`~sciml.solvers.spectral.bounded_grid.BoundedGrid`); evaluating that series at any point
gives the spectrally accurate interpolant (Boyd, *Chebyshev and Fourier Spectral Methods*, 2001,
§4.5):

.. math::
    u(\mathbf x) = \sum_{\mathbf m} \hat u_{\mathbf m} \prod_{i=1}^{D} \phi_{m_i}(x_i), \qquad
    \partial^{r}\phi_m:\ e^{ikx} \to (ik)^r e^{ikx},\quad
    \sin kx \to k^r \sin(kx + r\pi/2),\quad \cos kx \to k^r \cos(kx + r\pi/2).

On the periodic grid the Nyquist mode of a non-last axis is evaluated as :math:`\cos k x` (the
symmetric, real interpolant); on the last (rfft) axis the half spectrum is weighted by 2 except
for the mean and Nyquist modes, and the real part is taken. The sum is contracted one axis at a
time, ``O(B · C · P · prod(N))`` operations for ``P`` points: evaluate large point sets in chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sciml.solvers.spectral.bounded_grid import BoundedGrid
from sciml.solvers.spectral.grid import Grid

__all__ = ["evaluate"]


def _check_points(grid: Grid | BoundedGrid, points: torch.Tensor) -> torch.Tensor:
    if not isinstance(points, torch.Tensor) or points.is_complex():
        raise TypeError("points must be a real torch.Tensor of shape (P, D) (or (P,) in 1D)")
    if points.ndim == 1 and grid.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or points.shape[1] != grid.ndim:
        raise ValueError(
            f"points must have shape (P, {grid.ndim}) for a {grid.ndim}D grid, got "
            f"{tuple(points.shape)}"
        )
    points = points.to(dtype=grid.dtype, device=grid.device)
    if isinstance(grid, BoundedGrid):
        low = grid.origin
        high = grid.origin + grid.length.detach().max().item()
        slack = 1e-12 * max(1.0, abs(low), abs(high))
        if (points.detach() < low - slack).any() or (points.detach() > high + slack).any():
            raise ValueError(
                f"points must lie in the box [{low:g}, {high:g}]^{grid.ndim} of the bounded grid"
            )
    return points


def _periodic_basis(grid: Grid, axis: int, x: torch.Tensor, order: int) -> torch.Tensor:
    """``(Bl, P, n_f)`` complex values of ``∂^order`` of each Fourier mode of ``axis`` at ``x``."""
    n = grid.shape[axis]
    m = grid.modes(axis).reshape(1, 1, -1)
    k = 2 * math.pi * m / grid.length.reshape(-1, 1, 1)  # (Bl, 1, n_f)
    theta = k * x.reshape(1, -1, 1)  # (Bl, P, n_f)
    basis = (1j * k.to(grid.complex_dtype)) ** order * torch.exp(1j * theta.to(grid.complex_dtype))
    nyquist = m.abs() == n // 2
    if axis == grid.ndim - 1:
        return basis * torch.where((m == 0) | nyquist, 1.0, 2.0).to(grid.dtype)
    # a non-last Nyquist mode stands for both ±N/2: the real, symmetric cos(k x)
    wave = k.abs() ** order * torch.cos(k.abs() * x.reshape(1, -1, 1) + order * math.pi / 2)
    return torch.where(nyquist, wave.to(grid.complex_dtype), basis)


def _bounded_basis(
    grid: BoundedGrid, axis: int, x: torch.Tensor, order: int, parity: str
) -> torch.Tensor:
    """``(Bl, P, N+1)`` values of ``∂^order`` of each sine/cosine mode of ``axis`` at ``x``."""
    k = math.pi * grid.modes(axis).reshape(1, 1, -1) / grid.length.reshape(-1, 1, 1)
    theta = k * (x.reshape(1, -1, 1) - grid.origin) + order * math.pi / 2
    wave = torch.sin(theta) if parity == "sin" else torch.cos(theta)
    return k**order * wave


def evaluate(
    grid: Grid | BoundedGrid,
    u: torch.Tensor,
    points: torch.Tensor,
    *,
    derivative: Sequence[int] | None = None,
) -> torch.Tensor:
    """Values ``(B, C, P)`` of the spectral interpolant of ``u`` (or a derivative) at ``points``.

    Parameters
    ----------
    grid:
        The grid ``u`` lives on (periodic or bounded).
    u:
        Real field ``(B, C, *N)`` at the grid points (a solver state or rollout frame).
    points:
        Coordinates ``(P, D)`` (``(P,)`` in 1D) in the grid's units; on a bounded grid they must
        lie in the box.
    derivative:
        Derivative order per axis, e.g. ``(1,)`` for :math:`u_x`, ``(0, 2)`` for
        :math:`u_{yy}`; default none.

    Differentiable with respect to ``u``, ``points`` and a tensor domain length.
    """
    grid.check_field(u, "u")
    points = _check_points(grid, points)
    orders = tuple(derivative) if derivative is not None else (0,) * grid.ndim
    if len(orders) != grid.ndim or any(int(r) != r or r < 0 for r in orders):
        raise ValueError(
            f"derivative needs one non-negative integer order per axis ({grid.ndim}), got "
            f"{derivative}"
        )
    bounded = isinstance(grid, BoundedGrid)
    coeffs = grid.transform(u) if bounded else grid.rfft(u)
    b, c = coeffs.shape[:2]
    out = None
    for axis in reversed(range(grid.ndim)):
        x = points[:, axis]
        if bounded:
            basis = _bounded_basis(grid, axis, x, int(orders[axis]), grid.parity[axis])
        else:
            basis = _periodic_basis(grid, axis, x, int(orders[axis]))
        basis = basis.expand(b, -1, -1)
        if out is None:  # (B, C, ..., n) · (B, P, n) -> (B, C, ..., P)
            lead = coeffs.shape[2:-1]
            flat = coeffs.reshape(b, -1, coeffs.shape[-1])
            out = torch.bmm(flat, basis.transpose(1, 2)).reshape(b, c, *lead, -1)
        else:  # contract axis n with the same point p: (B, C, r, n, P) · (B, P, n) -> (B, C, r, P)
            n = out.shape[-2]
            rest = out.reshape(b, c, -1, n, out.shape[-1])
            out = torch.einsum("bcrnp,bpn->bcrp", rest, basis).reshape(*out.shape[:-2], -1)
    return out.reshape(b, c, -1) if bounded else out.real.reshape(b, c, -1)

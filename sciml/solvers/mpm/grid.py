"""Background grid of MLS-MPM and the quadratic B-spline stencil of each particle.

The domain is the box ``[0, size]^d`` covered by ``n`` cells per axis; grid nodes sit at
``i·Δx`` for ``i = 0..n`` (``(n+1)^d`` nodes, ``Δx = size/n``). A particle at ``x_p`` interacts
with the ``3^d`` nodes ``base + o``, ``o ∈ {0,1,2}^d``, where ``base = ⌊x_p/Δx − 1/2⌋``, with the
quadratic B-spline weights (Jiang et al. 2016, eq. 123; Hu et al. 2018, MLS-MPM)

.. math::

    w_0 = \\tfrac12 (1.5 − f)^2,\\quad w_1 = 0.75 − (f − 1)^2,\\quad w_2 = \\tfrac12 (f − 0.5)^2,
    \\qquad f = x_p/Δx − \\text{base} ∈ [0.5, 1.5),

and ``w_{ip} = Π_k w_{o_k}(f_k)``. Their second moment is ``D_p = Δx²/4 · I``, which gives APIC its
``4/Δx²`` factor. The stencil offsets and node strides are computed once per grid.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import torch


@functools.lru_cache(maxsize=16)
def _node_multi_index(m: int, dim: int, device: torch.device) -> torch.Tensor:
    # Boundary conditions need this every step; building it costs more than the conditions.
    axes = [torch.arange(m, device=device)] * dim
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x.reshape(-1) for x in mesh], dim=-1)


@dataclass(frozen=True)
class Stencil:
    """Where one batch of particles meets the grid.

    Attributes
    ----------
    index:
        ``(B, N, S)`` long — flat node index into a ``(B·n_nodes)`` grid array (batch offset
        included).
    weight:
        ``(B, N, S)`` — B-spline weight ``w_{ip}`` (dimensionless, sums to 1 over ``S``).
    dpos:
        ``(B, N, S, d)`` — ``x_i − x_p`` in metres.
    """

    index: torch.Tensor
    weight: torch.Tensor
    dpos: torch.Tensor


@dataclass(frozen=True)
class Grid:
    """A uniform background grid over ``[0, size]^dim``.

    Parameters
    ----------
    dim:
        Spatial dimension, 2 or 3.
    n:
        Cells per axis (``Δx = size / n``).
    size:
        Edge length of the domain in metres.
    bound:
        Width, in cells, of the wall layer where boundary conditions act (NCLaw and Taichi use 3).
    """

    dim: int
    n: int
    size: float = 1.0
    bound: int = 3
    offsets: torch.Tensor = field(init=False, repr=False, compare=False)
    strides: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ValueError(f"grid dimension must be 2 or 3, got {self.dim}")
        if self.n < 2 * self.bound + 2:
            raise ValueError(
                f"grid needs at least {2 * self.bound + 2} cells per axis for {self.bound} "
                f"boundary cells on each side, got n={self.n}"
            )
        if not self.size > 0:
            raise ValueError(f"grid size must be positive, got {self.size}")
        offsets = torch.tensor(list(itertools.product(range(3), repeat=self.dim)), dtype=torch.long)
        m = self.n + 1
        strides = torch.tensor([m ** (self.dim - 1 - k) for k in range(self.dim)], dtype=torch.long)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "strides", strides)

    @property
    def dx(self) -> float:
        """Cell width Δx in metres."""
        return self.size / self.n

    @property
    def n_nodes(self) -> int:
        """Number of grid nodes, ``(n+1)^dim``."""
        return (self.n + 1) ** self.dim

    @property
    def stencil_size(self) -> int:
        """Nodes per particle stencil, ``3^dim``."""
        return 3**self.dim

    @property
    def margin(self) -> float:
        """Particles must stay in ``[margin, size − margin]^d`` (one Δx) for stencils to fit."""
        return self.dx

    def node_positions(self, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """``(n_nodes, dim)`` node coordinates in metres, in flat-index order."""
        return self.node_multi_index(device=device).to(dtype) * self.dx

    def node_multi_index(self, *, device: torch.device) -> torch.Tensor:
        """``(n_nodes, dim)`` long integer node coordinates, in flat-index order (cached)."""
        return _node_multi_index(self.n + 1, self.dim, torch.device(device))

    def stencil(self, x: torch.Tensor) -> Stencil:
        """Quadratic B-spline stencil of particles ``x`` ``(B, N, d)`` (metres)."""
        inv_dx = 1.0 / self.dx
        xs = x * inv_dx
        base = torch.floor(xs - 0.5).detach()
        fx = xs - base  # (B, N, d) in [0.5, 1.5)
        w = torch.stack(
            [0.5 * (1.5 - fx) ** 2, 0.75 - (fx - 1.0) ** 2, 0.5 * (fx - 0.5) ** 2], dim=-2
        )  # (B, N, 3, d)
        # Tensor product of the per-axis weights, in the (row-major) order of `offsets`; an outer
        # product is much cheaper on CPU than gathering w[..., offsets, axis].
        weight = w[..., 0]
        for k in range(1, self.dim):
            weight = (weight.unsqueeze(-1) * w[..., k].unsqueeze(-2)).flatten(-2)  # (B, N, 3^k)
        offsets = self.offsets.to(x.device)
        dpos = (offsets.to(x.dtype) - fx.unsqueeze(-2)) * self.dx  # (B, N, S, d)
        strides = self.strides.to(x.device)
        batch = x.shape[0]
        batch_offset = torch.arange(batch, device=x.device).view(batch, 1) * self.n_nodes
        base_index = (base.long() * strides).sum(-1) + batch_offset  # (B, N)
        index = base_index.unsqueeze(-1) + (offsets * strides).sum(-1)  # (B, N, S)
        return Stencil(index=index, weight=weight, dpos=dpos)

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


@functools.lru_cache(maxsize=16)
def _bspline_constants(
    dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(3, 1, 1)`` shifts, factors and constants of the three quadratic B-spline pieces."""
    opts = {"dtype": dtype, "device": device}
    rows = [[1.5, 0.5, 0.0], [1.0, -1.0, 0.75], [0.5, 0.5, 0.0]]
    return tuple(torch.tensor(c, **opts).view(3, 1, 1) for c in zip(*rows))


@functools.lru_cache(maxsize=16)
def _index_constants(grid: Grid, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The grid's stencil offsets and offset indices on ``device``."""
    return grid.offsets.to(device), grid.offset_index.to(device)


@dataclass(frozen=True)
class Stencil:
    """Where one batch of particles meets the grid.

    Attributes
    ----------
    base:
        ``(B·N,)`` long — flat index of each particle's first stencil node in a
        ``(B·n_nodes)`` grid array (batch offset included).
    offset_index:
        ``(S,)`` long — flat index of each stencil node relative to the first one.
    weight:
        ``(B, N, S)`` — B-spline weight ``w_{ip}`` (dimensionless, sums to 1 over ``S``).
    frac:
        ``(B, N, d)`` — ``f = x_p/Δx − base`` ∈ [0.5, 1.5), the particle's position relative to
        its first stencil node in cells.
    offsets:
        ``(S, d)`` long — the node offsets ``o ∈ {0,1,2}^d`` in the order of ``S``.
    dx:
        Cell width Δx (m).

    ``index`` (``(B, N, S)`` flat node indices) and ``dpos`` (``(B, N, S, d)``,
    ``x_i − x_p = (o − f) Δx`` in metres) are computed on demand: the transfers build the indices
    of one particle chunk at a time from ``base`` and ``offset_index`` (:meth:`chunk_index`), and
    use ``f`` and ``o`` separately, which avoids materialising either array.
    """

    base: torch.Tensor
    offset_index: torch.Tensor
    weight: torch.Tensor
    frac: torch.Tensor
    offsets: torch.Tensor
    dx: float
    _indices: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def index(self) -> torch.Tensor:
        """``(B, N, S)`` long flat node indices into a ``(B·n_nodes)`` grid array."""
        b, n, s = self.weight.shape
        return self.chunk_index(slice(None)).view(s, b, n).permute(1, 2, 0)

    def chunk_index(self, part: slice) -> torch.Tensor:
        """``(S, chunk)`` flat node indices of the particles ``part`` of the ``B·N``, stencil-major
        (contiguous; built on first use and kept, so that P2G and G2P share it)."""
        key = (part.start, part.stop, part.step)
        if key not in self._indices:
            # base expanded over the stencil rows: this broadcast runs ~2x faster on CPU than
            # the (S, 1) + (chunk,) one
            base = self.base[part]
            self._indices[key] = (
                base.expand(len(self.offset_index), -1) + self.offset_index[:, None]
            )
        return self._indices[key]

    @property
    def dpos(self) -> torch.Tensor:
        """``(B, N, S, d)`` node minus particle position ``x_i − x_p`` (m)."""
        return (self.offsets.to(self.frac.dtype) - self.frac.unsqueeze(-2)) * self.dx


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
    offset_index: torch.Tensor = field(init=False, repr=False, compare=False)

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
        # flat index of each stencil offset relative to the base node
        object.__setattr__(self, "offset_index", (offsets * strides).sum(-1))

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
        batch, count, dim = x.shape
        s = self.stencil_size
        # Everything is built channel- and stencil-major, (d, B·N) and (S, B·N) in memory, and
        # returned as (B, N, …) views: the transfers then run their per-node work as a few large
        # GEMMs and elementwise ops on contiguous rows (much faster on CPU than (…, S, d)
        # broadcasts with tiny inner dimensions).
        xs = x.reshape(-1, dim).t().contiguous() * inv_dx  # (d, B·N)
        base = torch.floor(xs - 0.5).detach()
        ft = xs - base  # (d, B·N) in [0.5, 1.5)
        # (3, d, B·N): w_o = c_o (f − s_o)² + e_o, (s, c, e) = (1.5, ½, 0), (1, −1, ¾), (½, ½, 0)
        # in three ops (the same values as the textbook forms: the squares are equal and the
        # products by ±1, ½ exact)
        shift, coef, const = _bspline_constants(xs.dtype, xs.device)
        # (in place on the fresh square: twice as fast as addcmul with (3, 1, 1) operands, same
        # values; square's backward needs its input, not its output)
        w = (ft - shift).square().mul_(coef).add_(const)
        # Tensor product of the per-axis weights, in the (row-major) order of `offsets`.
        weight = w[:, 0]
        for k in range(1, dim):
            weight = (weight.unsqueeze(1) * w[:, k].unsqueeze(0)).flatten(0, 1)  # (3^k, B·N)
        device = x.device
        offsets, offset_index = _index_constants(self, device)
        # (B·N,) flat index of the first node, Σ_k base_k stride_k as d − 1 integer
        # multiply-adds (a sum over the short axis of (d, B·N) is a slow reduction on CPU)
        base_long = base.long()
        base_index = base_long[-1]
        for k in range(dim - 1):
            base_index = torch.add(base_index, base_long[k], alpha=(self.n + 1) ** (dim - 1 - k))
        if batch > 1:
            batch_offset = torch.arange(batch, device=device) * self.n_nodes
            base_index = base_index + batch_offset.repeat_interleave(count)
        return Stencil(
            base=base_index,
            offset_index=offset_index,
            weight=weight.view(s, batch, count).permute(1, 2, 0),
            frac=ft.t().view(batch, count, dim),  # a view of the (d, B·N) array
            offsets=offsets,
            dx=self.dx,
        )

"""Simplicial meshes (triangles in 2D, tetrahedra in 3D) with boundary tags and quality checks.

A :class:`Mesh` is the geometry and topology that every finite-element space is built on:

* ``points`` ``(P, d)`` node coordinates (any float dtype and device; differentiable — the
  assembly follows them, so gradients w.r.t. node positions are available);
* ``cells`` ``(E, d + 1)`` vertex indices, positively oriented (``det J > 0``);
* ``boundaries`` ``{tag: (F, d)}`` boundary facets (segments in 2D, triangles in 3D) per tag;
* ``subdomains`` ``{tag: (E_t,)}`` cell indices per physical tag (from Gmsh files).

Construction validates the mesh and raises :class:`MeshError` naming the offending element:
out-of-range indices, inverted or degenerate cells, duplicate nodes, unreferenced nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor

from sciml.solvers.fem.sorting import unique_keys

__all__ = ["Mesh", "MeshError", "signed_volumes", "exterior_facets", "unique_rows"]


class MeshError(ValueError):
    """An invalid mesh (bad element, duplicate or orphan node, unknown tag, unreadable file)."""


def signed_volumes(points: Tensor, cells: Tensor) -> Tensor:
    """Signed measure of each simplex: ``det(J) / d!`` with ``J = [x_1 - x_0, ..., x_d - x_0]``.

    Returns ``(E,)`` areas (2D) or volumes (3D); negative for clockwise / left-handed cells.
    """
    x = points[cells]  # (E, d+1, d)
    jac = (x[:, 1:] - x[:, :1]).transpose(1, 2)  # (E, d, d), columns are edge vectors
    d = points.shape[1]
    return torch.linalg.det(jac) / math.factorial(d)


def _facet_local_indices(d: int) -> list[list[int]]:
    """Local vertex indices of the ``d + 1`` facets of a ``d``-simplex (facet i omits vertex i)."""
    return [[j for j in range(d + 1) if j != i] for i in range(d + 1)]


def _packed(rows: Tensor, n: int) -> Tensor | None:
    """One int64 key per row ``(R, k)`` of entries ``< n``: ``Σ r_i n^{k-1-i}`` (this keeps the
    lexicographic order), or ``None`` when ``n^k`` does not fit in 63 bits."""
    k = rows.shape[1]
    if n**k >= 2**63:
        return None
    keys = rows[:, 0].clone()
    for i in range(1, k):
        keys.mul_(n).add_(rows[:, i])
    return keys


def _unpacked(keys: Tensor, n: int, k: int) -> Tensor:
    """The rows ``(R, k)`` of :func:`_packed` keys."""
    cols = []
    for _ in range(k):
        cols.append(keys % n)
        keys = keys // n
    return torch.stack(cols[::-1], dim=1)


def unique_rows(rows: Tensor, n: int, return_counts: bool = False):
    """``torch.unique(rows, dim=0)`` for non-negative integer rows ``(R, k)`` with entries ``< n``.

    Rows are packed into one int64 key each (:func:`_packed`) and the keys are sorted in 1D:
    several times faster than ``unique(dim=0)``, which is the fallback when ``n^k`` does not fit
    in 63 bits.
    """
    keys = _packed(rows, n)
    if keys is None:
        return torch.unique(rows, dim=0, return_counts=return_counts)
    out = unique_keys(keys, return_counts=return_counts)
    uniq, counts = out if return_counts else (out, None)
    uniq = _unpacked(uniq, n, rows.shape[1])
    return (uniq, counts) if return_counts else uniq


def _sorted_rows(rows: Tensor) -> Tensor:
    """Each row ``(R, k)`` sorted ascending; ``k ≤ 3`` by a min/max network (several times
    faster than ``sort(dim=1)`` on such short rows)."""
    k = rows.shape[1]
    if k == 2:
        a, b = rows.unbind(1)
        return torch.stack([torch.minimum(a, b), torch.maximum(a, b)], dim=1)
    if k == 3:
        a, b, c = rows.unbind(1)
        lo, hi = torch.minimum(a, b), torch.maximum(a, b)
        first, mid = torch.minimum(lo, c), torch.maximum(lo, c)
        return torch.stack([first, torch.minimum(mid, hi), torch.maximum(mid, hi)], dim=1)
    return rows.sort(dim=1).values


def exterior_facets(cells: Tensor) -> Tensor:
    """Facets that belong to exactly one cell: ``(F, d)`` sorted vertex indices, sorted rows."""
    e, d = cells.shape[0], cells.shape[1] - 1
    local = torch.tensor(_facet_local_indices(d), device=cells.device).reshape(-1)
    facets = _sorted_rows(cells.index_select(1, local).reshape(e * (d + 1), d))
    n = int(cells.max()) + 1 if cells.numel() else 1
    keys = _packed(facets, n)
    if keys is None:
        uniq, counts = torch.unique(facets, dim=0, return_counts=True)
        return uniq[counts == 1]
    uniq, counts = unique_keys(keys, return_counts=True)
    return _unpacked(uniq[counts == 1], n, d)


@dataclass
class Mesh:
    """A conforming simplicial mesh (see module docstring).

    Parameters
    ----------
    points:
        ``(P, d)`` node coordinates, ``d`` in {2, 3}.
    cells:
        ``(E, d + 1)`` vertex indices of each triangle / tetrahedron, positively oriented.
    boundaries:
        ``{tag: (F, d)}`` vertex indices of tagged boundary facets.
    subdomains:
        ``{tag: (E_t,)}`` indices of the cells in each tagged subdomain.
    name:
        Where the mesh came from (file name or generator), used in error messages.
    check:
        Run the quality checks (skip only for a mesh derived from a checked one).
    """

    points: Tensor
    cells: Tensor
    boundaries: dict[str, Tensor] = field(default_factory=dict)
    subdomains: dict[str, Tensor] = field(default_factory=dict)
    name: str = "mesh"
    check: bool = True

    def __post_init__(self) -> None:
        self.points = torch.as_tensor(self.points)
        if not self.points.is_floating_point():
            self.points = self.points.to(torch.get_default_dtype())
        self.cells = torch.as_tensor(self.cells, dtype=torch.long, device=self.points.device)
        self._check_shapes()
        d, device = self.dim, self.points.device
        boundaries = {}
        for tag, v in self.boundaries.items():
            facets = torch.as_tensor(v, dtype=torch.long, device=device)
            facets = facets.reshape(0, d) if facets.numel() == 0 else facets
            if facets.ndim != 2 or facets.shape[1] != d:
                raise MeshError(
                    f"{self.name}: boundary tag {tag!r} must hold (F, {d}) facets, got "
                    f"{tuple(facets.shape)}"
                )
            boundaries[str(tag)] = facets
        self.boundaries = boundaries
        self.subdomains = {
            str(k): torch.as_tensor(v, dtype=torch.long, device=device)
            for k, v in self.subdomains.items()
        }
        if self.check:
            self.validate()

    # -- properties ----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.points.shape[1])

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_cells(self) -> int:
        return int(self.cells.shape[0])

    @property
    def cell_type(self) -> str:
        return "triangle" if self.dim == 2 else "tetra"

    def __repr__(self) -> str:
        tags = ", ".join(f"{k}: {len(v)}" for k, v in self.boundaries.items())
        return (
            f"Mesh({self.name!r}, {self.cell_type}, points={self.n_points}, cells={self.n_cells}, "
            f"boundaries={{{tags}}})"
        )

    # -- validation ----------------------------------------------------------------------------
    def _check_shapes(self) -> None:
        p, c = self.points, self.cells
        if p.ndim != 2 or p.shape[1] not in (2, 3):
            raise MeshError(
                f"{self.name}: points must have shape (P, 2) or (P, 3), got {tuple(p.shape)}"
            )
        if c.ndim != 2 or c.shape[1] != p.shape[1] + 1:
            raise MeshError(
                f"{self.name}: cells must have shape (E, {p.shape[1] + 1}) for {p.shape[1]}D "
                f"simplices, got {tuple(c.shape)}"
            )
        if c.shape[0] == 0:
            raise MeshError(f"{self.name}: the mesh has no cells")

    def validate(self, rtol: float = 1e-10) -> None:
        """Raise :class:`MeshError` for the first bad element found (and say how many there are).

        Checks: indices in range, no repeated vertex in a cell, positive cell volume above
        ``rtol · (longest edge)^d`` (degenerate) and not negative (inverted), no two nodes closer
        than ``rtol`` times the mesh diameter (duplicates), every node used by a cell.
        """
        p, c, name = self.points.detach(), self.cells, self.name
        n = p.shape[0]
        bad = ((c < 0) | (c >= n)).any(dim=1)
        if bad.any():
            e = int(bad.nonzero()[0])
            raise MeshError(
                f"{name}: cell {e} has vertex indices {c[e].tolist()} outside [0, {n}) "
                f"({int(bad.sum())} such cells)"
            )
        for tag, facets in self.boundaries.items():
            if facets.numel() and (facets.min() < 0 or facets.max() >= n):
                raise MeshError(f"{name}: boundary tag {tag!r} has vertex indices outside [0, {n})")
        srt = c.sort(dim=1).values
        rep = (srt[:, 1:] == srt[:, :-1]).any(dim=1)
        if rep.any():
            e = int(rep.nonzero()[0])
            raise MeshError(
                f"{name}: cell {e} is degenerate: repeated vertex in {c[e].tolist()} "
                f"({int(rep.sum())} such cells)"
            )
        vol = signed_volumes(p, c)
        x = p[c]
        edges = (x[:, :, None] - x[:, None, :]).norm(dim=-1).flatten(1).max(dim=1).values
        small = vol.abs() <= rtol * edges**self.dim
        if small.any():
            e = int(small.nonzero()[0])
            raise MeshError(
                f"{name}: cell {e} is degenerate (volume {float(vol[e]):.3e}, vertices "
                f"{c[e].tolist()} at {x[e].tolist()}; {int(small.sum())} such cells)"
            )
        neg = vol < 0
        if neg.any():
            e = int(neg.nonzero()[0])
            raise MeshError(
                f"{name}: cell {e} is inverted (signed volume {float(vol[e]):.3e} < 0, vertices "
                f"{c[e].tolist()}; {int(neg.sum())} such cells). Order vertices counter-clockwise "
                f"(2D) / right-handed (3D)."
            )
        used = torch.zeros(n, dtype=torch.bool, device=c.device)
        used[c.flatten()] = True
        if not used.all():
            i = int((~used).nonzero()[0])
            raise MeshError(
                f"{name}: node {i} at {p[i].tolist()} is not referenced by any cell "
                f"({int((~used).sum())} unreferenced nodes)"
            )
        scale = float((p.max(0).values - p.min(0).values).norm())
        key = torch.round(p / (rtol * scale * 10)).to(torch.int64)
        _, inverse, counts = torch.unique(key, dim=0, return_inverse=True, return_counts=True)
        dup = counts[inverse] > 1
        if dup.any():
            i = int(dup.nonzero()[0])
            j = int(
                ((inverse == inverse[i]) & (torch.arange(n, device=c.device) != i)).nonzero()[0]
            )
            raise MeshError(
                f"{name}: nodes {i} and {j} coincide at {p[i].tolist()} "
                f"({int(dup.sum())} duplicated nodes)"
            )

    # -- derived data --------------------------------------------------------------------------
    @cached_property
    def _exterior_facets(self) -> Tensor:
        """Exterior facets, found once per mesh (a sort of one packed key per cell facet)."""
        return exterior_facets(self.cells)

    def boundary_facets(self, tags: str | list[str] | tuple[str, ...] | None = None) -> Tensor:
        """``(F, d)`` facets carrying any of ``tags`` (``None``: every exterior facet)."""
        if tags is None:
            return self._exterior_facets
        tags = [tags] if isinstance(tags, str) else list(tags)
        missing = [t for t in tags if t not in self.boundaries]
        if missing:
            raise MeshError(
                f"{self.name}: unknown boundary tag(s) {missing}; tags in this mesh: "
                f"{sorted(self.boundaries)}"
            )
        facets = torch.cat([self.boundaries[t] for t in tags]).sort(dim=1).values
        return unique_rows(facets, self.n_points)

    def boundary_nodes(self, tags: str | list[str] | tuple[str, ...] | None = None) -> Tensor:
        """Sorted vertex indices on the tagged boundary (``None``: the whole boundary)."""
        return torch.unique(self.boundary_facets(tags))

    def with_points(self, points: Tensor) -> Mesh:
        """The same topology with new node coordinates (e.g. tensors that require grad)."""
        if points.shape != self.points.shape:
            raise MeshError(
                f"{self.name}: new points have shape {tuple(points.shape)}, expected "
                f"{tuple(self.points.shape)}"
            )
        return Mesh(points, self.cells, self.boundaries, self.subdomains, self.name, check=False)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Mesh:
        """Copy on another device / float dtype (indices stay ``int64``)."""
        move = lambda t: t.to(device=device)  # noqa: E731
        return Mesh(
            self.points.to(device=device, dtype=dtype),
            move(self.cells),
            {k: move(v) for k, v in self.boundaries.items()},
            {k: move(v) for k, v in self.subdomains.items()},
            self.name,
            check=False,
        )

    def cell_sizes(self) -> Tensor:
        """``(E,)`` longest edge of each cell (the ``h`` of error estimates)."""
        x = self.points[self.cells]
        return (x[:, :, None] - x[:, None, :]).norm(dim=-1).flatten(1).max(dim=1).values

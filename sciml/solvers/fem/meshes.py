"""Structured mesh generators: rectangles / boxes, the L-shape, and a plate with holes.

All generators are pure torch (no Gmsh) and return a checked :class:`~.mesh.Mesh` with named
boundary tags. Node ``(i, j[, k])`` of an ``nx × ny [× nz]`` box lies at index
``i + (nx + 1) * (j + (ny + 1) * k)`` (x fastest), so nodal fields reshape to
``(…, nz+1, ny+1, nx+1)`` grids.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor

from sciml.solvers.fem.mesh import Mesh, MeshError, exterior_facets, signed_volumes

__all__ = [
    "rectangle",
    "box",
    "unit_square",
    "unit_cube",
    "l_shape",
    "plate_with_holes",
    "perturb_interior",
    "grid_to_nodes",
    "nodes_to_grid",
]


def _tag_box_facets(points: Tensor, facets: Tensor, bounds: Sequence[tuple[float, float]]) -> dict:
    """Tags ``left/right`` (x), ``bottom/top`` (y) in 2D; ``left/right``, ``front/back`` (y),
    ``bottom/top`` (z) in 3D: facets whose vertices all lie on that side of the bounding box."""
    names = (
        [("left", "right"), ("bottom", "top")]
        if len(bounds) == 2
        else [("left", "right"), ("front", "back"), ("bottom", "top")]
    )
    x = points[facets]  # (F, d, d)
    tags = {}
    for axis, ((lo_name, hi_name), (lo, hi)) in enumerate(zip(names, bounds)):
        tol = 1e-12 * max(1.0, abs(hi - lo))
        tags[lo_name] = facets[((x[..., axis] - lo).abs() < tol).all(dim=1)]
        tags[hi_name] = facets[((x[..., axis] - hi).abs() < tol).all(dim=1)]
    return tags


def _orient(points: Tensor, cells: Tensor) -> Tensor:
    """Swap two vertices of every negatively oriented cell."""
    neg = signed_volumes(points, cells) < 0
    cells = cells.clone()
    cells[neg, 1], cells[neg, 2] = cells[neg, 2].clone(), cells[neg, 1].clone()
    return cells


def _grid_points(
    counts: Sequence[int], bounds: Sequence[tuple[float, float]], dtype, device
) -> Tensor:
    axes = [
        torch.linspace(lo, hi, n + 1, dtype=dtype, device=device)
        for n, (lo, hi) in zip(counts, bounds)
    ]
    grids = torch.meshgrid(*reversed(axes), indexing="ij")  # slowest axis first → x fastest
    return torch.stack([g.flatten() for g in reversed(grids)], dim=-1)


def rectangle(
    nx: int,
    ny: int,
    *,
    x: tuple[float, float] = (0.0, 1.0),
    y: tuple[float, float] = (0.0, 1.0),
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Mesh:
    """``2 nx ny`` right triangles on ``[x0, x1] × [y0, y1]``; tags ``left right bottom top``."""
    if nx < 1 or ny < 1:
        raise MeshError(f"rectangle needs nx, ny >= 1, got ({nx}, {ny})")
    dtype = dtype or torch.get_default_dtype()
    pts = _grid_points((nx, ny), (x, y), dtype, device)
    i, j = torch.meshgrid(torch.arange(nx), torch.arange(ny), indexing="ij")
    v00 = (i + (nx + 1) * j).flatten()
    v10, v01, v11 = v00 + 1, v00 + nx + 1, v00 + nx + 2
    cells = torch.cat([torch.stack([v00, v10, v11], 1), torch.stack([v00, v11, v01], 1)]).to(device)
    tags = _tag_box_facets(pts, exterior_facets(cells), (x, y))
    return Mesh(pts, cells, tags, name=f"rectangle({nx}x{ny})")


def box(
    nx: int,
    ny: int,
    nz: int,
    *,
    x: tuple[float, float] = (0.0, 1.0),
    y: tuple[float, float] = (0.0, 1.0),
    z: tuple[float, float] = (0.0, 1.0),
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Mesh:
    """``6 nx ny nz`` tetrahedra (Kuhn subdivision of each hexahedron, conforming) on a box.

    Tags ``left right`` (x), ``front back`` (y), ``bottom top`` (z).
    """
    if min(nx, ny, nz) < 1:
        raise MeshError(f"box needs nx, ny, nz >= 1, got ({nx}, {ny}, {nz})")
    dtype = dtype or torch.get_default_dtype()
    pts = _grid_points((nx, ny, nz), (x, y, z), dtype, device)
    i, j, k = (g.flatten() for g in torch.meshgrid(*map(torch.arange, (nx, ny, nz)), indexing="ij"))
    stride = torch.tensor([1, nx + 1, (nx + 1) * (ny + 1)])
    base = i + stride[1] * j + stride[2] * k
    tets = []
    # Kuhn: one tetrahedron per monotone lattice path 000 → 111 (axis order = permutation)
    for perm in itertools.permutations(range(3)):
        offs = [torch.tensor(0)]
        for a in perm:
            offs.append(offs[-1] + stride[a])
        tets.append(torch.stack([base + o for o in offs], dim=1))
    cells = _orient(pts.cpu(), torch.cat(tets)).to(device)
    tags = _tag_box_facets(pts, exterior_facets(cells), (x, y, z))
    return Mesh(pts, cells, tags, name=f"box({nx}x{ny}x{nz})")


def unit_square(n: int, **kwargs) -> Mesh:
    """``rectangle(n, n)`` on ``[0, 1]²``."""
    return rectangle(n, n, **kwargs)


def unit_cube(n: int, **kwargs) -> Mesh:
    """``box(n, n, n)`` on ``[0, 1]³``."""
    return box(n, n, n, **kwargs)


def _keep_cells(mesh: Mesh, keep: Tensor, name: str, outer: Sequence[tuple[float, float]]) -> Mesh:
    """Sub-mesh of the cells in ``keep``: renumber nodes, re-tag the boundary."""
    cells = mesh.cells[keep]
    used = torch.unique(cells)
    new_index = torch.full((mesh.n_points,), -1, dtype=torch.long, device=cells.device)
    new_index[used] = torch.arange(len(used), device=cells.device)
    pts, cells = mesh.points[used], new_index[cells]
    facets = exterior_facets(cells)
    tags = _tag_box_facets(pts, facets, outer)
    on_outer = torch.zeros(len(facets), dtype=torch.bool, device=cells.device)
    for t in tags.values():
        on_outer |= (facets[:, None, :] == t[None]).all(-1).any(-1)
    tags["inner"] = facets[~on_outer]
    tags["boundary"] = facets
    return Mesh(pts, cells, tags, name=name)


def l_shape(n: int, **kwargs) -> Mesh:
    """The L-shaped domain ``[-1, 1]² \\ (0, 1] × [-1, 0)`` with ``2n`` cells per side.

    Tags: ``boundary`` (all), ``inner`` (the two re-entrant edges meeting at the origin) and the
    outer sides ``left right bottom top``.
    """
    square = rectangle(2 * n, 2 * n, x=(-1.0, 1.0), y=(-1.0, 1.0), **kwargs)
    centroid = square.points[square.cells].mean(dim=1)
    keep = ~((centroid[:, 0] > 0) & (centroid[:, 1] < 0))
    return _keep_cells(square, keep, f"l_shape({n})", [(-1.0, 1.0), (-1.0, 1.0)])


def plate_with_holes(
    nx: int,
    ny: int,
    holes: Sequence[tuple[float, float, float]],
    *,
    size: tuple[float, float] = (1.0, 1.0),
    **kwargs,
) -> Mesh:
    """A rectangular plate ``[0, Lx] × [0, Ly]`` with circular holes ``(cx, cy, r)``.

    Built from an ``nx × ny`` triangulation by removing the cells whose centroid lies inside a
    hole, so each hole boundary is a staircase that approaches the circle as the mesh is refined
    (no Gmsh needed). Tags: ``left right bottom top``, ``inner`` (all hole boundaries),
    ``boundary`` (everything).
    """
    lx, ly = size
    plate = rectangle(nx, ny, x=(0.0, lx), y=(0.0, ly), **kwargs)
    centroid = plate.points[plate.cells].mean(dim=1)
    keep = torch.ones(plate.n_cells, dtype=torch.bool, device=centroid.device)
    for cx, cy, r in holes:
        if r <= 0 or cx - r <= 0 or cx + r >= lx or cy - r <= 0 or cy + r >= ly:
            raise MeshError(f"hole {(cx, cy, r)} must have r > 0 and lie inside the plate {size}")
        keep &= (centroid[:, 0] - cx) ** 2 + (centroid[:, 1] - cy) ** 2 > r**2
    return _keep_cells(
        plate, keep, f"plate_with_holes({nx}x{ny}, {len(holes)} holes)", [(0.0, lx), (0.0, ly)]
    )


def perturb_interior(
    mesh: Mesh, amount: float, *, generator: torch.Generator | None = None
) -> Mesh:
    """Move every interior node by up to ``amount · h_min / 2`` per coordinate (uniform noise).

    Turns a structured mesh into an irregular one with the same topology and boundary (for patch
    tests and unstructured datasets). ``amount <= 0.4`` keeps every cell positively oriented on
    the generators here; the result is validated either way.
    """
    if amount < 0:
        raise MeshError(f"perturbation amount must be >= 0, got {amount}")
    interior = torch.ones(mesh.n_points, dtype=torch.bool, device=mesh.points.device)
    interior[mesh.boundary_nodes()] = False
    h = float(mesh.cell_sizes().min()) / math.sqrt(mesh.dim)  # shortest axis-aligned edge
    noise = torch.rand(mesh.points.shape, generator=generator, dtype=mesh.points.dtype)
    shift = amount * h * (noise.to(mesh.points.device) - 0.5)
    return Mesh(
        mesh.points + interior[:, None] * shift,
        mesh.cells,
        mesh.boundaries,
        mesh.subdomains,
        name=f"{mesh.name}+perturbed({amount})",
    )


def grid_to_nodes(field: Tensor) -> Tensor:
    """Grid values ``(..., n, n)`` ``[…, i, j]`` at ``(x_i, y_j)`` → ``(..., n²)`` node values of
    :func:`unit_square` / :func:`rectangle` (node ``(i, j)`` has index ``i + n j``)."""
    return field.transpose(-1, -2).reshape(*field.shape[:-2], -1)


def nodes_to_grid(values: Tensor, n: int) -> Tensor:
    """Inverse of :func:`grid_to_nodes`: ``(..., n²)`` → ``(..., n, n)`` indexed ``[i, j]``."""
    return values.reshape(*values.shape[:-1], n, n).transpose(-1, -2)

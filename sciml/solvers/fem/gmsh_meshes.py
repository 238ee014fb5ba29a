"""Unstructured triangulations from Gmsh's Python API (optional: ``pip install gmsh``).

Unlike :func:`~.meshes.plate_with_holes` and :func:`~.meshes.l_shape`, which cut cells out of a
structured grid (staircase hole boundaries), these generators mesh the exact geometry with Gmsh's
OpenCASCADE kernel, so hole boundaries are polygons inscribed in the circles and the mesh size is
set by ``h`` (Geuzaine & Remacle, *Int. J. Numer. Meth. Eng.* 79, 2009). The result carries the
same tags as the structured generators: ``left right bottom top`` (the outer sides), ``inner``
(hole boundaries / re-entrant edges), ``boundary`` (everything) and the subdomain ``domain``.

``gmsh`` is imported only when a generator is called; without it the call raises an
``ImportError`` that says ``pip install gmsh``. A Gmsh session that the caller has already
initialized is reused and left initialized.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from sciml.solvers.fem.mesh import Mesh, MeshError

__all__ = ["gmsh_l_shape", "gmsh_plate_with_holes"]

_SIDES = ("left", "right", "bottom", "top")


def _import_gmsh() -> Any:
    try:
        import gmsh
    except (ImportError, OSError) as err:  # OSError: the wheel's shared library did not load
        raise ImportError(
            "Gmsh mesh generation needs the optional package `gmsh`: pip install gmsh "
            f"(on a headless Linux box it may also need libGLU and libXcursor); {err}"
        ) from err
    return gmsh


@contextmanager
def _session(name: str) -> Iterator[Any]:
    """A fresh Gmsh model, removed afterwards (Gmsh finalized only if this call started it)."""
    gmsh = _import_gmsh()
    owner = not gmsh.isInitialized()
    if owner:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add(name)
    try:
        yield gmsh
    finally:
        gmsh.model.remove()
        if owner:
            gmsh.finalize()


def _mesh_planar(
    name: str,
    h: float,
    build: Callable[[Any], list[tuple[int, int]]],
    box: tuple[float, float, float, float],
    dtype: torch.dtype | None,
) -> Mesh:
    """Mesh the surfaces returned by ``build(gmsh)`` with size ``h``; tag curves by position.

    ``box = (x0, y0, x1, y1)`` is the outer rectangle: a boundary curve lying on one of its
    sides gets that side's tag, any other boundary curve is ``inner``.
    """
    if not h > 0:
        raise MeshError(f"{name}: mesh size h must be > 0, got {h}")
    x0, y0, x1, y1 = box
    tol = 1e-5 * max(x1 - x0, y1 - y0)  # OCC pads bounding boxes by ~1e-7
    with _session(name) as gmsh:
        surfaces = build(gmsh)
        gmsh.model.occ.synchronize()
        curves = [abs(t) for _, t in gmsh.model.getBoundary(surfaces, oriented=False)]
        groups: dict[str, list[int]] = {tag: [] for tag in (*_SIDES, "inner")}
        for c in curves:
            cx0, cy0, _, cx1, cy1, _ = gmsh.model.getBoundingBox(1, c)
            side = (
                "left"
                if cx1 < x0 + tol
                else "right"
                if cx0 > x1 - tol
                else "bottom"
                if cy1 < y0 + tol
                else "top"
                if cy0 > y1 - tol
                else "inner"
            )
            groups[side].append(c)
        groups["boundary"] = curves
        for tag, members in groups.items():
            if members:
                gmsh.model.addPhysicalGroup(1, members, name=tag)
        gmsh.model.addPhysicalGroup(2, [t for _, t in surfaces], name="domain")
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        gmsh.option.setNumber("Mesh.MeshSizeMin", h / 4)
        gmsh.model.mesh.generate(2)

        node_tags, coords, _ = gmsh.model.mesh.getNodes()
        index = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
        index[node_tags.astype(np.int64)] = np.arange(len(node_tags))
        points = coords.reshape(-1, 3)[:, :2]
        _, tri = gmsh.model.mesh.getElementsByType(2)
        cells = index[tri.astype(np.int64)].reshape(-1, 3)
        boundaries = {}
        for dim, ptag in gmsh.model.getPhysicalGroups(1):
            lines = [
                gmsh.model.mesh.getElementsByType(1, ent)[1]
                for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, ptag)
            ]
            facets = index[np.concatenate(lines).astype(np.int64)].reshape(-1, 2)
            boundaries[gmsh.model.getPhysicalName(dim, ptag)] = facets
    # counter-clockwise cells; drop nodes no triangle uses (e.g. unmeshed geometry points)
    e1, e2 = points[cells[:, 1]] - points[cells[:, 0]], points[cells[:, 2]] - points[cells[:, 0]]
    flip = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] < 0
    cells[flip] = cells[flip][:, [0, 2, 1]]
    used, cells = np.unique(cells, return_inverse=True)
    renumber = np.full(len(points), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    pts = torch.as_tensor(points[used], dtype=dtype or torch.get_default_dtype())
    return Mesh(
        pts,
        torch.as_tensor(cells.reshape(-1, 3)),
        {k: torch.as_tensor(renumber[v]) for k, v in boundaries.items()},
        {"domain": torch.arange(len(cells.reshape(-1, 3)))},
        name=name,
    )


def gmsh_plate_with_holes(
    h: float,
    holes: Sequence[tuple[float, float, float]] = ((0.5, 0.5, 0.2),),
    *,
    size: tuple[float, float] = (1.0, 1.0),
    dtype: torch.dtype | None = None,
) -> Mesh:
    """The plate ``[0, Lx] × [0, Ly]`` minus the discs ``(cx, cy, r)``, triangulated by Gmsh.

    ``h`` is the target edge length (``Mesh.MeshSizeMax``; about ``2·Lx·Ly / h²`` cells). Tags:
    ``left right bottom top``, ``inner`` (all hole boundaries), ``boundary``; subdomain
    ``domain``. Raises :class:`~.mesh.MeshError` for a hole not strictly inside the plate and
    ``ImportError`` without ``gmsh``.
    """
    lx, ly = size
    for cx, cy, r in holes:
        if r <= 0 or cx - r <= 0 or cx + r >= lx or cy - r <= 0 or cy + r >= ly:
            raise MeshError(f"hole {(cx, cy, r)} must have r > 0 and lie inside the plate {size}")

    def build(gmsh: Any) -> list[tuple[int, int]]:
        occ = gmsh.model.occ
        plate = occ.addRectangle(0.0, 0.0, 0.0, lx, ly)
        if not holes:
            return [(2, plate)]
        discs = [(2, occ.addDisk(cx, cy, 0.0, r, r)) for cx, cy, r in holes]
        out, _ = occ.cut([(2, plate)], discs)
        return out

    name = f"gmsh_plate_with_holes(h={h:g}, {len(holes)} holes)"
    return _mesh_planar(name, h, build, (0.0, 0.0, lx, ly), dtype)


def gmsh_l_shape(h: float, *, dtype: torch.dtype | None = None) -> Mesh:
    """The L-shaped domain ``[-1, 1]² \\ (0, 1] × [-1, 0)`` triangulated by Gmsh (edge ~ ``h``).

    Tags: ``left right bottom top`` (outer sides), ``inner`` (the two re-entrant edges meeting
    at the origin), ``boundary``; subdomain ``domain``.
    """

    def build(gmsh: Any) -> list[tuple[int, int]]:
        occ = gmsh.model.occ
        square = occ.addRectangle(-1.0, -1.0, 0.0, 2.0, 2.0)
        corner = occ.addRectangle(0.0, -1.0, 0.0, 1.0, 1.0)
        out, _ = occ.cut([(2, square)], [(2, corner)])
        return out

    return _mesh_planar(f"gmsh_l_shape(h={h:g})", h, build, (-1.0, -1.0, 1.0, 1.0), dtype)

"""Mesh import / export through meshio: Gmsh ``.msh``, VTU, XDMF and every other meshio format.

* :func:`from_meshio` converts a ``meshio.Mesh``: the highest-dimensional simplices become cells
  (``triangle``/``tetra``; the corner nodes of ``triangle6``/``tetra10``), lower-dimensional
  simplices (``line`` in 2D, ``triangle`` in 3D) with a ``gmsh:physical`` tag become tagged
  boundary facets, named through ``field_data`` (Gmsh physical names) or ``"<id>"``. A 2D mesh
  stored with ``z = 0`` comes back 2D.
* :func:`read_mesh` reads a file and raises :class:`~.mesh.MeshError` naming the file for a
  missing, corrupt or unsupported file.
* :func:`to_meshio` / :func:`write_mesh` write a mesh with nodal fields (for ParaView); boundary
  tags travel as ``line``/``triangle`` blocks with ``gmsh:physical`` ids (kept by ``.msh``).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from pathlib import Path

import meshio
import numpy as np
import torch
from torch import Tensor

from sciml.solvers.fem.mesh import Mesh, MeshError

__all__ = ["from_meshio", "to_meshio", "read_mesh", "write_mesh"]

_CELLS = {2: ("triangle", "triangle6"), 3: ("tetra", "tetra10")}
_FACETS = {2: ("line", "line3"), 3: ("triangle", "triangle6")}


def from_meshio(
    m: meshio.Mesh, *, name: str = "<meshio>", dtype: torch.dtype | None = None
) -> Mesh:
    """Our :class:`~.mesh.Mesh` from a ``meshio.Mesh`` (see module docstring)."""
    types = [b.type for b in m.cells]
    dim = (
        3 if any(t in _CELLS[3] for t in types) else 2 if any(t in _CELLS[2] for t in types) else 0
    )
    if dim == 0:
        raise MeshError(
            f"{name}: no triangle or tetrahedron cells (found {sorted(set(types))}); only "
            "simplicial meshes are supported"
        )
    points = np.asarray(m.points, dtype=np.float64)
    if dim == 2 and points.shape[1] == 3:
        if np.abs(points[:, 2]).max(initial=0.0) > 1e-12 * max(1.0, np.abs(points).max()):
            raise MeshError(f"{name}: triangles with z != 0 (a surface mesh) are not supported")
        points = points[:, :2]
    physical = m.cell_data.get("gmsh:physical")
    id_to_name = {(int(v[0]), int(v[1])): k for k, v in (m.field_data or {}).items() if len(v) >= 2}
    cells, cell_tags, boundaries = [], [], {}
    n_vertices = dim + 1
    for i, block in enumerate(m.cells):
        data = np.asarray(block.data, dtype=np.int64)
        tags = np.asarray(physical[i]) if physical is not None else None
        if block.type in _CELLS[dim]:
            cells.append(data[:, :n_vertices])
            if tags is not None:
                cell_tags.append(tags)
        elif block.type in _FACETS[dim] and tags is not None:
            for t in np.unique(tags):
                label = id_to_name.get((int(t), dim - 1), str(int(t)))
                facets = data[tags == t][:, :dim]
                boundaries[label] = (
                    np.concatenate([boundaries[label], facets]) if label in boundaries else facets
                )
        elif block.type not in ("vertex", "line", "line3", "triangle", "triangle6"):
            raise MeshError(
                f"{name}: unsupported cell type {block.type!r}; supported: triangle(6), tetra(10) "
                "cells and line / triangle boundary facets"
            )
    cells_np = np.concatenate(cells)
    subdomains = {}
    if cell_tags:
        all_tags = np.concatenate(cell_tags)
        for t in np.unique(all_tags):
            subdomains[id_to_name.get((int(t), dim), str(int(t)))] = np.nonzero(all_tags == t)[0]
    pts = torch.as_tensor(points, dtype=dtype or torch.get_default_dtype())
    return Mesh(
        pts,
        torch.as_tensor(cells_np),
        {k: torch.as_tensor(v) for k, v in boundaries.items()},
        {k: torch.as_tensor(v) for k, v in subdomains.items()},
        name=name,
    )


def read_mesh(path: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Mesh:
    """Read any meshio-readable mesh file (``.msh``, ``.vtu``, ``.xdmf``, …)."""
    path = Path(path)
    if not path.exists():
        raise MeshError(f"{path}: mesh file not found")
    if not path.is_file():
        raise MeshError(f"{path}: is a folder, not a mesh file")
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            m = meshio.read(path)
    # meshio raises many types (ReadError, ValueError, KeyError, …) and, for a ``.msh`` that no
    # reader accepts, prints why and calls sys.exit: a corrupt file must not end the program
    except (Exception, SystemExit) as exc:
        said = " ".join(log.getvalue().split()).removeprefix("Error: ")
        detail = said or f"{type(exc).__name__}: {exc}"
        raise MeshError(
            f"{path}: cannot read mesh ({detail}); formats: those meshio reads (.msh, .vtu, "
            ".xdmf, ...)"
        ) from exc
    return from_meshio(m, name=str(path), dtype=dtype)


def to_meshio(mesh: Mesh, point_data: Mapping[str, Tensor] | None = None) -> meshio.Mesh:
    """A ``meshio.Mesh`` with cells, tagged boundary facets and nodal ``point_data`` ``(P, …)``.

    Physical ids: boundary tags ``1, 2, …`` (dimension ``d-1``) and subdomains after them.
    """
    d = mesh.dim
    pts = mesh.points.detach().cpu().numpy()
    cells = [(mesh.cell_type, mesh.cells.cpu().numpy())]
    physical = [np.zeros(mesh.n_cells, dtype=np.int64)]
    field_data = {}
    for i, (tag, facets) in enumerate(mesh.boundaries.items(), start=1):
        cells.append(("line" if d == 2 else "triangle", facets.cpu().numpy()))
        physical.append(np.full(len(facets), i, dtype=np.int64))
        field_data[tag] = np.array([i, d - 1])
    offset = len(mesh.boundaries) + 1
    for j, (tag, idx) in enumerate(mesh.subdomains.items(), start=offset):
        physical[0][idx.cpu().numpy()] = j
        field_data[tag] = np.array([j, d])
    data = {k: np.asarray(v.detach().cpu().numpy()) for k, v in (point_data or {}).items()}
    for k, v in data.items():
        if v.shape[0] != mesh.n_points:
            raise MeshError(f"point_data {k!r} has {v.shape[0]} rows, expected {mesh.n_points}")
    return meshio.Mesh(
        pts,
        cells,
        point_data=data,
        cell_data={"gmsh:physical": physical, "gmsh:geometrical": physical},
        field_data=field_data,
    )


def write_mesh(
    path: str | os.PathLike, mesh: Mesh, point_data: Mapping[str, Tensor] | None = None
) -> Path:
    """Write ``mesh`` (and nodal fields) to any meshio format chosen by the file extension.

    ``.msh`` is written as Gmsh 2.2 binary (keeps tags; meshio 5.3 cannot read back the node data
    of its own ASCII ``.msh`` files with current NumPy).
    """
    path = Path(path)
    m = to_meshio(mesh, point_data)
    if path.suffix == ".msh":
        meshio.write(path, m, file_format="gmsh22", binary=True)
    else:
        meshio.write(path, m)
    return path

"""Gmsh-generated meshes (optional dependency): valid, tagged, the right area; clear ImportError."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from sciml.solvers.fem import Poisson, gmsh_l_shape, gmsh_plate_with_holes, l2_error
from sciml.solvers.fem.mesh import exterior_facets, signed_volumes


def _area(mesh) -> float:
    return float(signed_volumes(mesh.points, mesh.cells).sum())


def test_plate_with_holes_is_tagged_and_has_the_plate_area() -> None:
    pytest.importorskip("gmsh")
    holes = [(0.3, 0.5, 0.1), (0.7, 0.5, 0.15)]
    mesh = gmsh_plate_with_holes(0.05, holes, size=(1.0, 1.0))
    assert set(mesh.boundaries) == {"left", "right", "bottom", "top", "inner", "boundary"}
    assert torch.equal(mesh.subdomains["domain"], torch.arange(mesh.n_cells))
    exact = 1.0 - sum(math.pi * r * r for *_, r in holes)
    assert abs(_area(mesh) - exact) < 0.01 * exact  # inscribed polygons: a little less
    ext = exterior_facets(mesh.cells)
    assert torch.equal(mesh.boundary_facets("boundary"), ext)
    assert torch.equal(mesh.boundary_facets(["left", "right", "bottom", "top", "inner"]), ext)
    for side in ("left", "right"):
        x = mesh.points[mesh.boundaries[side], 0]
        assert torch.allclose(x, torch.full_like(x, 0.0 if side == "left" else 1.0))
    radius = (mesh.points[mesh.boundary_nodes("inner")] - torch.tensor([0.3, 0.5])).norm(dim=1)
    assert float(radius.min()) > 0.1 - 1e-9  # hole nodes lie on the two circles


def test_l_shape_solves_a_poisson_problem() -> None:
    pytest.importorskip("gmsh")
    mesh = gmsh_l_shape(0.1)
    assert abs(_area(mesh) - 3.0) < 1e-12
    inner = mesh.points[mesh.boundary_nodes("inner")]
    assert bool(((inner[:, 0].abs() < 1e-12) | (inner[:, 1].abs() < 1e-12)).all())
    problem = Poisson(mesh, degree=2)
    u = problem.solve(lambda x: torch.full(x.shape[:-1], 4.0), g=lambda x: 1 - (x**2).sum(-1))
    assert float(l2_error(problem.space, u, lambda x: 1 - (x**2).sum(-1))) < 1e-12


def test_missing_gmsh_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gmsh", None)  # makes `import gmsh` raise ImportError
    with pytest.raises(ImportError, match="pip install gmsh"):
        gmsh_l_shape(0.5)

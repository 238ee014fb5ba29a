"""Mesh generators, quality checks that name the bad element, and meshio round trips."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import torch

from sciml.solvers.fem import (
    Mesh,
    MeshError,
    box,
    from_meshio,
    l_shape,
    plate_with_holes,
    read_mesh,
    unit_cube,
    unit_square,
    write_mesh,
)
from sciml.solvers.fem.mesh import exterior_facets, signed_volumes, unique_rows


def test_generators_give_positive_cells_covering_the_domain() -> None:
    for mesh, area in [
        (unit_square(4), 1.0),
        (unit_cube(3), 1.0),
        (box(2, 3, 1, z=(0.0, 2.0)), 2.0),
        (l_shape(3), 3.0),
    ]:
        vol = signed_volumes(mesh.points, mesh.cells)
        assert bool((vol > 0).all())
        assert float(vol.sum()) == pytest.approx(area, rel=1e-12)


def test_box_tags_cover_the_boundary_once() -> None:
    mesh = unit_cube(2)
    tagged = torch.cat([mesh.boundaries[t] for t in mesh.boundaries])
    assert len(tagged) == len(mesh.boundary_facets()) == 6 * 2 * 2 * 2
    assert sorted(mesh.boundaries) == ["back", "bottom", "front", "left", "right", "top"]


def test_l_shape_has_reentrant_edges_and_plate_has_hole_boundary() -> None:
    mesh = l_shape(2)
    inner = mesh.points[mesh.boundary_nodes("inner")]
    assert bool(((inner[:, 0].abs() < 1e-12) | (inner[:, 1].abs() < 1e-12)).all())
    plate = plate_with_holes(24, 24, [(0.5, 0.5, 0.2)])
    hole = plate.points[plate.boundary_nodes("inner")] - 0.5
    r = hole.norm(dim=1)
    assert float(r.min()) > 0.2 - 1.5 / 24 and float(r.max()) < 0.2 + 1.5 / 24
    area = float(signed_volumes(plate.points, plate.cells).sum())
    assert area == pytest.approx(1 - np.pi * 0.04, abs=0.02)


def test_inverted_cell_is_named() -> None:
    mesh = unit_square(2)
    cells = mesh.cells.clone()
    cells[3] = cells[3, [0, 2, 1]]
    with pytest.raises(MeshError, match="cell 3 is inverted"):
        Mesh(mesh.points, cells)


def test_degenerate_cells_are_named() -> None:
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    with pytest.raises(MeshError, match="cell 1 is degenerate"):
        Mesh(pts, [[0, 1, 2], [0, 1, 3]])  # collinear
    with pytest.raises(MeshError, match="cell 0 is degenerate: repeated vertex"):
        Mesh(pts[:3], [[0, 1, 1], [0, 1, 2]])


def test_duplicate_and_unreferenced_nodes_are_named() -> None:
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    with pytest.raises(MeshError, match="nodes 1 and 3 coincide"):
        Mesh(pts, [[0, 1, 2], [3, 4, 2]])  # the second triangle does not share node 1
    with pytest.raises(MeshError, match="node 3 .* not referenced"):
        Mesh(torch.cat([pts[:3], torch.tensor([[5.0, 5.0]])]), [[0, 1, 2]])


def test_out_of_range_index_and_bad_shapes() -> None:
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(MeshError, match="cell 0 has vertex indices"):
        Mesh(pts, [[0, 1, 7]])
    with pytest.raises(MeshError, match=r"cells must have shape \(E, 3\)"):
        Mesh(pts, [[0, 1, 2, 0]])
    with pytest.raises(MeshError, match=r"boundary tag 'wall' must hold \(F, 2\) facets"):
        Mesh(pts, [[0, 1, 2]], {"wall": [[0, 1, 2]]})


def test_unknown_boundary_tag_lists_the_tags() -> None:
    with pytest.raises(MeshError, match="unknown boundary tag.*'inlet'.*'bottom'"):
        unit_square(2).boundary_facets("inlet")


@pytest.mark.parametrize("ext", [".msh", ".vtu", ".xdmf"])
def test_meshio_round_trip_keeps_geometry_and_tags(tmp_path, ext: str) -> None:
    for mesh in (unit_square(3), unit_cube(2)):
        path = write_mesh(tmp_path / f"m{mesh.dim}{ext}", mesh, {"x": mesh.points[:, 0]})
        back = read_mesh(path)
        x = np.asarray(meshio.read(path).point_data["x"]).ravel()
        np.testing.assert_allclose(x, mesh.points[:, 0].numpy())  # nodal field for ParaView
        assert back.dim == mesh.dim
        assert torch.equal(back.points, mesh.points) and torch.equal(back.cells, mesh.cells)
        # .msh keeps physical names; VTU/XDMF keep the physical ids
        names = (
            list(mesh.boundaries)
            if ext == ".msh"
            else [str(i + 1) for i in range(len(mesh.boundaries))]
        )
        for name, tag in zip(names, mesh.boundaries):
            assert torch.equal(
                back.boundaries[name].sort(1).values, mesh.boundaries[tag].sort(1).values
            )


def test_gmsh_physical_names_become_tags_and_subdomains() -> None:
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    m = meshio.Mesh(
        pts,
        [("triangle", np.array([[0, 1, 2], [0, 2, 3]])), ("line", np.array([[0, 1], [2, 3]]))],
        cell_data={"gmsh:physical": [np.array([7, 8]), np.array([3, 4])]},
        field_data={"inlet": np.array([3, 1]), "wall": np.array([4, 1]), "core": np.array([7, 2])},
    )
    mesh = from_meshio(m)
    assert mesh.dim == 2
    assert mesh.boundaries["inlet"].tolist() == [[0, 1]]
    assert mesh.boundaries["wall"].tolist() == [[2, 3]]
    assert mesh.subdomains["core"].tolist() == [0] and mesh.subdomains["8"].tolist() == [1]


def test_bad_files_raise_naming_the_file(tmp_path) -> None:
    with pytest.raises(MeshError, match="missing.msh: mesh file not found"):
        read_mesh(tmp_path / "missing.msh")
    corrupt = tmp_path / "corrupt.msh"
    corrupt.write_text("$MeshFormat\ngarbage")
    with pytest.raises(MeshError, match="corrupt.msh: cannot read mesh"):
        read_mesh(corrupt)
    unknown = tmp_path / "mesh.xyz"
    unknown.write_text("1 2 3")
    with pytest.raises(MeshError, match="mesh.xyz: cannot read mesh"):
        read_mesh(unknown)
    quads = meshio.Mesh(np.random.rand(4, 2), [("quad", np.array([[0, 1, 2, 3]]))])
    meshio.write(tmp_path / "quads.vtu", quads)
    with pytest.raises(MeshError, match="quads.vtu: no triangle or tetrahedron cells"):
        read_mesh(tmp_path / "quads.vtu")
    surface = meshio.Mesh(np.random.rand(3, 3), [("triangle", np.array([[0, 1, 2]]))])
    with pytest.raises(MeshError, match="surface mesh"):
        from_meshio(surface)


def test_perturbed_mesh_keeps_boundary_and_validity() -> None:
    from sciml.solvers.fem import perturb_interior

    mesh = unit_cube(3)
    moved = perturb_interior(mesh, 0.4, generator=torch.Generator().manual_seed(0))
    on_boundary = mesh.boundary_nodes()
    assert torch.equal(moved.points[on_boundary], mesh.points[on_boundary])
    assert float((moved.points - mesh.points).abs().max()) > 0.01
    with pytest.raises(MeshError, match="amount must be >= 0"):
        perturb_interior(mesh, -1.0)


def test_grid_and_node_orderings_round_trip() -> None:
    from sciml.solvers.fem import grid_to_nodes, nodes_to_grid

    mesh = unit_square(4)
    x = torch.linspace(0, 1, 5)
    grid = x[:, None] + 10 * x[None, :]  # [i, j] = x_i + 10 y_j
    nodes = grid_to_nodes(grid[None])[0]
    assert torch.allclose(nodes, mesh.points[:, 0] + 10 * mesh.points[:, 1])
    assert torch.equal(nodes_to_grid(nodes, 5), grid)


@pytest.mark.parametrize("dim", [2, 3])
def test_exterior_facets_equal_the_facets_of_one_cell(dim: int) -> None:
    mesh = unit_square(5) if dim == 2 else unit_cube(3)
    local = [[j for j in range(dim + 1) if j != i] for i in range(dim + 1)]
    facets = torch.cat([mesh.cells[:, idx] for idx in local]).sort(dim=1).values
    uniq, counts = torch.unique(facets, dim=0, return_counts=True)
    assert torch.equal(exterior_facets(mesh.cells), uniq[counts == 1])
    tagged = torch.cat(list(mesh.boundaries.values())).sort(dim=1).values
    assert torch.equal(mesh.boundary_facets(list(mesh.boundaries)), torch.unique(tagged, dim=0))
    assert torch.equal(unique_rows(facets, mesh.n_points), torch.unique(facets, dim=0))

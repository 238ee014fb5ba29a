"""The darcy_unstructured recipe: mesh + nodal fields, solver agreement, mesh files.

The checks shared by all recipes (seeding, resume, parameters) are in test_recipe_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import darcy_unstructured as du
from sciml.data.recipes.base import make_config
from sciml.solvers.fem import Darcy, unit_square, write_mesh


def _generate(path, **overrides):
    config = make_config(
        "darcy_unstructured", {"n_samples": 5, "batch_size": 2, "n_cells": 8} | overrides
    )
    return du.DarcyUnstructured().generate(config, path, progress=False)


@pytest.mark.parametrize("domain", ["square", "l_shape", "plate"])
def test_file_holds_the_mesh_and_solutions_of_the_stored_coefficients(tmp_path, domain):
    f = DatasetFile(_generate(tmp_path / "d.h5", domain=domain, n_samples=2))
    pts, cells = f.coords["points"], f.cells
    assert f.grid_type == "unstructured" and cells.shape[1] == 3
    coeff, u = f.read("coeff"), f.read("u")
    assert coeff.shape == u.shape == (2, len(pts)) and set(np.unique(coeff)) <= {3.0, 12.0}
    mesh = du.build_mesh(make_config("darcy_unstructured", {"domain": domain, "n_cells": 8}))
    ref = Darcy(mesh).solve(1.0, kappa=torch.as_tensor(coeff, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(u, ref, atol=1e-7)  # float32 storage
    assert np.abs(u[:, mesh.boundary_nodes().numpy()]).max() == 0.0


def test_grid_sampling_is_exact_for_bilinear_fields():
    pts = torch.rand(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pts = torch.cat([pts, torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)])
    x = torch.linspace(0, 1, 9, dtype=torch.float64)
    field = (1 + 2 * x[:, None]) * (3 - x[None, :])  # [i, j] at (x_i, y_j), bilinear
    got = du.sample_grid_at_points(field[None], pts)[0]
    torch.testing.assert_close(got, (1 + 2 * pts[:, 0]) * (3 - pts[:, 1]), atol=1e-12, rtol=0)


def test_mesh_file_is_used_when_given(tmp_path):
    path = write_mesh(tmp_path / "m.msh", unit_square(6))
    f = DatasetFile(_generate(tmp_path / "f.h5", mesh_file=str(path), n_samples=2))
    assert f.coords["points"].shape == (49, 2)


def test_missing_mesh_file_is_refused_and_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="missing.msh: mesh file not found"):
        _generate(tmp_path / "x.h5", mesh_file=str(tmp_path / "missing.msh"))
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "x.h5.partial").exists()

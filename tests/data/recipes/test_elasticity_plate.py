"""The elasticity_plate recipe: solver agreement, clamped edge, holes inside the plate.

The checks shared by all recipes (seeding, resume, parameters) are in test_recipe_contract.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import elasticity_plate as ep
from sciml.data.recipes.base import make_config
from sciml.solvers.fem import LinearElasticity, plate_with_holes


def _generate(path, **overrides):
    base = {"n_samples": 3, "batch_size": 2, "n_cells": 12}
    config = make_config("elasticity_plate", base | overrides)
    return ep.ElasticityPlate().generate(config, path, progress=False)


@pytest.mark.parametrize("degree", [1, 2])
def test_displacements_solve_the_stored_problem(tmp_path, degree):
    f = DatasetFile(_generate(tmp_path / "e.h5", degree=degree))
    young, u = f.read("young").astype(np.float64), f.read("u").astype(np.float64)
    n_points = len(f.coords["points"])
    assert young.shape == (3, n_points) and u.shape == (3, n_points, 2)
    mesh = plate_with_holes(12, 12, make_config("elasticity_plate").holes, dtype=torch.float64)
    problem = LinearElasticity(mesh, degree=degree, dirichlet=["left"], neumann="right")
    t = torch.as_tensor(np.stack([f.scalars["traction_x"], f.scalars["traction_y"]], -1))
    ref = problem.solve(young=torch.as_tensor(young), traction=t.double())[:, :n_points].numpy()
    np.testing.assert_allclose(u, ref, atol=1e-6 * np.abs(ref).max())
    assert np.abs(u[:, mesh.boundary_nodes("left").numpy()]).max() == 0.0
    assert np.abs(u).max() > 0


def test_hole_outside_the_plate_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"hole \(0.9, 0.5, 0.2\) must .* lie inside the plate"):
        _generate(tmp_path / "x.h5", holes=[(0.9, 0.5, 0.2)])

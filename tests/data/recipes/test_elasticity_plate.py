"""The elasticity_plate recipe: solver agreement, clamped edge, seeding, resume, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import elasticity_plate as ep
from sciml.data.recipes.base import RecipeError, make_config
from sciml.solvers.fem import LinearElasticity, plate_with_holes
from sciml.spec import load_preset


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


def test_same_seed_identical_and_resume_after_crash_identical(tmp_path, monkeypatch):
    a = DatasetFile(_generate(tmp_path / "a.h5")).read("u")
    np.testing.assert_array_equal(a, DatasetFile(_generate(tmp_path / "b.h5")).read("u"))
    real = ep.generate_in_blocks

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise KeyboardInterrupt
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(ep, "generate_in_blocks", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path / "r.h5")
    monkeypatch.setattr(ep, "generate_in_blocks", real)
    np.testing.assert_array_equal(DatasetFile(_generate(tmp_path / "r.h5")).read("u"), a)


def test_bad_parameters_are_refused(tmp_path):
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['E'\]"):
        make_config("elasticity_plate", {"E": 1.0})
    with pytest.raises(RecipeError, match="poisson: Input should be less than 0.5"):
        make_config("elasticity_plate", {"poisson": 0.5})
    with pytest.raises(ValueError, match=r"hole \(0.9, 0.5, 0.2\) must .* lie inside the plate"):
        _generate(tmp_path / "x.h5", holes=[(0.9, 0.5, 0.2)])


def test_catalog_preset_is_a_valid_configuration():
    config = make_config("elasticity_plate", load_preset("datasets", "elasticity_plate"))
    assert config.n_samples >= 1000 and config.degree == 2

"""The heat2d recipe: layout, agreement with the solver, decay, seeding, resume, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import heat2d
from sciml.data.recipes.base import RecipeError, make_config
from sciml.solvers.fem import HeatEquation, grid_to_nodes, nodes_to_grid, unit_square
from sciml.spec import load_preset


def _generate(path, **overrides):
    base = {"n_samples": 3, "batch_size": 2, "resolution": 9, "t_end": 0.1, "dt": 0.01, "n_t": 3}
    config = make_config("heat2d", base | overrides)
    return heat2d.Heat2d().generate(config, path, progress=False)


def test_trajectories_match_the_solver_and_decay(tmp_path):
    f = DatasetFile(_generate(tmp_path / "h.h5"))
    coeff, u = f.read("coeff").astype(np.float64), f.read("u").astype(np.float64)
    assert coeff.shape == (3, 9, 9) and u.shape == (3, 3, 9, 9)
    np.testing.assert_allclose(f.time, [0.0, 0.05, 0.1], atol=1e-7)
    assert (coeff > 0).all() and np.abs(u[:, :, 0]).max() == 0.0
    energy = (u**2).sum(axis=(2, 3))
    assert (np.diff(energy, axis=1) < 0).all()  # the heat equation dissipates
    heat = HeatEquation(unit_square(8, dtype=torch.float64), 0.01)
    kappa = grid_to_nodes(torch.as_tensor(coeff))
    ref = heat.rollout(grid_to_nodes(torch.as_tensor(u[:, 0])), 10, save_every=5, kappa=kappa)
    ref = nodes_to_grid(ref, 9).numpy()
    np.testing.assert_allclose(u, ref, atol=1e-5 * np.abs(u).max())


def test_same_seed_identical_and_resume_after_crash_identical(tmp_path, monkeypatch):
    a = DatasetFile(_generate(tmp_path / "a.h5")).read("u")
    np.testing.assert_array_equal(a, DatasetFile(_generate(tmp_path / "b.h5")).read("u"))
    real = heat2d.generate_in_blocks

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise KeyboardInterrupt
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(heat2d, "generate_in_blocks", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path / "r.h5")
    monkeypatch.setattr(heat2d, "generate_in_blocks", real)
    np.testing.assert_array_equal(DatasetFile(_generate(tmp_path / "r.h5")).read("u"), a)


def test_bad_parameters_are_refused():
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['nu'\]"):
        make_config("heat2d", {"nu": 0.1})
    with pytest.raises(RecipeError, match="must be an integer multiple of n_t - 1 = 3"):
        make_config("heat2d", {"t_end": 0.1, "dt": 0.01, "n_t": 4})
    with pytest.raises(RecipeError, match="theta: Input should be less than or equal to 1"):
        make_config("heat2d", {"theta": 2.0})


def test_catalog_preset_is_a_valid_configuration():
    config = make_config("heat2d", load_preset("datasets", "heat2d"))
    assert config.n_samples >= 1000 and config.resolution == 65

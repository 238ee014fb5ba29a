"""The darcy2d recipe: physics, layout, seeding, resumable generation, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.format import DatasetFile
from sciml.data.recipes import darcy2d
from sciml.data.recipes.base import RecipeError, make_config
from sciml.spec import load_preset

TORSION_MAX = 0.0736713532814  # max of u for -Δu = 1, u = 0 on ∂(0,1)² (Timoshenko & Goodier)


def _generate(path, **overrides):
    config = make_config("darcy2d", {"n_samples": 5, "batch_size": 2, "resolution": 17} | overrides)
    return darcy2d.Darcy2d().generate(config, path, progress=False)


def test_layout_coefficient_values_and_boundary(tmp_path):
    f = DatasetFile(_generate(tmp_path / "d.h5"))
    coeff, u = f.read("coeff"), f.read("u")
    assert coeff.shape == u.shape == (5, 17, 17) and not f.fields["u"].time_varying
    assert set(np.unique(coeff)) == {3.0, 12.0}
    np.testing.assert_allclose(f.coords["x"], np.linspace(0, 1, 17), atol=1e-7)
    for edge in (u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]):
        assert np.abs(edge).max() == 0.0
    assert (u[:, 1:-1, 1:-1] > 0).all()  # maximum principle for f = 1 > 0
    # u is bounded by the constant-coefficient solutions with a = 12 and a = 3
    assert u.max() < TORSION_MAX / 3 and u.max() > TORSION_MAX / 12


def test_constant_permeability_reproduces_the_torsion_function(tmp_path):
    f = DatasetFile(_generate(tmp_path / "c.h5", high=2.0, low=2.0, resolution=33))
    u = f.read("u").astype(np.float64)
    assert abs(u[:, 16, 16].max() * 2 - TORSION_MAX) < 2e-4  # P1 on the 65² solve grid


def test_fno_sizes_are_one_flag_away():
    assert make_config("darcy2d", {"resolution": 85}).fine_resolution == 421
    assert make_config("darcy2d", {"resolution": 211}).fine_resolution == 421
    assert make_config("darcy2d", {"resolution": 29}).fine_resolution == 57


def test_same_seed_gives_identical_arrays(tmp_path):
    a = DatasetFile(_generate(tmp_path / "a.h5")).read("u")
    b = DatasetFile(_generate(tmp_path / "b.h5")).read("u")
    c = DatasetFile(_generate(tmp_path / "c.h5", seed=4)).read("u")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_resume_after_a_crash_gives_the_same_file(tmp_path, monkeypatch):
    real = darcy2d.generate_in_blocks

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise KeyboardInterrupt  # as a kill between blocks
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(darcy2d, "generate_in_blocks", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path / "r.h5")
    assert (tmp_path / "r.h5.partial").exists()
    monkeypatch.setattr(darcy2d, "generate_in_blocks", real)
    resumed = DatasetFile(_generate(tmp_path / "r.h5"))
    whole = DatasetFile(_generate(tmp_path / "w.h5"))
    for name in ("coeff", "u"):
        np.testing.assert_array_equal(resumed.read(name), whole.read(name))
    assert not (tmp_path / "r.h5.partial").exists()


def test_unknown_and_inconsistent_parameters_are_refused():
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['kappa'\]. Valid: .*resolution"):
        make_config("darcy2d", {"kappa": 1.0})
    with pytest.raises(RecipeError, match="must be a multiple of resolution - 1"):
        make_config("darcy2d", {"resolution": 30, "solve_resolution": 40})
    with pytest.raises(RecipeError, match="low: Input should be greater than 0"):
        make_config("darcy2d", {"low": 0.0})


def test_catalog_preset_is_a_valid_configuration():
    config = make_config("darcy2d", load_preset("datasets", "darcy2d"))
    assert config.resolution == 85 and config.fine_resolution == 421

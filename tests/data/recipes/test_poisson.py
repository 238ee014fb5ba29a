"""The periodic Poisson recipes: spectral exactness, layout, seeding and resumable generation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import poisson
from sciml.data.recipes.base import RecipeError, make_config


def _generate(name, path, **overrides):
    config = make_config(name, {"n_samples": 6, "batch_size": 4, "resolution": 32} | overrides)
    recipe = {"poisson1d": poisson.Poisson1d, "poisson2d": poisson.Poisson2d}[name]()
    return recipe.generate(config, path, progress=False)


def _spectral_laplacian(u: np.ndarray, n_dims: int) -> np.ndarray:
    axes = tuple(range(-n_dims, 0))
    k = np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in u.shape[-n_dims:]], indexing="ij")
    symbol = -4 * math.pi**2 * sum(ki**2 for ki in k)
    return np.fft.ifftn(np.fft.fftn(u, axes=axes) * symbol, axes=axes).real


@pytest.mark.parametrize(("name", "n_dims"), [("poisson1d", 1), ("poisson2d", 2)])
def test_stored_u_solves_poisson_equation_spectrally(tmp_path, name, n_dims):
    f_file = DatasetFile(_generate(name, tmp_path / "p.h5"))
    f = f_file.read("f").astype(np.float64)
    u = f_file.read("u").astype(np.float64)
    assert f.shape == (6, *(32,) * n_dims) and not f_file.fields["u"].time_varying
    residual = -_spectral_laplacian(u, n_dims) - f
    # float32 storage of u, amplified by |k|^2 at the highest modes
    assert np.abs(residual).max() < 1e-4 * np.abs(f).max()
    axes = tuple(range(1, n_dims + 1))
    assert np.abs(f.mean(axis=axes)).max() < 1e-6 and np.abs(u.mean(axis=axes)).max() < 1e-6


def test_solver_reproduces_a_manufactured_solution_in_float64():
    x = torch.arange(16, dtype=torch.float64) / 16
    u = torch.sin(2 * math.pi * x)[:, None] * torch.cos(2 * math.pi * 3 * x)[None, :]
    f = 4 * math.pi**2 * (1 + 9) * u
    torch.testing.assert_close(poisson.solve_periodic_poisson(f[None], 2)[0], u, atol=1e-13, rtol=0)
    with pytest.raises(ValueError, match="no 3 trailing spatial axes"):
        poisson.solve_periodic_poisson(f, 3)


def test_file_records_periodic_grid_and_config(tmp_path):
    f = DatasetFile(_generate("poisson2d", tmp_path / "p.h5", seed=3))
    np.testing.assert_allclose(f.coords["y"], np.arange(32) / 32, atol=1e-7)
    assert f.spatial_dims == ["x", "y"] and f.attrs["seed"] == 3
    assert f.config["resolution"] == 32 and f.dataset_name == "poisson2d"


def test_same_seed_gives_identical_arrays(tmp_path):
    a = DatasetFile(_generate("poisson1d", tmp_path / "a.h5")).read("u")
    b = DatasetFile(_generate("poisson1d", tmp_path / "b.h5")).read("u")
    c = DatasetFile(_generate("poisson1d", tmp_path / "c.h5", seed=9)).read("u")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_resume_after_a_crash_gives_the_same_file(tmp_path, monkeypatch):
    real = poisson.generate_in_blocks

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise KeyboardInterrupt  # as a kill between blocks
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(poisson, "generate_in_blocks", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        _generate("poisson2d", tmp_path / "r.h5")
    monkeypatch.setattr(poisson, "generate_in_blocks", real)
    resumed = DatasetFile(_generate("poisson2d", tmp_path / "r.h5"))
    whole = DatasetFile(_generate("poisson2d", tmp_path / "w.h5"))
    for name in ("f", "u"):
        np.testing.assert_array_equal(resumed.read(name), whole.read(name))
    # gzip-compressed chunks are re-allocated on resume, so the bytes may differ; content may not
    assert resumed.attrs == whole.attrs


def test_unknown_parameter_is_refused_with_the_valid_ones():
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['res'\]. Valid: .*resolution"):
        make_config("poisson2d", {"res": 64})
    with pytest.raises(RecipeError, match=r"resolution: Input should be greater than or equal"):
        make_config("poisson1d", {"resolution": 2})

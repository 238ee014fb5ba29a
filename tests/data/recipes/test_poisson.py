"""The periodic Poisson recipes: spectral exactness, periodic grid.

The checks shared by all recipes (layout, seeding, resume, parameters) are in
test_recipe_contract.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.data.recipes import poisson

SMALL = {"n_samples": 6, "batch_size": 4, "resolution": 32}


def _spectral_laplacian(u: np.ndarray, n_dims: int) -> np.ndarray:
    axes = tuple(range(-n_dims, 0))
    k = np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in u.shape[-n_dims:]], indexing="ij")
    symbol = -4 * math.pi**2 * sum(ki**2 for ki in k)
    return np.fft.ifftn(np.fft.fftn(u, axes=axes) * symbol, axes=axes).real


@pytest.mark.parametrize(("name", "n_dims"), [("poisson1d", 1), ("poisson2d", 2)])
def test_stored_u_solves_poisson_equation_spectrally(generated, name, n_dims):
    f_file = generated(name, SMALL)
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


def test_file_records_periodic_grid_and_config(generated):
    f = generated("poisson2d", SMALL | {"seed": 3})
    np.testing.assert_allclose(f.coords["y"], np.arange(32) / 32, atol=1e-7)
    assert f.spatial_dims == ["x", "y"] and f.attrs["seed"] == 3
    assert f.config["resolution"] == 32 and f.dataset_name == "poisson2d"

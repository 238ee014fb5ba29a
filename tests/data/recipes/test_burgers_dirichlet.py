"""The burgers_dirichlet recipe: walls, symmetry, the stored viscosities and shock slope, the
catalog preset, and invalid configurations."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from sciml.data.recipes.base import RecipeError, default_parameters, make_config

SMALL = {"n_fine": 256, "n_x": 32, "t_end": 0.5, "n_t": 3, "dt": 2.5e-3}


def test_classic_trajectory_has_zero_walls_odd_symmetry_and_a_steepening_shock(generated) -> None:
    f = generated("burgers_dirichlet", SMALL)
    u = f.read("u")
    assert u.shape == (1, 3, 33)
    x = np.linspace(-1, 1, 33)
    assert np.allclose(u[0, 0], -np.sin(np.pi * x), atol=1e-6)
    assert np.abs(u[0, :, [0, -1]]).max() == 0.0
    assert np.allclose(u[0], -u[0, :, ::-1], atol=1e-6)  # u(-x) = -u(x)
    with h5py.File(f.path) as h5:
        assert np.allclose(h5["scalars/nu"][...], 0.01 / math.pi)
        slope = h5["scalars/max_slope"][0]
    assert slope[0] == pytest.approx(math.pi, rel=1e-6)
    assert slope[0] < slope[1] < slope[2]  # the shock steepens until t ≈ 0.51


def test_parametric_family_draws_viscosities_in_the_range(generated) -> None:
    f = generated("burgers_dirichlet", {**SMALL, "n_samples": 3, "batch_size": 2, "nu_max": 0.1})
    with h5py.File(f.path) as h5:
        nu = h5["scalars/nu"][...]
    assert ((nu >= 0.01 / math.pi) & (nu <= 0.1)).all() and len(set(nu)) == 3
    u = f.read("u")
    # more viscous trajectories decay more: |u| at t_end ordered opposite to nu
    energy = (u[:, -1] ** 2).sum(-1)
    assert (np.argsort(energy) == np.argsort(-nu)).all()


def test_catalog_preset_is_the_default_configuration() -> None:
    preset = default_parameters("burgers_dirichlet")
    assert make_config("burgers_dirichlet", preset) == make_config("burgers_dirichlet", {})


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"n_x": 300}, "n_x=300 must divide n_fine=2048"),
        ({"dt": 3e-4}, r"t_end/\(n_t-1\) = 0.01 must be a multiple of dt = 0.0003"),
        ({"nu_max": 1e-4}, "nu_max=0.0001 must be >= nu"),
        ({"nu": -1.0}, "nu: Input should be greater than 0"),
    ],
)
def test_invalid_configuration_is_refused_with_the_reason(overrides: dict, reason: str) -> None:
    with pytest.raises(RecipeError, match=reason):
        make_config("burgers_dirichlet", overrides)

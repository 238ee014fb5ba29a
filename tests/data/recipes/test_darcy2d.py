"""The darcy2d recipe: coefficient values, boundary, torsion limit, FNO grid sizes.

The checks shared by all recipes (layout, seeding, resume, parameters, preset) are in
test_recipe_contract.py.
"""

from __future__ import annotations

import numpy as np

from sciml.data.recipes.base import make_config

TORSION_MAX = 0.0736713532814  # max of u for -Δu = 1, u = 0 on ∂(0,1)² (Timoshenko & Goodier)
SMALL = {"n_samples": 5, "batch_size": 2, "resolution": 17}


def test_coefficient_takes_two_values_and_u_vanishes_on_the_boundary(generated):
    f = generated("darcy2d", SMALL)
    coeff, u = f.read("coeff"), f.read("u")
    assert set(np.unique(coeff)) == {3.0, 12.0}
    np.testing.assert_allclose(f.coords["x"], np.linspace(0, 1, 17), atol=1e-7)
    for edge in (u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]):
        assert np.abs(edge).max() == 0.0
    assert (u[:, 1:-1, 1:-1] > 0).all()  # maximum principle for f = 1 > 0
    # u is bounded by the constant-coefficient solutions with a = 12 and a = 3
    assert u.max() < TORSION_MAX / 3 and u.max() > TORSION_MAX / 12


def test_constant_permeability_reproduces_the_torsion_function(generated):
    f = generated("darcy2d", SMALL | {"high": 2.0, "low": 2.0, "resolution": 33})
    u = f.read("u").astype(np.float64)
    assert abs(u[:, 16, 16].max() * 2 - TORSION_MAX) < 2e-4  # P1 on the 65² solve grid


def test_fno_sizes_are_one_flag_away():
    assert make_config("darcy2d", {"resolution": 85}).fine_resolution == 421
    assert make_config("darcy2d", {"resolution": 211}).fine_resolution == 421
    assert make_config("darcy2d", {"resolution": 29}).fine_resolution == 57

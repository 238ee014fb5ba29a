"""The advection1d recipe: the profile is translated at speed beta (the shared checks are in
test_recipe_contract.py)."""

from __future__ import annotations

import numpy as np

SMALL = {
    "n_samples": 5,
    "batch_size": 2,
    "n_fine": 32,
    "n_x": 32,
    "t_end": 1.0,
    "n_t": 3,
    "dt": 0.5,
    "beta": 0.5,
}


def test_profile_is_translated_by_beta_times_t(generated) -> None:
    u = generated("advection1d", SMALL).read("u")
    # beta * t = 0.5 at the last frame: a shift by half the domain, i.e. 16 of 32 points
    assert np.allclose(u[:, 2], np.roll(u[:, 0], 16, axis=-1), atol=1e-6)
    assert np.allclose(u[:, 1], np.roll(u[:, 0], 8, axis=-1), atol=1e-6)

"""The kdv1d recipe: the mean is conserved (the shared checks are in test_recipe_contract.py)."""

from __future__ import annotations

import numpy as np

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "n_fine": 64,
    "n_x": 32,
    "t_end": 0.5,
    "n_t": 3,
    "dt": 0.05,
}


def test_mean_is_conserved(generated) -> None:
    u = generated("kdv1d", SMALL).read("u")
    mean = u.mean(axis=-1)
    assert np.abs(mean - mean[:, :1]).max() < 1e-5

"""The ns2d recipe: the mean vorticity is conserved (the shared checks, the (N, T, x, y) shape
among them, are in test_recipe_contract.py)."""

from __future__ import annotations

import numpy as np

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "n_fine": 16,
    "n_x": 8,
    "t_end": 0.2,
    "n_t": 3,
    "dt": 0.05,
}


def test_mean_vorticity_is_conserved(generated) -> None:
    w = generated("ns2d", SMALL).read("vorticity")
    mean = w.mean(axis=(-2, -1))
    assert np.abs(mean - mean[:, :1]).max() < 1e-5

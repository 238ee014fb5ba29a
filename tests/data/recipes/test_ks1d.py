"""The ks1d recipe: the mean is conserved after warm-up (the shared checks are in
test_recipe_contract.py)."""

from __future__ import annotations

import numpy as np

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "n_fine": 64,
    "n_x": 32,
    "t_end": 2.0,
    "n_t": 3,
    "t_warmup": 1.0,
    "dt": 0.2,
}


def test_mean_is_conserved_after_warmup(generated) -> None:
    u = generated("ks1d", SMALL).read("u")
    mean = u.mean(axis=-1)
    assert np.abs(mean - mean[:, :1]).max() < 1e-5

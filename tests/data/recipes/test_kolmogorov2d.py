"""The kolmogorov2d recipe: the mean vorticity decays at the drag rate (the shared checks are in
test_recipe_contract.py)."""

from __future__ import annotations

import numpy as np

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "n_fine": 16,
    "n_x": 8,
    "t_end": 0.2,
    "n_t": 3,
    "t_warmup": 0.1,
    "dt": 0.05,
}


def test_mean_vorticity_decays_at_the_drag_rate(generated) -> None:
    w = generated("kolmogorov2d", SMALL).read("vorticity")
    mean = w.mean(axis=(-2, -1)).astype(np.float64)
    # the forcing has zero mean and advection conserves it: d<w>/dt = -drag <w>
    assert np.allclose(mean[:, 1:], mean[:, :-1] * np.exp(-0.1 * 0.1), atol=1e-6)

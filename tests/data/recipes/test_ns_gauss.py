"""ns_gauss: the stored initial vorticity is the periodized sum of Gaussian vortices of the drawn
parameters (minus its mean), evaluated here independently."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.base import RecipeError, block_generator, make_config
from sciml.data.recipes.ns_gauss import NSGauss

TINY = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 32, "t_end": 0.1, "n_t": 3,
        "dt": 0.01, "n_vortices": 5, "sigma_range": (0.05, 0.1)}  # fmt: skip


def test_initial_vorticity_is_the_periodic_sum_of_gaussian_vortices(generated) -> None:
    f = generated("ns_gauss", TINY)
    params = NSGauss().draw(make_config("ns_gauss", TINY), 2, block_generator(0, 0)).numpy()
    x = np.arange(32) / 32
    for b in range(2):
        w = np.zeros((32, 32))
        for alpha, sigma, cx, cy in params[b]:
            # periodic distance to the nearest image of the centre
            dx = (x - cx + 0.5) % 1.0 - 0.5
            dy = (x - cy + 0.5) % 1.0 - 0.5
            w += alpha / sigma * np.exp(-(dx[:, None] ** 2 + dy[None, :] ** 2) / (2 * sigma**2))
        w -= w.mean()
        # the stored field has the Nyquist modes removed; the Gaussians are resolved, so the
        # difference is tiny compared with the peak
        stored = f.read("vorticity")[b, 0]
        assert np.abs(stored - w).max() < 2e-3 * np.abs(w).max()
    assert np.all((params[..., 1] >= 0.05) & (params[..., 1] <= 0.1))


def test_vortices_narrower_than_the_grid_are_refused() -> None:
    with pytest.raises(
        RecipeError,
        match=r"below the solver grid spacing 1/n_fine = 0.0312: raise n_fine to >= 100",
    ):
        make_config("ns_gauss", {**TINY, "sigma_range": (0.01, 0.1)})
    with pytest.raises(
        RecipeError, match=r"sigma_range=\[0.1, 0.05\] must satisfy 0 < lo <= hi <= 0.1"
    ):
        make_config("ns_gauss", {**TINY, "sigma_range": (0.1, 0.05)})

"""shear_layer: the stored initial velocity is the double tanh layer with the drawn perturbation,
exactly (it is divergence-free), and the perturbation grows (Kelvin-Helmholtz instability)."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.base import RecipeError, block_generator, make_config
from sciml.data.recipes.shear_layer import ShearLayer

TINY = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 32, "t_end": 0.1, "n_t": 3,
        "dt": 0.01, "n_modes": 4, "rho_range": (0.4, 0.5), "delta": 0.1}  # fmt: skip


def test_initial_velocity_is_the_perturbed_double_shear_layer(generated) -> None:
    f = generated("shear_layer", TINY)
    params = ShearLayer().draw(make_config("shear_layer", TINY), 2, block_generator(0, 0)).numpy()
    x = np.arange(32) / 32
    for b in range(2):
        rho, amp, phase = params[b, 0], params[b, 1:5], params[b, 5:]
        u = np.where(
            x <= 0.5, np.tanh(2 * np.pi * (x - 0.25) / rho), np.tanh(2 * np.pi * (0.75 - x) / rho)
        )
        v = sum(a * np.sin(2 * np.pi * k * x + p) for k, (a, p) in enumerate(zip(amp, phase), 1))
        stored = f.read("velocity")[b, 0].astype(np.float64)
        np.testing.assert_allclose(stored[..., 0], np.broadcast_to(u[None, :], (32, 32)), atol=1e-4)
        np.testing.assert_allclose(stored[..., 1], np.broadcast_to(v[:, None], (32, 32)), atol=1e-5)
        assert 0.4 <= rho <= 0.5 and np.all((amp >= 0) & (amp <= 0.1))


def test_the_perturbation_grows_by_the_kelvin_helmholtz_instability(generated) -> None:
    # inviscid-like thin layers on a finer grid: the cross-stream velocity energy grows
    config = {"n_samples": 2, "batch_size": 2, "n_fine": 64, "n_x": 32, "t_end": 0.4, "n_t": 3,
              "dt": 0.005, "n_modes": 2, "rho_range": (0.1, 0.1), "nu": 1e-4}  # fmt: skip
    v = generated("shear_layer", config).read("velocity")[..., 1].astype(np.float64)
    energy = (v**2).mean(axis=(2, 3))  # (N, T)
    assert (energy[:, 2] > 1.5 * energy[:, 0]).all()


def test_bad_thickness_range_is_refused() -> None:
    with pytest.raises(RecipeError, match=r"rho_range=\[0.2, 0.1\] must satisfy 0 < lo <= hi"):
        make_config("shear_layer", {"rho_range": (0.2, 0.1)})

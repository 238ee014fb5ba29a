"""The antiderivative recipe: exact integration, sensor grid, GP statistics, DeepXDE defaults.

The checks shared by all recipes (layout, seeding, resume, parameters) are in
test_recipe_contract.py.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.data.recipes import antiderivative
from sciml.data.recipes.base import make_config
from sciml.testing import assert_convergence_order

SMALL = {"n_samples": 12, "batch_size": 5, "n_sensors": 40}


def test_file_has_the_sensor_grid_and_a_single_time(generated):
    f = generated("antiderivative", SMALL)
    np.testing.assert_allclose(f.coords["x"], np.linspace(0, 1, 40), atol=1e-7)
    np.testing.assert_array_equal(f.time, [0.0])
    assert f.config["length_scale"] == 0.2


def test_u_is_the_antiderivative_of_v_by_simpsons_rule(generated):
    f = generated("antiderivative", SMALL | {"n_sensors": 101})
    v, u = f.read("v").astype(np.float64), f.read("u").astype(np.float64)
    h = 1.0 / 100
    assert np.abs(u[:, 0]).max() == 0.0
    # Simpson on two sensor intervals: error h^5 max|v''''| / 90 ~ 1e-10 for l = 0.2
    simpson = h / 3 * (v[:, :-2] + 4 * v[:, 1:-1] + v[:, 2:])
    assert np.abs(u[:, 2:] - u[:, :-2] - simpson).max() < 2e-6


def test_cumulative_trapezoid_converges_at_second_order():
    errors, steps = [], []
    for n in (33, 65, 129, 257):
        x = torch.linspace(0, 1, n, dtype=torch.float64)
        u = antiderivative.cumulative_trapezoid(torch.cos(3 * x), 1.0 / (n - 1))
        errors.append(float((u - torch.sin(3 * x) / 3).abs().max()))
        steps.append(1.0 / (n - 1))
    assert_convergence_order(steps, errors, 2.0, tol=0.1)


def test_v_has_unit_variance_and_rbf_correlation(generated):
    f = generated("antiderivative", {"n_samples": 400, "batch_size": 200, "n_sensors": 21})
    v = f.read("v").astype(np.float64)
    cov = v.T @ v / len(v)
    x = np.linspace(0, 1, 21)
    kernel = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * 0.2**2))
    assert np.abs(cov - kernel).max() < 0.25  # 400 samples: standard error ~ 0.07


def test_defaults_are_deepxde_setup():
    config = make_config("antiderivative")
    assert (config.n_samples, config.n_sensors, config.length_scale) == (1150, 100, 0.2)
    assert math.isclose(config.length_scale, 0.2)

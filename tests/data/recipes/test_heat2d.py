"""The heat2d recipe: layout, agreement with the solver, decay.

The checks shared by all recipes (seeding, resume, parameters) are in test_recipe_contract.py.
"""

from __future__ import annotations

import numpy as np
import torch

from sciml.solvers.fem import HeatEquation, grid_to_nodes, nodes_to_grid, unit_square

SMALL = {"n_samples": 3, "batch_size": 2, "resolution": 9, "t_end": 0.1, "dt": 0.01, "n_t": 3}


def test_trajectories_match_the_solver_and_decay(generated):
    f = generated("heat2d", SMALL)
    coeff, u = f.read("coeff").astype(np.float64), f.read("u").astype(np.float64)
    assert coeff.shape == (3, 9, 9) and u.shape == (3, 3, 9, 9)
    np.testing.assert_allclose(f.time, [0.0, 0.05, 0.1], atol=1e-7)
    assert (coeff > 0).all() and np.abs(u[:, :, 0]).max() == 0.0
    energy = (u**2).sum(axis=(2, 3))
    assert (np.diff(energy, axis=1) < 0).all()  # the heat equation dissipates
    heat = HeatEquation(unit_square(8, dtype=torch.float64), 0.01)
    kappa = grid_to_nodes(torch.as_tensor(coeff))
    ref = heat.rollout(grid_to_nodes(torch.as_tensor(u[:, 0])), 10, save_every=5, kappa=kappa)
    ref = nodes_to_grid(ref, 9).numpy()
    np.testing.assert_allclose(u, ref, atol=1e-5 * np.abs(u).max())

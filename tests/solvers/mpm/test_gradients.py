"""Gradients through MPM rollouts agree with central finite differences (float64)."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm import Grid, MPMSimulator
from sciml.solvers.mpm.materials import DruckerPrager, FixedCorotated, VonMises
from sciml.testing import assert_grad_matches_fd

N_STEPS, DT = 25, 1e-3


def _loss(traj) -> torch.Tensor:
    """A scalar that depends on every saved frame (positions and velocities)."""
    w = torch.linspace(-1.0, 1.0, traj.x[0, 0].numel(), dtype=traj.x.dtype).view(traj.x[0, 0].shape)
    return (traj.x * w).sum() + 0.1 * (traj.v * w.flip(0)).sum()


LAWS = {
    "jelly": lambda E: FixedCorotated(E, 0.3),
    "plasticine": lambda E: VonMises(E, 0.3, 20.0),
    "sand": lambda E: DruckerPrager(E, 0.3, 25.0),
}


@pytest.mark.parametrize("name", sorted(LAWS))
def test_gradient_wrt_young_modulus_matches_finite_differences(name, grid2d: Grid, make_block):
    # The block hits the floor, so the sand is compressed (in tension its stress resets to 0).
    state = make_block(grid2d, lo=0.2, hi=0.45, velocity=(0.4, -3.0), spin=4.0)
    E0 = 2e3

    def fn(theta: torch.Tensor) -> torch.Tensor:
        sim = MPMSimulator(grid2d, LAWS[name](E0 * (1 + theta[0])))
        return _loss(sim.rollout(state, N_STEPS, dt=DT))

    assert_grad_matches_fd(fn, torch.zeros(1, dtype=torch.float64), rtol=1e-5, eps=1e-6)


def test_gradient_wrt_initial_velocity_matches_finite_differences(grid2d: Grid, make_block):
    state = make_block(grid2d, velocity=(0.4, -0.8), spin=4.0)
    sim = MPMSimulator(grid2d, FixedCorotated(2e3, 0.3))

    def fn(v0: torch.Tensor) -> torch.Tensor:
        return _loss(sim.rollout(state.replace(v=v0), N_STEPS, dt=DT))

    assert_grad_matches_fd(fn, state.v, rtol=1e-5, eps=1e-6)


def test_checkpointed_rollout_gives_the_plain_gradient(grid2d: Grid, make_block):
    state = make_block(grid2d, velocity=(0.4, -0.8), spin=4.0)
    E = torch.tensor(2e3, dtype=torch.float64, requires_grad=True)
    v0 = state.v.clone().requires_grad_(True)
    sim = MPMSimulator(grid2d, FixedCorotated(E, 0.3))
    grads = []
    for checkpoint_every in (None, 7):
        traj = sim.rollout(
            state.replace(v=v0), N_STEPS, dt=DT, save_every=3, checkpoint_every=checkpoint_every
        )
        grads.append(torch.autograd.grad(_loss(traj), (E, v0)))
    (gE, gv), (cE, cv) = grads
    assert torch.isfinite(gE) and gE != 0
    assert torch.allclose(cE, gE, rtol=1e-12)
    assert torch.allclose(cv, gv, rtol=1e-12, atol=1e-15)


def test_checkpointing_stores_fewer_tensors_for_backward(grid2d: Grid, make_block):
    """Bytes saved for backward (counted with saved-tensor hooks) shrink with checkpointing."""
    state = make_block(grid2d, velocity=(0.4, -0.8), spin=4.0)
    E = torch.tensor(2e3, dtype=torch.float64, requires_grad=True)
    sim = MPMSimulator(grid2d, FixedCorotated(E, 0.3))

    def saved_bytes(checkpoint_every):
        total = 0

        def pack(t):
            nonlocal total
            total += t.numel() * t.element_size()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            sim.rollout(state, 40, dt=DT, save_every=40, checkpoint_every=checkpoint_every)
        return total

    plain, segmented = saved_bytes(None), saved_bytes(10)
    assert segmented < plain / 10


def test_gradient_wrt_young_modulus_matches_finite_differences_in_3d(make_block):
    grid = Grid(3, 12)
    state = make_block(grid, lo=0.3, hi=0.55, velocity=(0.4, 0.2, -3.0), spin=4.0)

    def fn(theta: torch.Tensor) -> torch.Tensor:
        sim = MPMSimulator(grid, FixedCorotated(2e3 * (1 + theta[0]), 0.3))
        return _loss(sim.rollout(state, 10, dt=2e-3))

    assert_grad_matches_fd(fn, torch.zeros(1, dtype=torch.float64), rtol=1e-5, eps=1e-6)

"""Unrolled rollout loss, window sampling and training through solver steps."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.hybrid import (
    CorrectedStep,
    PeriodicConvNet,
    SolverStep,
    fit_unrolled,
    rollout,
    sample_windows,
    unrolled_loss,
)
from sciml.solvers.spectral import Diffusion, Grid, SpectralSolver


def diffusion_step(nu: float, dtype=torch.float64) -> SolverStep:
    return SolverStep(SpectralSolver(Diffusion(Grid(16, dtype=dtype), nu=nu), dt=0.1))


def states(batch: int = 4, dtype=torch.float64) -> torch.Tensor:
    x = torch.arange(16, dtype=dtype) * (2 * math.pi / 16)
    k = torch.arange(1, batch + 1, dtype=dtype)[:, None]
    return (torch.sin(k * x) + torch.cos((k + 1) * x))[:, None]


def test_loss_is_zero_on_own_trajectories_and_positive_otherwise():
    step = diffusion_step(0.2)
    ref = rollout(step, states(), 5)
    assert unrolled_loss(step, ref).item() < 1e-28
    wrong = diffusion_step(0.1)
    loss = unrolled_loss(wrong, ref).item()
    # one step of the wrong viscosity: relative error of mode k is |e^{-0.01 k^2} - e^{-0.02 k^2}|
    assert loss > 1e-4


def test_sample_windows_are_consecutive_frames():
    traj = torch.arange(3 * 10, dtype=torch.float64).reshape(3, 10, 1, 1)
    win = sample_windows(traj, 4, 32, generator=torch.Generator().manual_seed(0))
    assert win.shape == (32, 5, 1, 1)
    steps = win.flatten(1).diff(dim=1)
    assert (steps == 1).all()


@pytest.mark.parametrize(
    ("n_unroll", "match"), [(0, "n_unroll"), (10, "n_unroll"), (2.0, "n_unroll")]
)
def test_bad_windows(n_unroll, match):
    with pytest.raises(ValueError, match=match):
        sample_windows(torch.zeros(2, 10, 1, 4), n_unroll, 4)
    with pytest.raises(ValueError, match="batch_size"):
        sample_windows(torch.zeros(2, 10, 1, 4), 2, 0)


def test_bad_reference():
    with pytest.raises(ValueError, match=r"trajectory window \(B, m \+ 1, C, \*N\)"):
        unrolled_loss(diffusion_step(0.1), torch.zeros(2, 1, 1, 16))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_training_through_the_solver_reduces_the_rollout_loss(dtype):
    """A coarse solver with the wrong viscosity learns a correction from 4-step rollouts."""
    ref = rollout(diffusion_step(0.2, dtype), states(8, dtype), 8)
    torch.manual_seed(0)
    step = CorrectedStep(
        diffusion_step(0.1, dtype), PeriodicConvNet(1, hidden=8, kernel_size=5, dtype=dtype)
    )
    before = unrolled_loss(step, ref).item()
    hist = fit_unrolled(
        step,
        ref,
        n_unroll=4,
        n_iters=60,
        batch_size=8,
        lr=3e-3,
        generator=torch.Generator().manual_seed(0),
    )
    after = unrolled_loss(step, ref).item()
    assert len(hist) == 60
    assert after < 0.2 * before, (before, after)


def test_fit_unrolled_bad_arguments():
    ref = torch.zeros(2, 5, 1, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit_unrolled(diffusion_step(0.1), ref, n_unroll=2, n_iters=1)
    step = CorrectedStep(diffusion_step(0.1), PeriodicConvNet(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="n_iters must be a positive integer"):
        fit_unrolled(step, ref, n_unroll=2, n_iters=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        fit_unrolled(step, ref, n_unroll=2, n_iters=1, lr=0.0)

"""SolverStep / CorrectedStep / SurrogateStep: exactness, gradients through solver steps, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from sciml.hybrid import CorrectedStep, PeriodicConvNet, SolverStep, SurrogateStep, rollout
from sciml.solvers.spectral import Burgers, Diffusion, Grid, SpectralSolver


def burgers_solver(n: int = 16, dtype=torch.float64, dt: float = 0.05) -> SpectralSolver:
    return SpectralSolver(Burgers(Grid(n, dtype=dtype), nu=0.1), dt=dt)


def smooth_state(n: int, dtype=torch.float64, batch: int = 2) -> torch.Tensor:
    x = torch.arange(n, dtype=dtype) * (2 * math.pi / n)
    amp = torch.arange(1, batch + 1, dtype=dtype)[:, None, None]
    return amp * 0.5 * (torch.sin(x) + 0.3 * torch.cos(2 * x))[None, None]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_solver_step_is_the_solvers_step(dtype):
    solver = burgers_solver(dtype=dtype)
    u = smooth_state(16, dtype)
    out = SolverStep(solver)(u)
    assert out.dtype == dtype
    torch.testing.assert_close(out, solver.step(u), rtol=0, atol=0)


def test_substeps_match_the_solvers_rollout():
    solver = burgers_solver(dt=0.01)
    u = smooth_state(16)
    out = SolverStep(solver, substeps=5)(u)
    torch.testing.assert_close(out, solver.rollout(u, 5)[:, -1], rtol=1e-13, atol=1e-13)
    assert SolverStep(solver, substeps=5).step_size == pytest.approx(0.05)


def test_fine_solver_on_coarse_states_equals_coarse_solver_for_a_linear_equation():
    # diffusion is exact under ETDRK and keeps band-limited states band-limited: interpolating
    # to 64 points, stepping and truncating back must equal stepping on the 16-point grid
    u = smooth_state(16)
    fine = SpectralSolver(Diffusion(Grid(64, dtype=torch.float64), nu=0.3), dt=0.1)
    coarse = SpectralSolver(Diffusion(Grid(16, dtype=torch.float64), nu=0.3), dt=0.1)
    out = SolverStep(fine, state_shape=16)(u)
    torch.testing.assert_close(out, SolverStep(coarse)(u), rtol=1e-12, atol=1e-12)


def test_zero_correction_is_the_bare_solver():
    solver = burgers_solver()
    step = CorrectedStep(SolverStep(solver), PeriodicConvNet(1, dtype=torch.float64))
    u = smooth_state(16)
    torch.testing.assert_close(step(u), solver.step(u), rtol=0, atol=0)


def test_surrogate_is_residual():
    net = PeriodicConvNet(1, dtype=torch.float64, zero_last=False)
    u = smooth_state(16)
    torch.testing.assert_close(SurrogateStep(net)(u), u + net(u))


def test_gradcheck_through_three_corrected_solver_steps():
    """d(rollout)/d(state, correction weights) in float64 against finite differences."""
    torch.manual_seed(0)
    net = PeriodicConvNet(
        1, hidden=3, n_layers=2, kernel_size=3, zero_last=False, dtype=torch.float64
    )
    step = CorrectedStep(SolverStep(burgers_solver(n=8)), net)
    names = ["correction.layers.0.weight", "correction.layers.1.weight"]
    params = dict(step.named_parameters())

    def f(u0, w0, w1):
        def one(u):
            return functional_call(step, {**params, names[0]: w0, names[1]: w1}, (u,))

        return rollout(one, u0, 3)[:, -1]

    u0 = smooth_state(8, batch=1).requires_grad_(True)
    w0 = params[names[0]].detach().clone().requires_grad_(True)
    w1 = (0.1 * params[names[1]]).detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (u0, w0, w1), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gradient_reaches_the_correction_through_the_solver():
    net = PeriodicConvNet(1, hidden=4, dtype=torch.float64)
    step = CorrectedStep(SolverStep(burgers_solver()), net)
    rollout(step, smooth_state(16), 4)[:, -1].square().sum().backward()
    assert net.layers[-1].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"substeps": 0}, "substeps must be a positive integer"),
        ({"substeps": 1.5}, "substeps must be a positive integer"),
        ({"state_shape": (16, 16)}, "state_shape must be 1 integer"),
        ({"dt": -0.1}, "dt must be positive"),
    ],
)
def test_solver_step_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SolverStep(burgers_solver(), **kwargs)


def test_solver_step_needs_a_solver():
    with pytest.raises(TypeError, match="solver must be a SpectralSolver"):
        SolverStep(object())
    with pytest.raises(TypeError, match="solver_step must be a SolverStep"):
        CorrectedStep(lambda u: u, PeriodicConvNet(1))

"""Coarse references from a fine solver, and the coarse/fine problem definition."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.hybrid import CoarseFineProblem, coarse_reference, rollout
from sciml.solvers.spectral import Burgers, Diffusion, Grid, SpectralSolver


def test_reference_of_a_linear_equation_equals_the_coarse_solution():
    # band-limited initial state, exact ETDRK diffusion: fine-then-truncate == coarse
    x = torch.arange(64, dtype=torch.float64) * (2 * math.pi / 64)
    u0 = (torch.sin(x) + 0.5 * torch.cos(3 * x))[None, None]
    fine = SpectralSolver(Diffusion(Grid(64, dtype=torch.float64), nu=0.2), dt=0.025)
    ref = coarse_reference(fine, u0, 3, 4, 16)
    assert ref.shape == (1, 4, 1, 16)
    coarse = SpectralSolver(Diffusion(Grid(16, dtype=torch.float64), nu=0.2), dt=0.1)
    torch.testing.assert_close(ref, coarse.rollout(u0[..., ::4], 3), rtol=1e-12, atol=1e-12)


def test_reference_bad_arguments():
    fine = SpectralSolver(Diffusion(Grid(16, dtype=torch.float64)), dt=0.1)
    u0 = torch.zeros(1, 1, 16, dtype=torch.float64)
    with pytest.raises(ValueError, match="substeps must be a positive integer"):
        coarse_reference(fine, u0, 2, 0, 8)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        coarse_reference(fine, u0, 0, 1, 8)


def burgers_problem() -> CoarseFineProblem:
    return CoarseFineProblem(
        lambda g: Burgers(g, nu=0.05), fine_shape=64, coarse_shape=16, dt=0.05, substeps=4
    )


def test_problem_states_and_reference():
    problem = burgers_problem()
    u0 = problem.initial_states(3, amplitude=0.5, generator=torch.Generator().manual_seed(0))
    assert u0.shape == (3, 1, 64) and u0.dtype == torch.float64
    torch.testing.assert_close(u0.abs().amax(-1), torch.full((3, 1), 0.5, dtype=torch.float64))
    ref = problem.reference(u0, 5, dtype=torch.float32)
    assert ref.shape == (3, 6, 1, 16) and ref.dtype == torch.float32
    # the coarse solver step of the problem tracks the reference for a few steps
    step = problem.solver_step(dtype=torch.float64)
    coarse = rollout(step, ref[:, 0].double(), 5)
    rel = (coarse - ref.double()).norm() / ref.norm()
    assert rel < 1e-2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fine_shape": 16}, "must exceed coarse_shape"),
        ({"substeps": 0}, "substeps must be a positive integer"),
        ({"ndim": 3}, "ndim must be 1 or 2"),
    ],
)
def test_problem_bad_arguments(kwargs, match):
    base = {"fine_shape": 64, "coarse_shape": 16, "dt": 0.05, "substeps": 4}
    with pytest.raises(ValueError, match=match):
        CoarseFineProblem(lambda g: Burgers(g), **{**base, **kwargs})

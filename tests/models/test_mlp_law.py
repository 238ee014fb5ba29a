"""The plain-MLP law lacks what NCLaw guarantees: zero stress at rest and rotation equivariance."""

from __future__ import annotations

import pytest
import torch

from sciml.models.mlp_law import MLPLaw
from sciml.models.nclaw import NCLaw
from sciml.registry import MODELS
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, shapes
from sciml.testing import assert_equivariant

OPTS = {"dtype": torch.float64}


def _laws(dim: int) -> tuple[MLPLaw, NCLaw]:
    torch.manual_seed(0)
    return MLPLaw(dim).double(), NCLaw(dim, plastic=False).double()


def _rotation(dim: int) -> torch.Tensor:
    Q, _ = torch.linalg.qr(
        torch.randn(dim, dim, generator=torch.Generator().manual_seed(3), **OPTS)
    )
    Q[:, 0] *= torch.sign(torch.linalg.det(Q))
    return Q


@pytest.mark.parametrize("dim", [2, 3])
def test_stress_at_rest_is_nonzero_unlike_nclaw(dim: int) -> None:
    mlp, nclaw = _laws(dim)
    eye = torch.eye(dim, **OPTS).expand(2, 3, dim, dim)
    with torch.no_grad():
        assert mlp.first_piola(eye).abs().max() > 1e-3
        assert mlp.stress(eye).abs().max() > 1e-3
        assert torch.equal(nclaw.first_piola(eye), torch.zeros_like(eye))


@pytest.mark.parametrize("dim", [2, 3])
def test_first_piola_is_not_rotation_equivariant_unlike_nclaw(dim: int) -> None:
    mlp, nclaw = _laws(dim)
    gen = torch.Generator().manual_seed(dim)
    F = torch.eye(dim, **OPTS) + 0.2 * torch.randn(2, 8, dim, dim, generator=gen, **OPTS)
    Q = _rotation(dim)
    rotate = lambda M: Q @ M  # noqa: E731 - P(QF) = Q P(F) is the equivariance under test
    with torch.no_grad():
        assert_equivariant(nclaw.first_piola, F, rotate, rotate, atol=1e-10)
        with pytest.raises(AssertionError, match="equivariance violated"):
            assert_equivariant(mlp.first_piola, F, rotate, rotate, atol=1e-3)


def test_material_interface_learnable_and_registered() -> None:
    law = MODELS.get("mlp_law")(dim=2, hidden=[16], stress_scale=10.0)
    F = torch.eye(2) + 0.1 * torch.randn(4, 5, 2, 2)
    assert law.stress(F).shape == (4, 5, 2, 2) and torch.equal(law.project(F), F)
    assert torch.allclose(law(F), law.first_piola(F) @ F.transpose(-1, -2))
    law.stress(F).square().sum().backward()
    assert all(p.grad is not None for p in law.parameters())
    with pytest.raises(ValueError, match="shape"):
        law.stress(torch.eye(3).expand(1, 1, 3, 3))
    with pytest.raises(ValueError, match="dimension"):
        MLPLaw(4)


def test_runs_as_a_simulator_material_and_moves_a_body_at_rest() -> None:
    # A body at rest without gravity stays put under NCLaw (P(I) = 0) but not under the MLP law.
    grid = Grid(2, 16)
    x = shapes.box([0.4, 0.4], [0.6, 0.6], 0.025).to(**OPTS)
    state = MPMState.create(x, density=1e3, particle_volume=0.025**2)
    _, nclaw = _laws(2)
    moved = {}
    for name, law in (("mlp", MLPLaw(2, stress_scale=1e3).double()), ("nclaw", nclaw)):
        sim = MPMSimulator(grid, law, gravity=[0.0, 0.0])
        with torch.no_grad():
            out = sim.rollout(state, 5, dt=1e-4)
        moved[name] = float((out.x[:, -1] - state.x).abs().max())
    assert moved["nclaw"] < 1e-12 < moved["mlp"]

"""NCLaw networks: equilibrium at rest and rotation equivariance by construction."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.models.nclaw import NCLaw, NCLawElastic, invariant_features
from sciml.registry import MODELS
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, shapes
from sciml.testing import assert_equivariant

OPTS = {"dtype": torch.float64}


def _law(dim: int, **kwargs) -> NCLaw:
    torch.manual_seed(0)
    return NCLaw(dim, **kwargs).double()


_LAWS = {2: _law(2), 3: _law(3)}


def _random_F(dim: int, n: int = 16, scale: float = 0.3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(dim)
    return torch.eye(dim, **OPTS) + scale * torch.randn(2, n, dim, dim, generator=gen, **OPTS)


def _rotations(dim: int, n: int = 5) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    out = []
    for _ in range(n):
        Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, **OPTS))
        Q[:, 0] *= torch.sign(torch.linalg.det(Q))
        out.append(Q)
    return out


@pytest.mark.parametrize("dim", [2, 3])
def test_stress_and_plastic_correction_vanish_exactly_at_identity(dim: int) -> None:
    law = _law(dim)
    eye = torch.eye(dim, **OPTS).expand(3, 7, dim, dim)
    assert torch.equal(law.first_piola(eye), torch.zeros_like(eye))
    assert torch.equal(law.stress(eye), torch.zeros_like(eye))
    assert torch.equal(law.project(eye), eye)
    law32 = NCLaw(dim)
    eye32 = torch.eye(dim).expand(4, dim, dim)
    assert torch.equal(law32.first_piola(eye32), torch.zeros_like(eye32))


@pytest.mark.parametrize("dim", [2, 3])
def test_first_piola_stress_is_rotation_equivariant(dim: int) -> None:
    law = _law(dim)
    F = _random_F(dim)
    with torch.no_grad():
        for Q in _rotations(dim):
            rotate = lambda F, Q=Q: Q @ F
            conjugate = lambda t, Q=Q: Q @ t @ Q.T
            assert_equivariant(law.first_piola, F, rotate, rotate, atol=1e-6)
            assert_equivariant(law.stress, F, rotate, conjugate, atol=1e-6)
            assert_equivariant(law.project, F, rotate, rotate, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(dim=st.sampled_from([2, 3]), seed=st.integers(0, 2**31 - 1), scale=st.floats(0.0, 0.6))
def test_equivariance_holds_for_arbitrary_rotations_and_deformations(dim, seed, scale) -> None:
    gen = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen, **OPTS))
    Q[:, 0] *= torch.sign(torch.linalg.det(Q))
    F = torch.eye(dim, **OPTS) + scale * torch.randn(1, 4, dim, dim, generator=gen, **OPTS)
    law = _LAWS[dim]
    with torch.no_grad():
        assert_equivariant(law.first_piola, F, lambda F: Q @ F, lambda P: Q @ P, atol=1e-6)


@pytest.mark.parametrize("dim", [2, 3])
def test_features_are_invariant_and_the_network_has_no_bias(dim: int) -> None:
    law = _law(dim)
    assert all(p.dim() == 2 for p in law.parameters())  # weight matrices only
    layers = [m for m in law.elastic.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [
        (dim + dim * dim + 1, 64),
        (64, 64),
        (64, dim * dim),
    ]
    F = _random_F(dim)
    z, R = invariant_features(F)
    Q = _rotations(dim)[0]
    z2, R2 = invariant_features(Q @ F)
    assert torch.allclose(z2, z, atol=1e-12)
    assert torch.allclose(R2, Q @ R, atol=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_gradients_are_finite_at_identity(dim: int) -> None:
    law = _law(dim)
    F = torch.eye(dim, **OPTS).expand(1, 4, dim, dim).clone().requires_grad_(True)
    loss = (law.stress(F) ** 2).sum() + law.stress(F + 0.01).sum() + law.project(F).sum()
    grads = torch.autograd.grad(loss, [F, *law.parameters()])
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads[1:])


def test_nclaw_drives_an_mpm_rollout_and_learns_through_it() -> None:
    grid = Grid(2, 16)
    law = NCLaw(2, stress_scale=1e3).double()
    x = shapes.box([0.35, 0.4], [0.6, 0.65], grid.dx / 2)
    v = torch.tensor([0.5, -0.5], **OPTS).expand_as(x).clone()
    state = MPMState.create(x, density=1e3, particle_volume=(grid.dx / 2) ** 2, v=v)
    sim = MPMSimulator(grid, law)
    assert {n.split(".")[0] for n, _ in sim.named_parameters()} == {"material"}
    traj = sim.rollout(state, 10, dt=1e-3, checkpoint_every=5)
    loss = (traj.x**2).mean()
    loss.backward()
    grads = [p.grad for p in law.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_registered_constructor_validates_its_keywords() -> None:
    law = MODELS.get("nclaw")(dim=2, hidden=[32, 32], plastic=False)
    assert law.plastic is None and law.elastic.net[0].out_features == 32
    with pytest.raises(TypeError, match="hiden"):
        MODELS.get("nclaw")(dim=2, hiden=[32])
    with pytest.raises(ValueError, match="NCLaw dimension must be 2 or 3"):
        NCLawElastic(4)
    with pytest.raises(
        ValueError, match=r"expected deformation gradients of shape \(\.\.\., 2, 2\)"
    ):
        NCLaw(2).stress(torch.eye(3).expand(1, 3, 3))

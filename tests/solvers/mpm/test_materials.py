"""Constitutive laws: rest state, objectivity, linearisation, return mappings, validation."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.mpm.decompositions import polar2d
from sciml.solvers.mpm.materials import (
    PRESETS,
    DruckerPrager,
    FixedCorotated,
    Fluid,
    MaterialParameterError,
    VonMises,
    make_material,
)
from sciml.solvers.mpm.materials.hencky import deviator, hencky_strain
from sciml.testing import assert_equivariant

OPTS = {"dtype": torch.float64}


def _random_F(dim: int, n: int = 8, scale: float = 0.2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.eye(dim, **OPTS) + scale * torch.randn(1, n, dim, dim, generator=gen, **OPTS)


def _rotation(dim: int, seed: int = 3) -> torch.Tensor:
    Q, _ = torch.linalg.qr(
        torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), **OPTS)
    )
    Q[:, 0] *= torch.sign(torch.linalg.det(Q))  # a proper rotation, det Q = +1
    return Q


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("dim", [2, 3])
def test_presets_are_stress_free_and_unchanged_at_rest(name: str, dim: int) -> None:
    law = make_material(name)
    eye = torch.eye(dim, **OPTS).expand(1, 4, dim, dim)
    assert law.stress(eye).abs().max() == 0
    assert torch.allclose(law.project(eye), eye, atol=1e-15)


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("dim", [2, 3])
def test_kirchhoff_stress_is_objective(name: str, dim: int) -> None:
    """τ(QF) = Q τ(F) Qᵀ; project(QF) = Q project(F) (invariant for water, whose F → J^{1/d} I)."""
    law = make_material(name)
    F, Q = _random_F(dim), _rotation(dim)
    scale = float(law.E)
    assert_equivariant(
        lambda F: law.stress(F) / scale, F, lambda F: Q @ F, lambda t: Q @ t @ Q.T, atol=1e-12
    )
    act_out = (lambda G: G) if name == "water" else (lambda G: Q @ G)
    assert_equivariant(law.project, F, lambda F: Q @ F, act_out, atol=1e-12)


@pytest.mark.parametrize("cls", [FixedCorotated, VonMises, DruckerPrager])
@pytest.mark.parametrize("dim", [2, 3])
def test_small_strain_limit_is_linear_elasticity_with_finite_gradient_at_identity(cls, dim):
    """dτ/dF at F = I is Hooke's law, 2μ sym(·) + λ tr(·) I (self-adjoint, so checked as a vjp)."""
    E, nu = 1e4, 0.3
    law = cls(E, nu, 1e9) if cls is VonMises else cls(E, nu)
    mu, lam = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
    eye = torch.eye(dim, **OPTS).expand(1, 1, dim, dim).clone().requires_grad_(True)
    W = torch.randn(1, 1, dim, dim, generator=torch.Generator().manual_seed(5), **OPTS)
    (vjp,) = torch.autograd.grad((law.stress(eye) * W).sum(), eye)
    sym = 0.5 * (W + W.transpose(-1, -2))
    hooke = 2 * mu * sym + lam * W.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None] * eye
    assert torch.allclose(vjp, hooke, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("dim", [2, 3])
def test_fixed_corotated_matches_its_formula(dim: int) -> None:
    """τ = 2μ (F − R) Fᵀ + λ J (J − 1) I with R from LAPACK's SVD (for det F > 0 the polar
    rotation; 2D computes R Fᵀ in closed form, 3D by Newton's iteration)."""
    F = _random_F(dim)
    F = F[torch.linalg.det(F) > 0]
    law = FixedCorotated(1e5, 0.2)
    mu, lam = 1e5 / 2.4, 1e5 * 0.2 / (1.2 * 0.6)
    U, _, Vh = torch.linalg.svd(F)
    R = U @ Vh
    J = torch.linalg.det(F)[..., None, None]
    expected = 2 * mu * (F - R) @ F.transpose(-1, -2) + lam * J * (J - 1) * torch.eye(dim, **OPTS)
    assert len(F) >= 3 and torch.allclose(law.stress(F), expected, rtol=1e-12, atol=1e-6)


def test_fixed_corotated_2d_closed_form_holds_for_inverted_F() -> None:
    """The 2D closed form R Fᵀ = (F Fᵀ + J I)/r uses the polar2d rotation, also for det F < 0."""
    F = _random_F(2) @ torch.diag(torch.tensor([1.0, -1.0], **OPTS))
    law = FixedCorotated(1e5, 0.2)
    mu, lam = 1e5 / 2.4, 1e5 * 0.2 / (1.2 * 0.6)
    R, J = polar2d(F), torch.linalg.det(F)[..., None, None]
    expected = 2 * mu * (F - R) @ F.transpose(-1, -2) + lam * J * (J - 1) * torch.eye(2, **OPTS)
    assert torch.allclose(law.stress(F), expected, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("dim", [2, 3])
def test_von_mises_return_lands_on_the_yield_surface_and_keeps_volume(dim: int) -> None:
    law = VonMises(3e5, 0.25, 5e3)
    mu = 3e5 / 2.5
    F = _random_F(dim, scale=0.3)
    G = law.project(F)
    _, norm_after, tr_after = deviator(hencky_strain(G))
    _, norm_before, tr_before = deviator(hencky_strain(F))
    radius = 5e3 / (2 * mu)
    assert (norm_before > radius).all()  # all trial states yield
    assert torch.allclose(norm_after, torch.full_like(norm_after, radius), rtol=1e-10)
    assert torch.allclose(tr_after, tr_before, atol=1e-12)  # plastic flow is isochoric
    elastic = _random_F(dim, scale=1e-3)
    assert torch.allclose(law.project(elastic), elastic, atol=1e-14)


@pytest.mark.parametrize("dim", [2, 3])
def test_drucker_prager_separates_in_tension_and_projects_onto_the_cone(dim: int) -> None:
    law = DruckerPrager(1e6, 0.2, 25.0)
    mu, lam = 1e6 / 2.4, 1e6 * 0.2 / (1.2 * 0.6)
    Q = _rotation(dim)
    stretch = Q @ torch.diag(torch.tensor([1.1] * dim, **OPTS)) @ _rotation(dim, seed=9)
    out = law.project(stretch.expand(1, 1, dim, dim))
    assert torch.allclose(out[0, 0], Q @ _rotation(dim, seed=9), atol=1e-12)  # F → R
    # Compressed and sheared: lands on the cone ‖ε̂‖ = −(dλ+2μ)/(2μ) tr ε · α.
    s = torch.tensor([1.05] + [0.95] * (dim - 2) + [0.6], **OPTS)
    F = (Q @ torch.diag(s) @ Q.T).expand(1, 1, dim, dim)
    _, norm_trial, _ = deviator(hencky_strain(F))
    _, norm, tr = deviator(hencky_strain(law.project(F)))
    sin = math.sin(math.radians(25.0))
    alpha = math.sqrt(2 / 3) * 2 * sin / (3 - sin)
    cone = -(dim * lam + 2 * mu) / (2 * mu) * tr * alpha
    assert (norm_trial > cone).all()  # the trial state is outside the cone
    assert torch.allclose(norm, cone, rtol=1e-10)


@pytest.mark.parametrize("dim", [2, 3])
def test_fluid_has_pressure_only_and_resets_shear(dim: int) -> None:
    law = Fluid(1e5, 0.3)
    F = _random_F(dim)
    tau = law.stress(F)
    J = torch.linalg.det(F)
    lam = 1e5 * 0.3 / (1.3 * 0.4)
    assert torch.allclose(tau, (lam * J * (J - 1))[..., None, None] * torch.eye(dim, **OPTS))
    G = law.project(F)
    assert torch.allclose(torch.linalg.det(G), J, rtol=1e-12)
    assert torch.allclose(G, G[..., :1, :1] * torch.eye(dim, **OPTS))


def test_batched_parameters_give_one_law_per_scene() -> None:
    F = _random_F(2).expand(2, 8, 2, 2)
    both = FixedCorotated(torch.tensor([1e4, 3e4], **OPTS), 0.2).stress(F)
    assert torch.allclose(both[1], 3 * both[0])


def test_learnable_parameters_are_registered() -> None:
    law = VonMises(3e5, 0.25, 5e3, learnable=True)
    assert {n for n, _ in law.named_parameters()} == {"E", "nu", "yield_stress"}
    assert list(FixedCorotated(1e5, 0.2).parameters()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"E": -1.0, "nu": 0.2}, "Young's modulus E must be finite and > 0"),
        ({"E": 0.0, "nu": 0.2}, "Young's modulus E must be finite and > 0"),
        ({"E": 1e5, "nu": 0.5}, r"Poisson's ratio nu must lie in \(-1, 0.5\)"),
        ({"E": 1e5, "nu": -1.2}, r"Poisson's ratio nu must lie in \(-1, 0.5\)"),
        ({"E": torch.tensor([1e5, -2.0]), "nu": 0.2}, "Young's modulus"),
    ],
)
def test_non_physical_elastic_parameters_are_refused(kwargs, message) -> None:
    with pytest.raises(MaterialParameterError, match=message):
        FixedCorotated(**kwargs)


def test_non_physical_plastic_parameters_are_refused() -> None:
    with pytest.raises(MaterialParameterError, match="yield_stress must be finite and >= 0"):
        VonMises(1e5, 0.2, -5.0)
    with pytest.raises(MaterialParameterError, match=r"friction_angle must lie in \[0, 90\)"):
        DruckerPrager(1e5, 0.2, 95.0)
    with pytest.raises(MaterialParameterError, match="a fluid needs nu in"):
        Fluid(1e5, 0.0)
    with pytest.raises(ValueError, match="unknown material preset 'rubber'"):
        make_material("rubber")

"""The Navier–Stokes mollifier (PI-HC-MoE App. C.2): w = w0 + c (t/T) (b - mean b)·ω."""

from __future__ import annotations

import pytest
import torch

from sciml.constraints.hard import (
    HardPDEConstraint,
    NavierStokesVorticityResidual,
    PDEAnsatzConstraint,
)
from sciml.registry import CONSTRAINTS
from sciml.solvers.exact import taylor_green_vorticity

DT = torch.float64
NU = 1e-2
C = 0.005


def _taylor_green(n_t: int = 21, n: int = 16) -> torch.Tensor:
    """(1, 1, T, X, Y) decaying Taylor–Green vorticity on [0, 1)², t ∈ [0, 1]."""
    x = torch.arange(n, dtype=DT) / n
    t = torch.linspace(0, 1, n_t, dtype=DT)
    tt, xx, yy = torch.meshgrid(t, x, x, indexing="ij")
    return taylor_green_vorticity(xx, yy, tt, NU, k=2 * torch.pi)[None, None]


def _layer(**options) -> HardPDEConstraint:
    return HardPDEConstraint(
        "navier_stokes2d", init=0.0, rtol=1e-12, atol=1e-14,
        pde_options={"nu": NU, "t_end": 1.0, "mollifier": C}, **options,
    )  # fmt: skip


def _random(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


@pytest.mark.parametrize("experts", [(1, 1, 1), (1, 2, 2)])
def test_the_initial_vorticity_holds_exactly_without_initial_rows(experts) -> None:
    w0 = _random(2, 8, 8)
    layer = _layer(n_basis=3, n_points=None, experts=experts)
    u = layer(_random(2, 3, 5, 8, 8, seed=1), {"x": w0})
    assert torch.equal(u[:, 0, 0], w0)
    assert layer.last_result.solution.shape == (2 * len(range(experts[1] * experts[2])), 3)
    if experts == (1, 1, 1):  # one weight vector: the correction keeps the spatial mean
        mean = (u - w0[:, None, None]).mean(dim=(-2, -1))
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-13, rtol=0)


def test_the_residual_is_taken_on_the_initial_vorticity_plus_the_correction() -> None:
    w = _taylor_green()
    t = torch.linspace(0, 1, w.shape[2], dtype=DT)[:, None, None]
    rate = 2 * NU * (2 * torch.pi) ** 2
    # (w - w0) / (C t): the exact correction per unit of the ramp (its limit -rate·w0 at t = 0)
    ratio = torch.where(t > 0, torch.expm1(-rate * t) / t.clamp_min(1e-30), -rate)
    exact = w[:, :, :1] * ratio / C
    basis = torch.cat([exact, 0.3 * _random(1, 2, *w.shape[2:])], 1)
    layer = _layer(n_basis=3, n_points=None, experts=(1, 2, 2))
    u = layer(basis, {"x": w[:, 0, 0]})
    assert layer.last_result.converged.all()
    assert (u - w).abs().max() < 1e-3 * w.abs().max()  # the time differences only
    persistence = (w - w[:, :, :1]).abs().max()
    assert persistence > 20 * (u - w).abs().max()


def test_implicit_gradient_through_the_mollified_solve_matches_finite_differences() -> None:
    w0 = 0.5 * _random(1, 4, 4, seed=2)
    layer = _layer(n_basis=2, n_points=None, experts=(1, 1, 1), backward_mode="ift_exact")
    weights = _random(1, 1, 3, 4, 4, seed=3)

    def loss(basis: torch.Tensor) -> torch.Tensor:
        return (layer(basis, {"x": w0}) * weights).sum()

    basis = (1 + 0.2 * _random(1, 2, 3, 4, 4, seed=4)).requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (basis,), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_ansatz_constraint_gives_a_one_channel_model_the_same_form() -> None:
    w0 = _random(2, 8, 8)
    layer = CONSTRAINTS.get("pde_ansatz")(pde="navier_stokes2d", pde_options={"mollifier": 1.0})
    f = _random(2, 1, 5, 8, 8, seed=1)
    u = layer(f, {"x": w0})
    t = torch.linspace(0, 5.0, 5, dtype=DT)[:, None, None]  # default t_end 5
    expected = w0[:, None, None] + t / 5.0 * (f - f.mean(dim=(-2, -1), keepdim=True))
    torch.testing.assert_close(u, expected, rtol=1e-14, atol=1e-14)


def test_ansatz_constraint_refuses_a_pde_without_ansatz_and_several_channels() -> None:
    with pytest.raises(ValueError, match="has no ansatz"):
        PDEAnsatzConstraint("navier_stokes2d")(_random(1, 1, 3, 4, 4), {"x": _random(1, 4, 4)})
    with pytest.raises(ValueError, match="one-channel"):
        PDEAnsatzConstraint("navier_stokes2d", pde_options={"mollifier": 1.0})(
            _random(1, 2, 3, 4, 4), {"x": _random(1, 4, 4)}
        )
    with pytest.raises(ValueError, match="pde='heat' is not one of"):
        PDEAnsatzConstraint("heat")


def test_non_positive_mollifier_is_refused() -> None:
    with pytest.raises(ValueError, match="mollifier must be > 0"):
        NavierStokesVorticityResidual(mollifier=0.0)

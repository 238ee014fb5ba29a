"""Losses: known values on analytic fields, scale invariance, H1 of Fourier modes in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.registry import LOSSES
from sciml.testing import assert_grad_matches_fd
from sciml.training.losses import H1Loss, MSELoss, RelativeLpLoss, TrajectoryMSELoss


def _grid(n: int, endpoint: bool = False) -> torch.Tensor:
    if endpoint:
        return torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    return torch.arange(n, dtype=torch.float64) / n


def _sine(k: int, n: int = 64) -> torch.Tensor:
    return torch.sin(2 * math.pi * k * _grid(n)).reshape(1, 1, n)


def test_registered_names_build_the_loss_modules() -> None:
    assert isinstance(LOSSES.get("relative_lp")(), RelativeLpLoss)
    assert isinstance(LOSSES.get("mse")(), MSELoss)
    assert isinstance(LOSSES.get("h1")(periodic=False), H1Loss)


def test_relative_l2_of_a_scaled_field_is_the_scale_error() -> None:
    target = _sine(3)
    assert RelativeLpLoss()(1.1 * target, target).item() == pytest.approx(0.1, rel=1e-12)


def test_relative_l2_of_a_constant_offset_on_a_sine() -> None:
    # ||c|| / ||sin|| = sqrt(N c^2) / sqrt(N / 2) = c sqrt(2) on a full period
    target = _sine(1)
    loss = RelativeLpLoss()(target + 0.05, target)
    assert loss.item() == pytest.approx(0.05 * math.sqrt(2), rel=1e-12)


def test_relative_l1_known_value() -> None:
    target = torch.ones(2, 3, 8)
    assert RelativeLpLoss(p=1)(1.5 * target, target).item() == pytest.approx(0.5)


def test_relative_lp_is_per_sample_then_mean_or_sum() -> None:
    target = torch.cat([_sine(1), 10 * _sine(2)])
    pred = torch.cat([1.1 * target[:1], 1.3 * target[1:]])
    assert RelativeLpLoss()(pred, target).item() == pytest.approx(0.2, rel=1e-12)
    assert RelativeLpLoss(reduction="sum")(pred, target).item() == pytest.approx(0.4, rel=1e-12)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0, 1e4])
@pytest.mark.parametrize("loss", [RelativeLpLoss(), RelativeLpLoss(p=1), H1Loss()])
def test_relative_losses_are_scale_invariant(loss: torch.nn.Module, scale: float) -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 2, 16, 16, generator=gen, dtype=torch.float64)
    pred = target + 0.1 * torch.randn(3, 2, 16, 16, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(loss(scale * pred, scale * target), loss(pred, target))


def test_mse_known_value_and_matches_torch() -> None:
    target = torch.randn(4, 2, 10)
    assert MSELoss()(target + 2.0, target).item() == pytest.approx(4.0)
    pred = torch.randn(4, 2, 10)
    torch.testing.assert_close(MSELoss()(pred, target), torch.nn.functional.mse_loss(pred, target))
    per_sample_sum = (pred - target).square().mean(dim=(1, 2)).sum()
    torch.testing.assert_close(MSELoss(reduction="sum")(pred, target), per_sample_sum)


def test_trajectory_mse_sums_scaled_per_frame_errors() -> None:
    target = torch.zeros(2, 3, 5, 2)
    pred = target.clone()
    pred[0, 1] += 1e-3  # one frame of trajectory 0 off by 1 mm everywhere
    # frame error 1e-6 m², times 1e4, summed over frames; batch mean over 2 trajectories
    assert TrajectoryMSELoss()(pred, target).item() == pytest.approx(1e-2 / 2)
    assert TrajectoryMSELoss(scale=1.0, reduction="sum")(pred, target).item() == pytest.approx(1e-6)
    with pytest.raises(ValueError, match=r"trajectory_mse: expected tensors with at least 4 dims"):
        TrajectoryMSELoss()(torch.zeros(2, 3, 5), torch.zeros(2, 3, 5))


@pytest.mark.parametrize("n", [32, 33])  # even (with a Nyquist mode) and odd grids
@pytest.mark.parametrize(("k", "m"), [(1, 3), (2, 5), (4, 1)])
def test_h1_of_a_fourier_mode_perturbation_matches_closed_form(n: int, k: int, m: int) -> None:
    # ||eps sin(2 pi m x)||_H1 / ||sin(2 pi k x)||_H1
    #   = eps sqrt(1 + (2 pi m)^2) / sqrt(1 + (2 pi k)^2)
    eps = 0.1
    target, bump = _sine(k, n), _sine(m, n)
    expected = eps * math.sqrt(1 + (2 * math.pi * m) ** 2) / math.sqrt(1 + (2 * math.pi * k) ** 2)
    assert H1Loss()(target + eps * bump, target).item() == pytest.approx(expected, rel=1e-10)


def test_h1_squared_norm_of_a_mode_with_domain_length() -> None:
    # mean of sin^2 is 1/2 and of its derivative (2 pi k / L)^2 / 2
    n, k, length = 48, 3, 2.5
    x = torch.arange(n, dtype=torch.float64) * length / n
    v = torch.sin(2 * math.pi * k * x / length).reshape(1, 1, n)
    expected = 0.5 * (1 + (2 * math.pi * k / length) ** 2)
    norm2 = H1Loss(domain_length=length).squared_norm(v)
    assert norm2.item() == pytest.approx(expected, rel=1e-12)


def test_h1_of_a_2d_mode_uses_the_full_wavevector() -> None:
    n = 16
    x, y = torch.meshgrid(_grid(n), _grid(n), indexing="ij")
    v = (torch.cos(2 * math.pi * 2 * x) * torch.sin(2 * math.pi * 3 * y)).reshape(1, 1, n, n)
    expected = 0.25 * (1 + (2 * math.pi) ** 2 * (2**2 + 3**2))
    assert H1Loss().squared_norm(v).item() == pytest.approx(expected, rel=1e-12)


def test_h1_finite_differences_converge_to_the_closed_form() -> None:
    k, eps, n = 2, 0.1, 4001
    x = _grid(n, endpoint=True)
    target = torch.sin(2 * math.pi * k * x).reshape(1, 1, n)
    pred = target + eps * torch.sin(2 * math.pi * x).reshape(1, 1, n)
    expected = eps * math.sqrt(1 + (2 * math.pi) ** 2) / math.sqrt(1 + (2 * math.pi * k) ** 2)
    loss = H1Loss(periodic=False)(pred, target).item()
    assert loss == pytest.approx(expected, rel=1e-3)


def test_h1_finite_differences_are_exact_for_linear_fields() -> None:
    # error field is the constant eps; target 1 + 2x has derivative 2 everywhere (also at the edges)
    n, eps = 11, 0.3
    x = _grid(n, endpoint=True)
    target = (1 + 2 * x).reshape(1, 1, n)
    expected = eps / math.sqrt(((1 + 2 * x) ** 2).mean().item() + 4)
    loss = H1Loss(periodic=False)(target + eps, target).item()
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("loss", [RelativeLpLoss(), MSELoss(), H1Loss(), H1Loss(periodic=False)])
def test_losses_keep_dtype_and_are_differentiable(loss: torch.nn.Module, dtype) -> None:
    pred = torch.randn(2, 1, 8, 8, dtype=dtype, requires_grad=True)
    value = loss(pred, torch.randn(2, 1, 8, 8, dtype=dtype))
    assert value.dtype == dtype and value.ndim == 0
    value.backward()
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize(
    "loss", [RelativeLpLoss(), RelativeLpLoss(p=3), H1Loss(), H1Loss(periodic=False)]
)
def test_autograd_gradient_matches_finite_differences(loss: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(2, 2, 12, 9, generator=gen, dtype=torch.float64)
    pred = target + 0.3 * torch.randn(2, 2, 12, 9, generator=gen, dtype=torch.float64)
    assert_grad_matches_fd(lambda p: loss(p, target), pred, rtol=1e-6)


def test_bad_inputs_and_options_give_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"prediction shape \(2, 1, 8\) != target shape"):
        RelativeLpLoss()(torch.zeros(2, 1, 8), torch.zeros(2, 1, 9))
    with pytest.raises(ValueError, match=r"at least 3 dims \(B, C, \*S\)"):
        H1Loss()(torch.zeros(2, 8), torch.ones(2, 8))
    with pytest.raises(ValueError, match="p must be > 0"):
        RelativeLpLoss(p=0)
    with pytest.raises(ValueError, match=r"reduction='median' is not one of \['mean', 'sum'\]"):
        MSELoss(reduction="median")
    with pytest.raises(ValueError, match="domain_length must be positive"):
        H1Loss(domain_length=[1.0, -1.0])
    with pytest.raises(ValueError, match="domain_length has 2 entries but the fields have 1"):
        H1Loss(domain_length=[1.0, 2.0])(torch.ones(1, 1, 8), torch.ones(1, 1, 8))
    with pytest.raises(TypeError, match=r"unknown h1 option.*'periodical'.*valid options"):
        LOSSES.get("h1")(periodical=False)


def test_pde_loss_terms_are_the_mean_squared_residuals_of_the_pde_on_the_batch():
    from sciml.constraints.hard.pdes import DiffusionSorptionResidual
    from sciml.solvers.fv import DiffusionSorptionFV
    from sciml.training.loss_terms import build_loss

    n_x = 64
    x = torch.linspace(0, 1, n_x, dtype=torch.float64)
    u0 = (0.2 + 0.1 * torch.sin(torch.pi * x)).expand(2, n_x).clone()
    u = DiffusionSorptionFV(n_x).rollout(u0, 50, dt=10.0, save_every=5).unsqueeze(1)
    loss = build_loss(
        [
            {"name": "pde_residual", "pde": "diffusion_sorption", "t_end": 500.0, "scale": 2.0},
            {"name": "pde_conditions", "pde": "diffusion_sorption", "t_end": 500.0},
        ]
    )
    batch = {"x": u0, "y": u}
    loss(u, batch)
    pde = DiffusionSorptionResidual(t_end=500.0)
    interior = (2.0 * pde.grid_residual(u, batch)).square().mean()
    conditions = pde.condition_residual(u, batch).square().mean()
    torch.testing.assert_close(loss.last["loss_pde_residual"], interior)
    torch.testing.assert_close(loss.last["loss_pde_conditions"], conditions)
    t = torch.linspace(0, 1, u.shape[2], dtype=torch.float64)[:, None]
    wrong = u + 0.05 * t * torch.sin(6 * torch.pi * x)  # not a solution
    assert loss(wrong, batch) > loss(u, batch)


def test_pde_residual_per_sample_norm_is_the_batch_mean_of_each_samples_residual_norm():
    from sciml.constraints.hard.pdes import DiffusionSorptionResidual
    from sciml.training.loss_terms import build_loss

    torch.manual_seed(0)
    u0 = torch.rand(3, 16, dtype=torch.float64)
    pred = torch.rand(3, 1, 5, 16, dtype=torch.float64)
    batch = {"x": u0, "y": pred}
    entry = {"name": "pde_residual", "pde": "diffusion_sorption", "t_end": 500.0, "scale": 2.0}
    loss = build_loss({**entry, "per_sample": "norm"})
    residual = 2.0 * DiffusionSorptionResidual(t_end=500.0).grid_residual(pred, batch)
    norms = [residual[b].square().sum().sqrt() for b in range(3)]
    torch.testing.assert_close(loss(pred, batch), torch.stack(norms).mean())
    # the two forms differ: the norm is a sum over the grid, the default a mean of squares
    mean_square = build_loss(entry)(pred, batch)
    torch.testing.assert_close(mean_square, residual.square().mean())
    assert not torch.isclose(loss(pred, batch), mean_square)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"name": "pde_residual", "pde": "diffusion_sorption", "per_sample": "max"},
            r"per_sample='max' is not one of \['mean_square', 'norm'\]",
        ),
        (
            {"name": "pde_residual", "pde": "heat"},
            r"pde 'heat' is not one of \['diffusion_sorption'",
        ),
        ({"name": "pde_residual", "pde": "diffusion_sorption", "part": "edges"}, r"part='edges'"),
    ],
)
def test_pde_loss_terms_refuse_unknown_pdes_and_parts(entry, message):
    from sciml.training.loss_terms import build_loss

    with pytest.raises(ValueError, match=message):
        build_loss(entry)

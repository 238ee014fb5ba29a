"""Metrics against hand-computed values on simple fields."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.evaluation import metrics as M
from sciml.registry import METRICS


def _x(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float64) / n


def _sin(k: int, n: int) -> torch.Tensor:
    return torch.sin(2 * math.pi * k * _x(n))


def test_all_metrics_are_registered() -> None:
    names = {"relative_l2", "relative_l1", "rmse", "nrmse", "max_error", "crmse", "brmse", "frmse"}
    names |= {"conservation_error", "rollout_error"}
    assert names <= set(METRICS.names())
    assert METRICS.get("nrmse") is M.nrmse


def test_relative_l2_and_nrmse_differ_on_channels_of_different_scale() -> None:
    n = 32
    target = torch.stack([_sin(1, n), 100 * _sin(2, n)])[None]  # (1, 2, n)
    pred = target + torch.stack([0.1 * _sin(3, n), 1.0 * _sin(3, n)])[None]
    # channel errors relative to their own norms: 0.1 and 0.01
    assert M.nrmse(pred, target).item() == pytest.approx(0.055, rel=1e-12)
    assert M.relative_l2(pred, target).item() == pytest.approx(
        math.sqrt(0.01 + 1.0) / math.sqrt(1 + 1e4), rel=1e-12
    )


def test_relative_l1_sums_absolute_errors_over_channels_and_points() -> None:
    target = torch.tensor(
        [[[1.0, -3.0], [2.0, 2.0]], [[4.0, 4.0], [0.0, 0.0]]], dtype=torch.float64
    )
    pred = target.clone()
    pred[0, 0, 1] = -1.0  # |error| 2 against the sample's L1 norm 8
    pred[1] = -target[1]  # sign flip: relative L1 error 2
    torch.testing.assert_close(M.relative_l1(pred, target), torch.tensor([0.25, 2.0]).double())
    with pytest.raises(ValueError, match="relative_l1: prediction shape"):
        M.relative_l1(pred[:, :1], target)


def test_rmse_is_the_channel_mean_of_rms_errors() -> None:
    target = torch.zeros(2, 2, 4, 4, dtype=torch.float64)
    pred = target.clone()
    pred[0, 0] = 3.0  # rms 3 in channel 0, 0 in channel 1
    pred[1] = 1.0
    torch.testing.assert_close(M.rmse(pred, target), torch.tensor([1.5, 1.0], dtype=torch.float64))


def test_max_error_per_sample() -> None:
    target = torch.zeros(3, 2, 5)
    pred = target.clone()
    pred[0, 1, 3] = -2.5
    pred[2, 0, 0] = 0.5
    torch.testing.assert_close(M.max_error(pred, target), torch.tensor([2.5, 0.0, 0.5]))


def test_crmse_sees_only_the_mean_error() -> None:
    n = 64
    target = _sin(1, n).reshape(1, 1, n)
    pred = target + 0.3 + 0.2 * _sin(5, n)  # zero-mean wiggle does not count
    assert M.crmse(pred, target).item() == pytest.approx(0.3, rel=1e-12)


def test_brmse_counts_corners_once_per_face() -> None:
    target = torch.zeros(1, 1, 4, 5, dtype=torch.float64)
    pred = target.clone()
    pred[..., 0, 0] = 3.0  # a corner: on 2 of the faces, 2 * 4 + 2 * 5 = 18 face values
    assert M.brmse(pred, target).item() == pytest.approx(math.sqrt(2 * 9 / 18), rel=1e-12)
    interior = target.clone()
    interior[..., 2, 2] = 100.0
    assert M.brmse(interior, target).item() == 0.0
    ring = torch.ones_like(target)
    ring[..., 1:-1, 1:-1] = 0.0
    assert M.brmse(ring, target).item() == pytest.approx(1.0, rel=1e-12)


def test_brmse_1d_is_the_two_end_points() -> None:
    target = torch.zeros(1, 1, 10)
    pred = target.clone()
    pred[..., 0], pred[..., -1] = 1.0, 2.0
    assert M.brmse(pred, target).item() == pytest.approx(math.sqrt(2.5))


def test_frmse_1d_bands_of_single_modes() -> None:
    # E_k = A L / 2 for A sin(2 pi k x / L); bands average over 4, 8 and 33 - 12 = 21 wavenumbers
    n, length = 64, 2.0
    err = 1.0 * _sin(2, n) + 4.0 * _sin(8, n) + 2.0 * _sin(20, n)
    bands = M.frmse(err.reshape(1, 1, n), torch.zeros(1, 1, n, dtype=torch.float64), lengths=length)
    assert bands["low"].item() == pytest.approx(1.0 * length / 2 / 4, rel=1e-10)
    assert bands["mid"].item() == pytest.approx(4.0 * length / 2 / 8, rel=1e-10)
    assert bands["high"].item() == pytest.approx(2.0 * length / 2 / 21, rel=1e-10)


def test_frmse_2d_radial_shells() -> None:
    # cos(2 pi 3 x) puts |F| = n^2 / 2 at index (3, 0) of the positive orthant -> shell 3;
    # cos(2 pi (5 x + 12 y)) sits at (5, 12) and (-5, -12): outside the orthant, as in PDEBench,
    # but cos(2 pi 5x) cos(2 pi 12 y) has a quarter of its amplitude at (5, 12): shell 13
    n = 32
    x, y = torch.meshgrid(_x(n), _x(n), indexing="ij")
    err = 2.0 * torch.cos(2 * math.pi * 3 * x) + 8.0 * torch.cos(2 * math.pi * 5 * x) * torch.cos(
        2 * math.pi * 12 * y
    )
    bands = M.frmse(err[None, None], torch.zeros(1, 1, n, n, dtype=torch.float64))
    n_shells = 16
    assert bands["low"].item() == pytest.approx(2.0 / 2 / 4, rel=1e-10)
    assert bands["mid"].item() == pytest.approx(0.0, abs=1e-12)
    assert bands["high"].item() == pytest.approx(8.0 / 4 / (n_shells - 12), rel=1e-10)


def test_conservation_error_is_the_relative_change_of_the_total() -> None:
    target = 1.0 + 0.5 * _sin(1, 50).reshape(1, 1, 50)
    assert M.conservation_error(1.02 * target, target).item() == pytest.approx(0.02, rel=1e-10)
    # a zero-mean target stays finite (normalized by the integral of |u|)
    wave = _sin(1, 50).reshape(1, 1, 50)
    assert math.isfinite(M.conservation_error(wave + 0.1, wave).item())


def test_rollout_error_per_time_step() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(2, 5, 3, 8, 8, generator=gen, dtype=torch.float64)
    growth = 0.1 * torch.arange(5, dtype=torch.float64)
    pred = target * (1 + growth)[None, :, None, None, None]
    torch.testing.assert_close(M.rollout_error(pred, target), growth.expand(2, 5))


def test_per_time_step_applies_a_metric_to_each_frame() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(2, 3, 1, 32, generator=gen, dtype=torch.float64)
    pred = target + 0.1
    assert M.per_time_step(M.crmse, pred, target).shape == (2, 3)
    torch.testing.assert_close(
        M.per_time_step(M.crmse, pred, target), torch.full((2, 3), 0.1).double()
    )
    bands = M.per_time_step(M.frmse, pred, target, low=2, high=5)
    assert set(bands) == {"low", "mid", "high"} and bands["low"].shape == (2, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "name",
    ["relative_l2", "rmse", "nrmse", "max_error", "crmse", "brmse", "conservation_error"],
)
def test_metrics_return_one_value_per_sample(name: str, dtype) -> None:
    target = torch.randn(4, 2, 12, 10, dtype=dtype)
    value = METRICS.get(name)(target + 0.1, target)
    assert value.shape == (4,) and value.dtype == dtype
    assert torch.isfinite(value).all()
    assert (METRICS.get(name)(target, target) == 0).all()


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"nrmse: prediction shape \(2, 1, 8\) != target shape"):
        M.nrmse(torch.zeros(2, 1, 8), torch.zeros(2, 1, 9))
    with pytest.raises(ValueError, match=r"rmse: expected tensors of shape \(B, C, \*S\)"):
        M.rmse(torch.zeros(2, 8), torch.zeros(2, 8))
    with pytest.raises(ValueError, match=r"rollout_error: expected tensors of shape \(B, T, C"):
        M.rollout_error(torch.zeros(2, 1, 8), torch.zeros(2, 1, 8))
    with pytest.raises(ValueError, match=r"number of wavenumber shells \(8 for grid \(16, 16\)\)"):
        M.frmse(torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16))
    with pytest.raises(ValueError, match="2 lengths for 1 spatial dims"):
        M.frmse(torch.zeros(1, 1, 64), torch.ones(1, 1, 64), lengths=[1.0, 2.0])


def test_relative_h1_metric_equals_the_non_periodic_h1_loss_per_sample():
    from sciml.registry import METRICS
    from sciml.training.losses import H1Loss

    gen = torch.Generator().manual_seed(0)
    pred, target = torch.randn(3, 2, 9, 7, generator=gen), torch.randn(3, 2, 9, 7, generator=gen)
    per_sample = METRICS.get("relative_h1")(pred, target)
    assert per_sample.shape == (3,)
    loss = H1Loss(periodic=False, reduction="sum")(pred, target)
    torch.testing.assert_close(per_sample.sum(), loss)


def test_relative_h1_weighs_gradients_where_relative_l2_does_not():
    from sciml.registry import METRICS

    x = torch.linspace(0, 1, 65)
    target = torch.sin(torch.pi * x).reshape(1, 1, -1)
    wiggle = target + 0.01 * torch.sin(40 * torch.pi * x)  # small values, large derivatives
    l2 = METRICS.get("relative_l2")(wiggle, target)
    h1 = METRICS.get("relative_h1")(wiggle, target)
    assert h1 > 5 * l2

"""Poseidon's channel-group-normalised L1 loss: the original formula, group weighting, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sciml.registry import LOSSES
from sciml.training.losses import ChannelGroupL1Loss, RelativeLpLoss


def _pair(dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 3, 8, 6, generator=gen, dtype=dtype)
    noise = torch.tensor([0.1, 0.1, 0.5], dtype=dtype).reshape(1, 3, 1, 1)
    return target + noise * torch.randn(3, 3, 8, 6, generator=gen, dtype=dtype), target


def test_equals_poseidons_formula_with_torch_l1_loss() -> None:
    pred, target = _pair()
    loss = LOSSES.get("channel_group_l1")(groups=[[0, 1], [2]])
    expected = [
        F.l1_loss(pred[:, s], target[:, s])
        / (F.l1_loss(torch.zeros_like(target[:, s]), target[:, s]) + 1e-10)
        for s in (slice(0, 2), slice(2, 3))
    ]
    assert loss(pred, target) == pytest.approx(float(sum(expected) / 2), rel=1e-12)


def test_hand_computed_value_and_one_group_is_the_batch_relative_l1() -> None:
    target = torch.tensor([[[1.0, -1.0]], [[3.0, 3.0]]], dtype=torch.float64)  # (2, 1, 2)
    pred = torch.tensor([[[1.5, -1.0]], [[3.0, 2.0]]], dtype=torch.float64)
    # batch: sum |diff| = 1.5, sum |y| = 8 -> 0.1875; per-sample mean (relative_lp p=1): (0.25 + 1/6) / 2
    assert ChannelGroupL1Loss(eps=0.0)(pred, target) == pytest.approx(1.5 / 8, rel=1e-12)
    assert RelativeLpLoss(p=1)(pred, target) == pytest.approx((0.25 + 1 / 6) / 2, rel=1e-12)


def test_each_group_weighs_the_same_whatever_its_scale() -> None:
    pred, target = _pair()
    scaled_pred, scaled_target = pred.clone(), target.clone()
    scaled_pred[:, 2] *= 1e3
    scaled_target[:, 2] *= 1e3
    grouped = ChannelGroupL1Loss(groups=[[0, 1], [2]], eps=0.0)
    assert grouped(scaled_pred, scaled_target) == pytest.approx(
        float(grouped(pred, target)), rel=1e-10
    )
    # one group: the large channel dominates, the value moves to that channel's own error
    one = ChannelGroupL1Loss()
    alone = ChannelGroupL1Loss(groups=[[2]])(pred, target)
    assert abs(one(scaled_pred, scaled_target) - alone) < 1e-2 * alone
    assert abs(one(pred, target) - alone) > 1e-2 * alone


def test_channels_outside_every_group_are_ignored() -> None:
    pred, target = _pair()
    changed = pred.clone()
    changed[:, 1] += 100.0
    loss = ChannelGroupL1Loss(groups=[[0], [2]])
    assert loss(changed, target) == loss(pred, target)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_dtype_and_gradient_matches_finite_differences(dtype) -> None:
    pred, target = _pair(dtype)
    pred.requires_grad_(True)
    loss = ChannelGroupL1Loss(groups=[[0, 1], [2]])
    value = loss(pred, target)
    assert value.dtype == dtype and value.ndim == 0
    if dtype == torch.float64:
        assert torch.autograd.gradcheck(lambda p: loss(p, target), (pred,))


def test_normalized_space_is_read_by_the_loss_terms() -> None:
    from sciml.training.loss_terms import build_loss

    terms = build_loss({"name": "channel_group_l1", "space": "normalized"})
    with pytest.raises(
        ValueError, match=r"channel_group_l1.*space='normalized'.*no output normalizer"
    ):
        terms.bind(torch.nn.Linear(2, 2))


def test_bad_options_and_inputs_give_clear_errors() -> None:
    for groups in ([], [[]], [[0, 1], [1]], [[-1]], [0, 1], [[0.5]]):
        with pytest.raises(ValueError, match=r"channel_group_l1: groups=.*disjoint lists"):
            ChannelGroupL1Loss(groups=groups)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        ChannelGroupL1Loss(eps=-1.0)
    with pytest.raises(ValueError, match=r"space='unit' is not one of"):
        ChannelGroupL1Loss(space="unit")
    with pytest.raises(ValueError, match="name channel 3, but the fields have 3 channels"):
        ChannelGroupL1Loss(groups=[[0], [3]])(*_pair())
    with pytest.raises(TypeError, match=r"unknown channel_group_l1 option.*'group'"):
        LOSSES.get("channel_group_l1")(group=[[0]])

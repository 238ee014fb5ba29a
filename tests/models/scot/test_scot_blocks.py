"""Window attention and scOT blocks: cosine attention, position bias, masked padding, shifted
windows, patch merging/unmerging and the ConvNeXt skip block."""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.models.scot.attention import (
    WindowAttention,
    relative_coordinates,
    relative_position_index,
)
from sciml.models.scot.blocks import ConvNeXtBlock, PatchMerging, PatchUnmerging, SwinBlock
from sciml.models.scot.norm import ConditionalLayerNorm


def _randomize_norms(module: nn.Module) -> None:
    # the model's init makes gamma(t) ~ 0; give the norms O(1) scales so blocks do something
    for m in module.modules():
        if isinstance(m, ConditionalLayerNorm):
            nn.init.normal_(m.weight.bias, 1.0, 0.1)
            nn.init.normal_(m.weight.weight, 0.0, 0.3)
            nn.init.normal_(m.bias.bias, 0.0, 0.1)


def test_position_bias_coordinates_are_log_spaced_offsets() -> None:
    table = relative_coordinates((2, 3), (2, 3))  # offsets -1..1 and -2..2
    assert table.shape == (3 * 5, 2)
    expected_h = math.log2(1 + 8.0) / 3  # offset 1 of a window 2: 8 * 1 / (2 - 1) = 8
    expected_w = math.log2(1 + 8.0) / 3  # offset 2 of a window 3: 8 * 2 / (3 - 1) = 8
    assert torch.isclose(table[0, 0], torch.tensor(-expected_h))
    assert torch.isclose(table[0, 1], torch.tensor(-expected_w))
    assert torch.equal(table[7], torch.zeros(2))  # the centre row is the zero offset
    index = relative_position_index((2, 3))
    # token 0 = (0, 0), token 5 = (1, 2): offset (-1, -2) is the first row
    assert index[0, 5] == 0 and index[5, 0] == 3 * 5 - 1 and (index.diagonal() == 7).all()


def test_cosine_attention_is_scale_invariant_in_queries_and_keys() -> None:
    # with zero biases (the model's init), q and k scale with x but their cosines do not, and v
    # scales with x: attn(c x) = c attn(x) (plain dot-product attention would sharpen instead)
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, (4, 4)).double()
    nn.init.normal_(attn.qkv.weight)
    nn.init.zeros_(attn.proj.bias)
    x = torch.randn(3, 16, 8, dtype=torch.float64)
    torch.testing.assert_close(attn(5.0 * x, (4, 4)), 5.0 * attn(x, (4, 4)))


def test_logit_scale_is_clamped_at_log_100() -> None:
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, (2, 2))
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        attn.logit_scale.fill_(math.log(100.0))
    at_clamp = attn(x, (2, 2))
    with torch.no_grad():
        attn.logit_scale.fill_(10.0)
    torch.testing.assert_close(attn(x, (2, 2)), at_clamp)


def test_padded_tokens_are_invisible_to_real_ones() -> None:
    # a 6x6 grid with window 4 is padded to 8x8; the block must equal attention restricted to the
    # real part of each window (4x4, 4x2, 2x4, 2x2: the bias of a sub-window is the same function)
    torch.manual_seed(0)
    block = SwinBlock(8, 2, (4, 4), shifted=False, mlp_ratio=2.0, conditioned=True)
    _randomize_norms(block)
    x = torch.randn(2, 6, 6, 8)
    t = torch.tensor([0.2, 0.9])
    y = torch.zeros_like(x)
    for rows in (slice(0, 4), slice(4, 6)):
        for cols in (slice(0, 4), slice(4, 6)):
            part = x[:, rows, cols]
            win = part.shape[1:3]
            out = block.attn(part.reshape(2, -1, 8), tuple(win), None)
            y[:, rows, cols] = out.reshape(part.shape)
    ref = x + block.norm1(y, t)
    ref = ref + block.norm2(block.mlp(ref), t)
    torch.testing.assert_close(block(x, t), ref)


def _dependence(block: nn.Module, x: torch.Tensor, out: tuple[int, int]) -> torch.Tensor:
    """|d y[out] / d x| summed over channels: which input tokens the output token sees."""
    x = x.clone().requires_grad_(True)
    block(x, torch.ones(1))[0, out[0], out[1]].sum().backward()
    return x.grad[0].abs().sum(-1)


def test_shifted_windows_connect_neighbouring_windows_but_not_across_the_wrap() -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 8, 8, 4)
    plain = SwinBlock(4, 1, (4, 4), shifted=False, mlp_ratio=2.0, conditioned=True)
    shifted = SwinBlock(4, 1, (4, 4), shifted=True, mlp_ratio=2.0, conditioned=True)
    for block in (plain, shifted):
        _randomize_norms(block)
    seen = _dependence(plain, x, (3, 3)) > 0
    assert seen[:4, :4].all() and not seen[4:].any() and not seen[:, 4:].any()
    # the shifted windows are [2, 6) x [2, 6) around the old window corner
    seen = _dependence(shifted, x, (3, 3)) > 0
    assert seen[2:6, 2:6].all() and seen.sum() == 16
    # token (0, 0) shares a rolled window with (6..7, 6..7), but the mask keeps them apart
    seen = _dependence(shifted, x, (0, 0)) > 0
    assert not seen[6:, :].any() and not seen[:, 6:].any() and seen[:2, :2].all()


def test_patch_merging_halves_the_grid_and_reduces_each_2x2_block() -> None:
    torch.manual_seed(0)
    merge = PatchMerging(3, conditioned=True)
    _randomize_norms(merge)
    x = torch.randn(2, 4, 6, 3)
    t = torch.tensor([0.1, 0.7])
    y = merge(x, t)
    assert y.shape == (2, 2, 3, 6)
    # token (1, 2) from the block rows 2-3, columns 4-5 in the order (0,0), (1,0), (0,1), (1,1)
    cat = torch.cat([x[:, 2, 4], x[:, 3, 4], x[:, 2, 5], x[:, 3, 5]], dim=-1)
    torch.testing.assert_close(y[:, 1, 2], merge.norm(merge.reduction(cat)[:, None], t)[:, 0])


def test_patch_unmerging_doubles_the_grid_and_each_2x2_block_sees_only_its_parent() -> None:
    torch.manual_seed(0)
    unmerge = PatchUnmerging(8, conditioned=True)
    _randomize_norms(unmerge)
    x = torch.randn(1, 3, 2, 8, requires_grad=True)
    y = unmerge(x, torch.ones(1))
    assert y.shape == (1, 6, 4, 4)
    y[0, 2:4, 2:4].sum().backward()
    parents = x.grad[0].abs().sum(-1) > 0
    assert parents[1, 1] and parents.sum() == 1


def test_convnext_block_starts_near_identity_and_sees_a_7x7_neighbourhood() -> None:
    torch.manual_seed(0)
    block = ConvNeXtBlock(4, conditioned=True)
    _randomize_norms(block)
    x = torch.randn(1, 12, 12, 4)
    t = torch.ones(1)
    assert (block(x, t) - x).abs().max() < 1e-4  # layer scale 1e-6
    with torch.no_grad():
        block.gamma.fill_(1.0)
    seen = _dependence(block, x, (6, 6)) > 0
    assert seen[3:10, 3:10].all() and seen.sum() == 49

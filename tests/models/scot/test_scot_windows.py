"""Window geometry and masks of (shifted) window attention, against hand-built references."""

from __future__ import annotations

import itertools

import pytest
import torch

from sciml.models.scot.windows import (
    MASK_VALUE,
    attention_mask,
    window_geometry,
    window_partition,
    window_reverse,
)


def test_partition_and_reverse_are_inverse_and_windows_are_row_major() -> None:
    x = torch.arange(2 * 4 * 6 * 3).reshape(2, 4, 6, 3)
    windows = window_partition(x, (2, 3))
    assert windows.shape == (2 * 4, 6, 3)
    # second window of the first sample: rows 0-1, columns 3-5
    torch.testing.assert_close(windows[1], x[0, 0:2, 3:6].reshape(6, 3))
    torch.testing.assert_close(window_reverse(windows, (2, 3), 4, 6), x)


def test_windows_are_clipped_to_the_grid_and_clipped_axes_are_not_shifted() -> None:
    # Poseidon's scOT-T on 128² with patch 4: 32² tokens, window 16 → four windows, shift 8;
    # the 16², 8², 4² stages are one (global) window without shift
    geo = window_geometry((32, 32), (16, 16), shifted=True)
    assert (geo.window, geo.shift, geo.n_windows) == ((16, 16), (8, 8), 4)
    for g in (16, 8, 4):
        geo = window_geometry((g, g), (16, 16), shifted=True)
        assert (geo.window, geo.shift, geo.n_windows) == ((g, g), (0, 0), 1)
        assert attention_mask(geo) is None
    rect = window_geometry((32, 8), (16, 16), shifted=True)
    assert (rect.window, rect.shift, rect.padded) == ((16, 8), (8, 0), (32, 8))
    padded = window_geometry((10, 20), (4, 8), shifted=False)
    assert (padded.window, padded.shift, padded.padded) == ((4, 8), (0, 0), (12, 24))


def test_shift_mask_on_a_toy_grid_equals_the_hand_built_reference() -> None:
    # 4x4 tokens, window 2, shift 1. Regions of the rolled grid (rows [0,2), [2,3), [3,4) times
    # the same column bands), written out by hand:
    #   0 0 1 2
    #   0 0 1 2
    #   3 3 4 5
    #   6 6 7 8
    # windows in row-major order, their tokens in row-major order:
    labels = [[0, 0, 0, 0], [1, 2, 1, 2], [3, 3, 6, 6], [4, 5, 7, 8]]
    reference = torch.tensor(
        [[[0.0 if a == b else MASK_VALUE for b in win] for a in win] for win in labels]
    )
    mask = attention_mask(window_geometry((4, 4), (2, 2), shifted=True))
    torch.testing.assert_close(mask, reference)


@pytest.mark.parametrize(
    ("grid", "window"), [((8, 8), (4, 4)), ((12, 8), (4, 4)), ((10, 9), (4, 4)), ((8, 16), (4, 8))]
)
def test_a_pair_may_attend_iff_both_tokens_are_real_and_were_window_neighbours(
    grid: tuple[int, int], window: tuple[int, int]
) -> None:
    # semantic reference: before the roll, the two tokens are closer than a window on each axis
    # (no wrap-around) and the key is a real token, not padding
    geo = window_geometry(grid, window, shifted=True)
    mask = attention_mask(geo)
    hp, wp = geo.padded
    origin = torch.stack(
        torch.meshgrid(torch.arange(hp), torch.arange(wp), indexing="ij"), dim=-1
    )  # (H_p, W_p, 2) original position of each token
    rolled = torch.roll(origin, shifts=(-geo.shift[0], -geo.shift[1]), dims=(0, 1))
    pos = window_partition(rolled[None], geo.window)  # (nW, N, 2)
    for n, i, j in itertools.product(range(pos.shape[0]), range(pos.shape[1]), range(pos.shape[1])):
        near = all(abs(int(pos[n, i, a] - pos[n, j, a])) < geo.window[a] for a in (0, 1))
        real = int(pos[n, j, 0]) < grid[0] and int(pos[n, j, 1]) < grid[1]
        assert (mask[n, i, j] == 0) == (near and real), (n, i, j)


def test_no_shift_and_no_padding_needs_no_mask() -> None:
    assert attention_mask(window_geometry((8, 8), (4, 4), shifted=False)) is None
    mask = attention_mask(window_geometry((6, 8), (4, 4), shifted=False), dtype=torch.float64)
    assert mask is not None and mask.dtype == torch.float64

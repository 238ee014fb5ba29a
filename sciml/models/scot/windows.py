r"""Window geometry of (shifted) window attention: window sizes, shifts, padding, partition, masks.

A stage of token grid :math:`G_h \times G_w` attends inside non-overlapping windows of
:math:`w_h \times w_w` tokens, :math:`w_a = \min(w, G_a)` per axis (a window larger than the grid is
clipped to it: one window, global attention, as in Swin/Poseidon). A *shifted* block first rolls
the grid by :math:`-s_a = -\lfloor w_a/2 \rfloor` on every axis whose grid is larger than the
window (a clipped axis has nothing to shift), so that its windows straddle the previous block's
window borders (Liu et al., "Swin Transformer", ICCV 2021, §3.2). After the roll a window may
join tokens that were not neighbours (the wrapped-around strip); the *shift mask* forbids those
pairs: every token gets the id of the region it belongs to in the rolled grid,

.. math:: \text{rows } [0, H_p - w_h),\ [H_p - w_h, H_p - s_h),\ [H_p - s_h, H_p)

(times the same three column bands), and a pair ``(query, key)`` of one window may attend only if
both have the same id. A grid that is not a multiple of the window is padded at its end to
:math:`H_p = \lceil G_h / w_h \rceil w_h` (and :math:`W_p`); the padded tokens are masked out as
keys, so they never change a real token. Masked logits get :data:`MASK_VALUE` (finite, so rows that
are all masked stay finite in forward and backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "MASK_VALUE",
    "WindowGeometry",
    "window_geometry",
    "window_partition",
    "window_reverse",
    "attention_mask",
]

#: additive logit of a forbidden (query, key) pair. Cosine attention logits are bounded by
#: 100 (clamped logit scale) + 16 (bias), so -1e4 removes a pair exactly in float32 and float16
#: (exp(-1e4 + 116) underflows to 0), unlike Swin's -100.
MASK_VALUE = -1.0e4


@dataclass(frozen=True)
class WindowGeometry:
    """Window ``(w_h, w_w)``, shift ``(s_h, s_w)``, grid ``(G_h, G_w)`` and padded grid
    ``(H_p, W_p)`` of one attention block, all in tokens."""

    window: tuple[int, int]
    shift: tuple[int, int]
    grid: tuple[int, int]
    padded: tuple[int, int]

    @property
    def n_windows(self) -> int:
        return (self.padded[0] // self.window[0]) * (self.padded[1] // self.window[1])

    @property
    def needs_mask(self) -> bool:
        return any(self.shift) or self.padded != self.grid


def window_geometry(
    grid: tuple[int, int], window: tuple[int, int], shifted: bool
) -> WindowGeometry:
    """Clipped window, shift and padded grid of a block on token grid ``grid`` (see module doc)."""
    wins = tuple(min(w, g) for w, g in zip(window, grid))
    shift = tuple(w // 2 if shifted and g > wc else 0 for w, g, wc in zip(wins, grid, window))
    padded = tuple(-(-g // w) * w for g, w in zip(grid, wins))
    return WindowGeometry(wins, shift, tuple(grid), padded)  # type: ignore[arg-type]


def window_partition(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W, C)`` → ``(B · nW, w_h · w_w, C)``, windows in row-major order per sample."""
    b, h, w, c = x.shape
    wh, ww = window
    x = x.view(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh * ww, c)


def window_reverse(windows: torch.Tensor, window: tuple[int, int], h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B · nW, w_h · w_w, C)`` → ``(B, H, W, C)``."""
    wh, ww = window
    c = windows.shape[-1]
    x = windows.view(-1, h // wh, w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def _bands(n: int, window: int, shift: int) -> list[slice]:
    if shift == 0:
        return [slice(0, n)]
    return [slice(0, n - window), slice(n - window, n - shift), slice(n - shift, n)]


def attention_mask(
    geom: WindowGeometry, *, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor | None:
    """Additive mask ``(nW, N, N)`` (0 or :data:`MASK_VALUE`, ``N = w_h w_w``) of a block, or
    ``None`` when nothing is masked (no shift, no padding).

    ``mask[n, i, j]`` is 0 iff token ``j`` of window ``n`` is a real (not padded) token of the
    same shift region as token ``i``; windows are ordered as :func:`window_partition` orders them
    on the rolled, padded grid.
    """
    if not geom.needs_mask:
        return None
    hp, wp = geom.padded
    region = torch.zeros(hp, wp, dtype=torch.long, device=device)
    label = 0
    for rows in _bands(hp, geom.window[0], geom.shift[0]):
        for cols in _bands(wp, geom.window[1], geom.shift[1]):
            region[rows, cols] = label
            label += 1
    real = torch.zeros(hp, wp, dtype=torch.bool, device=device)
    real[: geom.grid[0], : geom.grid[1]] = True
    # the features are rolled by -shift before partitioning; so is the map of real tokens
    real = torch.roll(real, shifts=(-geom.shift[0], -geom.shift[1]), dims=(0, 1))
    ids = window_partition(region[None, :, :, None], geom.window)[..., 0]  # (nW, N)
    keys = window_partition(real[None, :, :, None], geom.window)[..., 0]  # (nW, N)
    allowed = (ids[:, :, None] == ids[:, None, :]) & keys[:, None, :]
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    return mask.masked_fill_(~allowed, MASK_VALUE)

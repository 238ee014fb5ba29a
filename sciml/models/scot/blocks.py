r"""scOT building blocks on channels-last token grids ``(B, H, W, C)``; every norm is a
(time-conditioned) LayerNorm called as ``norm(x, t)``.

* :class:`SwinBlock` — res-post-norm SwinV2 block,
  :math:`x \leftarrow x + \mathrm{LN}_t(\mathrm{WAttn}(x))`, :math:`x \leftarrow x +
  \mathrm{LN}_t(\mathrm{MLP}(x))`, with plain or shifted windows.
* :class:`PatchMerging` — 2×2 neighbours concatenated, ``Linear(4C → 2C)`` without bias, LN_t:
  the grid halves, the width doubles.
* :class:`PatchUnmerging` — ``Linear(C → 2C)``, pixel shuffle to 2×2 tokens of ``C/2``, LN_t,
  ``Linear(C/2 → C/2)``: the grid doubles, the width halves.
* :class:`ConvNeXtBlock` — depthwise 7×7 conv, LN_t, ``Linear(C → 4C)``, GELU,
  ``Linear(4C → C)``, layer scale (init 1e-6), residual: scOT's skip-connection block.

References: Liu et al., "Swin Transformer V2", CVPR 2022 (res-post-norm, §3.1); Liu et al.,
"A ConvNet for the 2020s", CVPR 2022 (ConvNeXt block); Herde et al., "Poseidon", NeurIPS 2024
(the scOT U-Net and its time-conditioned norms).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.scot.attention import WindowAttention
from sciml.models.scot.norm import make_norm
from sciml.models.scot.windows import (
    WindowGeometry,
    attention_mask,
    window_geometry,
    window_partition,
    window_reverse,
)

__all__ = ["SwinBlock", "SwinStage", "PatchMerging", "PatchUnmerging", "ConvNeXtBlock"]


class SwinBlock(nn.Module):
    """One res-post-norm SwinV2 block (see module docstring).

    Parameters
    ----------
    dim, num_heads, window_size:
        Channels, heads and configured window ``(w_h, w_w)`` (clipped to the grid per call).
    shifted:
        Roll the grid by half a window before partitioning (every second block of a stage).
    mlp_ratio:
        Hidden width of the MLP over ``dim``.
    conditioned:
        Time-conditioned (``True``) or plain LayerNorms.
    qkv_bias, cpb_hidden:
        Passed to :class:`~sciml.models.scot.attention.WindowAttention`.

    Notes
    -----
    ``forward(x, t)``: ``x`` ``(B, H, W, C)``, ``t`` ``(B,)`` → ``(B, H, W, C)``. Any grid works:
    windows are clipped to it and a grid that is not a window multiple is padded with masked
    tokens (:mod:`~sciml.models.scot.windows`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: tuple[int, int],
        *,
        shifted: bool,
        mlp_ratio: float,
        conditioned: bool,
        qkv_bias: bool = True,
        cpb_hidden: int = 512,
    ) -> None:
        super().__init__()
        self.window_size = tuple(window_size)
        self.shifted = shifted
        self.attn = WindowAttention(
            dim, num_heads, self.window_size, qkv_bias=qkv_bias, cpb_hidden=cpb_hidden
        )
        self.norm1 = make_norm(dim, conditioned)
        hidden = round(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm2 = make_norm(dim, conditioned)

    def geometry(self, grid: tuple[int, int]) -> WindowGeometry:
        """Window, shift and padding of this block on a token grid ``(G_h, G_w)``."""
        return window_geometry(grid, self.window_size, self.shifted)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _, h, w, _ = x.shape
        geom = self.geometry((h, w))
        hp, wp = geom.padded
        y = F.pad(x, (0, 0, 0, wp - w, 0, hp - h)) if (hp, wp) != (h, w) else x
        if any(geom.shift):
            y = torch.roll(y, shifts=(-geom.shift[0], -geom.shift[1]), dims=(1, 2))
        y = self.attn(
            window_partition(y, geom.window),
            geom.window,
            attention_mask(geom, device=x.device, dtype=x.dtype),
        )
        y = window_reverse(y, geom.window, hp, wp)
        if any(geom.shift):
            y = torch.roll(y, shifts=geom.shift, dims=(1, 2))
        x = x + self.norm1(y[:, :h, :w], t)
        return x + self.norm2(self.mlp(x), t)


class SwinStage(nn.Module):
    """``depth`` :class:`SwinBlock` s at one resolution, every second one shifted."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: tuple[int, int],
        *,
        mlp_ratio: float,
        conditioned: bool,
        qkv_bias: bool = True,
        cpb_hidden: int = 512,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                num_heads,
                window_size,
                shifted=i % 2 == 1,
                mlp_ratio=mlp_ratio,
                conditioned=conditioned,
                qkv_bias=qkv_bias,
                cpb_hidden=cpb_hidden,
            )
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, t)
        return x


class PatchMerging(nn.Module):
    """``(B, H, W, C)`` → ``(B, H/2, W/2, 2C)``: 2×2 concat, ``Linear(4C, 2C)``, LN_t."""

    def __init__(self, dim: int, *, conditioned: bool) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = make_norm(2 * dim, conditioned)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1
        )
        return self.norm(self.reduction(x), t)


class PatchUnmerging(nn.Module):
    """``(B, H, W, C)`` → ``(B, 2H, 2W, C/2)``: ``Linear(C, 2C)``, pixel shuffle, LN_t,
    ``Linear(C/2, C/2)``."""

    def __init__(self, dim: int, *, conditioned: bool) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"scot: patch unmerging needs an even width, got {dim}")
        self.expand = nn.Linear(dim, 2 * dim, bias=False)
        self.norm = make_norm(dim // 2, conditioned)
        self.mix = nn.Linear(dim // 2, dim // 2)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        # channel j of the 2C expanded ones goes to sub-token (j // C, (j // (C/2)) % 2)
        y = self.expand(x).view(b, h, w, 2, 2, c // 2).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(b, 2 * h, 2 * w, c // 2)
        return self.mix(self.norm(y, t))


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on ``(B, H, W, C)`` with a time-conditioned norm (see module docstring)."""

    def __init__(self, dim: int, *, conditioned: bool, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = make_norm(dim, conditioned)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y, t))))
        return x + self.gamma * y

r"""A small periodic convolutional network: the learned correction or the pure surrogate.

.. math:: \mathcal N(u) = W_L * \sigma(\dots\sigma(W_1 * u + b_1)\dots) + b_L,

with circular ("wrap-around") padding, so every layer commutes with periodic shifts of the grid,
as the spectral solvers do. The last layer starts at zero: a correction then starts as the bare
coarse solver, and a residual surrogate :math:`u + \mathcal N(u)` as the identity map
(Um et al., "Solver-in-the-Loop", NeurIPS 2020, §4 use the same kind of small CNN correction).

Shapes: ``(B, C, *N)`` → ``(B, C_out, *N)``, 1D or 2D, in the units of the input field.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PeriodicConvNet"]

_CONVS = {1: nn.Conv1d, 2: nn.Conv2d}


class PeriodicConvNet(nn.Module):
    """Stack of circularly padded convolutions with GELU activations.

    Parameters
    ----------
    n_dims:
        Spatial dimensions, 1 or 2.
    channels:
        Input channels ``C``; the output has ``out_channels`` (default ``C``).
    hidden:
        Width of the hidden layers.
    n_layers:
        Number of convolutions (``>= 2``).
    kernel_size:
        Odd kernel size (same on every axis).
    zero_last:
        Start the last layer at zero (the network then outputs 0 before training).
    device, dtype:
        Where the parameters live and their float dtype (``float32`` or ``float64``).
    """

    def __init__(
        self,
        n_dims: int,
        channels: int = 1,
        *,
        out_channels: int | None = None,
        hidden: int = 32,
        n_layers: int = 3,
        kernel_size: int = 5,
        zero_last: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if n_dims not in _CONVS:
            raise ValueError(f"PeriodicConvNet: n_dims must be 1 or 2, got {n_dims!r}")
        for name, value, low in (
            ("channels", channels, 1),
            ("hidden", hidden, 1),
            ("n_layers", n_layers, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"PeriodicConvNet: {name} must be an integer >= {low}, got {value!r}"
                )
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size % 2 == 0
        ):
            raise ValueError(
                f"PeriodicConvNet: kernel_size must be an odd positive integer, got {kernel_size!r}"
            )
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(
                f"PeriodicConvNet: dtype must be torch.float32 or torch.float64, got {dtype}"
            )
        self.n_dims = n_dims
        self.channels = channels
        out_channels = channels if out_channels is None else out_channels
        widths = [channels] + [hidden] * (n_layers - 1) + [out_channels]
        conv = _CONVS[n_dims]
        self.layers = nn.ModuleList(
            conv(
                a,
                b,
                kernel_size,
                padding=kernel_size // 2,
                padding_mode="circular",
                device=device,
                dtype=dtype,
            )
            for a, b in zip(widths[:-1], widths[1:])
        )
        if zero_last:
            nn.init.zeros_(self.layers[-1].weight)
            nn.init.zeros_(self.layers[-1].bias)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u``: ``(B, C, *N)`` → ``(B, out_channels, *N)``."""
        if u.ndim != self.n_dims + 2 or u.shape[1] != self.channels:
            raise ValueError(
                f"PeriodicConvNet expects (B, {self.channels}, *N) with {self.n_dims} spatial "
                f"dim(s), got {tuple(u.shape)}"
            )
        for layer in self.layers[:-1]:
            u = nn.functional.gelu(layer(u))
        return self.layers[-1](u)

"""neuraloperator's spectral convolution in real arithmetic, so that an FNO exports to ONNX.

ONNX has no complex tensor type. ``torch.onnx`` (opset >= 17) carries the FFTs themselves as
``DFT`` on a real tensor with a trailing (re, im) axis, but it has no conversion for complex
parameters or a complex ``einsum`` (``aten.alias`` / ``aten.einsum`` "complex-valued input"), which
neuraloperator's :class:`~neuralop.layers.spectral_convolution.SpectralConv` uses to mix the kept
Fourier modes. :class:`RealSpectralConv` computes the same layer with the spectrum held as
``torch.view_as_real`` pairs and the mode mixing written out,

.. math::

    \\hat y_{b o k} = \\sum_i \\hat x_{b i k} W_{i o k}, \\quad
    \\Re\\hat y = \\Re\\hat x\\,\\Re W - \\Im\\hat x\\,\\Im W, \\quad
    \\Im\\hat y = \\Re\\hat x\\,\\Im W + \\Im\\hat x\\,\\Re W,

so the exported graph holds only real tensors (``DFT``, ``Einsum``, slices). It mirrors
neuraloperator 2.0's ``SpectralConv.forward`` (real data, full precision): ``rfftn``,
``fftshift`` of all but the last FFT axis, the centred block of kept modes, the contraction into a
``complex64`` buffer, ``fftshift`` again and ``irfftn`` to the output shape (Li et al. 2021, FNO,
Eq. 4-5). The export checks the result against the original model, so a divergence from the
library's semantics is caught, not written.
"""

from __future__ import annotations

import copy

import torch
from neuralop.layers.spectral_convolution import SpectralConv
from torch import nn

__all__ = ["RealSpectralConv", "UnsupportedSpectralConv", "with_real_spectral_convs"]


class UnsupportedSpectralConv(ValueError):
    """A spectral convolution configuration :class:`RealSpectralConv` does not cover."""


class RealSpectralConv(nn.Module):
    """``conv`` (a neuraloperator ``SpectralConv``) computed without complex tensors.

    Parameters
    ----------
    conv:
        A dense or factorized ``SpectralConv`` on real data at full precision; a factorized weight
        is reconstructed once (the ``"reconstructed"`` contraction computes the same product).

    ``forward(x, output_shape=None)``: ``x`` ``(B, C_in, *S)`` → ``(B, C_out, *S_out)``, as the
    wrapped layer.
    """

    def __init__(self, conv: SpectralConv) -> None:
        super().__init__()
        if conv.complex_data:
            raise UnsupportedSpectralConv(
                "spectral convolution on complex data (complex_data=True)"
            )
        if conv.fno_block_precision != "full":
            raise UnsupportedSpectralConv(
                f"spectral convolution at fno_block_precision={conv.fno_block_precision!r} "
                "(only 'full' exports)"
            )
        weight = conv.weight if torch.is_tensor(conv.weight) else conv.weight.to_tensor()
        self.order = conv.order
        self.separable = conv.separable
        self.fft_norm = conv.fft_norm
        self.out_channels = conv.out_channels
        self.n_modes = list(conv.n_modes)
        self.max_n_modes = list(conv.max_n_modes)
        self.resolution_scaling_factor = conv.resolution_scaling_factor
        self.register_buffer("weight", torch.view_as_real(weight.detach().resolve_conj()).clone())
        self.bias = conv.bias

    def forward(self, x: torch.Tensor, output_shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Fourier layer ``K x``: ``(B, C_in, *S)`` → ``(B, C_out, *S_out)``."""
        batch, _, *sizes = x.shape
        dims = list(range(-self.order, 0))
        fft_size = [*sizes[:-1], sizes[-1] // 2 + 1]
        # (B, C, *fft_size, 2): the spectrum as (re, im) pairs; axis d of the spectrum is d - 1 here
        spec = torch.view_as_real(torch.fft.rfftn(x, norm=self.fft_norm, dim=dims))
        spec = _shift(spec, fft_size[:-1])
        weight = self.weight[self._weight_slices(fft_size)]
        n_lead = 1 if self.separable else 2
        block = [slice(None), slice(None)]
        for size, kept in zip(fft_size[:-1], weight.shape[n_lead:-2]):
            centre = size // 2
            block.append(slice(centre - kept // 2, centre + kept // 2 + kept % 2))
        block.append(
            slice(None, weight.shape[-2]) if weight.shape[-2] < fft_size[-1] else slice(None)
        )
        part = spec[tuple(block)]
        real = self._contract(part[..., 0], part[..., 1], weight[..., 0], weight[..., 1])
        # neuraloperator accumulates in a complex64 buffer whatever the input dtype
        out = torch.zeros(
            batch, self.out_channels, *fft_size, 2, dtype=torch.float32, device=x.device
        )
        out[tuple(block)] = real.to(torch.float32)
        out = _shift(out, fft_size[:-1])
        if self.resolution_scaling_factor is not None and output_shape is None:
            sizes = [round(s * r) for s, r in zip(sizes, self.resolution_scaling_factor)]
        if output_shape is not None:
            sizes = list(output_shape)
        y = torch.fft.irfftn(torch.view_as_complex(out), s=sizes, dim=dims, norm=self.fft_norm)
        return y + self.bias if self.bias is not None else y

    def transform(
        self, x: torch.Tensor, output_shape: tuple[int, ...] | None = None
    ) -> torch.Tensor:
        """The skip path's resampling to the output shape, as the wrapped layer's."""
        return SpectralConv.transform(self, x, output_shape)  # reads only the scaling factor

    def _weight_slices(self, fft_size: list[int]) -> tuple[slice, ...]:
        """The centred part of the weight used at this resolution (neuraloperator's rule)."""
        starts = [
            max_modes - min(size, n)
            for size, n, max_modes in zip(fft_size, self.n_modes, self.max_n_modes)
        ]
        slices = [slice(None)] * (1 if self.separable else 2)
        slices += [slice(s // 2, -s // 2) if s else slice(None) for s in starts[:-1]]
        slices.append(slice(None, -starts[-1]) if starts[-1] else slice(None))
        return (*slices, slice(None))

    def _contract(
        self, xr: torch.Tensor, xi: torch.Tensor, wr: torch.Tensor, wi: torch.Tensor
    ) -> torch.Tensor:
        """``(B, C_in, *K)`` spectrum times ``(C_in, [C_out,] *K)`` weight → ``(B, C_out, *K, 2)``."""
        if self.separable:
            return torch.stack([xr * wr - xi * wi, xr * wi + xi * wr], dim=-1)
        modes = "xyz"[: self.order]
        eq = f"bi{modes},io{modes}->bo{modes}"
        re = torch.einsum(eq, xr, wr) - torch.einsum(eq, xi, wi)
        im = torch.einsum(eq, xr, wi) + torch.einsum(eq, xi, wr)
        return torch.stack([re, im], dim=-1)


def _shift(spec: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """``torch.fft.fftshift`` over the leading FFT axes of a ``(B, C, *K, 2)`` real spectrum."""
    if not sizes:
        return spec
    dims = [2 + d for d in range(len(sizes))]
    return torch.roll(spec, shifts=[n // 2 for n in sizes], dims=dims)


def with_real_spectral_convs(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every neuraloperator ``SpectralConv`` replaced by a
    :class:`RealSpectralConv` (``module`` itself is left as it is); raises
    :class:`UnsupportedSpectralConv` for a configuration it does not cover."""
    if not any(isinstance(m, SpectralConv) for m in module.modules()):
        return module
    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SpectralConv):
                setattr(parent, name, RealSpectralConv(child))
    return module

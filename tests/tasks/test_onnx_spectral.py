"""RealSpectralConv computes neuraloperator's spectral convolution without complex tensors: the
same output in 1D, 2D and 3D, on odd and even grids, above and below the number of kept modes,
for separable and factorized weights, in float32 and float64."""

from __future__ import annotations

import pytest
import torch
from neuralop.layers.spectral_convolution import SpectralConv

from sciml.registry import MODELS
from sciml.tasks.onnx_spectral import (
    RealSpectralConv,
    UnsupportedSpectralConv,
    with_real_spectral_convs,
)


@pytest.mark.parametrize(
    ("modes", "shape"),
    [((6,), (17,)), ((6,), (4,)), ((4, 6), (12, 9)), ((5, 3), (11, 16)), ((4, 4, 4), (8, 7, 6))],
)
@pytest.mark.parametrize("options", [{}, {"separable": True}, {"factorization": "tucker"}])
def test_matches_the_complex_layer(modes, shape, options):
    torch.manual_seed(0)
    conv = SpectralConv(3, 3, modes, bias=True, **options)
    x = torch.randn(2, 3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(RealSpectralConv(conv)(x), conv(x), rtol=1e-5, atol=1e-6)


def test_matches_at_another_output_shape():
    torch.manual_seed(1)
    conv = SpectralConv(2, 4, (4, 4))
    x = torch.randn(1, 2, 10, 10)
    with torch.no_grad():
        got = RealSpectralConv(conv)(x, output_shape=(13, 7))
        torch.testing.assert_close(got, conv(x, output_shape=(13, 7)), rtol=1e-5, atol=1e-6)


def test_a_float64_fno_keeps_its_dtype_and_output():
    model = MODELS.get("fno")(1, 1, 1, n_modes=4, hidden_channels=4, n_layers=1).double().eval()
    x = torch.randn(2, 1, 12, dtype=torch.float64)
    with torch.no_grad():
        expected, got = model(x), with_real_spectral_convs(model)(x)
    assert got.dtype == torch.float64
    # both accumulate the spectrum in complex64 (neuraloperator 2.0): float32 round-off
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_an_fno_with_real_convolutions_is_a_copy_with_the_same_output():
    model = MODELS.get("fno")(1, 2, 2, n_modes=[4, 4], hidden_channels=8, n_layers=2).eval()
    real = with_real_spectral_convs(model)
    assert real is not model and not any(isinstance(m, SpectralConv) for m in real.modules())
    assert any(isinstance(m, SpectralConv) for m in model.modules())
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(real(x), model(x), rtol=1e-5, atol=1e-6)
    plain = torch.nn.Linear(2, 2)
    assert with_real_spectral_convs(plain) is plain


def test_half_precision_blocks_are_refused_by_name():
    conv = SpectralConv(2, 2, (4,), fno_block_precision="mixed")
    with pytest.raises(UnsupportedSpectralConv, match=r"fno_block_precision='mixed'"):
        RealSpectralConv(conv)

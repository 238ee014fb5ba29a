"""Properties of the normalizers and the resampling helper in ``sciml.data.transforms``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.utils.data import DataLoader, TensorDataset

from sciml.data.transforms import (
    IdentityNormalizer,
    RangeNormalizer,
    UnitGaussianNormalizer,
    resample,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
batches = arrays(
    np.float64, st.tuples(st.integers(2, 6), st.integers(1, 3), st.integers(2, 5)), elements=finite
)


@settings(max_examples=40, deadline=None)
@given(x=batches, dims=st.sampled_from(["channel", "pointwise", (0, 2)]))
def test_unit_gaussian_decode_inverts_encode(x, dims):
    t = torch.from_numpy(x)
    norm = UnitGaussianNormalizer(dims=dims).fit(t)
    torch.testing.assert_close(norm.decode(norm.encode(t)), t, atol=1e-9, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(x=batches, bounds=st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]))
def test_range_decode_inverts_encode_and_maps_into_target_interval(x, bounds):
    t = torch.from_numpy(x)
    norm = RangeNormalizer(low=bounds[0], high=bounds[1]).fit(t)
    enc = norm.encode(t)
    assert enc.min() >= bounds[0] - 1e-9 and enc.max() <= bounds[1] + 1e-9
    torch.testing.assert_close(norm.decode(enc), t, atol=1e-9, rtol=1e-9)


@settings(max_examples=30, deadline=None)
@given(x=batches, cut=st.integers(1, 5))
def test_streaming_fit_equals_fit_on_concatenated_data(x, cut):
    t = torch.from_numpy(x)
    cut = min(cut, len(t) - 1)
    whole = UnitGaussianNormalizer().fit(t)
    streamed = UnitGaussianNormalizer().fit([t[:cut], t[cut:]])
    torch.testing.assert_close(streamed.mean, whole.mean, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(streamed.std, whole.std, atol=1e-7, rtol=1e-7)
    assert int(streamed.count) == int(whole.count) == t.shape[0] * t.shape[2]


def test_channel_normalizer_gives_zero_mean_unit_std_per_channel():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 8, 8, generator=g) * torch.tensor([1.0, 10.0, 0.1])[:, None, None]
    x = x + torch.tensor([5.0, -2.0, 0.0])[:, None, None]
    enc = UnitGaussianNormalizer().fit(x).encode(x)
    torch.testing.assert_close(enc.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        enc.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0
    )


def test_pointwise_statistics_have_one_value_per_channel_and_grid_point():
    x = torch.randn(10, 2, 5, 7)
    norm = UnitGaussianNormalizer(dims="pointwise").fit(x)
    assert norm.mean.shape == (2, 5, 7)
    assert norm.encode(x[0]).shape == (2, 5, 7)  # a single sample broadcasts too


def test_fit_streams_over_a_dataloader_of_dict_batches():
    x = torch.randn(20, 2, 6)
    loader = DataLoader([{"x": xi, "y": xi} for xi in x], batch_size=6)
    streamed = UnitGaussianNormalizer().fit(loader, key="x")
    whole = UnitGaussianNormalizer().fit(x)
    torch.testing.assert_close(streamed.mean, whole.mean)
    torch.testing.assert_close(streamed.std, whole.std)
    tensor_loader = DataLoader(
        TensorDataset(x), batch_size=7, collate_fn=lambda b: torch.stack([s[0] for s in b])
    )
    torch.testing.assert_close(UnitGaussianNormalizer().fit(tensor_loader).mean, whole.mean)


def test_statistics_are_saved_and_restored_with_a_model_state_dict():
    x = torch.randn(16, 2, 4, 4) * 3 + 1
    model = torch.nn.ModuleDict(
        {"inp": UnitGaussianNormalizer(dims="pointwise"), "out": RangeNormalizer()}
    )
    model["inp"].fit(x)
    model["out"].fit(x)
    fresh = torch.nn.ModuleDict(
        {"inp": UnitGaussianNormalizer(dims="pointwise"), "out": RangeNormalizer()}
    )
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh["inp"].encode(x), model["inp"].encode(x))
    torch.testing.assert_close(fresh["out"].encode(x), model["out"].encode(x))


def test_fitted_normalizer_traces_with_torch_export():
    x = torch.randn(8, 2, 6)

    class RoundTrip(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = UnitGaussianNormalizer().fit(x)

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.norm.decode(self.norm.encode(t) * 2.0)

    module = RoundTrip()
    program = torch.export.export(module, (x,))
    torch.testing.assert_close(program.module()(x), module(x))


def test_encode_follows_input_dtype_and_module_to():
    x = torch.randn(8, 2, 5, dtype=torch.float64)
    norm = UnitGaussianNormalizer().fit(x)
    assert norm.encode(x.float()).dtype == torch.float32
    norm.to(torch.float32)
    assert norm.mean.dtype == torch.float32 and norm.encode(x).dtype == torch.float64


def test_identity_normalizer_returns_its_input():
    x = torch.randn(3, 2, 4)
    norm = IdentityNormalizer().fit(x)
    assert norm.encode(x) is x and norm.decode(x) is x


def test_using_an_unfitted_normalizer_is_an_error():
    with pytest.raises(RuntimeError, match="not fitted: call fit"):
        UnitGaussianNormalizer().encode(torch.zeros(2, 1, 3))


@pytest.mark.parametrize(
    ("make", "data", "key", "match"),
    [
        (lambda: UnitGaussianNormalizer(), [], None, "empty data"),
        (lambda: UnitGaussianNormalizer(), [{"x": torch.zeros(2, 1)}], None, "pass key="),
        (lambda: UnitGaussianNormalizer(), [{"x": torch.zeros(2, 1)}], "y", "pass key="),
        (lambda: UnitGaussianNormalizer(), [[1, 2]], None, "expected a tensor"),
        (
            lambda: UnitGaussianNormalizer(dims="pointwise"),
            [torch.zeros(2, 1, 3), torch.zeros(2, 1, 4)],
            None,
            "earlier batches gave",
        ),
        (lambda: UnitGaussianNormalizer(dims=(0, 5)), torch.zeros(2, 1, 3), None, "out of range"),
    ],
)
def test_fit_on_bad_data_is_refused(make, data, key, match):
    with pytest.raises(ValueError, match=match):
        make().fit(data, key=key)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: UnitGaussianNormalizer(dims="rows"), "dims must be"),
        (lambda: UnitGaussianNormalizer(dims=(1, 2)), "including the batch axis 0"),
        (lambda: UnitGaussianNormalizer(eps=-1.0), "eps must be non-negative"),
        (lambda: RangeNormalizer(low=1.0, high=0.0), "need high > low"),
    ],
)
def test_bad_normalizer_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _periodic_wave(n: int, shape_2d: bool = False) -> torch.Tensor:
    x = torch.arange(n, dtype=torch.float64) / n
    u = torch.sin(2 * math.pi * x) + 0.5 * torch.cos(2 * math.pi * 3 * x)
    return (u[:, None] * u[None, :])[None, None] if shape_2d else u[None, None]


@pytest.mark.parametrize(("n", "m"), [(16, 32), (32, 16), (16, 15), (15, 24), (32, 8)])
def test_fourier_resample_reproduces_band_limited_periodic_fields(n, m):
    torch.testing.assert_close(
        resample(_periodic_wave(n), m), _periodic_wave(m), atol=1e-12, rtol=0
    )
    torch.testing.assert_close(
        resample(_periodic_wave(n, True), (m, m)), _periodic_wave(m, True), atol=1e-12, rtol=0
    )


def test_fourier_upsample_then_downsample_is_identity():
    x = torch.randn(2, 3, 16, 12, dtype=torch.float64)
    torch.testing.assert_close(resample(resample(x, (32, 24)), (16, 12)), x, atol=1e-12, rtol=0)


def test_linear_resample_keeps_endpoints_and_linear_fields():
    x = torch.linspace(0, 1, 9, dtype=torch.float64)
    field = (2 * x[:, None] + 3 * x[None, :] + 1)[None, None]
    x2 = torch.linspace(0, 1, 17, dtype=torch.float64)
    expected = (2 * x2[:, None] + 3 * x2[None, :] + 1)[None, None]
    torch.testing.assert_close(resample(field, 17, periodic=False), expected)


@pytest.mark.parametrize(
    ("shape", "size", "match"),
    [
        ((4, 8), 4, r"\(B, C, \*N\)"),
        ((1, 1, 8, 8), (4,), "size must be 2 positive ints"),
        ((1, 1, 8), 0, "size must be 1 positive ints"),
    ],
)
def test_resample_bad_shapes_are_refused(shape, size, match):
    with pytest.raises(ValueError, match=match):
        resample(torch.zeros(shape), size)

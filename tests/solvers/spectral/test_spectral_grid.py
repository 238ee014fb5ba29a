"""Periodic grid: coordinates, spectral derivatives, dealiasing and 3/2 padding."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import Grid


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rfft_roundtrip_and_complex_dtype_follow_real_dtype(dtype: torch.dtype) -> None:
    grid = Grid((8, 12), 1.0, dtype=dtype)
    u = torch.randn(2, 3, 8, 12, dtype=dtype)
    u_hat = grid.rfft(u)
    assert u_hat.dtype == grid.complex_dtype
    assert u_hat.shape == (2, 3, 8, 7) == (2, 3, *grid.fourier_shape)
    assert torch.allclose(grid.irfft(u_hat), u, atol=1e-5 if dtype == torch.float32 else 1e-13)


def test_spectral_derivatives_are_exact_for_resolved_modes_in_3d() -> None:
    grid = Grid((8, 8, 16), 2.0, dtype=torch.float64)
    x, y, z = grid.coordinates()
    k = math.pi  # one period on [0, 2)
    u = torch.sin(k * x) * torch.cos(2 * k * y) * torch.sin(3 * k * z)
    u_hat = grid.rfft(u)
    dz = grid.irfft(grid.derivative_symbol(2, 1) * u_hat)
    assert torch.allclose(
        dz, 3 * k * torch.sin(k * x) * torch.cos(2 * k * y) * torch.cos(3 * k * z)
    )
    lap = grid.irfft(grid.laplacian_symbol() * u_hat)
    assert torch.allclose(lap, -(1 + 4 + 9) * k**2 * u, atol=1e-11)


def test_odd_derivative_of_nyquist_mode_is_zero() -> None:
    grid = Grid(8, 2 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    nyquist = torch.cos(4 * x)
    assert float(grid.irfft(grid.derivative_symbol(0, 1) * grid.rfft(nyquist)).abs().max()) == 0
    assert torch.allclose(
        grid.irfft(grid.derivative_symbol(0, 2) * grid.rfft(nyquist)), -16 * nyquist
    )


def test_two_thirds_mask_keeps_modes_below_n_over_3() -> None:
    grid = Grid((12, 12), dtype=torch.float64)
    mask = grid.dealias_mask()
    assert mask.shape == (1, 1, 12, 7)
    # |m| < 4 on both axes: 7 kept along the full axis, 4 along the half axis
    assert int(mask.sum()) == 7 * 4


@pytest.mark.parametrize("shape", [(16,), (8, 12)])
def test_three_halves_padding_gives_alias_free_products(shape: tuple[int, ...]) -> None:
    grid = Grid(shape, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)

    def band_limited() -> torch.Tensor:
        # drop the Nyquist modes (padding drops them) so the inputs are represented exactly
        u = torch.randn(2, 1, *shape, generator=gen, dtype=torch.float64)
        return grid.irfft(grid.truncate_spectrum(grid.pad_spectrum(grid.rfft(u))))

    a, b = band_limited(), band_limited()
    product = grid.truncated_rfft(grid.padded_irfft(grid.rfft(a)) * grid.padded_irfft(grid.rfft(b)))
    # reference: the exact product on a 2x finer grid (no aliasing), truncated back
    fine = Grid(tuple(2 * n for n in shape), dtype=torch.float64)
    exact = grid.truncate_spectrum(
        fine.rfft(grid.padded_irfft(grid.rfft(a), 2.0) * grid.padded_irfft(grid.rfft(b), 2.0)),
        2.0,
    )
    assert torch.allclose(product, exact, atol=1e-13)


def test_per_batch_domain_length_scales_wavenumbers() -> None:
    grid = Grid(8, torch.tensor([1.0, 2.0], dtype=torch.float64), dtype=torch.float64)
    k = grid.wavenumber(0)
    assert k.shape == (2, 1, 5)
    assert torch.allclose(k[1], k[0] / 2)
    assert grid.batch_size == 2


@pytest.mark.parametrize(
    ("shape", "match"),
    [(7, "even and >= 4"), ((8, 2), "even and >= 4"), ((4, 4, 4, 4), "1D, 2D or 3D")],
)
def test_bad_grid_shapes_are_refused(shape: int | tuple[int, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Grid(shape)


def test_bad_length_and_dtype_are_refused() -> None:
    with pytest.raises(ValueError, match="domain length must be positive"):
        Grid(8, -1.0)
    with pytest.raises(TypeError, match="float32 or torch.float64"):
        Grid(8, dtype=torch.int64)
    with pytest.raises(ValueError, match="must be finite"):
        Grid(8, float("nan"))

"""Statistical and API properties of the input-function samplers in ``sciml.data.functions``."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.data.functions import gaussian_random_field, piecewise_constant_field, rbf_grf_1d


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("boundary", ["periodic", "neumann", "dirichlet"])
@pytest.mark.parametrize("shape", [(16,), (8, 12), (5, 6, 7)])
def test_grf_same_seed_gives_same_fields_and_has_requested_shape(boundary, shape):
    a = gaussian_random_field(3, shape, boundary=boundary, generator=_gen(1))
    b = gaussian_random_field(3, shape, boundary=boundary, generator=_gen(1))
    c = gaussian_random_field(3, shape, boundary=boundary, generator=_gen(2))
    assert a.shape == (3, *shape) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_int_shape_means_a_1d_grid():
    torch.testing.assert_close(
        gaussian_random_field(2, 16, generator=_gen(4)),
        gaussian_random_field(2, (16,), generator=_gen(4)),
    )


def test_periodic_grf_power_spectrum_matches_covariance_eigenvalues():
    alpha, tau, sigma = 2.0, 3.0, 1.5
    n, n_samples = 16, 4000
    u = gaussian_random_field(
        n_samples, (n, n), alpha=alpha, tau=tau, sigma=sigma, generator=_gen(0), dtype=torch.float64
    )
    # Fourier coefficients of the series u = sum_k sqrt(lambda_k) xi_k e^{2 pi i k x}
    power = (torch.fft.rfftn(u, dim=(1, 2), norm="forward").abs() ** 2).mean(0)
    kx = torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64)[:, None]
    ky = torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64)[None, :]
    target = sigma**2 * (4 * math.pi**2 * (kx**2 + ky**2) + tau**2) ** (-alpha)
    ratio = power / target
    # per-mode relative standard error <= sqrt(2/4000) ~ 2.2 %; 15 % is > 6 sigma
    assert (ratio - 1).abs().max() < 0.15, ratio


@pytest.mark.parametrize("boundary", ["neumann", "dirichlet"])
def test_bounded_grf_covariance_matches_truncated_eigen_series(boundary):
    alpha, tau, n, n_samples = 2.0, 3.0, 9, 20000
    u = gaussian_random_field(
        n_samples,
        (n,),
        alpha=alpha,
        tau=tau,
        boundary=boundary,
        generator=_gen(3),
        dtype=torch.float64,
    )
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    sigma2 = tau ** (2 * alpha - 1)  # default sigma = tau^(alpha - d/2), d = 1
    if boundary == "neumann":
        k = torch.arange(n, dtype=torch.float64)
        phi = math.sqrt(2) * torch.cos(math.pi * x[:, None] * k)
        phi[:, 0] = 1.0
    else:
        k = torch.arange(1, n - 1, dtype=torch.float64)
        phi = math.sqrt(2) * torch.sin(math.pi * x[:, None] * k)
    lam = sigma2 * (math.pi**2 * k**2 + tau**2) ** (-alpha)
    target = phi @ torch.diag(lam) @ phi.T
    empirical = u.T @ u / n_samples
    assert (empirical - target).abs().max() < 0.05 * target.diagonal().max()


def test_dirichlet_grf_vanishes_on_the_boundary():
    u = gaussian_random_field(4, (10, 12), boundary="dirichlet", generator=_gen(0))
    for edge in (u[:, 0], u[:, -1], u[:, :, 0], u[:, :, -1]):
        assert edge.abs().max() < 1e-5


def test_remove_mean_gives_zero_spatial_mean_on_periodic_grid():
    u = gaussian_random_field(8, (32, 32), remove_mean=True, generator=_gen(0), dtype=torch.float64)
    assert u.mean(dim=(1, 2)).abs().max() < 1e-12
    assert u.std() > 0.1


def test_default_sigma_is_fno_convention():
    alpha, tau = 2.5, 7.0
    a = gaussian_random_field(2, (8, 8), alpha=alpha, tau=tau, generator=_gen(5))
    b = gaussian_random_field(
        2, (8, 8), alpha=alpha, tau=tau, sigma=tau ** (alpha - 1.0), generator=_gen(5)
    )
    torch.testing.assert_close(a, b)


def test_grf_same_seed_gives_same_field_in_float32_and_float64():
    a = gaussian_random_field(2, (16,), generator=_gen(0), dtype=torch.float64, device="cpu")
    b = gaussian_random_field(2, (16,), generator=_gen(0), dtype=torch.float32, device="cpu")
    assert a.dtype == torch.float64 and a.device.type == "cpu"
    torch.testing.assert_close(a.float(), b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (4, 4, 4, 4)}, "1 to 3 dimensions"),
        ({"boundary": "robin"}, "boundary must be one of"),
        ({"shape": (1,)}, "must be >= 2"),
        ({"shape": (2,), "boundary": "dirichlet"}, "must be >= 3"),
        ({"alpha": 0.0}, "alpha and tau must be positive"),
        ({"tau": -1.0}, "alpha and tau must be positive"),
        ({"sigma": -1.0}, "sigma must be positive"),
        ({"n_samples": 0}, "n_samples must be >= 1"),
        ({"dtype": torch.float16}, "dtype must be"),
    ],
)
def test_grf_bad_arguments_are_refused_with_a_clear_message(kwargs, match):
    args = {"n_samples": 2, "shape": (8,)} | kwargs
    with pytest.raises(ValueError, match=match):
        gaussian_random_field(args.pop("n_samples"), args.pop("shape"), **args)


def test_piecewise_constant_field_takes_high_where_field_is_above_threshold():
    field = torch.tensor([[-1.0, 0.0, 0.5], [2.0, -0.1, 0.3]], dtype=torch.float64)
    a = piecewise_constant_field(field, threshold=0.3)
    expected = torch.tensor([[3.0, 3.0, 12.0], [12.0, 3.0, 12.0]], dtype=torch.float64)
    assert torch.equal(a, expected)
    with pytest.raises(ValueError, match="floating-point"):
        piecewise_constant_field(torch.ones(3, dtype=torch.int64))


def test_rbf_grf_covariance_matches_rbf_kernel():
    x = torch.linspace(0, 1, 12)
    v = rbf_grf_1d(20000, x, length_scale=0.2, generator=_gen(0), dtype=torch.float64)
    xd = x.double()
    kernel = torch.exp(-((xd[:, None] - xd[None, :]) ** 2) / (2 * 0.2**2))
    empirical = v.T @ v / v.shape[0]
    assert (empirical - kernel).abs().max() < 0.05


def test_rbf_grf_is_seeded_and_stable_on_dense_sensor_grids():
    x = torch.linspace(0, 1, 100)
    a = rbf_grf_1d(5, x, generator=_gen(7))
    b = rbf_grf_1d(5, x, generator=_gen(7))
    assert a.shape == (5, 100) and a.dtype == torch.float32
    assert torch.equal(a, b) and torch.isfinite(a).all()


@pytest.mark.parametrize(
    ("points", "kwargs", "match"),
    [
        (torch.zeros(3, 2), {}, "1D tensor"),
        (torch.tensor([0.0, float("nan")]), {}, "finite"),
        (torch.linspace(0, 1, 5), {"length_scale": 0.0}, "length_scale must be positive"),
        (torch.linspace(0, 1, 5), {"dtype": torch.int32}, "dtype must be"),
    ],
)
def test_rbf_grf_bad_arguments_are_refused(points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rbf_grf_1d(2, points, **kwargs)

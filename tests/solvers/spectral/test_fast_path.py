"""The in-place inference path of ETDRK4 and the fused transforms agree with the autograd path."""

from __future__ import annotations

import math

import pytest
import torch
from torch.overrides import TorchFunctionMode

from sciml.solvers.spectral import (
    Burgers,
    GrayScott,
    Grid,
    KdV,
    KuramotoSivashinsky2D,
    NavierStokes2D,
    SpectralEquation,
    SpectralSolver,
)
from sciml.solvers.spectral._ops import real_pair


def smooth_state(grid: Grid, channels: int, batch: int = 2) -> torch.Tensor:
    """A band-limited random field ``(batch, channels, *N)`` with amplitude O(1)."""
    gen = torch.Generator().manual_seed(0)
    spec = torch.randn((batch, channels, *grid.fourier_shape), generator=gen, dtype=torch.float64)
    for axis in range(grid.ndim):
        spec = spec * torch.exp(-0.3 * grid.modes(axis) ** 2)
    u = grid.irfft(spec.to(grid.complex_dtype))
    return u / u.abs().amax()


CASES = {
    "burgers 2/3": lambda: Burgers(Grid(64), nu=0.05),
    "burgers 3/2": lambda: Burgers(Grid(64), nu=0.05, dealias="3/2"),
    "burgers none": lambda: Burgers(Grid(64), nu=0.05, dealias="none"),
    "burgers per-batch nu": lambda: Burgers(Grid(64), nu=torch.tensor([0.05, 0.1])),
    "kdv (complex symbol)": lambda: KdV(Grid(64, 20.0), beta=1.0, nu=0.01),
    "ns kolmogorov": lambda: NavierStokes2D(
        Grid((32, 32)), nu=0.01, drag=0.1, forcing="kolmogorov", forcing_wavenumber=2
    ),
    "ns per-batch length": lambda: NavierStokes2D(
        Grid((32, 32), torch.tensor([2 * math.pi, 5.0])), nu=0.01
    ),
    "ks2d": lambda: KuramotoSivashinsky2D(Grid((32, 32), 20.0)),
    "gray-scott": lambda: GrayScott(Grid((16, 16), 2.5), diffusivity_u=0.02, diffusivity_v=0.01),
}


@pytest.mark.parametrize("name", list(CASES))
def test_inplace_step_matches_autograd_step_and_leaves_input_intact(name: str) -> None:
    eq: SpectralEquation = CASES[name]()
    solver = SpectralSolver(eq, 0.01)
    u_hat = eq.grid.rfft(smooth_state(eq.grid, eq.n_channels))
    stepper = solver.stepper()
    with torch.no_grad():
        before = u_hat.clone()
        fast = stepper(u_hat)
        assert torch.equal(u_hat, before)
        fast_n = eq.nonlinear(u_hat)
    # requires_grad routes through the differentiable (out-of-place) path
    slow = stepper(u_hat.clone().requires_grad_(True)).detach()
    slow_n = eq.nonlinear(u_hat.clone().requires_grad_(True)).detach()
    scale = slow.abs().max()
    assert (fast - slow).abs().max() <= 1e-13 * scale
    assert (fast_n - slow_n).abs().max() <= 1e-13 * slow_n.abs().max()
    assert fast.shape == slow.shape and fast.dtype == slow.dtype


def test_grad_enabled_without_requires_grad_uses_the_fast_path_consistently() -> None:
    eq = NavierStokes2D(Grid((32, 32)), nu=0.01)
    w0 = smooth_state(eq.grid, 1)
    solver = SpectralSolver(eq, 0.01)
    with torch.inference_mode():
        ref = solver.rollout(w0, 5, save_every=5)
    out = solver.rollout(w0, 5, save_every=5)  # grad mode on, nothing requires grad
    assert not out.requires_grad
    assert torch.equal(out, ref)


@pytest.mark.parametrize("shape", [(64,), (32, 24), (8, 12, 16)])
def test_irfft_low_equals_irfft_of_the_zero_filled_spectrum(shape: tuple[int, ...]) -> None:
    grid = Grid(shape)
    u_hat = grid.rfft(torch.randn(2, 1, *shape, dtype=torch.float64))
    k = (shape[-1] // 2 + 1) * 2 // 3
    zero_filled = u_hat.clone()
    zero_filled[..., k:] = 0
    fast = grid.irfft_low(u_hat[..., :k])  # nothing requires grad: the zero-tail buffer path
    assert torch.allclose(fast, grid.irfft(zero_filled), atol=1e-14)
    low = u_hat[..., :k].clone().requires_grad_()
    recorded = grid.irfft_low(low)  # the path autograd records: irfft pads itself
    assert torch.equal(recorded.detach(), fast)
    recorded.square().sum().backward()
    assert low.grad is not None and bool(torch.isfinite(torch.view_as_real(low.grad)).all())


def test_unscaled_rfft_times_one_over_n_is_the_scaled_rfft() -> None:
    grid = Grid((16, 12))
    u = torch.randn(2, 1, 16, 12, dtype=torch.float64)
    assert torch.allclose(grid.rfft(u, scaled=False) / (16 * 12), grid.rfft(u), atol=1e-15)


def test_navier_stokes_low_columns_follow_the_forcing_and_the_dealiasing() -> None:
    grid = Grid((32, 32))
    k = NavierStokes2D(grid).low_columns
    assert k == 11  # |m| < 2/3 * 16: columns 0..10
    for forcing in ("fno", "kolmogorov"):  # single modes: the FFT's round-off is masked away
        assert NavierStokes2D(grid, forcing=forcing, forcing_wavenumber=2).low_columns == k
    x, y = grid.coordinates()
    rough = torch.cos(14 * y) + 0 * x  # a mode in the columns the low path would drop
    assert NavierStokes2D(grid, forcing=rough).low_columns is None
    assert NavierStokes2D(grid, dealias="3/2").low_columns is None
    assert NavierStokes2D(grid, dealias="none").low_columns is None


@pytest.mark.parametrize("forcing", ["none", "kolmogorov"])
def test_low_column_step_matches_the_full_width_inplace_step(forcing: str) -> None:
    eq = NavierStokes2D(Grid((32, 32)), nu=0.01, drag=0.1, forcing=forcing, forcing_wavenumber=2)
    u_hat = eq.grid.rfft(smooth_state(eq.grid, 1))
    low = SpectralSolver(eq, 0.01).stepper()
    full = SpectralSolver(eq, 0.01).stepper()
    full._low = None  # the full-width in-place path the low-column one replaces
    full._pairs = low._pairs[:1] + tuple(
        real_pair(c) for c in (full.E2, full.Q, 2 * full.Q, full.F1, 2 * full.F2, full.F3)
    )
    full._stage_nonlinear = eq.nonlinear
    k = eq.low_columns
    with torch.inference_mode():
        fast = eq.nonlinear_low(u_hat[..., :k])
        assert torch.allclose(fast, eq.nonlinear(u_hat)[..., :k], rtol=0, atol=1e-14)
        base = SpectralEquation.nonlinear_low(eq, u_hat[..., :k])  # zero-fill + nonlinear
        assert torch.allclose(fast, base, rtol=0, atol=1e-14)
        a, b = low(u_hat), full(u_hat)
    assert (a - b).abs().max() <= 1e-14 * b.abs().max()


def test_float32_navier_stokes_step_stays_in_single_precision() -> None:
    grid = Grid((32, 32), dtype=torch.float32)
    eq = NavierStokes2D(grid, nu=0.01, forcing="kolmogorov", forcing_wavenumber=2)
    stepper = SpectralSolver(eq, 0.01).stepper()
    assert all(p.dtype == torch.float32 for p in stepper._pairs)
    u_hat = grid.rfft(smooth_state(grid, 1).to(torch.float32))
    seen: set[torch.dtype] = set()

    class Dtypes(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor):
                    seen.add(t.dtype)
            return out

    with torch.inference_mode(), Dtypes():
        out = stepper(u_hat)
    assert out.dtype == torch.complex64
    assert not seen & {torch.float64, torch.complex128}, seen


def test_a_subclass_that_changes_the_nonlinearity_does_not_inherit_the_low_column_kernel():
    class Damped(NavierStokes2D):
        def nonlinear(self, w_hat: torch.Tensor) -> torch.Tensor:
            return super().nonlinear(w_hat) - w_hat

    grid = Grid((32, 32))
    assert NavierStokes2D(grid, nu=1e-3).low_columns is not None
    assert Damped(grid, nu=1e-3).low_columns is None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_kept_column_count_is_the_masks(dtype):
    for n in range(4, 400, 2):
        equation = NavierStokes2D(Grid((8, n), dtype=dtype), nu=1e-3)
        n_f = equation.grid.fourier_shape[-1]
        assert equation.low_columns == int(equation._mask.reshape(-1, n_f)[0].sum()), n

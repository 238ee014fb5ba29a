"""ns_tracer: the coupled (vorticity, tracer) solver against exact properties, and the stored file.

Solver: with kappa = nu and c(0) = omega(0) the tracer equals the vorticity at all times (same
equation); with no flow a Fourier mode decays as exp(-kappa |k|^2 t); the tracer's nonlinear term
has zero mean and is orthogonal to c (the dealiased advection conserves the variance exactly).
File: fields and shapes, the t = 0 fields equal an independent evaluation of the initial-data
formula, tracer mean conserved, seeds, refused values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.data.recipes.base import RecipeError, block_generator, make_config
from sciml.data.recipes.ns_tracer import NSTracer, NSTracer2D, piecewise_constant
from sciml.solvers.spectral import Grid, SpectralSolver

# stored on the solver grid: a strided subsample's mean is not the fine grid's (aliasing)
TINY = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 32, "t_end": 0.05, "n_t": 3,
        "dt": 0.0025, "smoothing": 0.04}  # fmt: skip


def _grid(n: int = 32, dtype=torch.float64) -> Grid:
    return Grid((n, n), 1.0, dtype=dtype)


def _random_state(grid: Grid, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    values = torch.rand(2, 2, 4, 4, generator=gen, dtype=torch.float64) * 2 - 1
    fields = [piecewise_constant(values[:, k], grid, smoothing=0.06) for k in range(2)]
    state = torch.cat(fields, dim=1)
    state[:, :1] -= state[:, :1].mean(dim=(-2, -1), keepdim=True)
    return state


def test_tracer_equals_vorticity_when_kappa_is_nu_and_it_starts_as_the_vorticity() -> None:
    grid = _grid()
    w0 = 5 * _random_state(grid)[:, :1]
    solver = SpectralSolver(NSTracer2D(grid, nu=1e-3, kappa=1e-3), 1e-3, "etdrk4")
    out = solver.rollout(torch.cat([w0, w0], dim=1), 50, save_every=25)
    assert (out[:, -1, 0] - w0[:, 0]).abs().max() > 1e-3  # the flow moved
    torch.testing.assert_close(out[:, :, 1], out[:, :, 0], rtol=0, atol=1e-11)


def test_without_flow_a_tracer_mode_decays_as_the_heat_equation() -> None:
    grid = _grid(16)
    x, _ = grid.coordinates()
    c0 = torch.sin(2 * math.pi * 2 * x).expand(1, 1, 16, 16)
    state = torch.cat([torch.zeros_like(c0), c0], dim=1)
    kappa, t = 0.01, 0.5
    out = SpectralSolver(NSTracer2D(grid, nu=1e-3, kappa=kappa), 0.01, "etdrk4").rollout(
        state, 50, save_every=50
    )
    expected = c0 * math.exp(-kappa * (2 * math.pi * 2) ** 2 * t)
    torch.testing.assert_close(out[:, -1, 1:], expected, rtol=0, atol=1e-12)
    assert out[:, -1, 0].abs().max() == 0


@pytest.mark.parametrize("dealias", ["2/3", "3/2"])
def test_tracer_term_conserves_the_mean_and_the_variance(dealias: str) -> None:
    grid = _grid()
    eq = NSTracer2D(grid, nu=1e-3, kappa=0.0, dealias=dealias)
    state = _random_state(grid, seed=1)
    state[:, :1] *= 10
    state_hat = grid.rfft(state) * grid.dealias_mask(2 / 3)  # band-limited within the mask
    n_hat = eq.nonlinear(state_hat)[:, 1:]
    c_hat = state_hat[:, 1:]
    assert n_hat[..., 0, 0].abs().max() < 1e-12
    c, n = grid.irfft(c_hat), grid.irfft(n_hat)
    scale = n.abs().mean() * c.abs().mean()
    assert (c * n).mean(dim=(-2, -1)).abs().max() < 1e-12 * scale
    assert n.abs().max() > 0.1  # the term is not trivially zero
    # the vorticity channel is NavierStokes2D's term
    from sciml.solvers.spectral import NavierStokes2D

    flow = NavierStokes2D(grid, nu=1e-3, dealias=dealias).nonlinear(state_hat[:, :1])
    torch.testing.assert_close(eq.nonlinear(state_hat)[:, :1], flow, rtol=0, atol=1e-10)


def test_linear_symbol_has_one_channel_per_equation() -> None:
    grid = _grid(8)
    eq = NSTracer2D(grid, nu=2e-3, kappa=5e-3)
    lap = grid.laplacian_symbol()
    symbol = eq.linear_symbol()
    assert symbol.shape == (1, 2, *grid.fourier_shape)
    torch.testing.assert_close(symbol[:, :1], 2e-3 * lap)
    torch.testing.assert_close(symbol[:, 1:], 5e-3 * lap)


def test_piecewise_constant_without_smoothing_is_the_checkerboard() -> None:
    grid = _grid(16)
    values = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.float64)
    field = piecewise_constant(values, grid, smoothing=1e-9)[0, 0]
    # the Nyquist modes are dropped: compare away from the jumps
    assert field[3, 3] == pytest.approx(1.0, abs=0.2) and field[3, 12] == pytest.approx(
        2.0, abs=0.2
    )
    assert field[12, 3] == pytest.approx(3.0, abs=0.2) and field[12, 12] == pytest.approx(
        4.0, abs=0.2
    )
    assert field.mean() == pytest.approx(2.5, abs=1e-12)


def test_file_fields_initial_data_and_conserved_tracer_mean(generated) -> None:
    f = generated("ns_tracer", TINY)
    assert f.read("tracer").shape == (3, 3, 32, 32)
    assert f.read("velocity").shape == (3, 3, 32, 32, 2)
    assert f.read("vorticity").shape == (3, 3, 32, 32)
    assert np.all(f.scalars["kappa"] == 4e-4)
    config = make_config("ns_tracer", TINY)
    recipe, grid = NSTracer(), _grid(32)
    _, c = recipe.draw(config, 2, block_generator(config.seed, 0))
    c0 = piecewise_constant(c, grid, config.smoothing)[:, 0]
    np.testing.assert_allclose(f.read("tracer")[:2, 0], c0.numpy(), atol=1e-6)
    tracer = f.read("tracer")
    means = tracer.mean(axis=(-2, -1))
    np.testing.assert_allclose(means, means[:, :1].repeat(3, axis=1), atol=1e-5)
    assert np.abs(tracer[:, -1] - tracer[:, 0]).max() > 1e-3  # advected
    assert np.abs(f.read("vorticity").mean(axis=(-2, -1))).max() < 1e-5


def test_seed_reproducible_and_another_seed_differs(generated) -> None:
    a = generated("ns_tracer", TINY).read("tracer")
    b = generated("ns_tracer", {**TINY, "seed": 3}).read("tracer")
    np.testing.assert_array_equal(a, generated("ns_tracer", dict(TINY)).read("tracer"))
    assert np.abs(a - b).max() > 0.1


def test_bad_values_are_refused() -> None:
    with pytest.raises(RecipeError, match=r"smoothing=0.001 is below the solver grid spacing"):
        make_config("ns_tracer", {"smoothing": 1e-3})
    with pytest.raises(RecipeError, match="kappa"):
        make_config("ns_tracer", {"kappa": -1.0})
    with pytest.raises(ValueError, match="kappa must be >= 0, got -1.0"):
        NSTracer2D(_grid(8), kappa=-1.0)
    with pytest.raises(RecipeError, match="alpha"):
        make_config("ns_tracer", {"alpha": 2.0})


def test_the_base_recipe_stores_the_solver_state_channels_as_fields(generated) -> None:
    # state_fields hook of NSVelocityRecipe: channel 0 is the vorticity, channel 1 the tracer
    f = generated("ns_tracer", TINY)
    assert set(f.fields) == {"vorticity", "velocity", "tracer"}
    assert f.fields["tracer"].time_varying and f.fields["tracer"].order == 0
    config = make_config("ns_tracer", TINY)
    recipe = NSTracer()
    solver = recipe.solver(config, "cpu")
    state = recipe.initial_condition(config, solver.grid, 2, 0)
    states = solver.rollout(state, 20, save_every=10)  # t_end / dt = 20 steps, n_t = 3
    np.testing.assert_array_equal(f.read("vorticity")[:2], states[:, :, 0].float().numpy())
    np.testing.assert_array_equal(f.read("tracer")[:2], states[:, :, 1].float().numpy())


def test_etdrk4_rollout_keeps_the_tracer_bounded_and_the_vorticity_of_plain_ns() -> None:
    # NSTracer2D must not inherit NavierStokes2D's one-channel low-column ETDRK4 kernel: the
    # vorticity evolves as plain NS (it does not feel the tracer) and c stays within its bounds
    from sciml.solvers.spectral import NavierStokes2D

    grid = _grid()
    state = _random_state(grid, seed=2)
    state[:, :1] *= 10
    state[:, 1:] = 0.5 + 0.5 * state[:, 1:]  # c in [0, 1]
    tracer = SpectralSolver(NSTracer2D(grid, nu=1e-2, kappa=1e-2), 5e-3, "etdrk4")
    plain = SpectralSolver(NavierStokes2D(grid, nu=1e-2), 5e-3, "etdrk4")
    out = tracer.rollout(state, 20, save_every=20)[:, -1]
    torch.testing.assert_close(
        out[:, :1], plain.rollout(state[:, :1], 20, save_every=20)[:, -1], rtol=0, atol=1e-10
    )
    c0, c = state[:, 1], out[:, 1]
    assert c.min() > c0.min() - 0.05 and c.max() < c0.max() + 0.05

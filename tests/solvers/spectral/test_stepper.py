"""SpectralSolver: shapes, caching, checkpointing, divergence detection and bad input."""

from __future__ import annotations

import warnings

import pytest
import torch

from sciml.solvers.spectral import (
    Burgers,
    Diffusion,
    GrayScott,
    Grid,
    NavierStokes2D,
    SolverDivergedError,
    SpectralSolver,
    StabilityWarning,
)


def burgers(n: int = 32, nu: float | torch.Tensor = 0.1, dtype=torch.float64) -> SpectralSolver:
    return SpectralSolver(Burgers(Grid(n, dtype=dtype), nu=nu), 0.05)


def test_rollout_is_batch_first_with_initial_state_and_matches_repeated_steps() -> None:
    solver = burgers()
    u0 = torch.randn(3, 1, 32, dtype=torch.float64)
    traj = solver.rollout(u0, 6, save_every=2)
    assert traj.shape == (3, 4, 1, 32)
    assert torch.equal(traj[:, 0], solver.grid.irfft(solver.grid.rfft(u0)))
    u = u0
    for _ in range(6):
        u = solver.step(u)
    assert torch.allclose(traj[:, -1], u, atol=1e-13)


def test_float32_rollout_stays_close_to_float64() -> None:
    u64 = torch.sin(Grid(64).coordinates()[0]).expand(2, 1, 64)
    traj64 = burgers(64).rollout(u64, 20)
    traj32 = burgers(64, dtype=torch.float32).rollout(u64.float(), 20)
    assert traj32.dtype == torch.float32
    assert float((traj32.double() - traj64).abs().max()) < 1e-5


def test_coefficients_are_cached_per_dt_unless_they_require_grad() -> None:
    solver = burgers()
    assert solver.stepper() is solver.stepper(0.05)
    assert solver.stepper(0.1) is not solver.stepper()
    nu = torch.tensor([0.1], dtype=torch.float64, requires_grad=True)
    grad_solver = burgers(nu=nu)
    assert grad_solver.stepper() is not grad_solver.stepper()


def test_nan_during_rollout_raises_with_the_first_bad_step_and_time() -> None:
    grid = Grid(32, dtype=torch.float64)
    (x,) = grid.coordinates()
    solver = SpectralSolver(Burgers(grid, nu=1e-4), 2.0, "etdrk1")
    steps = []
    for save_every in (1, 50):
        with (
            warnings.catch_warnings(),
            pytest.raises(SolverDivergedError, match=r"at step \d+ \(t = [\d.]+\)") as info,
        ):
            warnings.simplefilter("ignore", StabilityWarning)
            solver.rollout(50 * torch.sin(x), 200, save_every=save_every)
        steps.append(info.value.step)
        assert info.value.time == pytest.approx(2.0 * info.value.step)
    # checking only saved frames still reports the step where NaN/Inf first appeared
    assert steps[0] == steps[1] < 50


def test_cfl_violation_warns_with_the_limit() -> None:
    grid = Grid(32, dtype=torch.float64)
    (x,) = grid.coordinates()
    solver = SpectralSolver(Burgers(grid, nu=0.1), 0.5)
    with pytest.warns(StabilityWarning, match=r"dt <= CFL·dx/max\|u\| = 0.196"):
        solver.step(torch.sin(x))


def test_unknown_scheme_lists_available_ones() -> None:
    with pytest.raises(ValueError, match="available: etdrk1, etdrk2"):
        SpectralSolver(Diffusion(Grid(8)), 0.1, "rk45")


@pytest.mark.parametrize("dt", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_or_non_finite_dt_is_refused(dt: float) -> None:
    with pytest.raises(ValueError, match="dt must be positive and finite"):
        SpectralSolver(Diffusion(Grid(8)), dt)
    with pytest.raises(ValueError, match="dt must be positive and finite"):
        SpectralSolver(Diffusion(Grid(8)), 0.1).step(torch.zeros(1, 1, 8, dtype=torch.float64), dt)


def test_state_with_wrong_grid_size_or_rank_is_refused() -> None:
    solver = burgers()
    with pytest.raises(ValueError, match=r"real tensor \(B, C, 32\)"):
        solver.step(torch.zeros(1, 1, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"real tensor \(B, C, 32\)"):
        solver.step(torch.zeros(1, 32, dtype=torch.float64))


def test_state_with_wrong_channels_batch_or_dtype_is_refused() -> None:
    gs = SpectralSolver(GrayScott(Grid((8, 8))), 0.1)
    with pytest.raises(ValueError, match=r"1 channel\(s\), GrayScott has 2"):
        gs.step(torch.zeros(1, 1, 8, 8, dtype=torch.float64))
    solver = burgers(nu=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="batch size 3 but the equation's per-batch parameters"):
        solver.step(torch.zeros(3, 1, 32, dtype=torch.float64))
    with pytest.raises(ValueError, match="torch.float32 on cpu, the grid is torch.float64"):
        burgers().step(torch.zeros(1, 1, 32))


def test_nan_in_initial_state_is_refused() -> None:
    u0 = torch.zeros(1, 1, 32, dtype=torch.float64)
    u0[0, 0, 3] = float("nan")
    with pytest.raises(ValueError, match="state contains NaN or Inf"):
        burgers().rollout(u0, 4)


def test_save_every_must_divide_n_steps() -> None:
    u0 = torch.zeros(1, 1, 32, dtype=torch.float64)
    with pytest.raises(ValueError, match="save_every must be a positive divisor of n_steps=10"):
        burgers().rollout(u0, 10, save_every=3)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        burgers().rollout(u0, 0)


def test_bad_equation_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="viscosity nu must be >= 0"):
        Burgers(Grid(8), nu=-1.0)
    with pytest.raises(ValueError, match="Burgers is defined in \\(1,\\) spatial dimension"):
        Burgers(Grid((8, 8)))
    with pytest.raises(ValueError, match="parameter 'drag' has batch size 3, but other"):
        NavierStokes2D(Grid((8, 8)), nu=torch.ones(2), drag=torch.ones(3))
    with pytest.raises(ValueError, match="forcing must be one of"):
        NavierStokes2D(Grid((8, 8)), forcing="kolmogorov2")
    with pytest.raises(ValueError, match="forcing_wavenumber 4 is not resolved by 8 points"):
        NavierStokes2D(Grid((8, 8)), forcing="kolmogorov")
    with pytest.raises(ValueError, match="dealias must be one of"):
        Burgers(Grid(8), dealias="1/2")
    with pytest.raises(ValueError, match="shape \\(B,\\)"):
        Burgers(Grid(8), nu=torch.ones(2, 2))


def test_rollout_memory_is_bounded_with_checkpointing() -> None:
    # with checkpointing only the saved frames are kept for backward: the number of tensors saved
    # by autograd does not grow with the number of steps per block
    grid = Grid(32, dtype=torch.float64)
    u0 = torch.sin(grid.coordinates()[0]).requires_grad_(True)
    solver = SpectralSolver(Burgers(grid, nu=0.1), 0.01)

    def n_saved(steps_per_block: int, ckpt: bool) -> int:
        count = 0

        def pack(t: torch.Tensor) -> torch.Tensor:
            nonlocal count
            count += 1
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            solver.rollout(u0, 2 * steps_per_block, save_every=steps_per_block, checkpoint=ckpt)
        return count

    assert n_saved(20, True) == n_saved(5, True)
    assert n_saved(20, False) > 3 * n_saved(5, False)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_navier_stokes_runs_on_every_available_device_and_dtype(device: str, dtype) -> None:
    grid = Grid((16, 16), dtype=dtype, device=device)
    x, y = grid.coordinates()
    nu = torch.tensor([0.01, 0.02], dtype=dtype, device=device)
    eq = NavierStokes2D(grid, nu=nu, drag=0.1, forcing="kolmogorov", forcing_wavenumber=2)
    w0 = (torch.sin(x) * torch.cos(y)).expand(2, 1, 16, 16)
    traj = SpectralSolver(eq, 0.05, "cn_rk3").rollout(w0, 4, save_every=2)
    assert traj.shape == (2, 3, 1, 16, 16)
    assert traj.dtype == dtype and traj.device.type == device
    reference = SpectralSolver(
        NavierStokes2D(
            Grid((16, 16), dtype=torch.float64),
            nu=nu.double().cpu(),
            drag=0.1,
            forcing="kolmogorov",
            forcing_wavenumber=2,
        ),
        0.05,
        "cn_rk3",
    ).rollout(w0.double().cpu(), 4, save_every=2)
    assert float((traj.double().cpu() - reference).abs().max()) < 1e-5

"""Solver presets: every shipped one builds and steps, matches the recipe it is the paper solver
of, takes overrides, and refuses bad input with the allowed values."""

from __future__ import annotations

import pytest
import torch

from sciml.catalog import PresetError, preset_names
from sciml.data.recipes.base import make_config
from sciml.registry import RECIPES
from sciml.solvers.presets import build_solver, equation_parameters
from sciml.solvers.spectral import NavierStokes2D, SpectralSolver

SOLVER_PRESETS = preset_names("solvers")
RECIPES_WITH_PRESET = [
    name for name in RECIPES.names() if getattr(RECIPES.get(name).Config, "SOLVER_PRESET", None)
]


def test_the_catalog_ships_solver_presets_and_recipes_name_them() -> None:
    assert {"ns2d-kolmogorov", "ns2d-fno", "burgers1d-fno"} <= set(SOLVER_PRESETS)
    assert {"kolmogorov2d", "ns2d", "burgers1d", "ks1d", "kdv1d", "advection1d"} <= set(
        RECIPES_WITH_PRESET
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", SOLVER_PRESETS)
def test_every_shipped_preset_builds_and_steps(name: str, dtype: torch.dtype) -> None:
    solver = build_solver(name, dtype=dtype)
    n_dims = solver.grid.ndim
    small = build_solver(name, dtype=dtype, shape=(32,) * n_dims)  # coefficients stay cheap
    assert isinstance(small, SpectralSolver) and small.grid.shape == (32,) * n_dims
    assert (small.dt, small.scheme) == (solver.dt, solver.scheme)
    u0 = 0.1 * torch.randn(
        2, 1, *small.grid.shape, dtype=dtype, generator=torch.Generator().manual_seed(0)
    )
    u1 = small.step(small.grid.irfft(small.grid.rfft(u0) * small.grid.dealias_mask(0.5)))
    assert u1.shape == u0.shape and u1.dtype == dtype and bool(torch.isfinite(u1).all())


@pytest.mark.parametrize("recipe", RECIPES_WITH_PRESET)
def test_recipe_with_paper_true_solves_with_its_preset(recipe: str) -> None:
    """Same equation, grid, step and scheme, and the same linear symbol and nonlinear term."""
    cls = RECIPES.get(recipe)
    ours = cls().solver(make_config(recipe, {"paper": True}))
    preset = build_solver(cls.Config.SOLVER_PRESET)
    assert type(ours.equation) is type(preset.equation)
    assert ours.grid.shape == preset.grid.shape
    torch.testing.assert_close(ours.grid.length, preset.grid.length, rtol=1e-15, atol=0)
    assert (ours.dt, ours.scheme) == (preset.dt, preset.scheme)
    torch.testing.assert_close(ours.equation.linear_symbol(), preset.equation.linear_symbol())
    u = torch.randn(2, 1, *ours.grid.shape, dtype=torch.float64)
    u_hat = ours.grid.rfft(u)
    torch.testing.assert_close(ours.equation.nonlinear(u_hat), preset.equation.nonlinear(u_hat))


def test_overrides_replace_grid_step_and_equation_parameters() -> None:
    solver = build_solver("ns2d-kolmogorov", shape=(16, 16), dt=0.01, nu=1e-4, scheme="etdrk2")
    assert isinstance(solver.equation, NavierStokes2D)
    assert solver.grid.shape == (16, 16) and (solver.dt, solver.scheme) == (0.01, "etdrk2")
    assert float(solver.equation.nu) == pytest.approx(1e-4)
    assert float(solver.equation.drag) == pytest.approx(0.1)  # kept from the preset


def test_a_mapping_works_like_a_shipped_preset() -> None:
    solver = build_solver(
        {"family": "spectral", "equation": "burgers", "shape": 64, "length": 1.0, "dt": 1e-3},
        nu=0.05,
    )
    assert solver.grid.shape == (64,) and float(solver.equation.nu) == pytest.approx(0.05)


def test_equation_parameters_include_the_forwarded_base_options() -> None:
    assert equation_parameters(NavierStokes2D)[:2] == ["nu", "drag"]
    assert "dealias" in equation_parameters(NavierStokes2D)


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        (
            "ns2d-kolmogrov",
            {},
            "unknown solver preset 'ns2d-kolmogrov'. Did you mean 'ns2d-kolmogorov'",
        ),
        (
            "ns2d-fno",
            {"viscosity": 1e-4},
            r"navier_stokes2d has no parameter 'viscosity'; allowed: .*\bnu\b",
        ),
        ({"family": "spectral", "shape": 8, "dt": 0.1}, {}, "missing key 'equation'"),
        (
            {"family": "fem", "equation": "burgers", "shape": 8, "dt": 0.1},
            {},
            r"family 'fem' is not one of \['spectral'\]",
        ),
        (
            {"family": "spectral", "equation": "burger", "shape": 8, "dt": 0.1},
            {},
            "Did you mean 'burgers'",
        ),
        (
            {"family": "spectral", "equation": "burgers", "shape": 8, "dt": 0.1, "steps": 3},
            {},
            "unknown key 'steps'",
        ),
    ],
    ids=[
        "unknown-name",
        "unknown-parameter",
        "missing-key",
        "unknown-family",
        "unknown-equation",
        "unknown-key",
    ],
)
def test_bad_presets_name_the_problem_and_the_allowed_values(preset, overrides, message) -> None:
    with pytest.raises(PresetError, match=message):
        build_solver(preset, **overrides)


def test_errors_in_a_shipped_file_name_the_file(monkeypatch, tmp_path) -> None:
    import sciml.catalog
    import sciml.solvers.presets

    (tmp_path / "broken.yaml").write_text("family: spectral\nequation: burgers\nshape: 8\n")
    (tmp_path / "listy.yaml").write_text("- 1\n- 2\n")
    for module in (sciml.catalog, sciml.solvers.presets):
        monkeypatch.setattr(module, "catalog_dir", lambda group: tmp_path)
    with pytest.raises(PresetError, match=r"broken\.yaml: missing key 'dt'"):
        build_solver("broken")
    with pytest.raises(PresetError, match=r"listy\.yaml: a preset must be a mapping"):
        build_solver("listy")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_preset_solver_runs_on_cuda() -> None:
    solver = build_solver("ns2d-kolmogorov", shape=(32, 32), device="cuda", dtype=torch.float32)
    w = solver.step(0.1 * torch.randn(1, 1, 32, 32, device="cuda"))
    assert w.is_cuda and bool(torch.isfinite(w).all())

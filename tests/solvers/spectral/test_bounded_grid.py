"""Sine/cosine transforms of the bounded grid: round trips, exact modes, derivatives, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import BoundedGrid


def _field(grid: BoundedGrid, modes: tuple[int, ...]) -> torch.Tensor:
    """The single eigenfunction with integer ``modes`` on ``grid``."""
    out = torch.ones((), dtype=grid.dtype)
    wave = torch.sin if grid.boundary == "dirichlet" else torch.cos
    for x, m in zip(grid.coordinates(), modes):
        out = out * wave(math.pi * m * (x - grid.origin) / grid.length)
    return out


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
@pytest.mark.parametrize("shape", [(12,), (8, 10), (6, 4, 8)])
def test_transform_of_an_eigenfunction_is_one_coefficient_and_inverse_round_trips(
    boundary: str, shape: tuple[int, ...]
) -> None:
    grid = BoundedGrid(shape, 2.0, boundary=boundary, origin=-1.0)
    modes = tuple(range(1, len(shape) + 1))
    u = _field(grid, modes).expand(2, 1, *grid.shape)
    c = grid.transform(u)
    expected = torch.zeros_like(c)
    expected[(slice(None), slice(None), *modes)] = 1.0
    assert torch.allclose(c, expected, atol=1e-13)
    noise = torch.randn(2, 3, *grid.shape, dtype=torch.float64)
    if boundary == "dirichlet":  # the walls carry zero
        noise = grid.inverse(grid.transform(noise))
    assert torch.allclose(grid.inverse(grid.transform(noise)), noise, atol=1e-13)


@pytest.mark.parametrize("boundary", ["dirichlet", "neumann"])
def test_derivative_switches_parity_and_is_exact_for_a_mode(boundary: str) -> None:
    grid = BoundedGrid(16, 3.0, boundary=boundary, origin=0.5)
    (x,) = grid.coordinates()
    k = math.pi * 3 / 3.0
    u = _field(grid, (3,))
    du, parity = grid.derivative(grid.transform(u), 0)
    if boundary == "dirichlet":
        assert parity == ("cos",)
        exact = k * torch.cos(k * (x - 0.5))
    else:
        assert parity == ("sin",)
        exact = -k * torch.sin(k * (x - 0.5))
    assert torch.allclose(grid.inverse(du, parity), exact, atol=1e-12)


def test_laplacian_symbol_and_coordinates_include_the_walls() -> None:
    grid = BoundedGrid((4, 8), 2.0, boundary="neumann", origin=-1.0)
    x, y = grid.coordinates()
    assert x.reshape(-1)[[0, -1]].tolist() == [-1.0, 1.0]
    assert y.shape == (1, 1, 1, 9)
    lap = grid.laplacian_symbol()
    assert lap.shape == (1, 1, 5, 9)
    assert float(lap[0, 0, 2, 3]) == pytest.approx(
        -((math.pi * 2 / 2) ** 2 + (math.pi * 3 / 2) ** 2)
    )


def test_float32_transforms_stay_float32() -> None:
    grid = BoundedGrid(8, dtype=torch.float32)
    u = torch.rand(1, 1, 9)
    assert grid.transform(u).dtype == torch.float32
    assert grid.inverse(grid.transform(u)).dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": 3}, "number of intervals must be >= 4"),
        ({"shape": (4,) * 4}, "1D, 2D or 3D"),
        (
            {"shape": 8, "boundary": "periodic"},
            r"boundary must be one of \('dirichlet', 'neumann'\)",
        ),
        ({"shape": 8, "length": -1.0}, "domain length must be positive"),
        ({"shape": 8, "dtype": torch.float16}, "float32 or torch.float64"),
    ],
)
def test_bad_arguments_are_refused_with_the_allowed_values(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        BoundedGrid(**kwargs)


def test_a_field_of_the_wrong_shape_and_a_bad_parity_are_refused() -> None:
    grid = BoundedGrid(8)
    with pytest.raises(ValueError, match=r"\(B, C, 9\).*N \+ 1 points per axis"):
        grid.check_field(torch.zeros(1, 1, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="parity needs one of 'sin'/'cos' per axis"):
        grid.transform(torch.zeros(1, 1, 9, dtype=torch.float64), ("tan",))

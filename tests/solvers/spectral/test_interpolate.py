"""Spectral interpolation: exact for band-limited fields and their derivatives at arbitrary
points, reproduces grid values, differentiable, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.solvers.spectral import BoundedGrid, Grid, evaluate


def test_periodic_band_limited_field_and_derivative_are_exact_off_grid() -> None:
    grid = Grid((16, 12), 2 * math.pi)
    x, y = grid.coordinates()
    u = (torch.sin(2 * x + 1) * torch.cos(3 * y) + torch.cos(x)).expand(2, 1, 16, 12)
    pts = torch.rand(40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 8 - 1
    px, py = pts[:, 0], pts[:, 1]
    assert torch.allclose(
        evaluate(grid, u, pts)[1, 0],
        torch.sin(2 * px + 1) * torch.cos(3 * py) + torch.cos(px),
        atol=1e-13,
    )
    uxy = evaluate(grid, u, pts, derivative=(1, 1))[0, 0]
    assert torch.allclose(uxy, -6 * torch.cos(2 * px + 1) * torch.sin(3 * py), atol=1e-12)


@pytest.mark.parametrize(
    "grid",
    [
        Grid((8, 6, 4), 3.0),
        BoundedGrid((6, 4, 4), 2.0, boundary="dirichlet", origin=-1.0),
        BoundedGrid((5, 7), 1.5, boundary="neumann"),
    ],
    ids=["periodic-3d", "dirichlet-3d", "neumann-2d"],
)
def test_interpolant_reproduces_the_grid_values(grid: Grid | BoundedGrid) -> None:
    u = torch.randn(2, 1, *grid.shape, dtype=torch.float64)
    if isinstance(grid, BoundedGrid):
        u = grid.inverse(grid.transform(u))  # zero walls for Dirichlet
    coords = torch.meshgrid(*(c.reshape(-1) for c in grid.coordinates()), indexing="ij")
    pts = torch.stack([c.reshape(-1) for c in coords], -1)
    assert torch.allclose(evaluate(grid, u, pts), u.reshape(2, 1, -1), atol=1e-12)


def test_bounded_second_derivative_is_exact_for_a_mode() -> None:
    grid = BoundedGrid(10, 2.0, boundary="dirichlet", origin=-1.0)
    (x,) = grid.coordinates()
    u = torch.sin(2 * math.pi * (x + 1) / 2)
    pts = torch.tensor([-0.93, 0.1, 0.77], dtype=torch.float64)
    exact = -(math.pi**2) * torch.sin(math.pi * (pts + 1))
    assert torch.allclose(evaluate(grid, u, pts, derivative=(2,))[0, 0], exact, atol=1e-12)


def test_gradient_with_respect_to_the_points_is_the_derivative() -> None:
    grid = Grid(16, 2 * math.pi)
    (x,) = grid.coordinates()
    pts = torch.tensor([0.3, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(evaluate(grid, torch.sin(3 * x), pts).sum(), pts)
    assert torch.allclose(g, 3 * torch.cos(3 * pts.detach()), atol=1e-12)


def test_bad_points_and_derivative_orders_are_refused() -> None:
    grid = BoundedGrid(8, 1.0)
    u = torch.zeros(1, 1, 9, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"points must have shape \(P, 1\)"):
        evaluate(grid, u, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"points must lie in the box \[0, 1\]"):
        evaluate(grid, u, torch.tensor([1.5], dtype=torch.float64))
    with pytest.raises(
        ValueError, match="derivative needs one non-negative integer order per axis"
    ):
        evaluate(grid, u, torch.tensor([0.5], dtype=torch.float64), derivative=(-1,))

"""Wall and collider conditions on grid velocities."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm import Grid, HalfSpaceCollider, MPMSimulator, MPMState, Walls, shapes
from sciml.solvers.mpm.materials import FixedCorotated


def _velocities(grid: Grid) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(1, grid.n_nodes, grid.dim, generator=gen, dtype=torch.float64)


def test_wall_modes_on_the_floor_layer() -> None:
    grid = Grid(2, 12)
    v = _velocities(grid)
    idx = grid.node_multi_index(device=v.device)
    floor = (
        (idx[:, 1] < grid.bound) & (idx[:, 0] >= grid.bound) & (idx[:, 0] <= grid.n - grid.bound)
    )
    interior = ((idx >= grid.bound) & (idx <= grid.n - grid.bound)).all(-1)
    t = torch.zeros(1, dtype=torch.float64)
    sticky, slip, sep = (Walls(m).apply(grid, v, t) for m in ("sticky", "slip", "separate"))
    for out in (sticky, slip, sep):
        assert torch.equal(out[0, interior], v[0, interior])
    assert (sticky[0, floor] == 0).all()
    assert (slip[0, floor, 1] == 0).all() and torch.equal(slip[0, floor, 0], v[0, floor, 0])
    down = v[0, :, 1] < 0
    assert (sep[0, floor & down, 1] == 0).all()
    assert torch.equal(sep[0, floor & ~down], v[0, floor & ~down])


def test_moving_collider_imposes_its_velocity_when_sticky() -> None:
    grid = Grid(2, 12)
    v = _velocities(grid)
    piston = HalfSpaceCollider([0.0, 0.5], [0.0, 1.0], velocity=[0.0, 0.2], mode="sticky")
    nodes = grid.node_positions(dtype=v.dtype, device=v.device)
    t = torch.tensor([0.5], dtype=torch.float64)  # the plane is at y = 0.6 now
    out = piston.apply(grid, v, t)
    below = nodes[:, 1] < 0.6 - 1e-12
    assert torch.allclose(out[0, below], torch.tensor([0.0, 0.2], dtype=torch.float64))
    assert torch.equal(out[0, ~below], v[0, ~below])


def test_block_slides_down_a_frictionless_slope_without_penetrating() -> None:
    grid = Grid(2, 24)
    slope = HalfSpaceCollider([0.5, 0.3], [-0.5, 1.0], mode="separate")
    sim = MPMSimulator(grid, FixedCorotated(5e3, 0.2), colliders=[slope])
    x = shapes.box([0.45, 0.36], [0.55, 0.46], grid.dx / 2)
    state = MPMState.create(x, density=1e3, particle_volume=(grid.dx / 2) ** 2)
    traj = sim.rollout(state, 150, dt=1e-3, save_every=150)
    n = slope.normal
    depth = ((traj.x[0, -1] - slope.point) @ n).min()
    assert depth > -grid.dx  # no particle sinks more than a cell into the slope
    assert traj.x[0, -1, :, 0].mean() < 0.49  # it slid down-slope (towards −x)


def test_bad_boundary_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown boundary mode 'stick'"):
        Walls("stick")
    with pytest.raises(ValueError, match="collider normal must be non-zero"):
        HalfSpaceCollider([0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="friction must be >= 0"):
        HalfSpaceCollider([0.0, 0.0], [0.0, 1.0], friction=-1.0)
    with pytest.raises(ValueError, match="collider is 3D but the grid is 2D"):
        HalfSpaceCollider([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]).apply(
            Grid(2, 12), torch.zeros(1, 169, 2), torch.zeros(1)
        )

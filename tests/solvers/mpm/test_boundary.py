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
    with pytest.raises(ValueError, match="friction must be >= 0"):
        Walls(friction=[(0.0, 0.0), (-0.1, 0.0)])
    with pytest.raises(ValueError, match="one \\(lower, upper\\) pair per axis"):
        Walls(friction=[(0.0, 0.0, 0.0)])
    with pytest.raises(ValueError, match="friction applies to mode 'separate' only"):
        Walls("slip", friction=0.2)
    with pytest.raises(ValueError, match="2 \\(lower, upper\\) pairs but the grid is 3D"):
        Walls(friction=[(0.1, 0.0), (0.0, 0.0)]).apply(
            Grid(3, 8), torch.zeros(1, 729, 3), torch.zeros(1)
        )


def test_apply_keeps_its_input_and_apply_inplace_matches_it() -> None:
    grid = Grid(3, 9)
    v = _velocities(grid)
    kept = v.clone()
    out = Walls(friction=0.3).apply(grid, v, torch.zeros(1))
    assert torch.equal(v, kept)
    assert torch.equal(Walls(friction=0.3).apply_(grid, v), out)


def test_floor_friction_is_coulomb_and_only_where_material_presses_on_the_floor() -> None:
    """Floor nodes moving down lose ``μ|v_n|`` of tangential speed (never reversing it); the
    side walls (friction 0 here) and nodes moving up keep their tangential velocity."""
    grid = Grid(2, 12)
    mu = 0.4
    v = _velocities(grid)
    idx = grid.node_multi_index(device=v.device)
    floor = (idx[:, 1] < grid.bound) & (idx[:, 0] >= grid.bound) & (idx[:, 0] <= grid.n - 3)
    out = Walls(friction=[(0.0, 0.0), (mu, 0.0)]).apply(grid, v, torch.zeros(1))[0]
    v = v[0]
    down = floor & (v[:, 1] < 0)
    expect = torch.sign(v[down, 0]) * (v[down, 0].abs() - mu * v[down, 1].abs()).clamp_min(0)
    assert torch.allclose(out[down, 0], expect)
    assert (out[down, 1] == 0).all()
    assert torch.equal(out[floor & ~down], v[floor & ~down])
    side = (idx[:, 0] < grid.bound) & (idx[:, 1] >= grid.bound) & (idx[:, 1] <= grid.n - 3)
    assert torch.equal(out[side, 1], v[side, 1])


def test_wall_friction_is_differentiable() -> None:
    grid = Grid(2, 8)
    walls = Walls(friction=[(0.2, 0.1), (0.5, 0.0)])
    v = _velocities(grid).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda u: walls.apply(grid, u, torch.zeros(1)), (v,))


def test_rough_floor_slows_a_sliding_block() -> None:
    """A block sliding on the floor travels less far with friction μ than without."""
    grid = Grid(2, 24)
    x = shapes.box([0.2, 3 / 24 + 0.005], [0.35, 0.25], grid.dx / 2)
    ends = []
    for mu in (0.0, 0.5):
        sim = MPMSimulator(grid, FixedCorotated(5e3, 0.2), walls=Walls(friction=[(0, 0), (mu, 0)]))
        state = MPMState.create(
            x,
            density=1e3,
            particle_volume=(grid.dx / 2) ** 2,
            v=torch.tensor([1.0, 0.0], dtype=x.dtype).expand_as(x),
        )
        ends.append(sim.rollout(state, 150, dt=1e-3, save_every=150).x[0, -1, :, 0].mean())
    assert ends[1] < ends[0] - 0.02


def test_walls_on_plane_constrain_the_plane_nodes_and_keep_particles_inside() -> None:
    """With ``on_plane`` the node layer reaches the plane ``bound·Δx`` and particles are clamped to
    it: a block thrown at the floor never goes below the plane (the default layer lets it sink
    up to a cell past it)."""
    grid = Grid(2, 16)
    v = _velocities(grid)
    idx = grid.node_multi_index(device=v.device)
    plane = idx[:, 1] == grid.bound
    out = Walls("slip", on_plane=True).apply(grid, v, torch.zeros(1))[0]
    assert (out[plane, 1] == 0).all()
    default = Walls("slip").apply(grid, v, torch.zeros(1))[0]
    assert torch.equal(default[plane, 1], v[0, plane, 1])
    o = grid.bound * grid.dx
    assert Walls(on_plane=True).limits(grid) == (o, grid.size - o)
    x = shapes.box([0.4, 0.25], [0.6, 0.35], grid.dx / 2)
    lowest = []
    for on_plane in (False, True):
        sim = MPMSimulator(grid, FixedCorotated(5e3, 0.2), walls=Walls(on_plane=on_plane))
        state = MPMState.create(
            x,
            density=1e3,
            particle_volume=(grid.dx / 2) ** 2,
            v=torch.tensor([0.0, -3.0], dtype=x.dtype).expand_as(x),
        )
        lowest.append(float(sim.rollout(state, 100, dt=5e-4, save_every=1).x[0, :, :, 1].min()))
    assert lowest[0] < o - 0.3 * grid.dx
    assert lowest[1] >= o

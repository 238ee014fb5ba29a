"""Small float64 scenes shared by the MPM tests."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm import Grid, MPMState, shapes


def block_state(
    grid: Grid,
    *,
    lo: float = 0.35,
    hi: float = 0.65,
    density: float = 1e3,
    velocity: tuple[float, ...] | None = None,
    spin: float = 0.0,
    batch: int = 1,
    dtype: torch.dtype = torch.float64,
) -> MPMState:
    """A block of particles (spacing Δx/2) with linear velocity plus rigid spin (rad/s)."""
    h = grid.dx / 2
    x = shapes.box([lo] * grid.dim, [hi] * grid.dim, h, dtype=dtype)
    v = torch.zeros_like(x)
    if velocity is not None:
        v = v + torch.tensor(velocity, dtype=dtype)
    if spin:
        r = x - x.mean(0)
        v[:, 0] -= spin * r[:, 1]
        v[:, 1] += spin * r[:, 0]
    x = x.expand(batch, *x.shape).clone()
    v = v.expand(batch, *v.shape).clone()
    return MPMState.create(x, density=density, particle_volume=h**grid.dim, v=v)


@pytest.fixture
def grid2d() -> Grid:
    return Grid(2, 16)


@pytest.fixture
def make_block():
    """The :func:`block_state` factory."""
    return block_state

"""MLS-MPM simulator: equilibrium, free fall, input validation, NaN detection."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm import (
    CFLError,
    DomainError,
    Grid,
    MPMSimulator,
    MPMState,
    NonFiniteStateError,
    ParticleArrayError,
)
from sciml.solvers.mpm.materials import FixedCorotated, make_material
from sciml.solvers.mpm.simulator import _all_finite
from sciml.testing import assert_conserved


@pytest.mark.parametrize("dim", [2, 3])
def test_elastic_block_at_rest_without_gravity_stays_at_rest(dim: int, make_block) -> None:
    grid = Grid(dim, 16 if dim == 2 else 12)
    state = make_block(grid)
    sim = MPMSimulator(grid, make_material("jelly"), gravity=[0.0] * dim)
    traj = sim.rollout(state, 40, dt=5e-4, save_every=10)
    assert torch.allclose(traj.x, state.x.unsqueeze(1).expand_as(traj.x), atol=1e-14)
    assert traj.v.abs().max() < 1e-14
    eye = torch.eye(dim, dtype=torch.float64)
    assert torch.allclose(traj.state.F, eye.expand_as(traj.state.F), atol=1e-14)


@pytest.mark.parametrize("name", ["jelly", "plasticine"])
def test_full_steps_conserve_linear_and_angular_momentum_away_from_walls(
    name: str, grid2d: Grid, make_block
) -> None:
    """With symmetric τ, no gravity and no wall contact, MLS-MPM/APIC conserves P and L exactly."""
    state = make_block(grid2d, lo=0.4, hi=0.6, velocity=(0.3, -0.2), spin=6.0)
    sim = MPMSimulator(grid2d, make_material(name, E=1e4), gravity=[0.0, 0.0])
    momenta, angular = [], []
    for _ in range(30):
        m = state.mass.unsqueeze(-1)
        momenta.append((m * state.v).sum(-2))
        affine = state.mass * (grid2d.dx**2 / 4) * (state.C[..., 1, 0] - state.C[..., 0, 1])
        spin = (state.x[..., 0] * state.v[..., 1] - state.x[..., 1] * state.v[..., 0]) * state.mass
        angular.append((spin + affine).sum(-1))
        state = sim.step(state, 1e-3)
    assert_conserved(torch.stack(momenta), rtol=1e-12, atol=1e-15)
    assert_conserved(torch.stack(angular), rtol=1e-12, atol=1e-15)
    assert state.F.sub(torch.eye(2, dtype=torch.float64)).abs().max() > 1e-3  # it deformed


def test_free_fall_matches_symplectic_euler_and_half_g_t_squared(grid2d: Grid, make_block) -> None:
    """x_n = x_0 + g Δt² n(n+1)/2 exactly (symplectic Euler), → g t²/2 as Δt → 0."""
    state = make_block(grid2d, lo=0.4, hi=0.6)
    state = state.replace(x=state.x + torch.tensor([0.0, 0.25], dtype=torch.float64))
    sim = MPMSimulator(grid2d, make_material("jelly"))
    dt, n = 1e-3, 100
    traj = sim.rollout(state, n, dt=dt, save_every=n)
    drop = state.x[..., 1] - traj.x[:, -1, :, 1]
    g, t = 9.8, n * dt
    assert torch.allclose(drop, torch.full_like(drop, g * dt**2 * n * (n + 1) / 2), atol=1e-12)
    assert torch.allclose(drop, torch.full_like(drop, g * t**2 / 2), atol=g * t * dt / 2 + 1e-12)
    assert torch.allclose(traj.v[:, -1, :, 1], torch.full_like(drop, -g * t), atol=1e-12)


def test_batched_scenes_with_per_scene_stiffness_match_single_runs(
    grid2d: Grid, make_block
) -> None:
    state = make_block(grid2d, velocity=(0.5, -0.5), spin=3.0, batch=2)
    E = torch.tensor([2e3, 5e3], dtype=torch.float64)
    batched = MPMSimulator(grid2d, FixedCorotated(E, 0.2)).rollout(state, 20, dt=1e-3)
    for b in range(2):
        single_state = MPMState.from_tensors(tuple(t[b : b + 1] for t in state.tensors()))
        sim = MPMSimulator(grid2d, FixedCorotated(float(E[b]), 0.2))
        single = sim.rollout(single_state, 20, dt=1e-3)
        assert torch.allclose(batched.x[b : b + 1], single.x, atol=1e-13)


def test_elastic_block_bounces_off_the_floor_and_stays_finite(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d, lo=0.3, hi=0.5, velocity=(0.0, -2.0))
    sim = MPMSimulator(grid2d, FixedCorotated(1e4, 0.2))
    traj = sim.rollout(state, 300, dt=1e-3, save_every=10)
    assert torch.isfinite(traj.x).all()
    assert traj.x[..., 1].min() >= grid2d.margin
    assert traj.v[:, -1, :, 1].mean() > traj.v[:, 5, :, 1].mean()  # the floor pushed it back up


def test_particles_outside_the_domain_are_refused(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d)
    x = state.x.clone()
    x[0, 3, 0] = 1.2
    sim = MPMSimulator(grid2d, make_material("jelly"))
    with pytest.raises(DomainError, match=r"outside the domain: 1 of .*particle 3"):
        sim.rollout(state.replace(x=x), 2, dt=1e-4)
    with pytest.raises(DomainError, match="3D but the grid is 2D"):
        sim.step(make_block(Grid(3, 12)), 1e-4)


def test_dt_above_cfl_limit_is_refused_with_the_limit(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d)
    sim = MPMSimulator(grid2d, make_material("jelly"))
    limit = sim.max_stable_dt(state)
    c = (1e5 * 0.8 / (1.2 * 0.6) / 1e3) ** 0.5
    assert limit == pytest.approx(grid2d.dx / c)
    with pytest.raises(CFLError, match=rf"exceeds the CFL limit {limit:.4g} s"):
        sim.step(state, 2 * limit)
    with pytest.raises(CFLError, match="dt must be positive"):
        sim.rollout(state, 3, dt=0.0)


def test_nan_in_state_stops_the_rollout_with_the_step_index(grid2d: Grid, make_block) -> None:
    class Exploding(FixedCorotated):
        """Stress that turns NaN once the block has fallen (from step 6 on)."""

        def stress(self, F: torch.Tensor) -> torch.Tensor:
            tau = super().stress(F)
            return tau + (float("nan") if self.calls >= 5 else 0.0)

        def project(self, F: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return F

    law = Exploding(1e4, 0.2)
    law.calls = 0
    sim = MPMSimulator(grid2d, law)
    for checkpoint_every in (None, 4):
        law.calls = 0
        with pytest.raises(NonFiniteStateError, match="after step 6") as info:
            sim.rollout(make_block(grid2d), 10, dt=1e-3, checkpoint_every=checkpoint_every)
        traj = info.value.trajectory
        assert traj.x.shape[1] == 6  # frames 0..5 kept
        assert torch.isfinite(traj.x).all()
        assert traj.steps.tolist() == [0, 1, 2, 3, 4, 5]
        assert torch.equal(traj.state.x, traj.x[:, -1])  # the last finite state, step 5


class _BreaksWhenStretched(FixedCorotated):
    """Jelly whose stress is NaN wherever ``F₀₀ > 1.5`` (a law that cannot handle those states)."""

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        tau = super().stress(F)
        return torch.where(F[..., :1, :1] > 1.5, torch.nan, tau)


def test_finite_scenes_names_the_scenes_that_blow_up_and_runs_the_others_on(
    grid2d: Grid, make_block
) -> None:
    state = make_block(grid2d, velocity=(0.5, -0.5), batch=3)
    sim = MPMSimulator(grid2d, _BreaksWhenStretched(1e4, 0.2))
    assert sim.finite_scenes(state, 20, dt=1e-3).tolist() == [True, True, True]
    F = state.F.clone()
    F[1, :, 0, 0] = 2.0  # scene 1 starts stretched: NaN at its first step
    assert sim.finite_scenes(state.replace(F=F), 20, dt=1e-3).tolist() == [True, False, True]
    F[:, :, 0, 0] = 2.0
    assert sim.finite_scenes(state.replace(F=F), 20, dt=1e-3).tolist() == [False] * 3
    with pytest.raises(NonFiniteStateError):
        sim.rollout(state.replace(F=F), 20, dt=1e-3)


def test_select_keeps_the_chosen_scenes(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d, velocity=(0.5, -0.5), batch=3)
    picked = state.select(torch.tensor([2, 0]))
    assert picked.x.shape[0] == 2
    for a, b in zip(picked.tensors(), state.tensors()):
        assert torch.equal(a, b[[2, 0]])
    assert torch.equal(state.select(torch.tensor([True, False, True])).v, state.v[[0, 2]])


def test_nan_in_the_initial_state_is_refused(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d)
    v = state.v.clone()
    v[0, 2, 1] = float("nan")
    sim = MPMSimulator(grid2d, make_material("jelly"))
    with pytest.raises(NonFiniteStateError, match="in the initial state"):
        sim.rollout(state.replace(v=v), 3, dt=1e-4)


def test_mismatched_particle_arrays_are_refused(grid2d: Grid, make_block) -> None:
    state = make_block(grid2d)
    with pytest.raises(ParticleArrayError, match=r"mismatched particle arrays: v has shape"):
        state.replace(v=state.v[:, :-1])
    with pytest.raises(ParticleArrayError, match=r"mass has shape"):
        state.replace(mass=state.mass[:, :5])
    with pytest.raises(ParticleArrayError, match="is torch.float32 on cpu but x is torch.float64"):
        state.replace(F=state.F.float())
    with pytest.raises(ParticleArrayError, match=r"mismatched particle arrays: v has shape"):
        MPMState.create(state.x, density=1e3, particle_volume=1e-3, v=state.v[:, :3])
    with pytest.raises(ParticleArrayError, match=r"x must have shape \(B, N, d\)"):
        MPMState.create(state.x[..., :1], density=1e3, particle_volume=1e-3)


def test_float32_rollout_runs_and_matches_float64(grid2d: Grid, make_block) -> None:
    s64 = make_block(grid2d, velocity=(0.3, 0.0), spin=2.0)
    s32 = s64.to(dtype=torch.float32)
    sim = MPMSimulator(grid2d, FixedCorotated(5e3, 0.3))
    x64 = sim.rollout(s64, 30, dt=1e-3).x
    x32 = sim.rollout(s32, 30, dt=1e-3).x
    assert x32.dtype == torch.float32
    assert torch.allclose(x32.double(), x64, atol=1e-5)


def test_finiteness_check_survives_an_overflowing_sum() -> None:
    """The per-step check sums each tensor in its dtype; finite entries whose float32 sum
    overflows still pass (the entries are then tested one by one), NaN and ±inf do not."""
    big = torch.full((4,), 3e38, dtype=torch.float32)
    assert _all_finite(big, -big.flip(0)) and _all_finite(torch.zeros(2, 3))
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.zeros(5)
        x[2] = bad
        assert not _all_finite(torch.ones(3), x)

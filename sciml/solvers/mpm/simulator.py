"""Differentiable MLS-MPM time stepping (Hu et al. 2018) with APIC transfers, in plain torch.

One explicit symplectic-Euler step, as in NCLaw's simulator (Ma et al. 2023, ``nclaw/sim/mpm.py``):

1. **P2G**: ``m_i = Σ w_ip m_p``,
   ``mv_i = Σ w_ip (m_p v_p + (−Δt V⁰_p 4/Δx² τ_p + m_p C_p)(x_i − x_p))``, τ = Kirchhoff stress;
2. **grid**: ``v_i = mv_i / m_i + Δt g``, then wall and collider conditions;
3. **G2P**: ``v_p = Σ w_ip v_i``, ``C_p = 4/Δx² Σ w_ip v_i (x_i − x_p)ᵀ``,
   ``F_p ← project((I + Δt C_p) F_p)``, ``x_p ← clamp(x_p + Δt v_p)``.

Everything is differentiable (positions are clamped to :meth:`Walls.limits`, at least one cell from
the box faces, so stencils never leave the grid). :meth:`MPMSimulator.rollout` bounds backpropagation memory with
``torch.utils.checkpoint``: only the state at segment boundaries is stored and each segment is
recomputed during the backward pass.

Stability: explicit MPM needs ``Δt ≤ cfl · Δx / (c + |v|_max)`` with ``c`` the elastic wave speed of
the material (P-wave ``√((λ+2μ)/ρ)``; bulk ``√(λ/ρ)`` for the fluid). ``step`` and ``rollout``
refuse larger steps with :class:`CFLError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from sciml.solvers.mpm.boundary import HalfSpaceCollider, Walls
from sciml.solvers.mpm.grid import Grid
from sciml.solvers.mpm.smallmat import matmul
from sciml.solvers.mpm.state import MPMState
from sciml.solvers.mpm.transfer import g2p, p2g


class CFLError(ValueError):
    """The time step exceeds the explicit stability limit."""


class DomainError(ValueError):
    """Particles outside the part of the domain the grid stencil can reach."""


@dataclass(frozen=True)
class Trajectory:
    """Saved frames of a rollout.

    Attributes
    ----------
    x, v:
        ``(B, T, N, d)`` positions (m) and velocities (m/s) at steps ``0, s, 2s, …`` (``s`` =
        ``save_every``), the initial state included.
    state:
        The state after the last completed step.
    steps:
        ``(T,)`` long — the step index of each frame.
    """

    x: torch.Tensor
    v: torch.Tensor
    state: MPMState
    steps: torch.Tensor


class NonFiniteStateError(ValueError):
    """A rollout produced NaN/Inf; ``step`` is the first bad step and ``trajectory`` holds the valid
    frames saved before it, with ``trajectory.state`` the last finite state (step ``step − 1``)."""

    def __init__(self, step: int, trajectory: Trajectory | None = None) -> None:
        if step == 0:
            message = "non-finite particle state (NaN or Inf) in the initial state"
        else:
            message = (
                f"non-finite particle state (NaN or Inf) after step {step}; frames up to the "
                "previous saved step are kept in .trajectory. Reduce dt or check the material "
                "parameters."
            )
        super().__init__(message)
        self.step = step
        self.trajectory = trajectory


def _all_finite(*tensors: torch.Tensor) -> bool:
    """Whether every entry is finite, from one sum per tensor in its own dtype: a NaN or ±inf
    anywhere makes the sum non-finite. Only when the sum is not finite (a bad entry, or finite
    entries whose sum overflowed) is every entry tested. Several times cheaper on CPU than
    ``isfinite(t).all()`` (one reduction pass, no boolean temporaries or dtype casts)."""
    total = sum((t.detach() if t.requires_grad else t).sum() for t in tensors)
    return bool(torch.isfinite(total)) or all(bool(torch.isfinite(t).all()) for t in tensors)


class _StepFailure(Exception):
    """Internal: a non-finite state at ``step``, carrying the segment's frames and the last finite
    state."""

    def __init__(
        self, step: int, xs: list[torch.Tensor], vs: list[torch.Tensor], state: MPMState
    ) -> None:
        super().__init__(step)
        self.step, self.xs, self.vs, self.state = step, xs, vs, state


class MPMSimulator(nn.Module):
    """A batched MLS-MPM simulator for one constitutive law.

    Parameters
    ----------
    grid:
        The background :class:`~sciml.solvers.mpm.grid.Grid`.
    material:
        A constitutive law (``stress(F)``, ``project(F)``, optionally ``wave_speed(ρ)``); a
        submodule, so its learnable parameters appear in ``parameters()``.
    gravity:
        ``(d,)`` acceleration in m/s²; default ``−9.8`` along the last axis.
    walls:
        Condition on the domain walls (default ``Walls("separate")``).
    colliders:
        Extra rigid obstacles, e.g. a slope.
    cfl:
        Safety factor of the CFL check (``Δt ≤ cfl · Δx / (c + |v|_max)``).

    Performance (CPU): the grid stays channel-first, ``(1 + d, B·n_nodes)``, from P2G through the
    grid update to G2P (one 1D ``scatter_add`` per channel, walls applied in place on their node
    slabs, G2P gathering from contiguous rows), and P2G/G2P process particles in chunks sized to a
    core's L2 cache (:mod:`.transfer`). ``B`` scenes run in one call, which is how to simulate many
    small scenes (dataset generation): 16 scenes of 169 particles on 32² take ~7× less CPU time
    batched than one by one (the per-step cost of a small scene is mostly Python and op overhead).
    """

    def __init__(
        self,
        grid: Grid,
        material: nn.Module,
        *,
        gravity: Sequence[float] | None = None,
        walls: Walls | None = None,
        colliders: Sequence[HalfSpaceCollider] = (),
        cfl: float = 1.0,
    ) -> None:
        super().__init__()
        self.grid = grid
        self.material = material
        g = [0.0] * (grid.dim - 1) + [-9.8] if gravity is None else list(gravity)
        if len(g) != grid.dim:
            raise ValueError(f"gravity must have {grid.dim} components, got {len(g)}")
        self.register_buffer("gravity", torch.tensor(g, dtype=torch.float64), persistent=False)
        self.walls = Walls() if walls is None else walls
        self.colliders = tuple(colliders)
        if not cfl > 0:
            raise ValueError(f"cfl must be positive, got {cfl}")
        self.cfl = cfl

    # ----------------------------------------------------------------------------------- checks
    def check_state(self, state: MPMState) -> None:
        """Raise if the state does not fit the grid, is not finite or leaves the domain."""
        if state.dim != self.grid.dim:
            raise DomainError(f"state is {state.dim}D but the grid is {self.grid.dim}D")
        for name in ("x", "v", "C", "F", "mass", "volume"):
            if not bool(torch.isfinite(getattr(state, name)).all()):
                raise NonFiniteStateError(0)
        lo, hi = self.grid.margin, self.grid.size - self.grid.margin
        x = state.x.detach()
        outside = ((x < lo) | (x > hi)).any(-1)
        if bool(outside.any()):
            b, p = (int(i) for i in outside.nonzero()[0])
            raise DomainError(
                f"particles outside the domain: {int(outside.sum())} of {outside.numel()} lie "
                f"outside [{lo:.4g}, {hi:.4g}]^{self.grid.dim} (the grid box "
                f"[0, {self.grid.size:g}] less one cell); first: scene {b}, particle {p} "
                f"at {x[b, p].tolist()}"
            )

    def max_stable_dt(self, state: MPMState) -> float:
        """``cfl · Δx / (c + |v|_max)`` in s; ``inf`` if the law gives no wave speed and v = 0."""
        speed = float(state.v.detach().norm(dim=-1).max()) if state.v.numel() else 0.0
        wave = getattr(self.material, "wave_speed", None)
        c = wave(state.density) if wave is not None else None
        if c is not None:
            speed += float(c.max())
        return float("inf") if speed == 0 else self.cfl * self.grid.dx / speed

    def check_dt(self, state: MPMState, dt: float) -> None:
        """Raise :class:`CFLError` if ``dt`` exceeds :meth:`max_stable_dt`."""
        if not dt > 0:
            raise CFLError(f"dt must be positive, got {dt}")
        limit = self.max_stable_dt(state)
        if dt > limit:
            raise CFLError(
                f"dt = {dt:.4g} s exceeds the CFL limit {limit:.4g} s "
                f"(cfl {self.cfl:g} · dx {self.grid.dx:.4g} m / (wave speed + max particle "
                "speed)); "
                "reduce dt, coarsen the grid or soften the material"
            )

    # ----------------------------------------------------------------------------------- stepping
    def _step(self, state: MPMState, dt: float) -> MPMState:
        grid = self.grid
        x, F = state.x, state.F
        st = grid.stencil(x)
        tau = self.material.stress(F)
        scale = (-dt * 4.0 / grid.dx**2) * state.volume
        affine = scale[..., None, None] * tau + state.mass[..., None, None] * state.C
        gm, gmv = p2g(grid, st, state.mass, state.mass.unsqueeze(-1) * state.v, affine)
        gv = self._grid_update(gm, gmv, dt)
        for collider in self.colliders:
            gv = collider.apply(grid, gv, state.time)
        v, C = g2p(grid, st, gv)
        step = dt * C  # I + Δt C, channel-first like C (smallmat)
        step.diagonal(0, -2, -1).add_(1.0)
        F_new = self.material.project(matmul(step, F))
        # x + Δt v stored channel-first, (d, B·N) behind the (B, N, d) view, like v: the next
        # step's stencil then reads its rows without a transposing copy
        d = x.shape[-1]
        x_t = (dt * v.reshape(-1, d).t()).add_(x.reshape(-1, d).t())
        x_new = x_t.clamp(*self.walls.limits(grid)).t().view(x.shape)
        return state.replace(x=x_new, v=v, C=C, F=F_new, time=state.time + dt)

    def _grid_update(self, gm: torch.Tensor, gmv: torch.Tensor, dt: float) -> torch.Tensor:
        """``(B, n_nodes, d)`` ``v = mv/m + Δt g`` (``Δt g`` on massless nodes) with the walls.

        Works on the channel-first rows ``(d, B, n_nodes)`` behind the views of :func:`p2g`
        (contiguous there) and returns a view of the same layout, which :func:`g2p` gathers
        from without a copy; the walls then act in place on their slabs only.
        """
        rows = gmv.permute(2, 0, 1)  # (d, B, n_nodes)
        g = (dt * self.gravity).to(dtype=gmv.dtype, device=gmv.device).view(-1, 1, 1)
        # A massless node carries no momentum (all its contributions had weight 0), so with the
        # mass floored at the smallest normal number it gets v = Δt g, and every other node the
        # exact mv/m + Δt g: the masked division without masks (torch.where is a branchy scalar
        # loop on CPU, 1.6–11 ns per element against 0.3 for a product), and a division (not
        # addcdiv), whose backward stays finite at the floor. Only nodes with a subnormal mass
        # differ from mv/m.
        v = rows / gm.clamp_min(torch.finfo(gm.dtype).tiny) + g
        return self.walls.apply_(self.grid, v.permute(1, 2, 0))

    def step(self, state: MPMState, dt: float) -> MPMState:
        """One MLS-MPM step of size ``dt`` (s), after checking the domain and the CFL limit."""
        self.check_state(state)
        self.check_dt(state, dt)
        return self._step(state, dt)

    def _run(
        self, tensors: tuple[torch.Tensor, ...], dt: float, start: int, count: int, save_every: int
    ) -> tuple[MPMState, list[torch.Tensor], list[torch.Tensor]]:
        state = MPMState.from_tensors(tensors)
        xs: list[torch.Tensor] = []
        vs: list[torch.Tensor] = []
        for k in range(start + 1, start + count + 1):
            new = self._step(state, dt)
            if not _all_finite(new.x, new.v, new.F):
                raise _StepFailure(k, xs, vs, state)
            state = new
            if k % save_every == 0:
                xs.append(state.x)
                vs.append(state.v)
        return state, xs, vs

    def _segment(
        self, dt: float, start: int, count: int, save_every: int, *tensors: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        state, xs, vs = self._run(tensors, dt, start, count, save_every)
        x0 = tensors[0]
        empty = x0.new_zeros((x0.shape[0], 0, *x0.shape[1:]))
        sx = torch.stack(xs, 1) if xs else empty
        sv = torch.stack(vs, 1) if vs else empty
        return (*state.tensors(), sx, sv)

    def rollout(
        self,
        state: MPMState,
        n_steps: int,
        *,
        dt: float,
        save_every: int = 1,
        checkpoint_every: int | None = None,
    ) -> Trajectory:
        """Advance ``n_steps`` steps of size ``dt``, saving every ``save_every``-th frame.

        Parameters
        ----------
        checkpoint_every:
            If set, steps run in segments of this length under ``torch.utils.checkpoint``: the
            backward pass stores only segment-boundary states and saved frames and recomputes each
            segment, so autograd memory grows like ``n_steps / checkpoint_every`` states plus one
            segment's graph instead of ``n_steps`` graphs. Gradients are identical.

        Raises
        ------
        NonFiniteStateError
            With the first non-finite step and the valid frames before it.
        """
        if n_steps < 0 or save_every < 1:
            raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps}, {save_every}")
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        self.check_state(state)
        self.check_dt(state, dt)
        xs, vs = [state.x], [state.v]
        seg = n_steps if checkpoint_every is None else checkpoint_every
        done = 0
        while done < n_steps:
            count = min(seg, n_steps - done)
            try:
                if checkpoint_every is None:
                    state, sx, sv = self._run(state.tensors(), dt, done, count, save_every)
                    xs += sx
                    vs += sv
                else:
                    out = checkpoint(
                        self._segment,
                        dt,
                        done,
                        count,
                        save_every,
                        *state.tensors(),
                        use_reentrant=False,
                    )
                    state = MPMState.from_tensors(out[:-2])
                    xs += list(out[-2].unbind(1))
                    vs += list(out[-1].unbind(1))
            except _StepFailure as failure:
                xs += failure.xs
                vs += failure.vs
                raise NonFiniteStateError(
                    failure.step, self._trajectory(xs, vs, failure.state, save_every)
                ) from None
            done += count
        return self._trajectory(xs, vs, state, save_every)

    @torch.no_grad()
    def finite_scenes(self, state: MPMState, n_steps: int, *, dt: float) -> torch.Tensor:
        """``(B,)`` bool: which scenes of the batch stay finite for ``n_steps`` steps of ``dt``.

        Scenes do not interact, so a scene that blows up is frozen at its last finite state and
        the others go on. No autograd graph is built (a cheap pre-pass, e.g. to find the
        segments a learned law cannot simulate yet).
        """
        self.check_state(state)
        alive = torch.ones(state.x.shape[0], dtype=torch.bool, device=state.x.device)
        for _ in range(n_steps):
            new = self._step(state, dt)
            for t in (new.x, new.v, new.F):
                alive &= torch.isfinite(t.flatten(1).sum(1, dtype=torch.float64))
            if not bool(alive.any()):
                break
            state = MPMState.from_tensors(
                tuple(
                    torch.where(alive.view(-1, *[1] * (n.dim() - 1)), n, o)
                    for n, o in zip(new.tensors(), state.tensors())
                )
            )
        return alive

    @staticmethod
    def _trajectory(
        xs: list[torch.Tensor], vs: list[torch.Tensor], state: MPMState, save_every: int
    ) -> Trajectory:
        steps = torch.arange(len(xs), device=state.x.device) * save_every
        return Trajectory(x=torch.stack(xs, 1), v=torch.stack(vs, 1), state=state, steps=steps)

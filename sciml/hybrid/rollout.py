r"""Autoregressive and hybrid rollouts of one-step maps ``(B, C, *N) -> (B, C, *N)``.

:func:`rollout` iterates one stepper; :func:`hybrid_rollout` interleaves a surrogate with the
solver, the solver taking every ``k``-th step (``k = 1``: the pure solver rollout, ``k = inf``:
the pure surrogate rollout). Trajectories are batch first ``(B, T, C, *N)`` with the initial
state at index 0 and ``T = n_steps + 1`` — the layout of :meth:`SpectralSolver.rollout`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["hybrid_rollout", "rollout", "solver_steps"]

Step = Callable[[torch.Tensor], torch.Tensor]


def _check_n_steps(n_steps: int) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    return n_steps


def _check_state(u0: torch.Tensor) -> None:
    if not isinstance(u0, torch.Tensor) or not u0.is_floating_point() or u0.ndim < 3:
        raise ValueError(
            "initial state must be a real tensor (B, C, *N) with at least one spatial axis, got "
            f"{type(u0).__name__} {tuple(u0.shape) if isinstance(u0, torch.Tensor) else ''}"
        )
    if not torch.isfinite(u0.detach()).all():
        raise ValueError("initial state contains NaN or Inf values")


def _check_trajectory(traj: torch.Tensor) -> torch.Tensor:
    if not torch.isfinite(traj.detach()).all():
        bad = (~torch.isfinite(traj.detach())).flatten(2).any(-1).any(0).nonzero()
        raise FloatingPointError(
            f"rollout produced NaN/Inf, first at step {int(bad[0])}: the stepper is unstable "
            "for this state (reduce dt, or train the network on longer rollouts)"
        )
    return traj


def rollout(step: Step, u0: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Trajectory ``(B, n_steps + 1, C, *N)`` of ``u_{n+1} = step(u_n)``, ``u0`` first.

    Differentiable through every step (backpropagation through time).
    """
    return hybrid_rollout(step, step, u0, n_steps, solver_every=1)


def solver_steps(n_steps: int, solver_every: int | float) -> list[bool]:
    """Which of the steps ``1..n_steps`` the solver takes: those with ``i % k == 0``.

    ``solver_every = k`` is a positive integer or ``math.inf`` (never the solver).
    """
    _check_n_steps(n_steps)
    if solver_every == math.inf:
        return [False] * n_steps
    if isinstance(solver_every, bool) or not isinstance(solver_every, int) or solver_every < 1:
        raise ValueError(
            f"solver_every must be a positive integer or math.inf, got {solver_every!r}"
        )
    return [i % solver_every == 0 for i in range(1, n_steps + 1)]


def hybrid_rollout(
    solver_step: Step,
    surrogate_step: Step,
    u0: torch.Tensor,
    n_steps: int,
    *,
    solver_every: int | float,
) -> torch.Tensor:
    """Trajectory ``(B, n_steps + 1, C, *N)`` with the solver taking every ``k``-th step.

    Step ``i`` (1-based) is ``solver_step`` when ``i % solver_every == 0`` and
    ``surrogate_step`` otherwise, so ``solver_every=1`` is :func:`rollout` of the solver and
    ``solver_every=math.inf`` that of the surrogate. Both steppers map ``(B, C, *N)`` states
    on the same grid, in the same units.
    """
    schedule = solver_steps(n_steps, solver_every)
    _check_state(u0)
    states = [u0]
    for use_solver in schedule:
        states.append((solver_step if use_solver else surrogate_step)(states[-1]))
    return _check_trajectory(torch.stack(states, dim=1))

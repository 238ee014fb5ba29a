r"""One-step maps ``u_n -> u_{n+1}`` on a coarse grid: the solver, the corrected solver, a surrogate.

All three are :class:`torch.nn.Module` s taking and returning real fields ``(B, C, *N)`` (physical
units of the solver's state), so rollouts, losses and hybrid schedules treat them alike:

* :class:`SolverStep` — one step :math:`S_{\Delta t}` of a differentiable
  :class:`~sciml.solvers.spectral.SpectralSolver` (autograd runs through it);
* :class:`CorrectedStep` — solver-in-the-loop correction (Um et al., NeurIPS 2020, eq. 3):
  :math:`u_{n+1} = \tilde u + \mathcal C_\theta(\tilde u)`, :math:`\tilde u = S_{\Delta t}(u_n)`;
* :class:`SurrogateStep` — a pure learned stepper, residual form
  :math:`u_{n+1} = u_n + \mathcal N_\theta(u_n)`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sciml.data.transforms import resample
from sciml.solvers.spectral import SpectralSolver

__all__ = ["CorrectedStep", "SolverStep", "SurrogateStep"]


class SolverStep(nn.Module):
    """One time step ``substeps · dt`` of a spectral solver, ``(B, C, *M) -> (B, C, *M)``.

    Calls the solver's stepper on the spectrum (``rfft`` → ``substeps`` steps → ``irfft``)
    without the per-call NaN and CFL checks of :meth:`SpectralSolver.step`: the rollout
    functions of :mod:`sciml.hybrid.rollout` check the initial state and the trajectory.

    With ``state_shape`` the states live on another grid ``M`` than the solver's ``N`` (e.g. a
    fine, accurate solver stepping coarse states in a hybrid rollout): each call resamples the
    state to ``N`` by Fourier interpolation, steps, and truncates back to ``M``
    (:func:`sciml.data.transforms.resample`).

    Parameters
    ----------
    solver:
        The solver; its dtype and device are those of the states.
    dt:
        Solver time step (default ``solver.dt``), in the time unit of the equation.
    substeps:
        Solver steps per call: one call advances the state by ``substeps · dt``.
    state_shape:
        Grid size ``M`` of the states (default: the solver's grid).
    """

    def __init__(
        self,
        solver: SpectralSolver,
        dt: float | None = None,
        *,
        substeps: int = 1,
        state_shape: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(solver, SpectralSolver):
            raise TypeError(f"SolverStep: solver must be a SpectralSolver, got {type(solver)}")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"SolverStep: substeps must be a positive integer, got {substeps!r}")
        self.solver = solver
        # the solver validates dt and caches the scheme's coefficients for it
        self.dt = solver.stepper(dt).dt
        self.substeps = substeps
        grid = solver.grid
        if state_shape is None:
            state_shape = grid.shape
        elif isinstance(state_shape, int):
            state_shape = (state_shape,) * grid.ndim
        self.state_shape = tuple(int(n) for n in state_shape)
        if len(self.state_shape) != grid.ndim or min(self.state_shape) < 2:
            raise ValueError(
                f"SolverStep: state_shape must be {grid.ndim} integer(s) >= 2 for the solver's "
                f"{grid.ndim}D grid, got {state_shape!r}"
            )

    @property
    def step_size(self) -> float:
        """Time advanced by one call, ``substeps · dt``."""
        return self.substeps * self.dt

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        grid = self.solver.grid
        resampled = self.state_shape != grid.shape
        u_hat = grid.rfft(resample(u, grid.shape) if resampled else u)
        for _ in range(self.substeps):
            u_hat = self.solver.step_fourier(u_hat, self.dt)
        u = grid.irfft(u_hat)
        return resample(u, self.state_shape) if resampled else u


class CorrectedStep(nn.Module):
    r"""Solver step followed by a learned additive correction of its output.

    :math:`u_{n+1} = \tilde u + \mathcal C_\theta(\tilde u)`, :math:`\tilde u = S_{\Delta t}(u_n)`;
    with a correction that outputs zero this is exactly ``solver_step``.

    Parameters
    ----------
    solver_step:
        A :class:`SolverStep` (coarse grid).
    correction:
        Network ``(B, C, *N) -> (B, C, *N)`` (e.g. :class:`~sciml.hybrid.PeriodicConvNet`).
    """

    def __init__(self, solver_step: SolverStep, correction: nn.Module) -> None:
        super().__init__()
        if not isinstance(solver_step, SolverStep):
            raise TypeError(
                f"CorrectedStep: solver_step must be a SolverStep, got {type(solver_step)}"
            )
        self.solver_step = solver_step
        self.correction = correction

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        v = self.solver_step(u)
        return v + self.correction(v)


class SurrogateStep(nn.Module):
    r"""Pure learned stepper :math:`u_{n+1} = u_n + \mathcal N_\theta(u_n)` (no solver).

    Parameters
    ----------
    net:
        Network ``(B, C, *N) -> (B, C, *N)`` (a :class:`~sciml.hybrid.PeriodicConvNet`, an
        :class:`~sciml.models.fno.FNO`, ...).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u + self.net(u)

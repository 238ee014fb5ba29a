r"""The solver object: an equation plus a time-stepping scheme, with ``step`` and ``rollout``.

.. code-block:: python

    grid = Grid(256, length=2 * math.pi, dtype=torch.float64)
    solver = SpectralSolver(Burgers(grid, nu=0.1), dt=0.01, scheme="etdrk4")
    u1 = solver.step(u0)                                  # (B, 1, 256) -> (B, 1, 256)
    traj = solver.rollout(u0, 100, save_every=10)         # (B, 11, 1, 256): t = 0, 0.1, ..., 1

Conventions
-----------
* States are real ``(B, C, *N)``; ``rollout`` returns **batch first** ``(B, T, C, *N)`` with the
  initial state at index 0 and ``T = 1 + n_steps // save_every`` — the layout of our dataset
  files ``(N, T, *S)``.
* ``step`` maps physical to physical space; ``rollout`` stays in Fourier space between saved
  frames and transforms all frames at once at the end.
* Scheme coefficients are computed once per ``dt`` and cached. When they depend on parameters that
  require grad they are rebuilt on every call instead (a cached graph would be freed by the first
  ``backward``); within one ``rollout`` they are built once.
* ``rollout(..., checkpoint=True)`` wraps every ``save_every`` block in
  :func:`torch.utils.checkpoint.checkpoint`, so backpropagation stores only the saved frames
  (memory ``O(T)`` instead of ``O(n_steps × stages)``) at the cost of one extra forward pass.
* Non-finite values are checked after every saved frame (one device sync per frame); on failure the
  block is replayed step by step so :class:`SolverDivergedError` names the first non-finite step
  and its time.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch.utils.checkpoint import checkpoint as _checkpoint

from sciml.solvers.spectral.base_stepper import TimeStepper
from sciml.solvers.spectral.bounded_equation import BoundedEquation
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.etdrk1 import ETDRK1
from sciml.solvers.spectral.etdrk2 import ETDRK2
from sciml.solvers.spectral.etdrk3 import ETDRK3
from sciml.solvers.spectral.etdrk4 import ETDRK4
from sciml.solvers.spectral.imex import CrankNicolsonRK2, CrankNicolsonRK3, CrankNicolsonRK4

__all__ = ["SCHEMES", "SolverDivergedError", "SpectralSolver", "StabilityWarning"]

#: scheme name -> stepper class
SCHEMES: dict[str, type[TimeStepper]] = {
    cls.name: cls
    for cls in (
        ETDRK1,
        ETDRK2,
        ETDRK3,
        ETDRK4,
        CrankNicolsonRK2,
        CrankNicolsonRK3,
        CrankNicolsonRK4,
    )
}


class SolverDivergedError(ValueError):
    """A rollout produced NaN or Inf; ``step`` and ``time`` say where it was detected."""

    def __init__(self, step: int, time: float, detail: str = "") -> None:
        self.step = step
        self.time = time
        super().__init__(
            f"solver diverged: non-finite values (NaN/Inf) detected at step {step} "
            f"(t = {time:.6g}){detail}. Reduce dt or increase the resolution."
        )


class StabilityWarning(UserWarning):
    """The time step exceeds the advective (CFL) limit of the explicit part of the scheme."""


class SpectralSolver:
    """Pseudo-spectral solver: ``equation`` advanced by ``scheme`` with step ``dt``.

    Parameters
    ----------
    equation:
        A periodic :class:`~sciml.solvers.spectral.equation.SpectralEquation` or a
        :class:`~sciml.solvers.spectral.bounded_equation.BoundedEquation` (Dirichlet/Neumann
        walls; its spectra are real sine/cosine coefficients).
    dt:
        Default time step (``step`` and ``rollout`` accept another one).
    scheme:
        One of :data:`SCHEMES`: ``etdrk1``–``etdrk4`` (exponential RK, linear part exact) or
        ``cn_rk2``/``cn_rk3``/``cn_rk4`` (IMEX Crank–Nicolson RK).
    cfl:
        Courant number above which a :class:`StabilityWarning` is issued (advective equations).
    n_circle_points, circle_radius:
        Kassam–Trefethen contour settings of the ETDRK coefficients.
    """

    def __init__(
        self,
        equation: SpectralEquation,
        dt: float,
        scheme: str = "etdrk4",
        *,
        cfl: float = 1.0,
        n_circle_points: int = 32,
        circle_radius: float = 1.0,
    ) -> None:
        if not isinstance(equation, (SpectralEquation, BoundedEquation)):
            raise TypeError(
                f"equation must be a SpectralEquation or BoundedEquation, got {type(equation)}"
            )
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; available: {', '.join(SCHEMES)}")
        self.equation = equation
        self.grid = equation.grid
        self.dt = self._check_dt(dt)
        self.scheme = scheme
        self.cfl = cfl
        self._stepper_kwargs = {"n_circle_points": n_circle_points, "circle_radius": circle_radius}
        self._cache: dict[float, TimeStepper] = {}

    @staticmethod
    def _check_dt(dt: float) -> float:
        if isinstance(dt, torch.Tensor):
            raise TypeError("dt must be a Python float (coefficients are precomputed per dt)")
        dt = float(dt)
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"time step dt must be positive and finite, got {dt}")
        return dt

    def stepper(self, dt: float | None = None) -> TimeStepper:
        """The scheme's stepper for ``dt`` (cached unless its coefficients require grad)."""
        dt = self.dt if dt is None else self._check_dt(dt)
        cached = self._cache.get(dt)
        if cached is not None:
            return cached
        stepper = SCHEMES[self.scheme](self.equation, dt, **self._stepper_kwargs)
        if not stepper.requires_grad:
            self._cache[dt] = stepper
        return stepper

    # -- validation ---------------------------------------------------------------------------
    def _check_state(self, u: torch.Tensor) -> None:
        self.grid.check_field(u)
        c = self.equation.n_channels
        if u.shape[1] != c:
            raise ValueError(
                f"state has {u.shape[1]} channel(s), {type(self.equation).__name__} has {c}: "
                f"expected shape (B, {c}, {', '.join(map(str, self.grid.shape))})"
            )
        b = self.equation.batch_size
        if b is not None and u.shape[0] != b:
            raise ValueError(
                f"state has batch size {u.shape[0]} but the equation's per-batch parameters "
                f"have {b}"
            )
        if u.dtype != self.grid.dtype or u.device != self.grid.device:
            raise ValueError(
                f"state is {u.dtype} on {u.device}, the grid is {self.grid.dtype} on "
                f"{self.grid.device}"
            )
        if not torch.isfinite(u.detach()).all():
            raise ValueError("state contains NaN or Inf values")

    def _warn_cfl(self, u_hat: torch.Tensor, dt: float) -> None:
        speed = self.equation.max_velocity(u_hat)
        if speed is None:
            return
        dx = float(self.grid.spacing.detach().min())
        limit = self.cfl * dx / max(float(speed), 1e-300)
        if dt > limit:
            warnings.warn(
                f"dt={dt:g} exceeds the advective stability limit dt <= CFL·dx/max|u| = "
                f"{limit:.3g} "
                f"(CFL={self.cfl}, dx={dx:.3g}, max|u|={float(speed):.3g}); the explicit "
                "nonlinear term may become unstable",
                StabilityWarning,
                stacklevel=3,
            )

    # -- stepping -----------------------------------------------------------------------------
    def step_fourier(self, u_hat: torch.Tensor, dt: float | None = None) -> torch.Tensor:
        """One step of a spectrum ``(B, C, *N_f)``."""
        self.grid.check_spectrum(u_hat)
        return self.stepper(dt)(u_hat)

    def step(self, state: torch.Tensor, dt: float | None = None) -> torch.Tensor:
        """Advance the real field ``state`` ``(B, C, *N)`` by one step ``dt`` (default: self.dt)."""
        self._check_state(state)
        stepper = self.stepper(dt)
        u_hat = self.grid.rfft(state)
        self._warn_cfl(u_hat, stepper.dt)
        return self.grid.irfft(stepper(u_hat))

    def rollout(
        self,
        state: torch.Tensor,
        n_steps: int,
        *,
        dt: float | None = None,
        save_every: int = 1,
        checkpoint: bool = False,
        t0: float = 0.0,
    ) -> torch.Tensor:
        """Trajectory ``(B, T, C, *N)``, ``T = 1 + n_steps // save_every``, initial state first.

        Parameters
        ----------
        n_steps:
            Number of time steps, a positive multiple of ``save_every``.
        save_every:
            Keep every ``save_every``-th state.
        checkpoint:
            Recompute each block of ``save_every`` steps during backward (bounded memory).
        t0:
            Time of ``state`` (only used in divergence messages).
        """
        self._check_state(state)
        if int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps}")
        if int(save_every) != save_every or save_every < 1 or n_steps % save_every:
            raise ValueError(
                f"save_every must be a positive divisor of n_steps={n_steps}, got {save_every}"
            )
        stepper = self.stepper(dt)
        u_hat = self.grid.rfft(state)
        self._warn_cfl(u_hat, stepper.dt)

        def block(v: torch.Tensor) -> torch.Tensor:
            for _ in range(save_every):
                v = stepper(v)
            return v

        frames = [u_hat]
        for j in range(1, n_steps // save_every + 1):
            if checkpoint and torch.is_grad_enabled():
                u_hat = _checkpoint(block, u_hat, use_reentrant=False)
            else:
                u_hat = block(u_hat)
            if not torch.isfinite(u_hat.detach()).all():
                step = self._first_non_finite_step(stepper, frames[-1], save_every)
                step += (j - 1) * save_every
                raise SolverDivergedError(step, t0 + step * stepper.dt)
            frames.append(u_hat)
        # irfftn acts on the trailing spatial axes, so all frames transform in one call
        return self.grid.irfft(torch.stack(frames, dim=1))

    @staticmethod
    def _first_non_finite_step(stepper: TimeStepper, u_hat: torch.Tensor, n_steps: int) -> int:
        """Replay up to ``n_steps`` steps from a finite ``u_hat``; the first non-finite one (1-based)."""
        with torch.no_grad():
            v = u_hat.detach()
            for i in range(1, n_steps + 1):
                v = stepper(v)
                if not torch.isfinite(v).all():
                    return i
        return n_steps

    def __repr__(self) -> str:
        return f"SpectralSolver({self.equation!r}, dt={self.dt:g}, scheme={self.scheme!r})"

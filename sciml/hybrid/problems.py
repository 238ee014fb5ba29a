r"""A coarse/fine pair of one periodic PDE: the setting of correction learning and hybrid rollouts.

The *reference* is a fine solver (``fine_shape`` points, step :math:`\Delta t_c/\text{substeps}`)
restricted to the coarse grid (``coarse_shape`` points) every coarse step :math:`\Delta t_c`
(:func:`~sciml.hybrid.coarse_reference`); learned and numerical steppers all map coarse states
``(B, C, *M)`` one step :math:`\Delta t_c` ahead and are compared against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sciml.data.functions import gaussian_random_field
from sciml.hybrid.reference import coarse_reference
from sciml.hybrid.steppers import SolverStep
from sciml.solvers.spectral import Grid, SpectralEquation, SpectralSolver

__all__ = ["CoarseFineProblem"]


@dataclass(frozen=True)
class CoarseFineProblem:
    """One periodic equation on a fine and a coarse grid (same box, same ``dt`` per coarse step).

    Parameters
    ----------
    equation:
        Factory ``grid -> SpectralEquation`` (e.g. ``lambda g: Burgers(g, nu=0.01)``).
    fine_shape, coarse_shape:
        Points per axis of the reference and of the coarse grid (even; ``fine > coarse``).
    dt:
        Coarse time step :math:`\\Delta t_c` (time unit of the equation).
    substeps:
        Fine-solver steps per coarse step.
    ndim:
        Spatial dimensions (1 or 2).
    length:
        Box side :math:`L`.
    scheme:
        Time scheme of every solver built here (see :data:`sciml.solvers.spectral.SCHEMES`).
    """

    equation: Callable[[Grid], SpectralEquation]
    fine_shape: int
    coarse_shape: int
    dt: float
    substeps: int
    ndim: int = 1
    length: float = 2 * math.pi
    scheme: str = "etdrk4"

    def __post_init__(self) -> None:
        if self.ndim not in (1, 2):
            raise ValueError(f"CoarseFineProblem: ndim must be 1 or 2, got {self.ndim!r}")
        if not self.fine_shape > self.coarse_shape:
            raise ValueError(
                f"CoarseFineProblem: fine_shape ({self.fine_shape}) must exceed coarse_shape "
                f"({self.coarse_shape})"
            )
        if (
            isinstance(self.substeps, bool)
            or not isinstance(self.substeps, int)
            or self.substeps < 1
        ):
            raise ValueError(
                f"CoarseFineProblem: substeps must be a positive integer, got {self.substeps!r}"
            )

    def solver(
        self,
        n: int,
        *,
        substeps: int = 1,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> SpectralSolver:
        """A solver on ``n`` points per axis with step :math:`\\Delta t_c/\\text{substeps}`."""
        grid = Grid((n,) * self.ndim, self.length, dtype=dtype, device=device)
        return SpectralSolver(self.equation(grid), self.dt / substeps, self.scheme)

    def solver_step(
        self,
        n: int | None = None,
        *,
        substeps: int = 1,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> SolverStep:
        """A :class:`SolverStep` advancing coarse states by :math:`\\Delta t_c`.

        It runs on ``n`` points (default: the coarse grid) with ``substeps`` steps per call;
        coarse states are Fourier-resampled to ``n`` and back when ``n`` differs.
        """
        n = self.coarse_shape if n is None else n
        solver = self.solver(n, substeps=substeps, dtype=dtype, device=device)
        return SolverStep(solver, substeps=substeps, state_shape=self.coarse_shape)

    def initial_states(
        self,
        n_samples: int,
        *,
        alpha: float = 3.0,
        tau: float = 2.0,
        amplitude: float = 1.0,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Zero-mean periodic Gaussian random fields ``(n_samples, 1, *N_fine)``, float64.

        Each sample is scaled to ``max |u| = amplitude`` (covariance as in
        :func:`sciml.data.functions.gaussian_random_field`).
        """
        u = gaussian_random_field(
            n_samples,
            (self.fine_shape,) * self.ndim,
            alpha=alpha,
            tau=tau,
            remove_mean=True,
            generator=generator,
            device=device,
            dtype=torch.float64,
        )
        u = u * (amplitude / u.flatten(1).abs().amax(1)).reshape(-1, *([1] * self.ndim))
        return u[:, None]

    def reference(
        self,
        u0: torch.Tensor,
        n_steps: int,
        *,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Fine trajectories of ``u0`` on the coarse grid ``(B, n_steps + 1, C, *M)``.

        Computed in the dtype of ``u0`` (float64 recommended), returned in ``dtype``.
        """
        fine = self.solver(
            self.fine_shape, substeps=self.substeps, dtype=u0.dtype, device=u0.device
        )
        ref = coarse_reference(fine, u0, n_steps, self.substeps, self.coarse_shape)
        return ref.to(dtype)

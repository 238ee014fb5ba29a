"""Differentiable pseudo-spectral solvers on periodic boxes and between walls (torch, batched).

An equation supplies its diagonal linear Fourier symbol :math:`L(k)` and its nonlinear term
:math:`\\hat N(\\hat u)`; a time stepper (ETDRK1–4 with Kassam–Trefethen coefficients or IMEX
Crank–Nicolson RK2–4) is built from it; :class:`SpectralSolver` adds ``step``/``rollout``.
See ``docs/solvers.md``.
"""

from sciml.solvers.spectral.advection import Advection
from sciml.solvers.spectral.advection_diffusion import AdvectionDiffusion
from sciml.solvers.spectral.allen_cahn import AllenCahn
from sciml.solvers.spectral.base_stepper import TimeStepper, contour_mean
from sciml.solvers.spectral.bounded_allen_cahn import BoundedAllenCahn
from sciml.solvers.spectral.bounded_burgers import BoundedBurgers
from sciml.solvers.spectral.bounded_diffusion import BoundedDiffusion
from sciml.solvers.spectral.bounded_equation import BoundedEquation
from sciml.solvers.spectral.bounded_grid import BoundedGrid
from sciml.solvers.spectral.burgers import Burgers
from sciml.solvers.spectral.diffusion import Diffusion
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.etdrk1 import ETDRK1
from sciml.solvers.spectral.etdrk2 import ETDRK2
from sciml.solvers.spectral.etdrk3 import ETDRK3
from sciml.solvers.spectral.etdrk4 import ETDRK4
from sciml.solvers.spectral.gray_scott import GrayScott
from sciml.solvers.spectral.grid import Grid
from sciml.solvers.spectral.imex import CrankNicolsonRK2, CrankNicolsonRK3, CrankNicolsonRK4
from sciml.solvers.spectral.interpolate import evaluate
from sciml.solvers.spectral.kdv import KdV
from sciml.solvers.spectral.ks import KuramotoSivashinsky
from sciml.solvers.spectral.ks2d import KuramotoSivashinsky2D
from sciml.solvers.spectral.navier_stokes2d import NavierStokes2D
from sciml.solvers.spectral.stepper import (
    SCHEMES,
    SolverDivergedError,
    SpectralSolver,
    StabilityWarning,
)

__all__ = [
    "Advection",
    "AdvectionDiffusion",
    "AllenCahn",
    "BoundedAllenCahn",
    "BoundedBurgers",
    "BoundedDiffusion",
    "BoundedEquation",
    "BoundedGrid",
    "Burgers",
    "CrankNicolsonRK2",
    "CrankNicolsonRK3",
    "CrankNicolsonRK4",
    "Diffusion",
    "ETDRK1",
    "ETDRK2",
    "ETDRK3",
    "ETDRK4",
    "GrayScott",
    "Grid",
    "KdV",
    "KuramotoSivashinsky",
    "KuramotoSivashinsky2D",
    "NavierStokes2D",
    "SCHEMES",
    "SolverDivergedError",
    "SpectralEquation",
    "SpectralSolver",
    "StabilityWarning",
    "TimeStepper",
    "contour_mean",
    "evaluate",
]

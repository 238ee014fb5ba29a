"""Finite-volume solvers (1D, cell-centred): diffusion–sorption with a batched tridiagonal solve."""

from sciml.solvers.fv.diffusion_sorption import (
    DiffusionSorptionFV,
    ImplicitSolveError,
    SorptionParameters,
)
from sciml.solvers.fv.tridiagonal import solve_tridiagonal

__all__ = ["DiffusionSorptionFV", "ImplicitSolveError", "SorptionParameters", "solve_tridiagonal"]

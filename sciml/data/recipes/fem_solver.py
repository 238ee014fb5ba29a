"""Recipe parameters shared by the finite-element recipes: the linear solver and its tolerance.

``sciml generate darcy2d --set solver=amg --set solver_tol=1e-8`` (or ``data.generate`` in a
spec) chooses how every system of the file is solved; the achieved relative residuals are checked
against ``solver_tol`` by :class:`~sciml.solvers.fem.SparseSolver` (a solve that misses it
raises) and reported in its ``last_info``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sciml.data.recipes.base import RecipeConfig
from sciml.solvers.fem import SparseSolver

__all__ = ["FEMRecipeConfig"]


class FEMRecipeConfig(RecipeConfig):
    """A recipe configuration with the linear solver of its finite-element solves."""

    solver: Literal["auto", "amg", "cholesky", "direct", "cg"] = Field(
        default="auto",
        description="linear solver: auto (by problem), amg (AMG-preconditioned CG, pyamg), "
        "cholesky (cholespy), direct (SuperLU) or cg",
    )
    solver_tol: float = Field(
        default=1e-10,
        gt=0.0,
        lt=1.0,
        description="relative residual tolerance of the linear solves (the acceptance bound of "
        "the direct ones)",
    )

    def sparse_solver(self) -> SparseSolver:
        """A :class:`~sciml.solvers.fem.SparseSolver` with these settings."""
        return SparseSolver(self.solver, tol=self.solver_tol)

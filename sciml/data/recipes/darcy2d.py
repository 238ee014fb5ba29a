"""2D Darcy flow ``a ↦ u`` of the FNO / MgNO benchmarks, solved by P1 finite elements.

.. math:: -\\nabla\\cdot(a(x)\\nabla u(x)) = 1 \\ \\text{on } (0, 1)^2,\\qquad
          u = 0 \\text{ on the boundary},

with ``a = 12`` where a Gaussian random field (covariance ``(-Δ + 9)^{-2}``, Neumann cosine basis,
``α = 2``, ``τ = 3``) is non-negative and ``a = 3`` elsewhere (Li et al., "Fourier Neural
Operator", ICLR 2021, §5.2; He et al., "MgNO", 2023, use the same data). The field is drawn on
the nodes of a fine ``S × S`` grid (``x_j = j / (S - 1)``), the problem is solved with P1 elements
on the right-triangle mesh of that grid (``a`` interpolated linearly between nodes), and both
``a`` and ``u`` are sampled at every ``r``-th node, ``s = (S - 1) / r + 1`` (FNO: ``S = 421``,
``s = 421, 211, 141, 85``).

Fields (constant in time, ``time = [0.0]``): ``coeff`` ``(N, s, s)`` and ``u`` ``(N, s, s)``,
indexed ``[sample, i, j]`` at ``(x_i, y_j)``. All ``batch_size`` systems of a block share one mesh
and sparsity pattern and are solved in one call (block-diagonal SuperLU on CPU, batched CG on GPU).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field, piecewise_constant_field
from sciml.data.recipes.base import Recipe, block_generator, generate_in_blocks
from sciml.data.recipes.fem_solver import FEMRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.fem import Darcy, grid_to_nodes, nodes_to_grid, unit_square

__all__ = ["Darcy2dConfig", "Darcy2d"]

#: the FNO data are generated on this grid and subsampled to 211, 141 and 85
FNO_FINE = 421
FNO_SIZES = (421, 211, 141, 85)


class Darcy2dConfig(FEMRecipeConfig):
    """Parameters of ``darcy2d`` (defaults: a CI-sized file).

    ``solve_resolution`` defaults to 421 when ``resolution`` is one of the FNO sizes
    (421 / 211 / 141 / 85 — so ``--set resolution=85`` is the FNO setup) and to
    ``2·resolution - 1`` otherwise.
    """

    resolution: int = Field(default=29, ge=3, description="output grid points s per axis")
    solve_resolution: int | None = Field(
        default=None, ge=3, description="fine solve grid points S per axis"
    )
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=3.0, gt=0.0, description="GRF inverse length scale")
    high: float = Field(default=12.0, gt=0.0, description="permeability where GRF >= 0")
    low: float = Field(default=3.0, gt=0.0, description="permeability where GRF < 0")
    source: float = Field(default=1.0, description="constant forcing f")

    @model_validator(mode="after")
    def _grids_nest(self) -> Darcy2dConfig:
        fine = self.fine_resolution
        if (fine - 1) % (self.resolution - 1) != 0:
            raise ValueError(
                f"solve_resolution - 1 = {fine - 1} must be a multiple of resolution - 1 = "
                f"{self.resolution - 1} (the output grid samples solve-grid nodes)"
            )
        return self

    @property
    def fine_resolution(self) -> int:
        if self.solve_resolution is not None:
            return self.solve_resolution
        if self.resolution in FNO_SIZES:
            return FNO_FINE
        return 2 * self.resolution - 1


@RECIPES.register("darcy2d")
class Darcy2d(Recipe):
    """FNO / MgNO Darcy flow on the unit square (see module docstring)."""

    Config = Darcy2dConfig
    summary = "2D Darcy flow, piecewise-constant permeability 12/3 from a GRF, f=1, P1 FEM"

    def generate(
        self,
        config: Darcy2dConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        s, fine = config.resolution, config.fine_resolution
        stride = (fine - 1) // (s - 1)
        dev = torch.device(device)
        mesh = unit_square(fine - 1, dtype=torch.float64, device=dev)
        problem = Darcy(mesh, solver=config.sparse_solver())
        grid = np.linspace(0.0, 1.0, s)
        layout = DatasetLayout(
            dataset_name="darcy2d",
            n_trajectories=config.n_samples,
            time=np.array([0.0]),
            coords={"x": grid, "y": grid},
            fields=[FieldLayout("coeff", time_varying=False), FieldLayout("u", time_varying=False)],
            boundary={"x": "WALL", "y": "WALL"},
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.darcy2d (P1 FEM, sciml.solvers.fem)",
        )

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            grf = gaussian_random_field(
                size,
                (fine, fine),
                alpha=config.alpha,
                tau=config.tau,
                boundary="neumann",
                generator=block_generator(config.seed, start),
                device=dev,
                dtype=torch.float64,
            )
            coeff = piecewise_constant_field(grf, high=config.high, low=config.low)
            with torch.no_grad():
                u = problem.solve(config.source, kappa=grid_to_nodes(coeff))
            u = nodes_to_grid(u, fine)
            return {"coeff": coeff[:, ::stride, ::stride], "u": u[:, ::stride, ::stride]}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

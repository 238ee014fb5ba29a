"""Plane-strain plate with holes: random stiffness field and edge load ↦ displacement (P1/P2 FEM).

.. math:: -\\nabla\\cdot\\sigma(u) = 0,\\quad \\sigma = \\lambda\\,\\mathrm{tr}\\,\\varepsilon\\, I
          + 2\\mu\\varepsilon \\ \\text{on } \\Omega,\\qquad u = 0 \\text{ on the left edge},\\qquad
          \\sigma n = t \\text{ on the right edge},

on ``Ω = [0, 1]² minus circular holes`` (:func:`~sciml.solvers.fem.meshes.plate_with_holes`,
holes given by ``holes``), traction-free elsewhere. Per sample: Young's modulus
``E = Ē exp(σ_E g)`` with ``g`` a Neumann GRF (``α``, ``τ``) interpolated bilinearly to the
nodes, Poisson's ratio ``ν`` fixed, and a uniform edge traction ``t = |t|(cos φ, sin φ)`` with
``|t| ~ U(0.5, 1.5)·load`` and ``φ ~ U(0, 2π)``. One mesh for the whole file.

File layout (``grid_type = "unstructured"``): ``dimensions/points`` ``(P, 2)``, ``mesh/cells``
``(E, 3)``; fields ``young`` ``(N, P)`` and ``u`` ``(N, P, 2)`` (``t1_fields``), both constant
in time (``time = [0.0]``); scalars ``traction_x``, ``traction_y`` ``(N,)``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import Recipe, block_generator, generate_in_blocks
from sciml.data.recipes.darcy_unstructured import sample_grid_at_points
from sciml.data.recipes.fem_solver import FEMRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.fem import LinearElasticity, plate_with_holes

__all__ = ["ElasticityPlateConfig", "ElasticityPlate"]


class ElasticityPlateConfig(FEMRecipeConfig):
    """Parameters of ``elasticity_plate`` (defaults: a CI-sized file)."""

    n_cells: int = Field(default=24, ge=4, description="cells per side of the plate")
    degree: int = Field(default=1, ge=1, le=2, description="Lagrange degree of displacements")
    holes: list[tuple[float, float, float]] = Field(
        default=[(0.35, 0.5, 0.15), (0.7, 0.3, 0.1)], description="holes (cx, cy, r)"
    )
    young_mean: float = Field(default=1.0, gt=0.0, description="geometric mean of E")
    young_sigma: float = Field(default=0.5, ge=0.0, description="log-E amplitude")
    poisson: float = Field(default=0.3, gt=-1.0, lt=0.5, description="Poisson's ratio")
    load: float = Field(default=0.01, gt=0.0, description="mean traction magnitude")
    grf_resolution: int = Field(default=33, ge=3, description="GRF grid points per axis")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=3.0, gt=0.0, description="GRF inverse length scale")


@RECIPES.register("elasticity_plate")
class ElasticityPlate(Recipe):
    """Plane-strain plate with holes under random stiffness and load (see module docstring)."""

    Config = ElasticityPlateConfig
    summary = "plane-strain plate with holes, GRF Young's modulus, random edge traction, FEM"

    def generate(
        self,
        config: ElasticityPlateConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        dev = torch.device(device)
        n = config.n_cells
        mesh = plate_with_holes(n, n, config.holes, dtype=torch.float64, device=dev)
        problem = LinearElasticity(
            mesh,
            degree=config.degree,
            dirichlet=["left"],
            neumann="right",
            solver=config.sparse_solver(),
        )
        rng = torch.Generator().manual_seed(config.seed)
        magnitude = config.load * (
            0.5 + torch.rand(config.n_samples, generator=rng, dtype=torch.float64)
        )
        angle = 2 * math.pi * torch.rand(config.n_samples, generator=rng, dtype=torch.float64)
        traction = magnitude[:, None] * torch.stack([angle.cos(), angle.sin()], -1)  # (N, 2)
        layout = DatasetLayout(
            dataset_name="elasticity_plate",
            n_trajectories=config.n_samples,
            time=np.array([0.0]),
            coords={"points": mesh.points.cpu().numpy()},
            cells=mesh.cells.cpu().numpy(),
            fields=[FieldLayout("young", time_varying=False), FieldLayout("u", 1, False)],
            scalars={"traction_x": traction[:, 0].numpy(), "traction_y": traction[:, 1].numpy()},
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.elasticity_plate (plane strain FEM, sciml.solvers.fem)",
        )
        n_nodes = mesh.n_points

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            g = config.grf_resolution
            grf = gaussian_random_field(
                size,
                (g, g),
                alpha=config.alpha,
                tau=config.tau,
                boundary="neumann",
                generator=block_generator(config.seed, start),
                device=dev,
                dtype=torch.float64,
            )
            young = config.young_mean * torch.exp(
                config.young_sigma * sample_grid_at_points(grf, mesh.points)
            )
            t = traction[start : start + size].to(dev)  # (b, 2): one constant traction per sample
            with torch.no_grad():
                u = problem.solve(young=young, poisson=config.poisson, traction=t)
            return {"young": young, "u": u[:, :n_nodes]}  # P2: keep the vertex values

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

"""Darcy flow of ``darcy2d`` on an unstructured triangle mesh, stored as mesh + nodal fields.

Same physics as :mod:`sciml.data.recipes.darcy2d` (``-∇·(a∇u) = f``, ``u = 0`` on the whole
boundary, ``a`` = 12 / 3 thresholded from a Neumann GRF with ``α = 2, τ = 3``), for graph and
mesh-based operators (GIOROM, MgNO on irregular domains, DeepONet on unstructured points). The
mesh is shared by all samples: a square, L-shape or plate with holes whose interior nodes are
perturbed at random (seeded by ``seed``), or any meshio-readable file (``mesh_file``). The GRF is
drawn on a ``grf_resolution²`` grid over the mesh's bounding box and interpolated bilinearly to
the nodes before thresholding.

File layout (``grid_type = "unstructured"``): ``dimensions/points`` ``(P, 2)``, ``mesh/cells``
``(E, 3)``, fields ``coeff`` ``(N, P)`` and ``u`` ``(N, P)`` constant in time (``time = [0.0]``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field, piecewise_constant_field
from sciml.data.recipes.base import Recipe, block_generator, generate_in_blocks
from sciml.data.recipes.fem_solver import FEMRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.fem import (
    Darcy,
    Mesh,
    l_shape,
    perturb_interior,
    plate_with_holes,
    read_mesh,
    unit_square,
)

__all__ = ["DarcyUnstructuredConfig", "DarcyUnstructured", "sample_grid_at_points"]


class DarcyUnstructuredConfig(FEMRecipeConfig):
    """Parameters of ``darcy_unstructured`` (defaults: a CI-sized file)."""

    domain: Literal["square", "l_shape", "plate"] = Field(
        default="square", description="built-in domain (ignored when mesh_file is given)"
    )
    n_cells: int = Field(default=16, ge=2, description="cells per unit length of the domain")
    jitter: float = Field(
        default=0.3, ge=0.0, le=0.4, description="interior node perturbation (fraction of h)"
    )
    mesh_file: str | None = Field(default=None, description="any meshio-readable 2D mesh file")
    grf_resolution: int = Field(default=65, ge=3, description="GRF grid points per axis")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=3.0, gt=0.0, description="GRF inverse length scale")
    high: float = Field(default=12.0, gt=0.0, description="permeability where GRF >= 0")
    low: float = Field(default=3.0, gt=0.0, description="permeability where GRF < 0")
    source: float = Field(default=1.0, description="constant forcing f")


def sample_grid_at_points(field: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear interpolation of grid values ``(B, n, m)`` ``[b, i, j]`` at ``(x_i, y_j)`` on the
    points' bounding box to ``points`` ``(P, 2)`` → ``(B, P)``."""
    lo, hi = points.min(0).values, points.max(0).values
    unit = 2 * (points - lo) / (hi - lo) - 1  # [-1, 1]², x ↔ width (last axis of the image)
    image = field.transpose(1, 2)[:, None]  # (B, 1, n_y, n_x)
    grid = unit.to(field.dtype)[None, None].expand(field.shape[0], 1, -1, -1)
    return F.grid_sample(image, grid, mode="bilinear", align_corners=True)[:, 0, 0]


def build_mesh(config: DarcyUnstructuredConfig) -> Mesh:
    """The shared mesh of a configuration (deterministic in ``seed``)."""
    if config.mesh_file is not None:
        return read_mesh(config.mesh_file, dtype=torch.float64)
    n = config.n_cells
    if config.domain == "square":
        base = unit_square(n, dtype=torch.float64)
    elif config.domain == "l_shape":
        base = l_shape(n, dtype=torch.float64)
    else:
        holes = [(0.3, 0.3, 0.12), (0.7, 0.65, 0.15)]
        base = plate_with_holes(n, n, holes, dtype=torch.float64)
    gen = torch.Generator().manual_seed(config.seed)
    return perturb_interior(base, config.jitter, generator=gen)


@RECIPES.register("darcy_unstructured")
class DarcyUnstructured(Recipe):
    """Darcy flow on a shared unstructured mesh (see module docstring)."""

    Config = DarcyUnstructuredConfig
    summary = "2D Darcy flow (12/3 permeability, f=1) on an unstructured mesh, P1 nodal fields"

    def generate(
        self,
        config: DarcyUnstructuredConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        dev = torch.device(device)
        mesh = build_mesh(config).to(dev)
        if mesh.dim != 2:
            raise ValueError(f"{mesh.name}: darcy_unstructured needs a 2D mesh, got {mesh.dim}D")
        problem = Darcy(mesh, solver=config.sparse_solver())
        layout = DatasetLayout(
            dataset_name="darcy_unstructured",
            n_trajectories=config.n_samples,
            time=np.array([0.0]),
            coords={"points": mesh.points.cpu().numpy()},
            cells=mesh.cells.cpu().numpy(),
            fields=[FieldLayout("coeff", time_varying=False), FieldLayout("u", time_varying=False)],
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.darcy_unstructured (P1 FEM, sciml.solvers.fem)",
        )

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
            at_nodes = sample_grid_at_points(grf, mesh.points)
            coeff = piecewise_constant_field(at_nodes, high=config.high, low=config.low)
            with torch.no_grad():
                u = problem.solve(config.source, kappa=coeff)
            return {"coeff": coeff, "u": u}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

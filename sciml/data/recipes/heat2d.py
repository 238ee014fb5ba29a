"""2D heat equation with a random log-normal conductivity, by P1 FEM and the θ-scheme.

.. math:: u_t = \\nabla\\cdot(\\kappa(x)\\nabla u) \\ \\text{on } (0, 1)^2,\\qquad u = 0
          \\text{ on the boundary},\\qquad u(\\cdot, 0) = u_0,

with ``κ = κ̄ · exp(σ_κ g_1)`` and ``u_0 = g_2`` for independent GRFs (``g_1`` Neumann cosine
basis, ``g_2`` Dirichlet sine basis so that ``u_0`` vanishes on the boundary; both
``(-Δ + τ²)^{-α}`` covariance). The problem is solved on the P1 mesh of a fine
``S × S`` grid (``S = r(s - 1) + 1``) with Crank–Nicolson by default (one factorization per
block of samples) and sampled at every ``r``-th node.

Fields: ``coeff`` ``(N, s, s)`` constant in time and ``u`` ``(N, T, s, s)`` at
``time = linspace(0, t_end, n_t)``, indexed ``[sample, (t,) i, j]`` at ``(x_i, y_j)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import Recipe, block_generator, generate_in_blocks
from sciml.data.recipes.fem_solver import FEMRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.fem import HeatEquation, grid_to_nodes, nodes_to_grid, unit_square

__all__ = ["Heat2dConfig", "Heat2d"]


class Heat2dConfig(FEMRecipeConfig):
    """Parameters of ``heat2d`` (defaults: a CI-sized file)."""

    resolution: int = Field(default=33, ge=3, description="output grid points s per axis")
    refine: int = Field(default=1, ge=1, description="solve grid = refine·(s-1) cells per side")
    t_end: float = Field(default=0.5, gt=0.0, description="final time")
    n_t: int = Field(default=11, ge=2, description="stored times, including t = 0")
    dt: float = Field(default=0.005, gt=0.0, description="time step")
    theta: float = Field(default=0.5, ge=0.0, le=1.0, description="θ-scheme implicitness")
    kappa_mean: float = Field(default=0.1, gt=0.0, description="geometric mean conductivity")
    kappa_sigma: float = Field(default=0.5, ge=0.0, description="log-conductivity amplitude")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=3.0, gt=0.0, description="GRF inverse length scale")

    @model_validator(mode="after")
    def _steps_fit(self) -> Heat2dConfig:
        steps = self.t_end / self.dt
        if abs(steps - round(steps)) > 1e-9 * steps or round(steps) % (self.n_t - 1):
            raise ValueError(
                f"t_end / dt = {steps:g} must be an integer multiple of n_t - 1 = {self.n_t - 1}"
            )
        return self


@RECIPES.register("heat2d")
class Heat2d(Recipe):
    """Heat equation with random conductivity and initial state (see module docstring)."""

    Config = Heat2dConfig
    summary = "2D heat equation, log-normal GRF conductivity, GRF initial state, P1 FEM + θ-scheme"

    def generate(
        self,
        config: Heat2dConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        s, r = config.resolution, config.refine
        fine = r * (s - 1) + 1
        dev = torch.device(device)
        mesh = unit_square(fine - 1, dtype=torch.float64, device=dev)
        heat = HeatEquation(mesh, config.dt, theta=config.theta, solver=config.sparse_solver())
        n_steps = round(config.t_end / config.dt)
        save_every = n_steps // (config.n_t - 1)
        grid = np.linspace(0.0, 1.0, s)
        layout = DatasetLayout(
            dataset_name="heat2d",
            n_trajectories=config.n_samples,
            time=np.linspace(0.0, config.t_end, config.n_t),
            coords={"x": grid, "y": grid},
            fields=[FieldLayout("coeff", time_varying=False), FieldLayout("u")],
            boundary={"x": "WALL", "y": "WALL"},
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.heat2d (P1 FEM + θ-scheme, sciml.solvers.fem)",
        )

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            gen = block_generator(config.seed, start)
            common = dict(alpha=config.alpha, tau=config.tau, generator=gen, device=dev)
            g1 = gaussian_random_field(
                size, (fine, fine), boundary="neumann", dtype=torch.float64, **common
            )
            u0 = gaussian_random_field(
                size, (fine, fine), boundary="dirichlet", dtype=torch.float64, **common
            )
            kappa = config.kappa_mean * torch.exp(config.kappa_sigma * g1)
            with torch.no_grad():
                traj = heat.rollout(
                    grid_to_nodes(u0), n_steps, save_every=save_every, kappa=grid_to_nodes(kappa)
                )
            u = nodes_to_grid(traj, fine)
            return {"coeff": kappa[:, ::r, ::r], "u": u[:, :, ::r, ::r]}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

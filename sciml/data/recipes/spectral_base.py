r"""Shared machinery of the pseudo-spectral dataset recipes (Burgers, advection, KS, KdV, NS, ...).

Every such recipe draws periodic Gaussian-random-field initial data
(:func:`sciml.data.functions.gaussian_random_field`, covariance
:math:`\sigma^2(-\Delta + \tau^2)^{-\alpha}` on the unit box, mapped onto ``[0, L)^d``), optionally
runs a warm-up (discarded), solves on ``n_fine`` points per axis with a
:class:`~sciml.solvers.spectral.SpectralSolver` in float64, and stores every
``n_fine // n_x``-th point at ``n_t`` equispaced times of ``[0, t_end]`` (after the warm-up) in
float32. Random numbers come from :func:`~sciml.data.recipes.base.block_generator`, so a block
depends only on ``(seed, start)``: same seed → same file, and a killed run resumes to the same
file. A subclass supplies the equation (:meth:`SpectralRecipe.equation`), the per-trajectory
scalars and its defaults.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.solvers.presets import load_solver_preset
from sciml.solvers.spectral import Grid, SpectralEquation, SpectralSolver

__all__ = ["SpectralRecipe", "SpectralRecipeConfig"]


class SpectralRecipeConfig(RecipeConfig):
    """Grid, time axis, solver step and initial-data parameters shared by spectral recipes.

    Field defaults are CI-sized. ``paper=True`` (``sciml generate <name> --set paper=true``) fills
    every parameter not given explicitly from :meth:`paper_values`: the solver grid, step and
    scheme of :attr:`SOLVER_PRESET`, then :attr:`PAPER`.
    """

    #: the solver preset (``sciml/catalog/solvers``) that is the published solver of the recipe,
    #: or ``None``; ``paper=True`` takes ``n_fine``, ``dt`` and ``scheme`` from it (the tests check
    #: that the recipe's solver then equals the preset's)
    SOLVER_PRESET: ClassVar[str | None] = None
    #: the published setup's other parameter values (sizes, time axis), applied by ``paper=True``
    PAPER: ClassVar[dict[str, Any]] = {}

    n_samples: int = Field(default=8, ge=1, description="trajectories")
    batch_size: int = Field(default=8, ge=1, description="trajectories solved together")
    n_fine: int = Field(default=128, ge=8, description="solver grid points per axis")
    n_x: int = Field(default=64, ge=4, description="stored grid points per axis, divides n_fine")
    t_end: float = Field(default=1.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=11, ge=2, description="stored times in [0, t_end]")
    t_warmup: float = Field(default=0.0, ge=0.0, description="discarded spin-up time")
    dt: float = Field(default=1e-3, gt=0.0, description="solver time step")
    scheme: str = Field(default="etdrk4", description="time stepper (etdrk1-4, cn_rk2-4)")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=5.0, gt=0.0, description="GRF inverse length scale")
    paper: bool = Field(default=False, description="use the published (paper) sizes")
    sigma: float | None = Field(
        default=None, gt=0.0, description="GRF amplitude (None: tau^(alpha-d/2))"
    )

    @classmethod
    def paper_values(cls) -> dict[str, Any]:
        """The published setup: :attr:`SOLVER_PRESET`'s ``n_fine``, ``dt`` and ``scheme``, then
        :attr:`PAPER`."""
        solver: dict[str, Any] = {}
        if cls.SOLVER_PRESET is not None:
            preset = load_solver_preset(cls.SOLVER_PRESET)
            shape = preset["shape"]
            solver = {
                "n_fine": shape if isinstance(shape, int) else shape[0],
                "dt": float(preset["dt"]),
                "scheme": preset.get("scheme", "etdrk4"),
            }
        return {**solver, **cls.PAPER}

    @model_validator(mode="before")
    @classmethod
    def _paper_sizes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("paper"):
            return {**cls.paper_values(), **data}
        return data

    @model_validator(mode="after")
    def _check_sizes(self) -> SpectralRecipeConfig:
        if self.n_fine % self.n_x or self.n_fine % 2 or self.n_x % 2:
            raise ValueError(f"n_x={self.n_x} must be even and divide n_fine={self.n_fine}")
        for name, span in (
            ("t_end/(n_t-1)", self.t_end / (self.n_t - 1)),
            ("t_warmup", self.t_warmup),
        ):
            steps = span / self.dt
            if abs(steps - round(steps)) > 1e-6 * max(steps, 1.0):
                raise ValueError(f"{name} = {span:g} must be a multiple of dt = {self.dt:g}")
        return self


class SpectralRecipe(Recipe):
    """Base of the spectral recipes: subclasses set the class attributes and :meth:`equation`."""

    #: registry / dataset name
    name: ClassVar[str]
    #: stored field name, e.g. ``"u"`` or ``"vorticity"``
    field_name: ClassVar[str] = "u"
    #: spatial dimensions (1 or 2)
    n_dims: ClassVar[int] = 1
    #: domain length ``L`` of every axis
    length: ClassVar[float] = 1.0

    @abstractmethod
    def equation(self, grid: Grid, config: SpectralRecipeConfig) -> SpectralEquation:
        """The PDE on the fine grid."""

    def scalars(self, config: SpectralRecipeConfig) -> dict[str, float]:
        """Per-trajectory scalars stored with the data (PDE parameters)."""
        return {}

    def solver(
        self, config: SpectralRecipeConfig, device: str | torch.device = "cpu"
    ) -> SpectralSolver:
        """The float64 solver on the fine grid (``n_fine`` points per axis) with ``config``'s
        equation, step and scheme."""
        grid = Grid((config.n_fine,) * self.n_dims, self.length, dtype=torch.float64, device=device)
        return SpectralSolver(self.equation(grid, config), config.dt, config.scheme)

    def initial_condition(
        self, config: SpectralRecipeConfig, grid: Grid, size: int, start: int
    ) -> torch.Tensor:
        """GRF initial data ``(size, 1, *n_fine)`` (float64) from the block's generator.

        The Nyquist modes are removed: the grid cannot advect them (odd derivatives vanish there),
        so they would only decay and alias onto the mean of the strided output.
        """
        u0 = gaussian_random_field(
            size,
            grid.shape,
            alpha=config.alpha,
            tau=config.tau,
            sigma=config.sigma,
            generator=block_generator(config.seed, start),
            device=grid.device,
            dtype=torch.float64,
        )
        return grid.irfft(grid.rfft(u0[:, None]) * grid.dealias_mask(1.0))

    def make_block(
        self, config: SpectralRecipeConfig, start: int, size: int, device: str | torch.device
    ) -> dict[str, torch.Tensor]:
        """Trajectories ``start .. start+size``: ``{field: (size, T, *n_x)}`` (float32, CPU)."""
        solver = self.solver(config, device)
        state = self.initial_condition(config, solver.grid, size, start)
        save_every = round(config.t_end / config.dt / (config.n_t - 1))
        warmup = round(config.t_warmup / config.dt)
        with torch.no_grad():
            if warmup:
                state = solver.rollout(state, warmup, save_every=warmup)[:, -1]
            traj = solver.rollout(
                state, save_every * (config.n_t - 1), save_every=save_every, t0=config.t_warmup
            )
        stride = config.n_fine // config.n_x
        index = (slice(None), slice(None), 0) + (slice(None, None, stride),) * self.n_dims
        return {self.field_name: traj[index].float().cpu()}

    def generate(
        self,
        config: SpectralRecipeConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        axis = np.arange(config.n_x) * (self.length / config.n_x)
        dims = ["x", "y", "z"][: self.n_dims]
        layout = DatasetLayout(
            dataset_name=self.name,
            n_trajectories=config.n_samples,
            time=np.linspace(0.0, config.t_end, config.n_t),
            coords={d: axis for d in dims},
            fields=[FieldLayout(self.field_name)],
            boundary={d: "PERIODIC" for d in dims},
            scalars={k: np.full(config.n_samples, v) for k, v in self.scalars(config).items()},
            config=config.model_dump(),
            seed=config.seed,
            generator=type(self).__module__,
        )
        return generate_in_blocks(
            out_path,
            layout,
            lambda start, size: self.make_block(config, start, size, device),
            block_size=config.batch_size,
            progress=progress,
        )

r"""The classic Dirichlet Burgers benchmark: :math:`u_0 = -\sin\pi x` on :math:`[-1, 1]`, walls.

:math:`u_t + u u_x = \nu u_{xx}`, :math:`u(\pm 1, t) = 0`, :math:`\nu = 0.01/\pi`: the shock
forms at :math:`x = 0` and reaches its maximum slope :math:`|u_x| = 152.00516` at
:math:`t = 1.6037/\pi` (Basdevant et al., "Spectral and finite difference solutions of the Burgers
equation", Comput. Fluids 14, 1986, Table 1); it is the standard PINN test case (Raissi et al.,
J. Comput. Phys. 378, 2019, §3.1.1: 256 points, 100 times of ``[0, 0.99]``).

Solver: :class:`~sciml.solvers.spectral.BoundedBurgers` (sine series, 2/3 rule) with ETDRK4 in
float64 on ``n_fine`` intervals; every ``n_fine // n_x``-th point is stored (walls included,
``n_x + 1`` points) in float32 at ``n_t`` equispaced times of ``[0, t_end]``. With the defaults
(2048 intervals, dt = 5e-4) the slope at ``t = 1.6037/π`` agrees with Basdevant's value to 1e-8
(``tests/solvers/spectral/test_bounded_burgers.py``). ``n_samples > 1`` with ``nu_max > nu``
draws log-uniform viscosities in ``[nu, nu_max]`` (a parametric family for operator learning).

File: cartesian 1D (``x`` on ``[-1, 1]``, boundary ``WALL``), field ``u`` ``(N, T, n_x + 1)``,
scalar ``nu`` ``(N,)``, series ``max_slope`` ``(N, T)``: :math:`\max_x |u_x|` on the solver grid.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.recipes.base import Recipe, RecipeConfig, generate_in_blocks
from sciml.registry import RECIPES
from sciml.solvers.spectral import BoundedBurgers, BoundedGrid, SpectralSolver

__all__ = ["BurgersDirichlet", "BurgersDirichletConfig"]


class BurgersDirichletConfig(RecipeConfig):
    """Parameters of the Dirichlet Burgers benchmark (defaults: the classic single trajectory)."""

    n_samples: int = Field(default=1, ge=1, description="trajectories")
    batch_size: int = Field(default=8, ge=1, description="trajectories solved together")
    nu: float = Field(default=0.01 / math.pi, gt=0.0, description="viscosity (lower bound)")
    nu_max: float | None = Field(
        default=None, gt=0.0, description="upper bound of log-uniform viscosities (None: nu)"
    )
    n_fine: int = Field(default=2048, ge=8, description="solver intervals on [-1, 1]")
    n_x: int = Field(default=256, ge=4, description="stored intervals (n_x + 1 points)")
    t_end: float = Field(default=1.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=101, ge=2, description="stored times in [0, t_end]")
    dt: float = Field(default=5e-4, gt=0.0, description="solver time step")

    @model_validator(mode="after")
    def _check_sizes(self) -> BurgersDirichletConfig:
        if self.n_fine % self.n_x:
            raise ValueError(f"n_x={self.n_x} must divide n_fine={self.n_fine}")
        steps = self.t_end / (self.n_t - 1) / self.dt
        if abs(steps - round(steps)) > 1e-6 * max(steps, 1.0):
            raise ValueError(
                f"t_end/(n_t-1) = {self.t_end / (self.n_t - 1):g} must be a multiple of "
                f"dt = {self.dt:g}"
            )
        if self.nu_max is not None and self.nu_max < self.nu:
            raise ValueError(f"nu_max={self.nu_max} must be >= nu={self.nu}")
        return self


@RECIPES.register("burgers_dirichlet")
class BurgersDirichlet(Recipe):
    """Burgers between walls from ``u0 = -sin(πx)`` (Basdevant et al. 1986; Raissi et al. 2019)."""

    Config = BurgersDirichletConfig
    summary = "1D Burgers on [-1, 1], u(±1) = 0, u0 = -sin(pi x), nu = 0.01/pi (Basdevant 1986)"

    @staticmethod
    def viscosities(config: BurgersDirichletConfig) -> np.ndarray:
        """``(n_samples,)`` viscosities: ``nu`` or log-uniform in ``[nu, nu_max]`` from the seed."""
        if config.nu_max is None or config.nu_max == config.nu:
            return np.full(config.n_samples, config.nu)
        rng = np.random.default_rng(config.seed)
        low, high = math.log(config.nu), math.log(config.nu_max)
        return np.exp(rng.uniform(low, high, config.n_samples))

    def make_block(
        self, config: BurgersDirichletConfig, nu: np.ndarray, device: str | torch.device
    ) -> dict[str, torch.Tensor]:
        """Trajectories for the viscosities ``nu``: ``u`` ``(size, T, n_x + 1)`` and ``max_slope``."""
        grid = BoundedGrid(
            config.n_fine,
            2.0,
            boundary="dirichlet",
            origin=-1.0,
            dtype=torch.float64,
            device=device,
        )
        (x,) = grid.coordinates()
        nu_t = torch.as_tensor(nu, dtype=torch.float64, device=device)
        solver = SpectralSolver(BoundedBurgers(grid, nu=nu_t), config.dt, "etdrk4")
        u0 = (-torch.sin(math.pi * x)).expand(len(nu), 1, -1)
        save_every = round(config.t_end / config.dt / (config.n_t - 1))
        with torch.no_grad():
            traj = solver.rollout(u0, save_every * (config.n_t - 1), save_every=save_every)
            slope_hat, parity = grid.derivative(grid.transform(traj[:, :, 0]), 0)
            slope = grid.inverse(slope_hat, parity).abs().amax(-1)
        stride = config.n_fine // config.n_x
        return {"u": traj[:, :, 0, ::stride].float().cpu(), "max_slope": slope.float().cpu()}

    def generate(
        self,
        config: BurgersDirichletConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        nu = self.viscosities(config)
        layout = DatasetLayout(
            dataset_name="burgers_dirichlet",
            n_trajectories=config.n_samples,
            time=np.linspace(0.0, config.t_end, config.n_t),
            coords={"x": np.linspace(-1.0, 1.0, config.n_x + 1)},
            fields=[FieldLayout("u")],
            boundary={"x": "WALL"},
            scalars={"nu": nu},
            series=["max_slope"],
            config=config.model_dump(),
            seed=config.seed,
            generator=type(self).__module__,
        )
        return generate_in_blocks(
            out_path,
            layout,
            lambda start, size: self.make_block(config, nu[start : start + size], device),
            block_size=config.batch_size,
            progress=progress,
        )

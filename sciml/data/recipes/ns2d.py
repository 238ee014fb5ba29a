r"""2D Navier–Stokes (vorticity) dataset, FNO paper setup.

Li et al., "Fourier Neural Operator for Parametric PDEs" (ICLR 2021, §5.3): unit torus,
:math:`\omega_t + \mathbf u\cdot\nabla\omega = \nu\Delta\omega + f` with
:math:`f = 0.1(\sin 2\pi(x+y) + \cos 2\pi(x+y))`, :math:`\nu \in \{10^{-3}, 10^{-4},
10^{-5}\}`, initial vorticity :math:`\omega_0 \sim \mathcal N(0, 7^{3/2}(-\Delta + 49 I)^{-2.5})`
(``alpha=2.5, tau=7``), computed on 256² and stored on 64², up to ``T = 50`` (ν = 1e-3), 20 or 30
(ν = 1e-4, 1e-5), one snapshot per time unit. The original generator used Crank–Nicolson/forward
Euler with ``dt = 1e-4``; we use ETDRK4 (fourth order), so a larger ``dt`` gives a more accurate
solution. Defaults are CI-sized; ``--set paper=true`` gives the paper sizes.
File: cartesian 2D on ``[0, 1)²``, field ``vorticity`` ``(N, T, X, Y)``, scalar ``nu``.
"""

from __future__ import annotations

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralEquation

__all__ = ["NS2D", "NS2DConfig"]


class NS2DConfig(SpectralRecipeConfig):
    """FNO Navier–Stokes parameters (CI-sized defaults)."""

    SOLVER_PRESET = "ns2d-fno"
    PAPER = {
        "n_samples": 1200,
        "batch_size": 20,
        "n_x": 64,
        "t_end": 50.0,
        "n_t": 51,
    }

    nu: float = Field(default=1e-3, gt=0.0, description="viscosity (FNO: 1e-3, 1e-4, 1e-5)")
    n_samples: int = Field(default=4, ge=1, description="trajectories")
    batch_size: int = Field(default=4, ge=1, description="trajectories solved together")
    n_fine: int = Field(default=64, ge=8, description="solver grid points per axis (paper: 256)")
    n_x: int = Field(default=32, ge=4, description="stored points per axis (paper: 64)")
    t_end: float = Field(default=3.0, gt=0.0, description="stored time span (paper: 50)")
    n_t: int = Field(default=4, ge=2, description="stored times (paper: 51)")
    dt: float = Field(default=1e-2, gt=0.0, description="time step (paper preset: 1e-3)")
    alpha: float = Field(default=2.5, gt=0.0, description="GRF smoothness (FNO: 2.5)")
    tau: float = Field(default=7.0, gt=0.0, description="GRF inverse length scale (FNO: 7)")


@RECIPES.register("ns2d")
class NS2D(SpectralRecipe):
    """FNO-paper 2D Navier–Stokes: GRF vorticity, forcing 0.1(sin+cos)(2π(x+y)), unit torus."""

    Config = NS2DConfig
    summary = "2D Navier-Stokes vorticity, nu=1e-3, FNO forcing, GRF w0 (FNO, Li et al. 2021)"
    name = "ns2d"
    field_name = "vorticity"
    n_dims = 2

    def equation(self, grid: Grid, config: NS2DConfig) -> SpectralEquation:  # type: ignore[override]
        return NavierStokes2D(grid, nu=config.nu, forcing="fno")

    def scalars(self, config: NS2DConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu}

r"""2D Kolmogorov flow dataset (Kochkov et al. 2021 setup).

Kochkov, Smith, Alieva, Wang, Brenner & Hoyer, "Machine learning–accelerated computational fluid
dynamics" (PNAS 118, 2021): :math:`[0, 2\pi)^2`, :math:`\nu = 10^{-3}` (Re = 1000), velocity
forcing :math:`(\sin 4y, 0)` with linear drag :math:`0.1`, random initial data spun up to the
turbulent attractor, DNS at 2048² downsampled to 64²–256² (jax-cfd's spectral demo uses 256²).
We solve the vorticity form (:class:`~sciml.solvers.spectral.NavierStokes2D` with
``forcing="kolmogorov"``) from GRF vorticity, discard ``t_warmup`` and store every ``n_fine //
n_x``-th point. Defaults are CI-sized (and far from converged turbulence); ``--set paper=true``
gives the 256² → 64² setup. File: field
``vorticity`` ``(N, T, X, Y)``, scalars ``nu`` and ``drag``.
"""

from __future__ import annotations

import math

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralEquation

__all__ = ["Kolmogorov2D", "Kolmogorov2DConfig"]


class Kolmogorov2DConfig(SpectralRecipeConfig):
    """Kolmogorov-flow parameters (CI-sized defaults)."""

    SOLVER_PRESET = "ns2d-kolmogorov"
    PAPER = {
        "n_samples": 128,
        "batch_size": 16,
        "n_x": 64,
        "t_end": 20.0,
        "n_t": 201,
        "t_warmup": 40.0,
    }

    nu: float = Field(default=1e-3, gt=0.0, description="viscosity (Kochkov: 1e-3)")
    drag: float = Field(default=0.1, ge=0.0, description="linear drag (Kochkov: 0.1)")
    forcing_wavenumber: int = Field(default=4, ge=1, description="forcing sin(k y) (Kochkov: 4)")
    n_samples: int = Field(default=4, ge=1, description="trajectories")
    batch_size: int = Field(default=4, ge=1, description="trajectories solved together")
    n_fine: int = Field(default=64, ge=8, description="solver grid points per axis")
    n_x: int = Field(default=32, ge=4, description="stored points per axis")
    t_end: float = Field(default=2.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=11, ge=2, description="stored times")
    t_warmup: float = Field(default=2.0, ge=0.0, description="discarded spin-up time")
    dt: float = Field(default=1e-2, gt=0.0, description="time step")
    alpha: float = Field(default=2.5, gt=0.0, description="GRF smoothness")
    tau: float = Field(default=7.0, gt=0.0, description="GRF inverse length scale")


@RECIPES.register("kolmogorov2d")
class Kolmogorov2D(SpectralRecipe):
    """Forced, damped 2D turbulence on [0, 2π)² (Kochkov et al. 2021)."""

    Config = Kolmogorov2DConfig
    summary = "2D Kolmogorov flow, Re=1000, forcing sin(4y), drag 0.1 (Kochkov et al. 2021)"
    name = "kolmogorov2d"
    field_name = "vorticity"
    n_dims = 2
    length = 2 * math.pi

    def equation(self, grid: Grid, config: Kolmogorov2DConfig) -> SpectralEquation:  # type: ignore[override]
        return NavierStokes2D(
            grid,
            nu=config.nu,
            drag=config.drag,
            forcing="kolmogorov",
            forcing_wavenumber=config.forcing_wavenumber,
        )

    def scalars(self, config: Kolmogorov2DConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu, "drag": config.drag}

"""1D Korteweg–de Vries dataset: :math:`u_t + 6 u u_x + u_{xxx} = 0` on :math:`[0, L)`.

The dispersive benchmark of Brandstetter et al. ("Message Passing Neural PDE Solvers",
ICLR 2022, §4.1: KdV on a periodic domain of length 128 from random initial data) and
Kassam & Trefethen (2005, §6, ETDRK4 for KdV). Initial data: periodic GRF (``alpha, tau,
sigma``); ETDRK4 integrates the stiff dispersion exactly. Defaults are CI-sized; ``--set paper=true``
gives a larger setup. File: field ``u`` ``(N, T, X)``.
"""

from __future__ import annotations

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, KdV, SpectralEquation

__all__ = ["KdV1D", "KdV1DConfig"]


class KdV1DConfig(SpectralRecipeConfig):
    """KdV dataset parameters (CI-sized defaults)."""

    SOLVER_PRESET = "kdv1d"
    PAPER = {
        "n_samples": 1024,
        "batch_size": 128,
        "n_x": 256,
        "t_end": 40.0,
        "n_t": 161,
    }

    n_fine: int = Field(default=256, ge=8, description="solver grid points")
    n_x: int = Field(default=128, ge=4, description="stored grid points")
    t_end: float = Field(default=10.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=41, ge=2, description="stored times")
    dt: float = Field(default=0.01, gt=0.0, description="time step")


@RECIPES.register("kdv1d")
class KdV1D(SpectralRecipe):
    """KdV on a periodic domain of length 64 from GRF initial data."""

    Config = KdV1DConfig
    summary = "1D KdV u_t + 6uu_x + u_xxx = 0, L=64, GRF u0, ETDRK4 (Brandstetter et al. 2022)"
    name = "kdv1d"
    length = 64.0

    def equation(self, grid: Grid, config: KdV1DConfig) -> SpectralEquation:  # type: ignore[override]
        return KdV(grid)

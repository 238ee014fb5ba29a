r"""1D Kuramoto–Sivashinsky dataset on the chaotic attractor.

:math:`u_t + u u_x + u_{xx} + u_{xxxx} = 0` on :math:`[0, 32\pi)` with ETDRK4, the setup of
Kassam & Trefethen (SIAM J. Sci. Comput. 26, 2005, §3: 128 points, ``h = 1/4``; our default
``dt = 0.2`` keeps the advective CFL number below 1), also used by neural-operator benchmarks of
chaotic dynamics (e.g. Lippe et al., PDE-Refiner, NeurIPS 2023, L ≈ 64). Initial data: periodic
GRF; a warm-up ``t_warmup`` (discarded) lets trajectories reach the attractor. Defaults are
CI-sized; ``--set paper=true`` gives a larger setup. File: field ``u``
``(N, T, X)``.
"""

from __future__ import annotations

import math

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, KuramotoSivashinsky, SpectralEquation

__all__ = ["KS1D", "KS1DConfig"]


class KS1DConfig(SpectralRecipeConfig):
    """KS dataset parameters (CI-sized defaults)."""

    SOLVER_PRESET = "ks1d"
    PAPER = {"n_samples": 1024, "batch_size": 128, "t_end": 150.0, "n_t": 151, "t_warmup": 100.0}

    n_fine: int = Field(default=128, ge=8, description="solver grid points (KT 2005: 128)")
    n_x: int = Field(default=128, ge=4, description="stored grid points")
    t_end: float = Field(default=50.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=51, ge=2, description="stored times")
    t_warmup: float = Field(default=50.0, ge=0.0, description="discarded spin-up time")
    dt: float = Field(default=0.2, gt=0.0, description="time step (KT 2005: 1/4)")


@RECIPES.register("ks1d")
class KS1D(SpectralRecipe):
    """Kuramoto–Sivashinsky on [0, 32π) from GRF data after a warm-up."""

    Config = KS1DConfig
    summary = "1D Kuramoto-Sivashinsky, L=32pi, ETDRK4 dt=0.2 (Kassam & Trefethen 2005 setup)"
    name = "ks1d"
    length = 32 * math.pi

    def equation(self, grid: Grid, config: KS1DConfig) -> SpectralEquation:  # type: ignore[override]
        return KuramotoSivashinsky(grid)

r"""1D linear advection dataset (PDEBench setup): :math:`u_t + \beta u_x = 0` on ``[0, 1)``.

Takamoto et al., "PDEBench" (NeurIPS 2022 D&B, §3 and App. D.1): periodic unit interval,
:math:`\beta \in \{0.1, 0.4, 1.0, 4.0\}`, ``t ∈ [0, 2]`` with 201 stored times on 1024 points.
PDEBench draws sums of sine waves as initial data; we use periodic GRF data (``alpha, tau``)
like the other recipes. ETDRK is exact for this linear PDE, so one step per stored time is used
(``dt = t_end / (n_t - 1)``). Defaults are CI-sized; ``--set paper=true`` gives
the paper sizes. File: field ``u`` ``(N, T, X)``, scalar ``beta``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Advection, Grid, SpectralEquation

__all__ = ["Advection1D", "Advection1DConfig"]


class Advection1DConfig(SpectralRecipeConfig):
    """Advection dataset parameters (CI-sized defaults; ``dt`` is set from the time axis)."""

    SOLVER_PRESET = "advection1d-pdebench"
    PAPER = {
        "n_samples": 10000,
        "batch_size": 500,
        "n_x": 1024,
        "n_t": 201,
    }

    beta: float = Field(default=0.1, description="advection velocity (PDEBench: 0.1, 0.4, 1, 4)")
    n_fine: int = Field(default=256, ge=8, description="solver grid points (paper: 1024)")
    n_x: int = Field(default=256, ge=4, description="stored grid points (paper: 1024)")
    t_end: float = Field(default=2.0, gt=0.0, description="final time")
    n_t: int = Field(default=21, ge=2, description="stored times (paper: 201)")
    dt: float = Field(default=0.1, gt=0.0, description="step; must equal t_end/(n_t-1)")

    @model_validator(mode="after")
    def _exact_steps(self) -> Advection1DConfig:
        if abs(self.dt * (self.n_t - 1) - self.t_end) > 1e-9 * self.t_end:
            raise ValueError(
                f"dt must be t_end/(n_t-1) = {self.t_end / (self.n_t - 1):g} (ETDRK is exact for "
                f"linear advection), got {self.dt:g}"
            )
        return self


@RECIPES.register("advection1d")
class Advection1D(SpectralRecipe):
    """PDEBench 1D advection with GRF initial data, solved exactly in Fourier space."""

    Config = Advection1DConfig
    summary = "1D linear advection u_t + beta u_x = 0, beta=0.1 (PDEBench, Takamoto et al. 2022)"
    name = "advection1d"

    def equation(self, grid: Grid, config: Advection1DConfig) -> SpectralEquation:  # type: ignore[override]
        return Advection(grid, velocity=config.beta)

    def scalars(self, config: Advection1DConfig) -> dict[str, float]:  # type: ignore[override]
        return {"beta": config.beta}

r"""1D viscous Burgers dataset (FNO paper setup): GRF initial data, solved fine, stored coarse.

Li et al., "Fourier Neural Operator for Parametric PDEs" (ICLR 2021, §5.1): on the periodic unit
interval, :math:`u_t + u u_x = \nu u_{xx}` with :math:`\nu = 0.1`, initial data
:math:`u_0 \sim \mathcal N(0, 625(-\Delta + 25 I)^{-2})` (``alpha=2, tau=5, sigma=25``), solved on
8192 points up to ``t = 1`` and subsampled (the benchmarks use 2^13 / 2^k points). PDEBench
(Takamoto et al., NeurIPS 2022 D&B) uses :math:`\nu \in \{0.001, 0.01, 0.1, 1\}`
(``--set nu=...``; small ν needs a finer grid and step).

Solver: ETDRK4, float64, 2/3 dealiasing (see :mod:`sciml.data.recipes.spectral_base`). Defaults
are CI-sized; ``--set paper=true`` gives the paper sizes (``n_samples=2048 n_fine=8192 n_x=1024
dt=2.5e-5``). File: cartesian 1D (``x`` on ``[0, 1)``), field
``u`` of shape ``(N, T, X)``, scalar ``nu``.
"""

from __future__ import annotations

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import Burgers, Grid, SpectralEquation

__all__ = ["Burgers1D", "Burgers1DConfig"]


class Burgers1DConfig(SpectralRecipeConfig):
    """Burgers dataset parameters (CI-sized defaults; paper values in the module docstring)."""

    SOLVER_PRESET = "burgers1d-fno"
    PAPER = {"n_samples": 2048, "batch_size": 64, "n_x": 1024}

    nu: float = Field(default=0.1, gt=0.0, description="viscosity")
    n_fine: int = Field(default=256, ge=8, description="solver grid points (paper: 8192)")
    n_x: int = Field(default=128, ge=4, description="stored grid points (paper: 1024)")
    dt: float = Field(default=5e-4, gt=0.0, description="time step (paper: 2.5e-5)")
    sigma: float | None = Field(default=25.0, gt=0.0, description="GRF amplitude (FNO: 25)")


@RECIPES.register("burgers1d")
class Burgers1D(SpectralRecipe):
    """FNO-paper Burgers: GRF ``u0`` → trajectory ``u(t, x)`` on the periodic unit interval."""

    Config = Burgers1DConfig
    summary = "1D viscous Burgers, nu=0.1, GRF u0 (FNO, Li et al. 2021); ETDRK4 fine -> subsampled"
    name = "burgers1d"

    def equation(self, grid: Grid, config: Burgers1DConfig) -> SpectralEquation:  # type: ignore[override]
        return Burgers(grid, nu=config.nu)

    def scalars(self, config: Burgers1DConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu}

r"""2D Allen–Cahn dataset: phase separation and coarsening from small random data (the reaction–
diffusion task of Poseidon's downstream set, ACE, absent from its pretraining).

.. math:: \partial_t u = \varepsilon\,\Delta u + u - u^3 \quad \text{on } [0, 1)^2 \text{ (periodic)},

solved by :class:`~sciml.solvers.spectral.AllenCahn` (ETDRK4, cubic term dealiased with the 1/2
rule) from a Gaussian random field :math:`u_0` (covariance :math:`\sigma^2(-\Delta + \tau^2)^{-
\alpha}`). Small :math:`u_0` grows like :math:`e^t` into the wells :math:`u = \pm 1`, which then
coarsen; interfaces have the width :math:`\sqrt{2\varepsilon}` (0.045 at the default
:math:`\varepsilon = 10^{-3}`, about 3 cells of a 64² grid). Poseidon's ACE writes the equation
as :math:`u_t = \Delta u - \kappa^2 (u^3 - u)` with :math:`\kappa = 220` on a finer time scale;
rescaling time by :math:`\kappa^2` gives our form with :math:`\varepsilon = 1/\kappa^2 \approx
2\cdot10^{-5}`, whose interfaces a CPU-sized grid cannot resolve, hence our larger default (set
``epsilon`` to change it; the value 220 is our reading of the paper, not checked). Its initial data
differ too (ours: a GRF).
File: cartesian 2D on ``[0, 1)²``, field ``u`` ``(N, T, X, Y)``, scalar ``epsilon``.
"""

from __future__ import annotations

from pydantic import Field

from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.registry import RECIPES
from sciml.solvers.spectral import AllenCahn, Grid, SpectralEquation

__all__ = ["AllenCahn2D", "AllenCahn2DConfig"]


class AllenCahn2DConfig(SpectralRecipeConfig):
    """Allen–Cahn parameters (CI-sized defaults; ``paper=True``: Poseidon's ACE sizes)."""

    PAPER = {
        "n_samples": 15300,  # Poseidon ACE: 15000 train + 60 validation + 240 test trajectories
        "batch_size": 20,
        "n_fine": 128,
        "n_x": 128,
    }

    epsilon: float = Field(default=1e-3, gt=0.0, description="interface diffusivity")
    n_samples: int = Field(default=4, ge=1, description="trajectories")
    batch_size: int = Field(default=4, ge=1, description="trajectories solved together")
    n_fine: int = Field(default=64, ge=8, description="solver grid points per axis")
    n_x: int = Field(default=32, ge=4, description="stored points per axis")
    t_end: float = Field(default=5.0, gt=0.0, description="stored time span")
    n_t: int = Field(default=21, ge=2, description="stored times")
    dt: float = Field(default=0.01, gt=0.0, description="solver time step")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=8.0, gt=0.0, description="GRF inverse length scale")
    sigma: float | None = Field(default=5.0, gt=0.0, description="GRF amplitude")


@RECIPES.register("allen_cahn2d")
class AllenCahn2D(SpectralRecipe):
    """Allen-Cahn phase separation on the unit torus from GRF data, epsilon = 1e-3."""

    Config = AllenCahn2DConfig
    summary = "2D Allen-Cahn u_t = eps Lap u + u - u^3, GRF u0, eps=1e-3 (Poseidon ACE-like)"
    name = "allen_cahn2d"
    field_name = "u"
    n_dims = 2

    def equation(self, grid: Grid, config: AllenCahn2DConfig) -> SpectralEquation:  # type: ignore[override]
        return AllenCahn(grid, epsilon=config.epsilon)

    def scalars(self, config: AllenCahn2DConfig) -> dict[str, float]:  # type: ignore[override]
        return {"epsilon": config.epsilon}

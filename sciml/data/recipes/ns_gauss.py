r"""NS-Gauss: incompressible Navier–Stokes from a random sum of Gaussian vortices (a Poseidon
pretraining family).

Herde et al., "Poseidon: Efficient Foundation Models for PDEs" (NeurIPS 2024, App. B): on the unit
torus with :math:`\nu = 4\cdot10^{-4}`, 21 snapshots on :math:`[0, 1]`, initial vorticity

.. math::

    \omega_0(\mathbf x) = \sum_{i=1}^{p} \frac{\alpha_i}{\sigma_i}
        \exp\Big(-\frac{|\mathbf x - \mathbf x_i|^2}{2\sigma_i^2}\Big) - \text{mean},

:math:`p = 100`, :math:`\alpha_i \sim U[-1, 1]`, :math:`\sigma_i \sim U[0.01, 0.1]`, centres
:math:`\mathbf x_i \sim U[0, 1]^2` (our reading of the paper's appendix; the paper's own data were
not available to compare against). We periodize each Gaussian by summing its 3×3 nearest images
(the next ones are below :math:`e^{-50}` of the peak for :math:`\sigma \le 0.1`) and subtract the
mean: the vorticity of a periodic velocity has zero mean. The velocity is
:math:`(\partial_y\psi, -\partial_x\psi)`, :math:`-\Delta\psi = \omega`
(:mod:`~sciml.data.recipes.ns_velocity`).
File: ``vorticity`` ``(N, T, X, Y)``, ``velocity`` ``(N, T, X, Y, 2)``, scalar ``nu``.
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator

from sciml.data.recipes.ns_velocity import NSVelocityConfig, NSVelocityRecipe
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid

__all__ = ["NSGauss", "NSGaussConfig", "gaussian_vortices"]


class NSGaussConfig(NSVelocityConfig):
    """NS-Gauss parameters (CI-sized defaults; ``paper=True``: Poseidon's sizes)."""

    # the vortices reach |u| + |v| ~ 4: on 256² a step of 1e-3 would sit at the CFL limit
    PAPER = {**NSVelocityConfig.PAPER, "dt": 5e-4}

    n_vortices: int = Field(default=100, ge=1, description="Gaussian vortices p (Poseidon: 100)")
    sigma_range: tuple[float, float] = Field(
        default=(0.01, 0.1), description="vortex widths sigma ~ U[lo, hi] (Poseidon: 0.01, 0.1)"
    )
    dt: float = Field(default=1e-3, gt=0.0, description="solver time step")

    @model_validator(mode="after")
    def _widths_resolved(self) -> NSGaussConfig:
        lo, hi = self.sigma_range
        if not 0 < lo <= hi <= 0.1:
            raise ValueError(
                f"sigma_range={list(self.sigma_range)} must satisfy 0 < lo <= hi <= 0.1"
            )
        if lo * self.n_fine < 1.0:
            raise ValueError(
                f"sigma_range starts at {lo:g}, below the solver grid spacing 1/n_fine = "
                f"{1 / self.n_fine:.3g}: raise n_fine to >= {int(-(-1 // lo))} or the smallest width"
            )
        return self


def gaussian_vortices(parameters: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The NS-Gauss vorticity (periodized, mean removed) of drawn vortices.

    Parameters
    ----------
    parameters:
        ``(B, p, 4)``: amplitude :math:`\alpha_i`, width :math:`\sigma_i` and centre
        :math:`(x_i, y_i)` of each vortex.
    x, y:
        Grid coordinates ``(X,)`` and ``(Y,)`` on the unit torus.

    Returns
    -------
    ``(B, 1, X, Y)``.
    """
    alpha, sigma, cx, cy = (parameters[..., k, None] for k in range(4))  # (B, p, 1)
    images = torch.tensor([-1.0, 0.0, 1.0], dtype=x.dtype, device=x.device)
    # (B, p, X) and (B, p, Y): Gaussian factors of each axis, summed over the 3 nearest images
    gx = torch.exp(-(((x - cx)[..., None] + images) ** 2) / (2 * sigma[..., None] ** 2)).sum(-1)
    gy = torch.exp(-(((y - cy)[..., None] + images) ** 2) / (2 * sigma[..., None] ** 2)).sum(-1)
    w = torch.einsum("bp,bpx,bpy->bxy", (alpha / sigma)[..., 0], gx, gy)
    return (w - w.mean(dim=(-2, -1), keepdim=True))[:, None]


@RECIPES.register("ns_gauss")
class NSGauss(NSVelocityRecipe):
    """Poseidon's NS-Gauss: a random sum of Gaussian vortices on the unit torus, nu = 4e-4."""

    Config = NSGaussConfig
    summary = "2D Navier-Stokes (u, v, vorticity), random Gaussian vortices (Poseidon NS-Gauss)"
    name = "ns_gauss"

    def draw(self, config: NSGaussConfig, size: int, generator: torch.Generator) -> torch.Tensor:
        """Vortex parameters ``(size, p, 4)`` (float64, CPU) of :func:`gaussian_vortices`."""
        u = torch.rand(size, config.n_vortices, 4, generator=generator, dtype=torch.float64)
        lo, hi = config.sigma_range
        scale = torch.tensor([2.0, hi - lo, 1.0, 1.0], dtype=torch.float64)
        shift = torch.tensor([-1.0, lo, 0.0, 0.0], dtype=torch.float64)
        return u * scale + shift

    def initial_vorticity(
        self,
        config: NSGaussConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        parameters = self.draw(config, size, generator).to(grid.device, grid.dtype)
        x, y = (c.reshape(-1) for c in grid.coordinates())
        return gaussian_vortices(parameters, x, y)

r"""NS-Tracer: a passive scalar carried by incompressible Navier–Stokes (a downstream task in the
spirit of Poseidon's NS-Tracer-PwC; not a pretraining family: new physics, a new channel).

On the unit torus the vorticity and a tracer concentration :math:`c` evolve together,

.. math::

    \partial_t\omega + \mathbf u\cdot\nabla\omega = \nu\Delta\omega, \qquad
    \partial_t c + \mathbf u\cdot\nabla c = \kappa\Delta c, \qquad
    \mathbf u = (\partial_y\psi, -\partial_x\psi), \quad -\Delta\psi = \omega,

solved as one two-channel state :math:`(\omega, c)` by the project's pseudo-spectral solver
(:class:`NSTracer2D`: the :class:`~sciml.solvers.spectral.NavierStokes2D` terms for
:math:`\omega`, and :math:`-\nabla\cdot(\mathbf u c)` (equal to :math:`-\mathbf u\cdot\nabla c`
since :math:`\nabla\cdot\mathbf u = 0`) with the same dealiasing for :math:`c`). Semi-discretely
the tracer's mean is conserved and its variance obeys
:math:`\tfrac{d}{dt}\tfrac12\langle c^2\rangle = -\kappa\langle|\nabla c|^2\rangle`.

Initial data (piecewise constant, "PwC", as the name of Poseidon's task; the exact formulas of
Herde et al., NeurIPS 2024, App. B were not read, these are **ours**): the vorticity takes values
:math:`\sim U[-A, A]` on a :math:`q\times q` checkerboard of squares, the tracer values
:math:`\sim U[0, 1]` on a :math:`q_c\times q_c` one; both are smoothed by the spectral Gaussian
filter :math:`e^{-|\mathbf k|^2\delta^2/2}` (the solver cannot carry jumps), the vorticity's mean
is removed. Viscosity and time axis as the other NS families (:math:`\nu = 4\cdot10^{-4}`,
snapshots on :math:`[0, 1]`); :math:`\kappa = \nu` by default.

File: ``vorticity`` ``(N, T, X, Y)``, ``velocity`` ``(N, T, X, Y, 2)`` (``u, v``), ``tracer``
``(N, T, X, Y)``, scalars ``nu`` and ``kappa``; a model reads ``fields: [velocity, tracer]``
(three channels).
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator

from sciml.data.recipes.base import block_generator
from sciml.data.recipes.ns_velocity import NSVelocityConfig, NSVelocityRecipe
from sciml.registry import RECIPES
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralEquation

__all__ = ["NSTracer", "NSTracerConfig", "NSTracer2D", "piecewise_constant"]


class NSTracer2D(NavierStokes2D):
    r"""Vorticity-form NS with a passive tracer: state ``(B, 2, N, N)`` = :math:`(\omega, c)`.

    Parameters
    ----------
    grid:
        2D periodic grid.
    nu:
        Viscosity (float or ``(B,)`` tensor).
    kappa:
        Tracer diffusivity :math:`\kappa \ge 0` (float or ``(B,)`` tensor).
    **kwargs:
        Passed to :class:`~sciml.solvers.spectral.NavierStokes2D` (drag, forcing, dealias).
    """

    n_channels = 2

    def __init__(
        self, grid: Grid, nu: float | torch.Tensor = 1e-3, kappa: float | torch.Tensor = 1e-3,
        **kwargs: object,
    ) -> None:  # fmt: skip
        super().__init__(grid, nu=nu, **kwargs)  # type: ignore[arg-type]
        self.kappa = self.param("kappa", kappa)
        if (self.kappa.detach() < 0).any():
            raise ValueError(f"kappa must be >= 0, got {kappa}")

    def linear_symbol(self) -> torch.Tensor:
        """:math:`(-\\nu|k|^2 - \\mu,\\ -\\kappa|k|^2)`, ``(B or 1, 2, *N_f)``."""
        flow = super().linear_symbol()
        tracer = self.kappa * self.grid.laplacian_symbol()
        return torch.cat(torch.broadcast_tensors(flow, tracer), dim=1)

    def nonlinear(self, state_hat: torch.Tensor) -> torch.Tensor:
        """:math:`(-\\widehat{\\mathbf u\\cdot\\nabla\\omega} + \\hat f,\\
        -\\widehat{\\nabla\\cdot(\\mathbf u c)})` of ``(B, 2, *N_f)``."""
        w_hat, c_hat = state_hat[:, :1], state_hat[:, 1:]
        flow = super().nonlinear(w_hat)
        velocity = self.to_physical(w_hat, self._velocity_factor)  # (B, 2, ...) = (u, v)
        flux = self.to_fourier(velocity * self.to_physical(c_hat))  # FT(uc), FT(vc)
        tracer = -(self._ikx * flux[:, :1] + self._iky * flux[:, 1:])
        return torch.cat([flow, tracer], dim=1)

    def max_velocity(self, state_hat: torch.Tensor) -> torch.Tensor:
        return super().max_velocity(state_hat[:, :1])


class NSTracerConfig(NSVelocityConfig):
    """NS-Tracer parameters (CI-sized defaults; ``paper=True``: Poseidon's NS sizes)."""

    kappa: float = Field(default=4e-4, ge=0.0, description="tracer diffusivity (default = nu)")
    n_blocks: int = Field(default=4, ge=1, description="vorticity squares q per axis")
    vorticity_amplitude: float = Field(default=10.0, gt=0.0, description="A of U[-A, A]")
    tracer_blocks: int = Field(default=8, ge=1, description="tracer squares q_c per axis")
    smoothing: float = Field(default=0.02, gt=0.0, description="filter width delta (length)")

    @model_validator(mode="after")
    def _smoothing_resolved(self) -> NSTracerConfig:
        if self.smoothing * self.n_fine < 1.0:
            raise ValueError(
                f"smoothing={self.smoothing:g} is below the solver grid spacing 1/n_fine = "
                f"{1 / self.n_fine:.3g}: raise n_fine to >= {int(-(-1 // self.smoothing))} or "
                "the smoothing"
            )
        return self


def piecewise_constant(values: torch.Tensor, grid: Grid, smoothing: float) -> torch.Tensor:
    r"""Checkerboard field ``(B, 1, N, N)``: ``values[b, i, j]`` on the square
    :math:`[i/q, (i+1)/q) \times [j/q, (j+1)/q)` of the unit torus, smoothed by
    :math:`e^{-|\mathbf k|^2\delta^2/2}` (``smoothing`` = :math:`\delta`), Nyquist modes dropped.

    ``values``: ``(B, q, q)`` on the grid's device and dtype; the grid is the unit torus.
    """
    q = values.shape[-1]
    x, y = grid.coordinates()  # (1, 1, N, 1), (1, 1, 1, N) on [0, 1)
    i = torch.floor(x.reshape(-1) * q).long().clamp(max=q - 1)
    j = torch.floor(y.reshape(-1) * q).long().clamp(max=q - 1)
    field = values[:, i][:, :, j][:, None]
    k2 = -grid.laplacian_symbol()
    return grid.irfft(
        grid.rfft(field) * torch.exp(-0.5 * k2 * smoothing**2) * grid.dealias_mask(1.0)
    )


@RECIPES.register("ns_tracer")
class NSTracer(NSVelocityRecipe):
    """A passive tracer advected and diffused by 2D NS from piecewise-constant data (NS-Tracer)."""

    Config = NSTracerConfig
    summary = "2D Navier-Stokes (u, v, vorticity) carrying a passive tracer, PwC initial data"
    name = "ns_tracer"
    state_fields = ("tracer",)

    def equation(self, grid: Grid, config: NSTracerConfig) -> SpectralEquation:  # type: ignore[override]
        return NSTracer2D(grid, nu=config.nu, kappa=config.kappa)

    def scalars(self, config: NSTracerConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu, "kappa": config.kappa}

    def draw(self, config: NSTracerConfig, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Square values of the vorticity ``(size, q, q)`` and tracer ``(size, q_c, q_c)``
        (float64, CPU)."""
        q, qc = config.n_blocks, config.tracer_blocks
        a = config.vorticity_amplitude
        w = (2 * torch.rand(size, q, q, generator=generator, dtype=torch.float64) - 1) * a
        c = torch.rand(size, qc, qc, generator=generator, dtype=torch.float64)
        return w, c

    def initial_fields(
        self, config: NSTracerConfig, grid: Grid, draws: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Initial state ``(size, 2, N, N)`` = (vorticity without its mean, tracer) on ``grid``
        of the square values ``draws`` of :meth:`draw`."""
        w0, c0 = (
            piecewise_constant(v.to(grid.device, grid.dtype), grid, config.smoothing) for v in draws
        )
        return torch.cat([w0 - w0.mean(dim=(-2, -1), keepdim=True), c0], dim=1)

    def initial_vorticity(
        self,
        config: NSTracerConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        generator: torch.Generator,
    ) -> torch.Tensor:
        return self.initial_fields(config, grid, self.draw(config, size, generator))[:, :1]

    def initial_condition(
        self,
        config: NSTracerConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        start: int,
    ) -> torch.Tensor:
        """Initial state ``(size, 2, N, N)`` = (vorticity, tracer) of the block's draws (the
        two-channel state :class:`NSTracer2D` evolves; the base recipe stores channel 1 as
        ``tracer``, :attr:`state_fields`)."""
        draws = self.draw(config, size, block_generator(config.seed, start))
        return self.initial_fields(config, grid, draws)

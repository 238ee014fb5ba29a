r"""Shared machinery of the incompressible Navier–Stokes recipes that store the velocity (Poseidon's
NS families: NS-Sines, NS-Gauss, the shear layer).

The flow is solved in vorticity form on the unit torus with
:class:`~sciml.solvers.spectral.NavierStokes2D` (no forcing by default),

.. math::

    \partial_t\omega + \mathbf u\cdot\nabla\omega = \nu\Delta\omega, \qquad
    -\Delta\psi = \omega, \qquad \mathbf u = (u, v) = (\partial_y\psi, -\partial_x\psi),

in float64 on ``n_fine`` points per axis. At every stored time the velocity is recovered from the
vorticity spectrally on the fine grid (:meth:`NavierStokes2D.velocity_hat`) and both are stored on
every ``n_fine // n_x``-th point: field ``vorticity`` ``(N, T, X, Y)`` and the vector field
``velocity`` ``(N, T, X, Y, 2)`` with components ``(u, v)`` (so a dataset reading ``velocity``
gets the channels ``u, v``, as Poseidon's models do). An equation whose state carries further
channels after the vorticity (e.g. a passive tracer, :mod:`~sciml.data.recipes.ns_tracer`) names
them in :attr:`NSVelocityRecipe.state_fields`; each is stored as a field ``(N, T, X, Y)``, and
fields constant in time (e.g. a forcing) in :attr:`NSVelocityRecipe.constant_fields`.

A family supplies the initial vorticity :meth:`NSVelocityRecipe.initial_vorticity` from random
numbers of the block's generator (drawn on the CPU, so files do not depend on the device). Where a
family prescribes a velocity :math:`(u_0, v_0)` instead, its vorticity
:math:`\omega_0 = \partial_x v_0 - \partial_y u_0` (:func:`vorticity_of`) is what is evolved, so the
stored velocity at ``t = 0`` is the divergence-free (Leray) projection of :math:`(u_0, v_0)`
without its mean (a vorticity-form solver carries no mean flow; the families here have none).

Poseidon (Herde et al., NeurIPS 2024, App. B) stores 21 snapshots on :math:`t \in [0, 1]` at 128²
with :math:`\nu = 4\cdot 10^{-4}`; these are the defaults of the time axis and viscosity here
(the viscosity is our reading of the paper, not checked against its data).
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.recipes.base import block_generator, generate_in_blocks
from sciml.data.recipes.spectral_base import SpectralRecipe, SpectralRecipeConfig
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralEquation

__all__ = ["NSVelocityConfig", "NSVelocityRecipe", "vorticity_of"]


class NSVelocityConfig(SpectralRecipeConfig):
    """Navier–Stokes parameters shared by the velocity recipes (CI-sized defaults)."""

    PAPER = {
        "n_samples": 20360,  # Poseidon's 20000 train + 120 validation + 240 test trajectories
        "batch_size": 20,
        "n_fine": 256,
        "n_x": 128,
        "t_end": 1.0,
        "n_t": 21,
        "dt": 1e-3,
    }

    nu: float = Field(default=4e-4, gt=0.0, description="viscosity (Poseidon NS: 4e-4)")
    n_samples: int = Field(default=4, ge=1, description="trajectories")
    batch_size: int = Field(default=4, ge=1, description="trajectories solved together")
    n_fine: int = Field(default=128, ge=8, description="solver grid points per axis")
    n_x: int = Field(default=32, ge=4, description="stored points per axis (Poseidon: 128)")
    t_end: float = Field(default=1.0, gt=0.0, description="stored time span (Poseidon: 1)")
    n_t: int = Field(default=21, ge=2, description="stored times (Poseidon: 21)")
    dt: float = Field(default=2.5e-3, gt=0.0, description="solver time step")

    @model_validator(mode="after")
    def _no_random_field_parameters(self) -> NSVelocityConfig:
        # alpha, tau, sigma come with SpectralRecipeConfig (Gaussian random fields); the NS
        # families draw their own initial data, so a value given for them would be ignored
        unused = sorted({"alpha", "tau", "sigma"} & self.model_fields_set)
        if unused:
            raise ValueError(
                f"{', '.join(unused)}: Gaussian-random-field parameters are not used by this "
                "family (its initial data are described in the recipe's documentation)"
            )
        return self


def vorticity_of(grid: Grid, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r""":math:`\omega = \partial_x v - \partial_y u` of velocity components ``(B, 1, N, N)``,
    spectrally on ``grid`` (axis -2 is ``x``), Nyquist modes dropped."""
    w_hat = grid.derivative_symbol(0) * grid.rfft(v) - grid.derivative_symbol(1) * grid.rfft(u)
    return grid.irfft(w_hat)


class NSVelocityRecipe(SpectralRecipe):
    """Base of the NS recipes storing ``vorticity`` and ``velocity``; subclasses implement
    :meth:`initial_vorticity` (and may refine :meth:`equation`)."""

    Config = NSVelocityConfig
    field_name = "vorticity"
    n_dims = 2
    #: names of the solver state's channels after the vorticity (channel ``1 + i`` is
    #: ``state_fields[i]``; the equation's ``n_channels`` is ``1 + len(state_fields)``), each
    #: stored as a time-varying field ``(N, T, X, Y)`` after ``velocity`` (e.g. a tracer)
    state_fields: ClassVar[tuple[str, ...]] = ()
    #: names of fields constant in time stored besides the flow, ``(N, X, Y)`` (e.g. a forcing),
    #: produced by :meth:`constant_field`
    constant_fields: ClassVar[tuple[str, ...]] = ()

    def constant_field(self, name: str, config: NSVelocityConfig, grid: Grid) -> torch.Tensor:
        """The time-constant field ``name`` of :attr:`constant_fields` on ``grid``, ``(N, N)``."""
        raise KeyError(f"{type(self).__name__} stores no constant field {name!r}")

    @abstractmethod
    def initial_vorticity(
        self, config: NSVelocityConfig, grid: Grid, size: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Initial vorticity ``(size, 1, N, N)`` on ``grid`` (its dtype and device), from random
        numbers drawn with the CPU ``generator``."""

    def equation(self, grid: Grid, config: NSVelocityConfig) -> SpectralEquation:  # type: ignore[override]
        return NavierStokes2D(grid, nu=config.nu)

    def scalars(self, config: NSVelocityConfig) -> dict[str, float]:  # type: ignore[override]
        return {"nu": config.nu}

    def initial_condition(
        self,
        config: NSVelocityConfig,  # type: ignore[override]
        grid: Grid,
        size: int,
        start: int,
    ) -> torch.Tensor:
        w0 = self.initial_vorticity(config, grid, size, block_generator(config.seed, start))
        # no Nyquist modes (see SpectralRecipe.initial_condition)
        return grid.irfft(grid.rfft(w0) * grid.dealias_mask(1.0))

    def make_block(
        self,
        config: NSVelocityConfig,  # type: ignore[override]
        start: int,
        size: int,
        device: str | torch.device,
    ) -> dict[str, torch.Tensor]:
        """Trajectories ``start .. start+size``: ``vorticity`` ``(size, T, X, Y)``,
        ``velocity`` ``(size, T, X, Y, 2)``, each of :attr:`state_fields` ``(size, T, X, Y)`` and
        each of :attr:`constant_fields` ``(size, X, Y)`` (float32, CPU)."""
        solver = self.solver(config, device)
        grid, equation = solver.grid, solver.equation
        state = self.initial_condition(config, grid, size, start)
        save_every = round(config.t_end / config.dt / (config.n_t - 1))
        warmup = round(config.t_warmup / config.dt)
        with torch.no_grad():
            if warmup:
                state = solver.rollout(state, warmup, save_every=warmup)[:, -1]
            states = solver.rollout(
                state, save_every * (config.n_t - 1), save_every=save_every, t0=config.t_warmup
            )  # (size, T, 1 + len(state_fields), N, N)
            w = states[:, :, 0]
            u_hat, v_hat = equation.velocity_hat(grid.rfft(w.reshape(-1, 1, *grid.shape)))
            velocity = torch.cat([grid.irfft(u_hat), grid.irfft(v_hat)], dim=1)
        s = config.n_fine // config.n_x
        velocity = velocity.reshape(size, config.n_t, 2, *grid.shape).permute(0, 1, 3, 4, 2)
        out = {
            "vorticity": w[:, :, ::s, ::s].float().cpu(),
            "velocity": velocity[:, :, ::s, ::s].float().cpu(),
        }
        for i, name in enumerate(self.state_fields):
            out[name] = states[:, :, 1 + i, ::s, ::s].float().cpu()
        for name in self.constant_fields:
            field = self.constant_field(name, config, grid)[::s, ::s].float().cpu()
            out[name] = field.expand(size, *field.shape).clone()
        return out

    def generate(
        self,
        config: NSVelocityConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        axis = np.arange(config.n_x) * (self.length / config.n_x)
        layout = DatasetLayout(
            dataset_name=self.name,
            n_trajectories=config.n_samples,
            time=np.linspace(0.0, config.t_end, config.n_t),
            coords={"x": axis, "y": axis},
            fields=[
                FieldLayout("vorticity"),
                FieldLayout("velocity", order=1),
                *(FieldLayout(name) for name in self.state_fields),
                *(FieldLayout(name, time_varying=False) for name in self.constant_fields),
            ],
            boundary={"x": "PERIODIC", "y": "PERIODIC"},
            scalars={k: np.full(config.n_samples, v) for k, v in self.scalars(config).items()},
            config=config.model_dump(),
            seed=config.seed,
            generator=type(self).__module__,
        )
        return generate_in_blocks(
            out_path,
            layout,
            lambda start, size: self.make_block(config, start, size, device),
            block_size=config.batch_size,
            progress=progress,
        )

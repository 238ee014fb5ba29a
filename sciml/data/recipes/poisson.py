"""Periodic Poisson datasets ``f ↦ u`` with ``-Δu = f`` on the unit box, solved exactly.

``f`` is a zero-mean periodic Gaussian random field with covariance ``σ²(-Δ + τ²)^(-α)``
(:func:`sciml.data.functions.gaussian_random_field` with ``remove_mean=True``: the periodic
problem is solvable only for zero-mean ``f``) on the grid ``x_j = j / s`` of ``[0, 1)^d``. The
solution is the zero-mean ``u`` with Fourier coefficients

.. math:: \\hat u_k = \\hat f_k / (4\\pi^2 |k|^2), \\quad \\hat u_0 = 0,

exact for the trigonometric interpolant of ``f`` (the discrete problem has no discretization error
beyond float64 round-off). Registered as ``poisson1d`` (``(N, s)``) and ``poisson2d``
(``(N, s, s)``), fields ``f`` and ``u`` constant in time (``time = [0.0]``), boundary
``PERIODIC`` on every axis.

Because the solution operator is diagonal in Fourier space, these datasets test resolution
invariance cleanly: a file generated at ``s`` and read with ``subsample=2`` is the same problem at
``s/2``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.registry import RECIPES

__all__ = ["PoissonConfig", "Poisson1d", "Poisson2d", "solve_periodic_poisson"]


class PoissonConfig(RecipeConfig):
    """Parameters of the periodic Poisson datasets (defaults: a CI-sized file)."""

    resolution: int = Field(default=64, ge=4, description="grid points s per axis")
    alpha: float = Field(default=2.0, gt=0.0, description="GRF smoothness exponent")
    tau: float = Field(default=3.0, gt=0.0, description="GRF inverse length scale")
    sigma: float | None = Field(default=None, gt=0.0, description="GRF amplitude (τ^(α-d/2))")


def solve_periodic_poisson(f: torch.Tensor, n_dims: int) -> torch.Tensor:
    """Zero-mean solution ``u`` of ``-Δu = f`` on the periodic unit box, by FFT.

    Parameters
    ----------
    f:
        ``(..., s_1, ..., s_d)`` right-hand side on the grid ``j / s_i`` (its mean is ignored:
        the zero mode of ``u`` is set to 0).
    n_dims:
        ``d``, the number of trailing spatial axes.

    Returns
    -------
    Tensor
        ``u`` with the shape, dtype and device of ``f``.
    """
    if n_dims < 1 or f.ndim < n_dims:
        raise ValueError(f"f of shape {tuple(f.shape)} has no {n_dims} trailing spatial axes")
    shape = f.shape[-n_dims:]
    dims = tuple(range(-n_dims, 0))
    k = [torch.fft.fftfreq(n, 1.0 / n, device=f.device, dtype=f.dtype) for n in shape[:-1]]
    k.append(torch.fft.rfftfreq(shape[-1], 1.0 / shape[-1], device=f.device, dtype=f.dtype))
    k2 = sum(g**2 for g in torch.meshgrid(*k, indexing="ij"))
    symbol = 4 * math.pi**2 * k2
    inverse = torch.where(symbol > 0, 1.0 / symbol.clamp_min(1e-300), torch.zeros_like(symbol))
    return torch.fft.irfftn(torch.fft.rfftn(f, dim=dims) * inverse, s=shape, dim=dims)


class _PeriodicPoisson(Recipe):
    """Shared generation of the 1D and 2D periodic Poisson datasets."""

    Config = PoissonConfig
    n_dims: ClassVar[int] = 1

    def generate(
        self,
        config: PoissonConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        s, d = config.resolution, self.n_dims
        axes = ["x", "y"][:d]
        grid = np.arange(s) / s
        layout = DatasetLayout(
            dataset_name=f"poisson{d}d",
            n_trajectories=config.n_samples,
            time=np.array([0.0]),
            coords=dict.fromkeys(axes, grid),
            fields=[FieldLayout("f", time_varying=False), FieldLayout("u", time_varying=False)],
            boundary=dict.fromkeys(axes, "PERIODIC"),
            config=config.model_dump(),
            seed=config.seed,
            generator=f"sciml.data.recipes.poisson (poisson{d}d)",
        )

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            f = gaussian_random_field(
                size,
                (s,) * d,
                alpha=config.alpha,
                tau=config.tau,
                sigma=config.sigma,
                boundary="periodic",
                remove_mean=True,
                generator=block_generator(config.seed, start),
                device=device,
                dtype=torch.float64,
            )
            return {"f": f, "u": solve_periodic_poisson(f, d)}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )


@RECIPES.register("poisson1d")
class Poisson1d(_PeriodicPoisson):
    """``-u'' = f`` on the periodic interval ``[0, 1)``, ``f`` a zero-mean periodic GRF."""

    n_dims = 1
    summary = "-u'' = f on [0,1) periodic, f ~ GRF (α=2, τ=3), exact Fourier solve"


@RECIPES.register("poisson2d")
class Poisson2d(_PeriodicPoisson):
    """``-Δu = f`` on the periodic square ``[0, 1)^2``, ``f`` a zero-mean periodic GRF."""

    n_dims = 2
    summary = "-Δu = f on [0,1)^2 periodic, f ~ GRF (α=2, τ=3), exact Fourier solve"

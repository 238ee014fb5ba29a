"""Antiderivative operator dataset: ``v ↦ u`` with ``u(x) = ∫_0^x v(s) ds`` on ``[0, 1]``.

DeepXDE's DeepONet example (Lu et al., Nat. Mach. Intell. 2021, §"antiderivative"): the
input ``v`` is a Gaussian random field with the RBF kernel of length scale ``0.2``, observed at
``m = 100`` equispaced sensors; the output is its antiderivative ``u`` (``u' = v``,
``u(0) = 0``) at the same points. The documented setup uses 150 training and 1000 test
functions, so the default file holds 1150 trajectories; read with
``GridPairDataset(path, ["v"], ["u"], n_train=150, n_test=1000)``, the *last* 1000 are the test
set.

``v`` is drawn jointly on a fine grid that contains the sensors (``refine`` fine intervals per
sensor interval) and integrated there with the cumulative trapezoidal rule in float64; its error
``-(h^2/12)(v'(x) - v'(0)) + O(h^4)`` is of order ``1e-6`` for the defaults (``h = 1/990``,
``v'`` has standard deviation ``1/l = 5``), at the level of float32 storage precision.

File (see :mod:`sciml.data.format`): cartesian 1D, ``dimensions/x`` = sensors, ``time = [0.0]``,
fields ``v`` and ``u`` constant in time with shape ``(N, m)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.functions import rbf_grf_1d
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.registry import RECIPES

__all__ = ["AntiderivativeConfig", "Antiderivative", "cumulative_trapezoid"]


class AntiderivativeConfig(RecipeConfig):
    """Parameters of the antiderivative dataset (defaults: DeepXDE's documented setup)."""

    n_samples: int = Field(default=1150, ge=1, description="functions (150 train + 1000 test)")
    n_sensors: int = Field(default=100, ge=2, description="m, equispaced sensors on [0, 1]")
    length_scale: float = Field(default=0.2, gt=0.0, description="RBF kernel length scale")
    refine: int = Field(default=10, ge=1, description="fine quadrature intervals per sensor gap")
    batch_size: int = Field(default=256, ge=1, description="functions per generated block")


def cumulative_trapezoid(v: torch.Tensor, h: float) -> torch.Tensor:
    r"""Running integral :math:`\int_0^{x_j} v` of samples ``v (..., n)`` on a uniform grid.

    Trapezoidal rule with spacing ``h``; the first value is ``0``. Second-order accurate:
    error :math:`-\tfrac{h^2}{12}(v'(x_j) - v'(0)) + O(h^4)`.
    """
    increments = 0.5 * h * (v[..., 1:] + v[..., :-1])
    return torch.cat([torch.zeros_like(v[..., :1]), increments.cumsum(-1)], dim=-1)


@RECIPES.register("antiderivative")
class Antiderivative(Recipe):
    """DeepXDE's antiderivative benchmark: RBF-GRF ``v`` and ``u = ∫_0^x v`` at ``m`` sensors."""

    Config = AntiderivativeConfig
    summary = "u(x) = ∫_0^x v, v ~ RBF GRF (l=0.2) at 100 sensors; 150 train + 1000 test (DeepXDE)"

    def generate(
        self,
        config: AntiderivativeConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        m, r = config.n_sensors, config.refine
        n_fine = (m - 1) * r + 1
        fine = torch.linspace(0.0, 1.0, n_fine, dtype=torch.float64)
        sensors = fine[::r]
        layout = DatasetLayout(
            dataset_name="antiderivative",
            n_trajectories=config.n_samples,
            time=np.array([0.0]),
            coords={"x": sensors.numpy()},
            fields=[FieldLayout("v", time_varying=False), FieldLayout("u", time_varying=False)],
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.antiderivative",
        )

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            # a CPU generator keyed on (seed, start): the same file on every device and on resume
            v = rbf_grf_1d(
                size,
                fine,
                length_scale=config.length_scale,
                generator=block_generator(config.seed, start),
                device=device,
                dtype=torch.float64,
            )
            u = cumulative_trapezoid(v, 1.0 / (n_fine - 1))
            return {"v": v[:, ::r], "u": u[:, ::r]}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )

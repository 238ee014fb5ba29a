r"""1D diffusion–sorption dataset (PDEBench setup) from our finite-volume solver.

.. math:: u_t = \frac{D}{R(u)} u_{xx},\quad x \in (0, 1),\ t \in [0, 500],\qquad
          u(0, t) = 1,\quad u(1, t) = -D\,u_x(1, t),

with PDEBench's constants (Takamoto et al., NeurIPS 2022 D&B, App. D; see
:mod:`sciml.solvers.fv.diffusion_sorption` for the Cauchy sign) and random initial data
:math:`u(x, 0) \sim \mathcal U(0, 0.2)` independently in every cell (PDEBench's description of its
generator; recalled, not checked against its code here). PDEBench: 10 000 samples on 1024 cells
with 101 stored times (PI-HC-MoE uses 8000/1000 of them); defaults here are CI-sized and
``paper=true`` gives the PDEBench sizes. The solver runs on ``n_x`` cells with ``substeps``
backward-Euler steps per stored interval.

File: field ``u`` ``(N, T, X)`` at the cell centres ``x = (i + 1/2)/n_x`` and
``time = linspace(0, t_end, n_t)``. :func:`export_pdebench` writes the same trajectories in
PDEBench's per-seed layout (``"0000"/data (T, X, 1)``, ``grid/x``, ``grid/t``), which
:func:`sciml.data.pdebench.read_pdebench` opens: the cross-check of axes and layout against
PDEBench's own files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np
import torch
from pydantic import Field, model_validator

from sciml.data.format import DatasetFile, DatasetLayout, FieldLayout
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.registry import RECIPES
from sciml.solvers.fv import DiffusionSorptionFV, SorptionParameters

__all__ = ["DiffusionSorptionConfig", "DiffusionSorption", "export_pdebench"]


class DiffusionSorptionConfig(RecipeConfig):
    """Parameters of ``diffusion_sorption`` (CI-sized defaults; ``paper=true``: PDEBench sizes)."""

    PAPER: ClassVar[dict[str, Any]] = {
        "n_samples": 10000,
        "batch_size": 100,
        "n_x": 1024,
        "n_t": 101,
        "substeps": 2,
    }

    n_samples: int = Field(default=8, ge=1, description="trajectories")
    batch_size: int = Field(default=8, ge=1, description="trajectories solved together")
    n_x: int = Field(default=128, ge=3, description="cells (PDEBench: 1024)")
    n_t: int = Field(default=51, ge=2, description="stored times in [0, t_end] (PDEBench: 101)")
    t_end: float = Field(default=500.0, gt=0.0, description="final time in s")
    substeps: int = Field(default=2, ge=1, description="backward-Euler steps per stored interval")
    ic_low: float = Field(default=0.0, ge=0.0, description="initial data ~ U(ic_low, ic_high)")
    ic_high: float = Field(default=0.2, gt=0.0, description="initial data ~ U(ic_low, ic_high)")
    diffusion: float = Field(default=5e-4, gt=0.0, description="D")
    porosity: float = Field(default=0.29, gt=0.0, lt=1.0, description="φ")
    rho_s: float = Field(default=2880.0, gt=0.0, description="ρ_s")
    k_f: float = Field(default=3.5e-4, gt=0.0, description="Freundlich k_f")
    n_f: float = Field(default=0.874, gt=0.0, description="Freundlich exponent n_f")
    paper: bool = Field(default=False, description="use the PDEBench sizes")

    @model_validator(mode="before")
    @classmethod
    def _paper_sizes(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("paper"):
            return {**cls.PAPER, **data}
        return data

    @model_validator(mode="after")
    def _check_range(self) -> DiffusionSorptionConfig:
        if self.ic_low >= self.ic_high:
            raise ValueError(f"ic_low={self.ic_low} must be < ic_high={self.ic_high}")
        return self

    def parameters(self) -> SorptionParameters:
        return SorptionParameters(
            diffusion=self.diffusion,
            porosity=self.porosity,
            rho_s=self.rho_s,
            k_f=self.k_f,
            n_f=self.n_f,
        )


@RECIPES.register("diffusion_sorption")
class DiffusionSorption(Recipe):
    """PDEBench 1D diffusion–sorption by finite volumes (see module docstring)."""

    Config = DiffusionSorptionConfig
    summary = "1D diffusion-sorption u_t = D/R(u) u_xx, Freundlich sorption (PDEBench), FV + BE"

    def generate(
        self,
        config: DiffusionSorptionConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        solver = DiffusionSorptionFV(config.n_x, params=config.parameters(), device=device)
        n_steps = (config.n_t - 1) * config.substeps
        dt = config.t_end / n_steps
        layout = DatasetLayout(
            dataset_name="diffusion_sorption",
            n_trajectories=config.n_samples,
            time=np.linspace(0.0, config.t_end, config.n_t),
            coords={"x": solver.x.cpu().numpy()},
            fields=[FieldLayout("u")],
            boundary={"x": "OPEN"},
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.diffusion_sorption (finite volumes, sciml.solvers.fv)",
        )

        def make_block(start: int, size: int) -> dict[str, torch.Tensor]:
            gen = block_generator(config.seed, start, device)
            u0 = torch.rand(size, config.n_x, generator=gen, dtype=torch.float64, device=device)
            u0 = config.ic_low + (config.ic_high - config.ic_low) * u0
            return {"u": solver.rollout(u0, n_steps, dt=dt, save_every=config.substeps)}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )


def export_pdebench(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write the ``u`` trajectories of our file ``src`` in PDEBench's per-seed layout at ``dst``.

    ``"NNNN"/data`` ``(T, X, 1)`` float32, ``"NNNN"/grid/x`` ``(X,)``, ``"NNNN"/grid/t`` ``(T,)``
    (PDEBench's ``1D_diff-sorp_NA_NA.h5``).
    """
    ours = DatasetFile(src)
    u = ours.read("u")
    x, t = ours.coords["x"], ours.time
    dst = Path(dst)
    with h5py.File(dst, "w") as f:
        for i in range(u.shape[0]):
            group = f.create_group(f"{i:04d}")
            group["data"] = u[i][..., None].astype(np.float32)
            group["grid/x"] = x.astype(np.float32)
            group["grid/t"] = t.astype(np.float32)
    ours.close()
    return dst

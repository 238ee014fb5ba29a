"""``sciml train`` with the PI-HC-MoE paper's form of the PDE loss, for a diagnostic comparison.

The paper's code (Chalapathi, Du, Krishnapriyan, ICLR 2024; ``neptune/losses/pde_loss.py``)
takes the per-sample L2 **norm** of the PDE residual over the grid and averages it over the
batch; sciml's ``pde_residual`` loss is the mean square. This script registers the norm form as
``pde_residual_norm`` (same options as ``pde_residual``) and runs ``sciml train`` with the given
arguments. Runs trained with it need the same registration to be loaded
(``import`` this module first).

Usage::

    python examples/hcmoe/train_paper_loss.py examples/hcmoe_diffusion_sorption.yaml \\
      --set 'trainer.loss=[{name: pde_residual_norm, pde: diffusion_sorption, residual_scale: 1.0,
      smoothing: 0.01}, {name: pde_conditions, pde: diffusion_sorption, smoothing: 0.01}]' ...
"""

from __future__ import annotations

import sys

import torch

from sciml.registry import LOSSES
from sciml.training.losses import PDEResidualLoss


class PDEResidualNorm(PDEResidualLoss):
    """Mean over the batch of the L2 norm of the (scaled) PDE residual over the grid."""

    def forward(self, pred: torch.Tensor, batch) -> torch.Tensor:
        if self.part != "interior":
            raise ValueError("pde_residual_norm is the interior PDE residual only")
        r = self.pde.grid_residual(pred, batch) * self.scale
        return r.flatten(1).norm(dim=1).mean()


if "pde_residual_norm" not in LOSSES:
    LOSSES.register("pde_residual_norm")(PDEResidualNorm)

if __name__ == "__main__":
    from sciml.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))

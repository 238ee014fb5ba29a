r"""The training loss of a neural process: the negative ELBO, and the predictive NLL in evaluation.

A neural process (the attentive neural process of :mod:`sciml.models.anp`; Kim et al., ICLR 2019;
ProbConserv's backbone, Hansen et al., ICML 2023) trains on the evidence lower bound: in training
mode its forward sees the target values and returns an :class:`~sciml.models.anp.ELBOOutput`
(the decoder's Gaussian with :math:`z \sim q(z\mid x_*, y_*)` and the KL to :math:`q(z\mid c)`),
and the loss is

.. math:: \ell = \operatorname{mean}_b \frac{1}{N_t}\Big(-\sum_{i=1}^{N_t}
    \log\mathcal N(y_i\mid\mu_i,\sigma_i) + \mathrm{KL}\big(q(z\mid *)\,\|\,q(z\mid c)\big)\Big).

In evaluation mode (validation, where ``best.pt`` is chosen) the forward returns the predictive
``(mean, var)`` from the context alone, and the loss is its Gaussian negative log-likelihood per
target point, :math:`\operatorname{mean}_{b,i} -\log\mathcal N(y_i\mid\mu_i,\sigma_i^2)`: the
quantity a user of the prediction cares about. ``batch["y"]`` holds the target values
``(B, N_t, d_y)``. Spec: ``trainer.loss: neural_process_elbo`` (task ``point_set_process``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from sciml.models.anp import ELBOOutput, elbo_loss
from sciml.models.config import strict_config
from sciml.models.outputs import is_gaussian
from sciml.registry import LOSSES

__all__ = ["NeuralProcessELBO"]


class NeuralProcessELBO(nn.Module):
    """Negative ELBO per target point (training) / predictive Gaussian NLL per point
    (evaluation); see the module docstring. A batch-aware term."""

    uses_batch = True

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``pred``: an :class:`ELBOOutput` or a ``(mean, var)`` pair ``(B, N_t, d_y)``;
        ``batch["y"]`` the target values → scalar."""
        target = batch["y"]
        if isinstance(pred, ELBOOutput):
            return elbo_loss(pred, target).loss
        if not is_gaussian(pred):
            raise ValueError(
                "neural_process_elbo needs a neural process's output (the ELBO parts in training, "
                f"a (mean, var) pair in evaluation), got {type(pred).__name__}; use it with "
                "task point_set_process and an anp model"
            )
        mean, var = pred
        if mean.shape != target.shape:
            raise ValueError(
                f"neural_process_elbo: prediction {tuple(mean.shape)} != target "
                f"{tuple(target.shape)}"
            )
        nll = 0.5 * ((target - mean).square() / var + var.log() + math.log(2 * math.pi))
        return nll.mean()


LOSSES.register("neural_process_elbo")(strict_config("neural_process_elbo")(NeuralProcessELBO))

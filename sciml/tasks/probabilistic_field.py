"""Probabilistic field: fields → a Gaussian ``(mean, var)`` over the output fields.

The data are a field operator's (``grid_pair``, ``time_window``, ...); the model returns a
:class:`~sciml.models.outputs.GaussianOutput` (e.g. ``gaussian_ensemble`` around any grid model),
trained with the Gaussian negative log-likelihood (``trainer.loss: gaussian_nll``: a loss with no
term that sees the variance is refused, since it would leave the variance untrained). The
normalizers map the mean and the
variance to physical units, a ``constraint:`` (e.g. ProbConserv) acts on the pair, and the
evaluation adds to the point metrics of the mean the Gaussian log-likelihood and the calibration
error of the central intervals. ``sciml.load`` returns a Surrogate whose call gives
``(mean, var)``. Select it with ``task: probabilistic_field``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from sciml.embed import example_input
from sciml.registry import METRICS, TASKS
from sciml.spec import SpecError
from sciml.tasks.field_operator import FieldOperatorTask, normalized_part
from sciml.training.loss_terms import LossTerms


@TASKS.register("probabilistic_field")
class ProbabilisticFieldTask(FieldOperatorTask):
    """Fields → Gaussian fields (see the module docstring)."""

    name = "probabilistic_field"
    dataset_kinds = ()  # chosen with `task:`, on any field data

    def loss(self) -> LossTerms:
        loss = super().loss()
        if not any(getattr(term, "uses_batch", False) for term in loss.terms):
            raise SpecError(
                f"trainer.loss: task {self.name!r} needs a term that sees the predicted variance, "
                f"e.g. `loss: gaussian_nll`; {loss.names} compare the mean only"
            )
        return loss

    @classmethod
    def example_inputs(cls, loaded: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Inputs near the training inputs' statistics (normalized noise of scale 0.1, decoded):
        a constraint may be defined only for physical inputs (ProbConserv's target is the exact
        mass of a PDE whose parameter is an input channel), which unit noise in physical units
        is not, and the exported program is checked against the model on them."""
        noise = 0.1 * example_input(loaded, batch=batch_size)
        return (normalized_part(loaded.model).input_normalizer.decode(noise).to(noise),)

    def extra_metrics(self, result: Mapping[str, torch.Tensor]) -> dict[str, float]:
        if "var" not in result:
            raise ValueError(
                f"task {self.name!r}: model {self.spec.model_name!r} returns one tensor, not a "
                "(mean, var) pair; use a probabilistic model (e.g. gaussian_ensemble)"
            )
        return gaussian_metrics((result["pred"], result["var"]), result["target"])


def gaussian_metrics(
    output: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor
) -> dict[str, float]:
    """Mean Gaussian log-likelihood of ``target`` under ``output = (mean, var)`` and the
    calibration error of its central intervals (registered metrics; same shapes)."""
    return {
        "log_likelihood": float(METRICS.get("gaussian_log_likelihood")(output, target).mean()),
        "calibration_error": float(
            torch.as_tensor(METRICS.get("calibration_error")(output, target)).mean()
        ),
    }

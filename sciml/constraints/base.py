"""The constraint interface: a layer applied to a model's output in physical units.

A constraint is an ``nn.Module`` registered in :data:`sciml.registry.CONSTRAINTS` and named in a
spec's ``constraint:`` section (``constraint: {name: mass_projection}``). It is built with the
spec's options plus the data's shapes, and called as::

    constrained = constraint(output, batch)

``output`` is the model's prediction in physical units, either a tensor ``(B, C, *S)`` or a
:class:`~sciml.models.outputs.GaussianOutput` ``(mean, var)``; ``batch`` holds the model's inputs
in physical units (``"x"``, and ``"coords"``, ``"t"`` ... where the task provides them). It
returns the same kind of output. Constraints run after de-normalization, so a conservation law is
enforced on the physical fields, and inside training (the loss sees the constrained output) as
well as in evaluation, ``sciml.load`` and export.

Three optional hooks, with defaults here: :meth:`Constraint.model_out_channels` (how many output
channels the wrapped model must have, e.g. the ``N`` basis functions of a hard PDE constraint),
:meth:`Constraint.training_statistics` (counts since the last call, e.g. solver iterations,
that the trainer sums per log window into ``metrics.csv`` / TensorBoard columns) and
:meth:`Constraint.defect` (the residual of the law, which ``sciml evaluate`` reports for the
constrained output and for the wrapped model's own).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import torch
from torch import nn

from sciml.models.outputs import GaussianOutput

Output = torch.Tensor | GaussianOutput


class Constraint(nn.Module, ABC):
    """Base class: subclasses implement :meth:`forward` ``(output, batch) -> output``."""

    @abstractmethod
    def forward(self, output: Output, batch: Mapping[str, torch.Tensor]) -> Output:
        """The constrained output, of the same kind (tensor or ``(mean, var)``) as ``output``."""

    def model_out_channels(self, out_channels: int) -> int:
        """Output channels the wrapped model must produce for a target of ``out_channels``
        channels (default: the same)."""
        return out_channels

    def defect(self, output: Output, batch: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
        """The residual of the law this constraint enforces, per sample and slice ``(B, ...)``
        in the units of the constrained quantity (e.g. a mass), for an ``output`` (its mean, for
        a ``(mean, var)`` pair) and the ``batch`` it was made from; ``None`` (the default) where
        the constraint states no such residual."""
        return None

    def training_statistics(self) -> dict[str, float]:
        """Counts since the last call, always the same keys (default none); summed per log
        window by the trainer (:class:`~sciml.training.trainer.Trainer`)."""
        return {}

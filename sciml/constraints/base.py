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

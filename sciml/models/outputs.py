"""The output contract of probabilistic models: a Gaussian ``(mean, variance)`` pair.

A deterministic model returns one tensor ``(B, C, *S)``. A probabilistic model returns a
:class:`GaussianOutput` whose two fields have that shape; it is a :class:`typing.NamedTuple`, so
``torch.export`` and TorchScript trace it as a plain tuple, and ``mean, var = model(x)`` works.
Normalizers, constraints, the :class:`~sciml.embed.Surrogate`, the metrics and the plots accept
both forms.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class GaussianOutput(NamedTuple):
    """Pointwise Gaussian prediction: ``mean`` and ``var`` (variance, > 0), same shape, same
    units as the target (``var`` in units²)."""

    mean: torch.Tensor
    var: torch.Tensor


def is_gaussian(output: object) -> bool:
    """Whether a model output is a ``(mean, var)`` pair rather than one tensor."""
    return isinstance(output, tuple) and len(output) == 2


def point_prediction(output: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The point estimate of an output: the tensor itself, or the mean of a ``(mean, var)``."""
    return output[0] if is_gaussian(output) else output  # type: ignore[index]

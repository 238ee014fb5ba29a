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


def with_absent_channels(
    output: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    channel_mask: torch.Tensor,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``output`` ``(B, C, *S)`` with the channels a sample does not have (``channel_mask``
    ``(B, C)`` false: a field its family's file lacks in a mixed-family dataset) replaced by the
    ``target``'s values there, so they add no error to a loss or a metric (Poseidon overwrites
    masked entries with the labels before the loss). A ``(mean, var)`` output keeps its variance.
    """
    keep = channel_mask.to(torch.bool).reshape(*channel_mask.shape, *([1] * (target.dim() - 2)))
    if is_gaussian(output):
        mean, var = output  # type: ignore[misc]
        return GaussianOutput(torch.where(keep, mean, target), var)
    return torch.where(keep, output, target)  # type: ignore[arg-type]

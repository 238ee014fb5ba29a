r"""Exact mass projection on periodic grids: the output keeps the input's mass.

For a conservation law :math:`\partial_t u + \nabla\cdot F(u) = 0` on a periodic domain the mass
:math:`\int_\Omega u\,dx` is constant in time. A model that maps the state at one time to a later
one can violate it; this layer removes the defect exactly by the :math:`L^2`-orthogonal
projection onto the affine set of fields with the input's mass, which on a uniform grid is a
shift by the mean defect:

.. math:: \tilde u = \hat u - \big(\overline{\hat u} - \overline{u_0}\big),
    \qquad \overline{v} = \frac{1}{|S|}\sum_{x \in S} v(x),

per sample and channel. It changes the prediction by the least amount (in :math:`L^2`) that
makes the mass exact, so the error can only decrease where the truth conserves mass
(:math:`\lVert \tilde u - u\rVert \le \lVert \hat u - u\rVert` because the projection is onto a
set containing :math:`u`). For a ``(mean, var)`` output the mean is projected and the variance
left unchanged (the Bayesian update that also shrinks the variance is ProbConserv,
:mod:`sciml.constraints.probconserv`).

This is the template constraint (see :mod:`sciml.constraints.base`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from sciml.constraints.base import Constraint, Output
from sciml.models.outputs import GaussianOutput, is_gaussian
from sciml.registry import CONSTRAINTS


class MassProjection(Constraint):
    """Shift each output channel so its grid mean equals the input channel's.

    Parameters
    ----------
    in_channels, out_channels:
        From the data; a state → state map needs them equal (the constrained channels are the
        state's).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(
                f"mass_projection keeps each output channel's mass equal to the input's, so it "
                f"needs as many input as output channels (state → state); got {in_channels} "
                f"inputs and {out_channels} outputs"
            )

    def forward(self, output: Output, batch: Mapping[str, torch.Tensor]) -> Output:
        """``output`` ``(B, C, *S)`` (or a ``(mean, var)`` pair) projected onto the fields whose
        per-channel mean is that of ``batch["x"]`` ``(B, C, *S)``."""
        x = batch["x"]
        mean = output[0] if is_gaussian(output) else output
        dims = tuple(range(2, x.dim()))
        projected = mean - (mean.mean(dims, keepdim=True) - x.mean(dims, keepdim=True))
        return GaussianOutput(projected, output[1]) if is_gaussian(output) else projected

    def defect(self, output: Output, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Per-channel grid mean of ``output`` minus that of ``batch["x"]``, ``(B, C)``."""
        x = batch["x"]
        mean = output[0] if is_gaussian(output) else output
        dims = tuple(range(2, x.dim()))
        return mean.mean(dims) - x.mean(dims)


CONSTRAINTS.register("mass_projection")(MassProjection)

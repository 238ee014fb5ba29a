r"""Time-conditioned layer normalization, scOT's only way of feeding the lead time to the network.

.. math::

    \mathrm{LN}_t(x) = \gamma(t) \odot \frac{x - \mu(x)}{\sqrt{\sigma^2(x) + \epsilon}} + \beta(t),
    \qquad \gamma(t) = W_\gamma t + b_\gamma, \quad \beta(t) = W_\beta t + b_\beta,

with :math:`\mu, \sigma^2` the mean and variance over the channel (last) axis and
:math:`W_\gamma, b_\gamma, W_\beta, b_\beta \in \mathbb R^C` (two ``Linear(1, C)``). At a fixed
``t`` it is an ordinary affine LayerNorm with weight :math:`\gamma(t)` and bias :math:`\beta(t)`.

Reference: Herde et al., "Poseidon: Efficient Foundation Models for PDEs", NeurIPS 2024, §3
(time-conditioned layer norm of scOT).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConditionalLayerNorm", "PlainLayerNorm", "make_norm"]


class ConditionalLayerNorm(nn.Module):
    r"""LayerNorm over the last axis whose scale and shift are affine functions of a scalar ``t``.

    Parameters
    ----------
    dim:
        Channels ``C`` (the normalized, last axis).
    eps:
        Added to the variance (1e-5, as ``nn.LayerNorm``).

    Notes
    -----
    ``x``: ``(B, ..., C)``; ``t``: ``(B,)`` (one lead time per sample, normalized by the
    horizon) → ``(B, ..., C)``. The ``Linear(1, C)`` maps are initialized by the model like every
    other linear layer (weights N(0, 0.02²), bias 0, as Poseidon), so :math:`\gamma(t)` starts near
    zero and every post-norm residual block starts near the identity.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Linear(1, dim)  # gamma(t)
        self.bias = nn.Linear(1, dim)  # beta(t)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x, (self.dim,), eps=self.eps)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (self.dim,)
        tt = t.reshape(-1, 1).to(x.dtype)
        return y * self.weight(tt).reshape(shape) + self.bias(tt).reshape(shape)

    def at(self, t: float) -> nn.LayerNorm:
        """The affine :class:`torch.nn.LayerNorm` this layer equals at the fixed lead time ``t``."""
        ln = nn.LayerNorm(self.dim, eps=self.eps)
        ln = ln.to(device=self.weight.weight.device, dtype=self.weight.weight.dtype)
        with torch.no_grad():
            tt = torch.full((1, 1), float(t), dtype=ln.weight.dtype, device=ln.weight.device)
            ln.weight.copy_(self.weight(tt)[0])
            ln.bias.copy_(self.bias(tt)[0])
        return ln

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


class PlainLayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` with the conditioned signature ``(x, t)``; ``t`` is ignored (steady tasks,
    Poseidon's ``use_conditioning=False``)."""

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)


def make_norm(dim: int, conditioned: bool) -> nn.Module:
    """A :class:`ConditionalLayerNorm` (``conditioned``) or a :class:`PlainLayerNorm` of ``dim``."""
    return ConditionalLayerNorm(dim) if conditioned else PlainLayerNorm(dim)

r"""SwinV2 window attention: scaled cosine attention with a continuous relative position bias.

For the tokens :math:`x_i` of one window and each head,

.. math::

    \mathrm{Attn}(x)_i = \sum_j \operatorname{softmax}_j\!\Big(
        \tau \cos(q_i, k_j) + B(\Delta_{ij}) + M_{ij}\Big)\, v_j,
    \qquad \tau = \exp\big(\min(\theta, \log 100)\big),

with a learned per-head logit scale :math:`\theta` (initialized to :math:`\log 10`), the shift/pad
mask :math:`M` (:mod:`~sciml.models.scot.windows`) and the bias of the relative offset
:math:`\Delta_{ij} = p_i - p_j \in \mathbb Z^2` given by a small MLP of log-spaced coordinates,

.. math::

    B(\Delta) = 16\,\sigma\big(\mathrm{MLP}(\hat\Delta)\big), \qquad
    \hat\Delta = \operatorname{sign}(\tilde\Delta)\,\frac{\log_2(1 + |\tilde\Delta|)}{\log_2 8},
    \quad \tilde\Delta = 8\,\frac{\Delta}{w - 1},

``MLP`` = ``Linear(2, 512)``, ReLU, ``Linear(512, heads)`` without bias. Because the bias is a
function of the offset rather than a table, one set of weights serves any window size. We
normalize offsets by the *configured* window ``w`` (SwinV2's "pretrained window size"), so an
offset means the same at every stage and on every grid; Poseidon divides by the stage's window
after clipping, which differs only in stages whose grid is smaller than ``w``.
Query and value projections have a bias, the key projection none (SwinV2).

Reference: Liu et al., "Swin Transformer V2: Scaling Up Capacity and Resolution", CVPR 2022,
§3.2 (eqs. 2–4); Herde et al., "Poseidon", NeurIPS 2024 (scOT uses it unchanged).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WindowAttention", "relative_coordinates", "relative_position_index"]

#: upper clamp of the logit scale (SwinV2: log(1/0.01))
LOGIT_SCALE_MAX = math.log(100.0)


def relative_coordinates(
    window: tuple[int, int],
    reference: tuple[int, int],
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Log-spaced offsets ``((2w_h-1) (2w_w-1), 2)`` of a ``window``, normalized by ``reference``
    (see module docstring; an axis of reference size 1 is not rescaled)."""
    axes = [
        torch.arange(-(w - 1), w, device=device, dtype=dtype) / max(r - 1, 1) * 8.0
        for w, r in zip(window, reference)
    ]
    table = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 2)
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8.0)


def relative_position_index(
    window: tuple[int, int], device: torch.device | None = None
) -> torch.Tensor:
    """``(N, N)`` row of :func:`relative_coordinates` holding the offset of token ``i`` to ``j``."""
    wh, ww = window
    coords = torch.stack(
        torch.meshgrid(
            torch.arange(wh, device=device), torch.arange(ww, device=device), indexing="ij"
        )
    ).flatten(1)  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N)
    return (rel[0] + wh - 1) * (2 * ww - 1) + (rel[1] + ww - 1)


class WindowAttention(nn.Module):
    """Multi-head scaled cosine self-attention inside windows (see module docstring).

    Parameters
    ----------
    dim:
        Channels ``C``; divisible by ``num_heads``.
    num_heads:
        Attention heads.
    window_size:
        Configured window ``(w_h, w_w)`` that normalizes the offsets of the position bias; the
        window used in a call may be smaller (clipped to the grid).
    qkv_bias:
        Learn query and value biases.
    cpb_hidden:
        Hidden width of the position-bias MLP (512 in SwinV2/Poseidon).

    Notes
    -----
    ``forward(x, window, mask)``: ``x`` ``(B·nW, N, C)`` with ``N = w_h w_w`` tokens of ``nW``
    windows per sample, ``mask`` ``(nW, N, N)`` or ``None`` → ``(B·nW, N, C)``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: tuple[int, int],
        *,
        qkv_bias: bool = True,
        cpb_hidden: int = 512,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = tuple(window_size)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.v_bias = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, cpb_hidden), nn.ReLU(), nn.Linear(cpb_hidden, num_heads, bias=False)
        )
        self.proj = nn.Linear(dim, dim)

    def position_bias(self, window: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """``(heads, N, N)`` bias :math:`16\\sigma(\\mathrm{MLP}(\\hat\\Delta_{ij}))` of ``window``."""
        table = relative_coordinates(window, self.window_size, device=like.device, dtype=like.dtype)
        bias = self.cpb_mlp(table)[relative_position_index(window, like.device)]  # (N, N, heads)
        return 16.0 * torch.sigmoid(bias.permute(2, 0, 1))

    def forward(
        self, x: torch.Tensor, window: tuple[int, int], mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        bw, n, c = x.shape
        h = self.num_heads
        bias = None
        if self.q_bias is not None and self.v_bias is not None:
            bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).view(bw, n, 3, h, c // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B·nW, heads, N, d)
        scale = torch.clamp(self.logit_scale, max=LOGIT_SCALE_MAX).exp()
        q = F.normalize(q, dim=-1) * scale
        k = F.normalize(k, dim=-1)
        logits_bias = self.position_bias(window, x)  # (heads, N, N)
        if mask is not None:
            nw = mask.shape[0]
            # (B, nW, heads, N, N) view: the window mask broadcasts over samples and heads
            logits_bias = logits_bias[None] + mask[:, None].to(logits_bias.dtype)
            q, k, v = (a.view(bw // nw, nw, h, n, c // h) for a in (q, k, v))
        # under autocast q may be half precision while the bias MLP ran in float32
        attn_mask = logits_bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=1.0)
        return self.proj(out.reshape(bw, h, n, c // h).transpose(1, 2).reshape(bw, n, c))

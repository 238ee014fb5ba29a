r"""Multigrid neural operator, MgNO (He, Liu, Xu, ICLR 2024), on 1D and 2D grids.

Each MgNO layer maps the field :math:`f` with :math:`C_f` channels to :math:`C_u` channels,

.. math:: f \mapsto \sigma\big(W_{\mathrm{Mg}} f + K f + b\big),

where :math:`K` is a pointwise (1×1) linear map with bias :math:`b` and :math:`W_{\mathrm{Mg}}` is
one multi-channel multigrid V-cycle that parameterizes every linear operator :math:`W_{ij}` between
input channel :math:`j` and output channel :math:`i` at once (He et al. 2024, eqs. 2.2 and 3.3).
A 1×1 head without bias maps the last layer's :math:`C_u` channels to the output channels.

V-cycle :math:`W_{\mathrm{Mg}}: f \mapsto u` on levels :math:`\ell = 0, \dots, L-1` (grid spacing
:math:`2^\ell h`), with per-level smoothing counts :math:`(\nu^{\mathrm{pre}}_\ell,
\nu^{\mathrm{post}}_\ell)` and separate weights for every step:

* smoothing step: :math:`u \leftarrow u + S(f - A u)` with 3-point (1D) / 3×3 (2D) convolutions
  :math:`A: C_u \to C_f`, :math:`S: C_f \to C_u`; the first step on the finest level starts from
  :math:`u = 0`, i.e. it is :math:`u = S f` and has no :math:`A`;
* restriction to level :math:`\ell+1`: :math:`f \leftarrow R f`, :math:`u \leftarrow \Pi u`
  (3-point / 3×3 convolutions with stride 2), then :math:`\nu^{\mathrm{pre}}_{\ell+1}` steps;
* prolongation: :math:`u_\ell \leftarrow u_\ell + P u_{\ell+1}` (transposed convolution, kernel 4,
  stride 2), then :math:`\nu^{\mathrm{post}}_\ell` steps. On the coarsest level the post steps
  follow the pre steps directly (there is no coarser correction in between).

The V-cycle has no bias, so it is linear in :math:`f`. Parameters per V-cycle in 2D:
:math:`9 C_f C_u` (first :math:`S`) :math:`+\,18 C_f C_u` per further step
:math:`+\,(L-1)(9C_u^2 + 9C_f^2 + 16C_u^2)`; the paper's Darcy configuration (4 layers,
:math:`C_u = 24`, six levels with :math:`\nu = (1,0)^5 (2,0)`, one input channel) has 572,661.

Boundary conditions
-------------------
Every convolution, restriction and prolongation extends the grid by the same ``padding_mode``, which
is how MgNO encodes the boundary condition (He et al. 2024, Sec. 4): ``"zeros"`` (Dirichlet: the
field is 0 outside the grid), ``"circular"`` (periodic) and ``"reflect"`` (mirror about the end
nodes, a discrete zero normal derivative: Neumann-like). In physical units, for a grid of
:math:`n` nodes with spacing :math:`h`, the ghost nodes that a level-:math:`\ell` stencil reads lie
:math:`2^\ell h` outside the first and last node; ``"circular"`` makes the period :math:`n h` (so
a periodic grid must not store its end point twice); ``"reflect"`` mirrors about the end nodes.
The prolongation is a transposed convolution, which PyTorch implements for zero padding only: we
extend its input by one ghost node per side with the same mode and crop, which for ``"zeros"`` is
exactly the paper's ``ConvTranspose(kernel 4, stride 2, padding 1)``. The padding acts on the
model's own variables: inside :class:`~sciml.models.normalized.NormalizedModel` the input has been
normalized, so a zero ghost value of the *input* is the training mean in physical units (for the
hidden fields 0 is 0). The Dirichlet value of the solution itself is carried by the data's
boundary nodes (``darcy2d`` stores them), not imposed by the padding.

Grid sizes
----------
A stride-2 level halves the grid, so each spatial axis of ``n`` nodes is extended to the next
multiple of :math:`2^{L-1}`, :math:`m = \lceil n / 2^{L-1} \rceil\, 2^{L-1}`, with
:math:`\lfloor (m-n)/2 \rfloor` nodes before and the rest after (the domain grows by
:math:`(m-n)h`), with the padding mode's values (zeros / mirror), and the output is cropped back
to the ``n`` input nodes. The coarsest level must keep at least 2 nodes,
:math:`n > 2^{L-1}`, otherwise the levels are too deep for the grid. A ``"circular"`` grid cannot
be extended without changing its period, so with periodic padding ``n`` must be a multiple of
:math:`2^{L-1}`.

Resolution: not discretization invariant
----------------------------------------
The model runs on any grid (above), but it is *not* resolution invariant in the sense of
``sciml evaluate``'s zero-shot resolutions, and its ``resolution_invariant`` flag is ``False``:
train it at the grid it will be evaluated on. Why:

* The paper claims ease of training, less overfitting than spectral operators and the handling of
  boundary conditions (He et al. 2024, abstract); it makes no discretization-invariance claim, and
  several released variants are locked to one grid (fixed LayerNorm shapes, kernel sizes chosen
  for 211²).
* Every stencil (:math:`S, A, R, \Pi, P`) is learned in grid units and the number of levels is
  fixed. On a grid with spacing :math:`h' = h/2` the same weights apply another continuous
  operator (a stencil that acted like :math:`h^2\Delta` now acts like
  :math:`h'^2\Delta = h^2\Delta/4`), and the coarsest level is twice as fine, so it no longer
  sees the same physical scales.
* No single physical rescaling restores the trained operator: a V-cycle composes operators of
  different orders (an elliptic smoother :math:`S \sim h^2`, :math:`A \sim h^{-2}`, transfers
  :math:`R, \Pi, P \sim h^0`, the pointwise :math:`K`), and the learned stencils are not
  constrained to any one of them. We therefore offer no rescaling option.
* Measured (``benchmarks/mgno_vs_fno.py``, ``docs/benchmarks.md``): trained at 32² on Darcy,
  the relative L2 error at 63² is about 20× the training-grid error, the prediction about 1.6×
  too large; even the best constant factor (0.62, fitted on those test samples as a diagnosis)
  leaves about 9× the training-grid error. ``sciml bench`` found 16–34× at twice the grid on
  Burgers, Poisson and Darcy.

Reference: J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators via
Multigrid", ICLR 2024, arXiv:2310.19809. The 1D variant is ours (the released code is 2D only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.config import strict_config
from sciml.models.fno import ACTIVATIONS
from sciml.registry import MODELS

__all__ = ["MgNO", "MgNOLayer", "Prolongation", "Smoother", "VCycle", "grid_extension"]

PADDING_MODES = ("zeros", "circular", "reflect")
#: ``F.pad`` mode of each padding mode
_PAD = {"zeros": "constant", "circular": "circular", "reflect": "reflect"}
_CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d}
_CONV_T: dict[int, type[nn.Module]] = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}
#: paper Darcy configuration minus one level: fits grids of more than 16 nodes per axis
DEFAULT_SMOOTHING = ((1, 0), (1, 0), (1, 0), (1, 0), (2, 0))


def _conv(n_dims: int, c_in: int, c_out: int, padding_mode: str, stride: int = 1) -> nn.Module:
    """3-point (1D) / 3×3 (2D) convolution without bias, extended by ``padding_mode``."""
    return _CONV[n_dims](
        c_in, c_out, 3, stride=stride, padding=1, padding_mode=padding_mode, bias=False
    )


class Smoother(nn.Module):
    r"""One smoothing step :math:`u \leftarrow u + S(f - A u)`, or :math:`u = S f` when ``first``.

    ``f``: ``(B, C_f, *S)``, ``u``: ``(B, C_u, *S)`` (``None`` for the first step) →
    ``(B, C_u, *S)``.
    """

    def __init__(
        self, c_f: int, c_u: int, n_dims: int, padding_mode: str, *, first: bool = False
    ) -> None:
        super().__init__()
        self.S = _conv(n_dims, c_f, c_u, padding_mode)
        self.A = None if first else _conv(n_dims, c_u, c_f, padding_mode)

    def forward(self, f: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        if self.A is None:
            return self.S(f)
        assert u is not None, "only the first step starts without u"
        return u + self.S(f - self.A(u))


class Prolongation(nn.Module):
    r"""Coarse-to-fine map :math:`P`: transposed convolution (kernel 4, stride 2) with the boundary
    condition of ``padding_mode``.

    The input is extended by one ghost node per side with ``padding_mode`` and the transposed
    convolution (no padding) is cropped to twice the input size; for ``"zeros"`` this equals
    ``ConvTranspose(kernel 4, stride 2, padding 1)``, the paper's operator. ``(B, C, *S)`` →
    ``(B, C, *2S)``.
    """

    def __init__(self, channels: int, n_dims: int, padding_mode: str) -> None:
        super().__init__()
        self.n_dims = n_dims
        self.mode = _PAD[padding_mode]
        self.conv = _CONV_T[n_dims](channels, channels, 4, stride=2, padding=0, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        sizes = u.shape[2:]
        out = self.conv(F.pad(u, [1, 1] * self.n_dims, mode=self.mode))
        # ghost node -1 lands on output index -3 + (0..3): output node t sits at 3 + t
        index = (..., *(slice(3, 3 + 2 * n) for n in sizes))
        return out[index]


class VCycle(nn.Module):
    r"""The linear multigrid operator :math:`W_{\mathrm{Mg}}: f \mapsto u` (module docstring).

    Parameters
    ----------
    c_f, c_u:
        Channels of the right-hand side ``f`` and of the solution ``u``.
    smoothing:
        ``[(pre, post), ...]``, one pair per level, finest first; ``len(smoothing)`` is the number
        of levels :math:`L`; ``smoothing[0][0] >= 1``.
    n_dims, padding_mode:
        Spatial dimensions (1 or 2) and boundary condition.

    Notes
    -----
    ``f``: ``(B, C_f, *S)`` with every axis a multiple of :math:`2^{L-1}` → ``(B, C_u, *S)``.
    """

    def __init__(
        self,
        c_f: int,
        c_u: int,
        smoothing: Sequence[tuple[int, int]],
        n_dims: int,
        padding_mode: str,
    ) -> None:
        super().__init__()
        self.levels = len(smoothing)

        def steps(count: int, first_level: bool) -> nn.ModuleList:
            return nn.ModuleList(
                Smoother(c_f, c_u, n_dims, padding_mode, first=first_level and i == 0)
                for i in range(count)
            )

        self.pre = nn.ModuleList(steps(pre, lvl == 0) for lvl, (pre, _) in enumerate(smoothing))
        self.post = nn.ModuleList(steps(post, False) for _, post in smoothing)
        coarse = range(self.levels - 1)
        self.restrict_f = nn.ModuleList(_conv(n_dims, c_f, c_f, padding_mode, 2) for _ in coarse)
        self.restrict_u = nn.ModuleList(_conv(n_dims, c_u, c_u, padding_mode, 2) for _ in coarse)
        self.prolong = nn.ModuleList(Prolongation(c_u, n_dims, padding_mode) for _ in coarse)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        rhs: list[torch.Tensor] = []
        sols: list[torch.Tensor] = []
        u: torch.Tensor | None = None
        for level in range(self.levels):
            if level > 0:
                f = self.restrict_f[level - 1](f)
                u = self.restrict_u[level - 1](u)
            for step in self.pre[level]:
                u = step(f, u)
            rhs.append(f)
            sols.append(u)
        for step in self.post[-1]:
            u = step(f, u)
        for level in reversed(range(self.levels - 1)):
            u = sols[level] + self.prolong[level](u)
            for step in self.post[level]:
                u = step(rhs[level], u)
        return u


class MgNOLayer(nn.Module):
    r"""One MgNO layer :math:`f \mapsto \sigma(W_{\mathrm{Mg}} f + K f + b)`.

    ``(B, C_f, *S)`` → ``(B, C_u, *S)``; every axis a multiple of :math:`2^{L-1}`.
    """

    def __init__(
        self,
        c_f: int,
        c_u: int,
        smoothing: Sequence[tuple[int, int]],
        n_dims: int,
        padding_mode: str,
        activation: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        super().__init__()
        self.vcycle = VCycle(c_f, c_u, smoothing, n_dims, padding_mode)
        self.pointwise = _CONV[n_dims](c_f, c_u, 1, bias=True)
        self.activation = activation

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.activation(self.vcycle(f) + self.pointwise(f))


def _max_levels(n: int) -> int:
    """Most levels whose coarsest grid keeps >= 2 of ``n`` nodes (``n > 2^(L-1)``)."""
    levels = 1
    while n > 2**levels:
        levels += 1
    return levels


def grid_extension(spatial: Sequence[int], levels: int, padding_mode: str) -> list[tuple[int, int]]:
    """Nodes ``(before, after)`` added to each axis to reach a multiple of ``2^(levels-1)``.

    Raises a one-line :class:`ValueError` when the levels are too deep for an axis (the coarsest
    level would keep fewer than 2 nodes) or when a ``"circular"`` axis is not a multiple.
    """
    factor = 2 ** (levels - 1)
    pads = []
    for axis, n in enumerate(spatial):
        if n <= factor:
            raise ValueError(
                f"mgno option smoothing: {levels} levels are too deep for {n} nodes on spatial "
                f"axis {axis} (the coarsest level needs >= 2 nodes, n > 2^(levels-1) = {factor}); "
                f"allowed: at most {_max_levels(n)} levels for this grid"
            )
        extra = -n % factor
        if extra and padding_mode == "circular":
            raise ValueError(
                f"mgno option padding_mode='circular': {n} nodes on spatial axis {axis} cannot be "
                f"padded to a multiple of 2^(levels-1) = {factor} without changing the period; "
                f"allowed: sizes divisible by {factor}, fewer levels, or padding_mode "
                f"'zeros' / 'reflect'"
            )
        pads.append((extra // 2, extra - extra // 2))
    return pads


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"mgno option {name}={value!r}: allowed values are integers >= 1")
    return value


def _smoothing_schedule(smoothing: Any) -> list[tuple[int, int]]:
    allowed = "a non-empty list of [pre, post] pairs of integers >= 0, finest level first, pre >= 1"
    try:
        pairs = [(pre, post) for pre, post in smoothing]
    except (TypeError, ValueError):
        raise ValueError(f"mgno option smoothing={smoothing!r}: allowed: {allowed}") from None
    counts = [c for pair in pairs for c in pair]
    bad = any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts)
    if not pairs or bad or pairs[0][0] < 1:
        raise ValueError(f"mgno option smoothing={smoothing!r}: allowed: {allowed}")
    return pairs


class MgNO(nn.Module):
    r"""Multigrid neural operator on a regular 1D or 2D grid (module docstring for the math).

    Parameters
    ----------
    in_channels, out_channels, n_dims:
        Filled in by the trainer from the data: input/output channels and spatial dims (1 or 2).
    hidden_channels:
        :math:`C_u`, the channels of every layer's output (paper: 24 for Darcy).
    n_layers:
        Number of MgNO layers (paper: 4 for Darcy).
    smoothing:
        ``[[pre, post], ...]`` smoothing steps per level, finest first; its length is the number
        of levels :math:`L`. Default ``[[1, 0]] * 4 + [[2, 0]]`` (five levels; the paper's Darcy
        configuration has six, ``[[1, 0]] * 5 + [[2, 0]]``, preset ``mgno-darcy``).
    padding_mode:
        Boundary condition of every convolution: ``"zeros"`` (Dirichlet), ``"circular"``
        (periodic) or ``"reflect"`` (Neumann-like).
    activation:
        :math:`\sigma`: ``"gelu"`` (default, the paper's), ``"relu"``, ``"tanh"`` or ``"silu"``.

    Notes
    -----
    Input ``x``: ``(B, in_channels, *S)``, any ``S`` with every axis ``> 2^(L-1)`` nodes (a
    multiple of ``2^(L-1)`` for ``"circular"``); output ``(B, out_channels, *S)``, same units
    and grid. The stencils are learned in grid units, so the model trains on any grid but does
    not transfer to another one (``resolution_invariant = False``; module docstring,
    "Resolution").
    """

    input_keys: tuple[str, ...] = ("x",)
    #: runs on any grid, but zero-shot at another resolution is not valid (module docstring)
    resolution_invariant: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int,
        *,
        hidden_channels: int = 24,
        n_layers: int = 4,
        smoothing: Sequence[Sequence[int]] = DEFAULT_SMOOTHING,
        padding_mode: str = "zeros",
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if n_dims not in _CONV:
            raise ValueError(f"mgno: n_dims={n_dims!r} is not supported; allowed: 1, 2")
        if padding_mode not in PADDING_MODES:
            raise ValueError(
                f"mgno option padding_mode={padding_mode!r}: allowed: {', '.join(PADDING_MODES)}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"mgno option activation={activation!r}: allowed: {', '.join(ACTIVATIONS)}"
            )
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        hidden = _positive_int("hidden_channels", hidden_channels)
        self.n_dims = n_dims
        self.padding_mode = padding_mode
        self.smoothing = _smoothing_schedule(smoothing)
        self.levels = len(self.smoothing)
        act = ACTIVATIONS[activation]
        widths = [self.in_channels] + [hidden] * _positive_int("n_layers", n_layers)
        self.layers = nn.ModuleList(
            MgNOLayer(c_f, hidden, self.smoothing, n_dims, padding_mode, act) for c_f in widths[:-1]
        )
        self.head = _CONV[n_dims](hidden, self.out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, in_channels, *S)`` → ``(B, out_channels, *S)``."""
        if x.ndim != self.n_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"mgno expects x of shape (B, {self.in_channels}, *S) with {self.n_dims} spatial "
                f"dims, got {tuple(x.shape)}"
            )
        pads = grid_extension(x.shape[2:], self.levels, self.padding_mode)
        if any(before or after for before, after in pads):
            # F.pad lists the last axis first
            flat = [p for pair in reversed(pads) for p in pair]
            x = F.pad(x, flat, mode=_PAD[self.padding_mode])
        for layer in self.layers:
            x = layer(x)
        out = self.head(x)
        crop = tuple(slice(b, out.shape[2 + i] - a) for i, (b, a) in enumerate(pads))
        return out[(..., *crop)]


MODELS.register("mgno")(strict_config("mgno")(MgNO))

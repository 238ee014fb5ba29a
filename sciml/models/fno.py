"""Fourier Neural Operator (Li et al. 2021), built on neuraloperator's implementation.

We do not reimplement the FNO: :class:`FNO` holds a :class:`neuralop.models.FNO` and adds what the
sciml model interface needs — ``input_keys``, ``resolution_invariant``, input checks, a validated
subset of neuraloperator's options with spec-friendly (string) values, and correct dtype casts.

Reference: Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from neuralop.models import FNO as _NeuralopFNO
from torch import nn

from sciml.models.config import strict_config
from sciml.registry import MODELS

__all__ = ["FNO"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "relu": F.relu,
    "tanh": torch.tanh,
    "silu": F.silu,
}
_SKIPS = ("linear", "identity", "soft-gating", None)
_NORMS = (None, "group_norm", "instance_norm")
_FACTORIZATIONS = (None, "dense", "tucker", "cp", "tt")
_EMBEDDINGS = ("grid", None)


def _choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    if value not in choices:
        raise ValueError(f"fno option {name}={value!r} is not one of {list(choices)}")
    return value


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"fno option {name} must be a positive integer, got {value!r}")
    return value


class FNO(nn.Module):
    r"""Fourier Neural Operator on a regular grid (1D, 2D or 3D).

    Each of the ``n_layers`` Fourier layers maps hidden features :math:`v` to

    .. math:: v \mapsto \sigma\big(W v + \mathcal{F}^{-1}(R \cdot \mathcal{F} v)\big),

    where :math:`\mathcal{F}` is the FFT over the spatial axes, :math:`R` a learned complex tensor
    acting on the lowest ``n_modes`` frequencies per axis (the rest is truncated) and :math:`W` a
    pointwise linear map (Li et al. 2021, eq. 2 and Sec. 4). A lifting and a projection MLP map
    between ``in_channels``/``out_channels`` and ``hidden_channels``. Because :math:`R` lives on
    frequencies, not grid points, the same weights evaluate the operator at any resolution
    (``resolution_invariant = True``); the FFT assumes a uniform, periodic grid.

    Parameters
    ----------
    in_channels, out_channels, n_dims:
        Filled in by the trainer from the data: input/output channels and spatial dimensions.
    n_modes:
        Fourier modes kept per spatial axis: one int for all axes or a list of ``n_dims`` ints.
        neuraloperator counts modes over the full (two-sided) spectrum, so ``n_modes=16`` keeps
        frequencies -8..7 on the non-halved axes.
    hidden_channels:
        Width of the Fourier layers, default 32 (``width`` is an alias, the FNO paper's name).
    n_layers:
        Number of Fourier layers.
    lifting_channel_ratio, projection_channel_ratio:
        Hidden sizes of the lifting/projection MLPs as multiples of ``hidden_channels``.
    positional_embedding:
        ``"grid"`` appends the coordinates of a uniform grid on :math:`[0, 1]^d` as input
        channels (as in the paper); ``None`` appends nothing.
    non_linearity:
        ``"gelu"`` (default), ``"relu"``, ``"tanh"`` or ``"silu"``.
    norm:
        ``None``, ``"group_norm"`` or ``"instance_norm"`` inside the Fourier layers.
    use_channel_mlp, channel_mlp_expansion, channel_mlp_dropout, channel_mlp_skip, fno_skip:
        neuraloperator's per-layer channel MLP and skip connections (``"linear"``,
        ``"identity"``, ``"soft-gating"`` or ``None``).
    domain_padding:
        Fraction of each axis zero-padded before the FFTs (for non-periodic problems).
    factorization, rank:
        Low-rank spectral weights (``"tucker"``, ``"cp"``, ``"tt"``: the TFNO variant).
    separable, preactivation:
        neuraloperator options, passed through.

    Notes
    -----
    Input ``x``: ``(B, in_channels, *S)``; output ``(B, out_channels, *S)``, ``len(S) == n_dims``.

    In neuraloperator 2.0 the spectral convolution accumulates its output in ``complex64`` even
    for float64 inputs, so a float64 FNO computes in float64 everywhere except that buffer; its
    outputs agree with float32 to about 1e-7 relative, not to float64 round-off.
    """

    input_keys: tuple[str, ...] = ("x",)
    resolution_invariant: bool = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int,
        *,
        n_modes: int | Sequence[int] = 16,
        hidden_channels: int | None = None,
        width: int | None = None,
        n_layers: int = 4,
        lifting_channel_ratio: float = 2.0,
        projection_channel_ratio: float = 2.0,
        positional_embedding: str | None = "grid",
        non_linearity: str = "gelu",
        norm: str | None = None,
        use_channel_mlp: bool = True,
        channel_mlp_expansion: float = 0.5,
        channel_mlp_dropout: float = 0.0,
        channel_mlp_skip: str | None = "soft-gating",
        fno_skip: str | None = "linear",
        domain_padding: float | Sequence[float] | None = None,
        factorization: str | None = None,
        rank: float = 1.0,
        separable: bool = False,
        preactivation: bool = False,
    ) -> None:
        super().__init__()
        if n_dims not in (1, 2, 3):
            raise ValueError(f"fno supports n_dims 1, 2 or 3, got {n_dims!r}")
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        if width is not None and hidden_channels is not None:
            raise ValueError("fno: give either 'width' or 'hidden_channels', not both")
        if width is not None:
            hidden_channels = width
        elif hidden_channels is None:
            hidden_channels = 32
        modes = [n_modes] * n_dims if isinstance(n_modes, int) else list(n_modes)
        if len(modes) != n_dims:
            raise ValueError(
                f"fno option n_modes={n_modes!r} must be one int or a list of n_dims={n_dims} ints"
            )
        for m in modes:
            _positive_int("n_modes", m)
        self.n_dims = n_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.net = _NeuralopFNO(
            n_modes=tuple(modes),
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=_positive_int("hidden_channels", hidden_channels),
            n_layers=_positive_int("n_layers", n_layers),
            lifting_channel_ratio=lifting_channel_ratio,
            projection_channel_ratio=projection_channel_ratio,
            positional_embedding=_choice("positional_embedding", positional_embedding, _EMBEDDINGS),
            non_linearity=ACTIVATIONS[_choice("non_linearity", non_linearity, list(ACTIVATIONS))],
            norm=_choice("norm", norm, _NORMS),
            use_channel_mlp=use_channel_mlp,
            channel_mlp_expansion=channel_mlp_expansion,
            channel_mlp_dropout=channel_mlp_dropout,
            channel_mlp_skip=_choice("channel_mlp_skip", channel_mlp_skip, _SKIPS),
            fno_skip=_choice("fno_skip", fno_skip, _SKIPS),
            domain_padding=list(domain_padding)
            if isinstance(domain_padding, Sequence)
            else domain_padding,
            factorization=_choice("factorization", factorization, _FACTORIZATIONS),
            rank=rank,
            separable=separable,
            preactivation=preactivation,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, in_channels, *S)`` → ``(B, out_channels, *S)``."""
        if x.ndim != self.n_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"fno expects x of shape (B, {self.in_channels}, *S) with {self.n_dims} spatial "
                f"dims, got {tuple(x.shape)}"
            )
        if torch.is_autocast_enabled(x.device.type):
            # Mixed precision: cuFFT has no bfloat16 and the spectral weights are complex, so
            # the operator runs in float32 (autocast would otherwise fail inside the FFTs).
            with torch.autocast(x.device.type, enabled=False):
                return self.net(x.float())
        return self.net(x)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Parameters and buffers only (see the comment for the entry removed)."""
        state = super().state_dict(*args, **kwargs)
        # neuraloperator adds an un-prefixed "_metadata" entry with its constructor arguments
        # (functions included): it is not a tensor, breaks torch.load(weights_only=True) and
        # strict loading into this wrapper. Our spec already records how the model was built.
        state.pop("_metadata", None)
        return state

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> FNO:
        # nn.Module.to(torch.float64) casts *complex* parameters to the real dtype, silently
        # discarding the imaginary part of the spectral weights, and .double() leaves them
        # complex64. Applying the cast to the real view keeps them complex with matching precision.
        def keep_complex(t: torch.Tensor) -> torch.Tensor:
            if t.is_complex():
                out = fn(torch.view_as_real(t))
                if out.is_floating_point():
                    return torch.view_as_complex(out.contiguous())
                return fn(t)
            return fn(t)

        return super()._apply(keep_complex, recurse)


class TimeConditionedFNO(FNO):
    """FNO conditioned on a lead time by one extra, spatially constant input channel.

    The plain baseline of time-conditioned operators (Poseidon's FNO baseline, Herde et al.
    2024): ``FNO([x, t·1])``. ``t`` is the lead time normalized by the training horizon (the
    time-conditioned task feeds it). Options as :class:`FNO`.

    Input ``x``: ``(B, in_channels, *S)``, ``t``: ``(B,)``; output ``(B, out_channels, *S)``.
    """

    input_keys: tuple[str, ...] = ("x", "t")

    def __init__(self, in_channels: int, out_channels: int, n_dims: int, **options: Any) -> None:
        super().__init__(
            _positive_int("in_channels", in_channels) + 1, out_channels, n_dims, **options
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """``x``: ``(B, in_channels, *S)``, ``t``: ``(B,)`` → ``(B, out_channels, *S)``."""
        lead = t.to(x).reshape(-1, *([1] * (x.dim() - 1))).expand(x.shape[0], 1, *x.shape[2:])
        return super().forward(torch.cat([x, lead], dim=1))


# the options are FNO's: say so to the spec checks and strict_config, which read the signature
TimeConditionedFNO.__init__.__signature__ = inspect.signature(FNO.__init__)  # type: ignore[attr-defined]

MODELS.register("fno")(strict_config("fno")(FNO))
MODELS.register("fno_time")(strict_config("fno_time")(TimeConditionedFNO))

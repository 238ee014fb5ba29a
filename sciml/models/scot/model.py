r"""scOT: the time-conditioned SwinV2 U-Net operator of Poseidon.

Maps the state :math:`u(t_0)` (``C_in`` channels on a 2D grid, normalized units) and the lead time
:math:`t = (t_1 - t_0)/T` (normalized by the horizon :math:`T`) to :math:`u(t_1)` (``C_out``
channels). The architecture (Herde et al. 2024, §3 and ``scOT/model.py``):

1. **Embedding**: ``Conv2d(C_in → E, kernel = stride = p)`` cuts the grid into ``p × p`` patches,
   one token each (no absolute positions), then LN_t.
2. **Encoder**: ``S`` stages at widths :math:`E 2^i` on token grids halving each stage; stage
   ``i`` is ``depths[i]`` SwinV2 blocks (window attention, every second block shifted). Between
   stages, :class:`~sciml.models.scot.blocks.PatchMerging` of (stage output + stage input).
3. **Skips** (additive): the output of encoder stage ``i`` passes through
   ``skip_connections[i]`` ConvNeXt blocks and is added to the decoder's input at level ``i``;
   at the deepest level the decoder starts from the encoder's output (identity skip).
4. **Decoder**: mirrors the encoder (``depths[i]`` blocks at level ``i``), with
   :class:`~sciml.models.scot.blocks.PatchUnmerging` of (stage output + stage input) between
   levels.
5. **Recovery** of (stage output + stage input) of decoder level 0:
   ``ConvTranspose2d(E → C_out, kernel = stride = p)`` then ``Conv2d 5×5`` without bias.

The (stage output + stage input) sum before patch merging is Poseidon's; using it also before
unmerging and the recovery is our mirror image of it (the original's decoder was not checked on
this point). With Poseidon-T's sizes and 4 channels this gives 20,774,780 parameters (model card:
20.8M).

Every LayerNorm is time-conditioned, :math:`\gamma(t) = W_\gamma t + b_\gamma`,
:math:`\beta(t) = W_\beta t + b_\beta` (:mod:`~sciml.models.scot.norm`); that is the only place
``t`` enters. All linear and convolution weights start from N(0, 0.02²) with zero biases
(Poseidon's ``_init_weights``), the logit scales from log 10, the ConvNeXt layer scales from 1e-6.
No dropout and no stochastic depth (DropPath): Poseidon's released configurations set both to 0,
so neither is implemented. Window partition and shift masks are our own (``windows.py``, tested
against a hand-built mask), not timm's: timm would bring torchvision and the Hub client into the
install for two small functions, and its SwinV2 blocks do not take a time-conditioned norm.

**Grids.** The token grid halves ``S - 1`` times, so the model runs on grids whose sides are
multiples of the *size unit* ``p · 2^(S-1)``; windows are clipped to small stage grids and a stage
grid that is not a window multiple is padded with masked tokens, so no other constraint applies.
A grid side smaller than the unit is refused (one-line error naming the smallest valid size).
The *model grid* is ``spatial_shape`` (from the data) rounded up to multiples of the unit. Inputs
on other grids (other resolutions, rectangular, sides not a multiple of the unit) are handled by
``resample``:

* ``"fourier"`` (default, as Poseidon; periodic data): trigonometric interpolation to the model
  grid and back (:func:`sciml.data.transforms.resample`), so a patch always covers the same
  physical area;
* ``"linear"``: the same with (bi)linear interpolation including both endpoints (non-periodic);
* ``"pad"``: no resampling; the input is padded at its high end to the next multiple of the unit
  (``pad_mode``: ``"circular"``, ``"reflect"``, ``"replicate"`` or ``"zeros"``) and the output
  cropped. The network then sees the input's own resolution (not resolution invariant).

**Fine-tuning.** :meth:`ScOT.load_pretrained` loads a checkpoint trained on other channels with
the embedding and recovery re-initialized; :meth:`ScOT.param_groups` gives Poseidon's three
learning-rate groups (body, embedding + recovery, time conditioning).

Reference: M. Herde, B. Raonić, T. Rohner, R. Käppeli, R. Molinaro, E. de Bézenac, S. Mishra,
"Poseidon: Efficient Foundation Models for PDEs", NeurIPS 2024, arXiv:2405.19101.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.data.transforms import resample as resample_grid
from sciml.models.scot.blocks import ConvNeXtBlock, PatchMerging, PatchUnmerging, SwinStage
from sciml.models.scot.norm import ConditionalLayerNorm, make_norm

__all__ = ["ScOT", "RESAMPLE_MODES", "PAD_MODES", "size_unit", "model_grid"]

RESAMPLE_MODES = ("fourier", "linear", "pad")
NORM_INITS = ("poseidon", "unit")
#: ``pad_mode`` names → :func:`torch.nn.functional.pad` modes
PAD_MODES = {
    "circular": "circular",
    "reflect": "reflect",
    "replicate": "replicate",
    "zeros": "constant",
}
#: parameter-name prefixes of the channel-dependent layers (re-initialized when fine-tuning on
#: other input/output channels)
EMBEDDING_RECOVERY = ("embed.", "recovery.")


def size_unit(patch_size: Sequence[int], n_stages: int) -> tuple[int, int]:
    """Grid sides must be multiples of ``patch · 2^(n_stages - 1)`` (per axis)."""
    return tuple(p * 2 ** (n_stages - 1) for p in patch_size)  # type: ignore[return-value]


def model_grid(
    shape: Sequence[int], patch_size: Sequence[int], n_stages: int, *, what: str = "grid"
) -> tuple[int, int]:
    """``shape`` rounded up to multiples of :func:`size_unit`; a side below the unit is an error."""
    unit = size_unit(patch_size, n_stages)
    shape = tuple(int(s) for s in shape)
    if any(s < u for s, u in zip(shape, unit)):
        raise ValueError(
            f"scot: {what} {shape[0]}x{shape[1]} is too small for patch_size="
            f"{list(patch_size)} and {n_stages} stages; the smallest valid grid is "
            f"{unit[0]}x{unit[1]} (sides multiples of patch_size * 2^(stages-1) = "
            f"{unit[0]}x{unit[1]})"
        )
    return tuple(-(-s // u) * u for s, u in zip(shape, unit))  # type: ignore[return-value]


def _pair(name: str, value: Any) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
        raise ValueError(
            f"scot option {name} must be a positive int or a list of 2 positive ints, got {value!r}"
        )
    return pair  # type: ignore[return-value]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"scot option {name} must be a positive integer, got {value!r}")
    return value


def _int_list(name: str, value: Any, n: int | None, least: int) -> list[int]:
    values = list(value) if isinstance(value, (list, tuple)) else None
    if (
        values is None
        or not values
        or any(isinstance(v, bool) or not isinstance(v, int) or v < least for v in values)
        or (n is not None and len(values) != n)
    ):
        size = f"{n} " if n is not None else ""
        raise ValueError(
            f"scot option {name} must be a list of {size}ints >= {least} (one per stage), "
            f"got {value!r}"
        )
    return values


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"scot option {name}={value!r} is not one of {list(choices)}")
    return value


class ScOT(nn.Module):
    r"""Poseidon's scalable operator transformer (see module docstring).

    Parameters
    ----------
    in_channels, out_channels, n_dims, spatial_shape:
        Filled in by the trainer from the data: channels, spatial dimensions (must be 2) and the
        data grid ``(H, W)`` (sets the model grid; default: the smallest valid grid).
    patch_size:
        Patch side ``p`` (int or ``[p_h, p_w]``); 4 in Poseidon.
    embed_dim:
        Token width ``E`` of the first stage; stage ``i`` has ``E · 2^i``.
    depths:
        SwinV2 blocks per stage (encoder and, mirrored, decoder); its length is the number of
        stages ``S``.
    num_heads:
        Attention heads per stage; ``E · 2^i`` must be divisible by ``num_heads[i]``.
    skip_connections:
        ConvNeXt blocks on the skip of each level (0: identity); the deepest level's entry must be
        0 (the decoder starts from the encoder's output there).
    window_size:
        Attention window in tokens (int or ``[w_h, w_w]``), clipped to smaller stage grids.
    mlp_ratio:
        Hidden width of the block MLPs over the token width.
    time_conditioning:
        ``True``: every LayerNorm is conditioned on ``t`` and ``forward`` needs it. ``False``:
        plain LayerNorms, ``t`` is ignored (steady problems).
    resample, pad_mode:
        How inputs off the model grid are handled (module docstring).
    qkv_bias, cpb_hidden:
        Query/value biases and the width of the position-bias MLP.
    norm_init:
        ``"poseidon"``: the conditioned norms' maps start like every linear layer (weights
        N(0, 0.02²), bias 0), so :math:`\gamma(t) \approx 0` and blocks start near the identity
        (Poseidon). ``"unit"``: :math:`b_\gamma = 1`, i.e. every norm starts as a standard
        LayerNorm at any ``t``; in a short CPU check (scOT-mini, NS-Sines all2all, 6 epochs) it
        lowered the first epochs' loss, not the sixth's.

    Notes
    -----
    ``forward(x, t)``: ``x`` ``(B, in_channels, H, W)`` (normalized units), ``t`` ``(B,)`` (or a
    scalar) lead time over the horizon → ``(B, out_channels, H, W)``.
    """

    input_keys: tuple[str, ...] = ("x", "t")

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int = 2,
        spatial_shape: Sequence[int] | None = None,
        *,
        patch_size: int | Sequence[int] = 4,
        embed_dim: int = 48,
        depths: Sequence[int] = (4, 4, 4, 4),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        skip_connections: Sequence[int] = (2, 2, 2, 0),
        window_size: int | Sequence[int] = 16,
        mlp_ratio: float = 4.0,
        time_conditioning: bool = True,
        resample: str = "fourier",
        pad_mode: str = "circular",
        qkv_bias: bool = True,
        cpb_hidden: int = 512,
        norm_init: str = "poseidon",
    ) -> None:
        super().__init__()
        if n_dims != 2:
            raise ValueError(f"scot works on 2D grids (n_dims=2), got n_dims={n_dims!r}")
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        self.patch_size = _pair("patch_size", patch_size)
        self.window_size = _pair("window_size", window_size)
        depths = _int_list("depths", depths, None, 1)
        n_stages = len(depths)
        num_heads = _int_list("num_heads", num_heads, n_stages, 1)
        skips = _int_list("skip_connections", skip_connections, n_stages, 0)
        embed_dim = _positive_int("embed_dim", embed_dim)
        if skips[-1] != 0:
            raise ValueError(
                f"scot option skip_connections={skips}: the deepest level's entry must be 0 "
                "(the decoder starts from the encoder's output there)"
            )
        dims = [embed_dim * 2**i for i in range(n_stages)]
        for i, (d, h) in enumerate(zip(dims, num_heads)):
            if d % h:
                raise ValueError(
                    f"scot option num_heads={num_heads}: stage {i} width {d} (embed_dim * 2^{i}) "
                    f"is not divisible by {h} heads"
                )
        if not mlp_ratio > 0:
            raise ValueError(f"scot option mlp_ratio must be > 0, got {mlp_ratio!r}")
        self.resample = _choice("resample", resample, RESAMPLE_MODES)
        self.pad_mode = _choice("pad_mode", pad_mode, list(PAD_MODES))
        norm_init = _choice("norm_init", norm_init, NORM_INITS)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_stages = n_stages
        self.time_conditioning = bool(time_conditioning)
        if not self.time_conditioning:
            self.input_keys = ("x",)
        unit = size_unit(self.patch_size, n_stages)
        self.grid = model_grid(
            unit if spatial_shape is None else spatial_shape,
            self.patch_size,
            n_stages,
            what="spatial_shape",
        )
        cond = self.time_conditioning

        self.embed = nn.Conv2d(in_channels, embed_dim, self.patch_size, stride=self.patch_size)
        self.embed_norm = make_norm(embed_dim, cond)

        def stage(i: int) -> SwinStage:
            return SwinStage(
                dims[i],
                depths[i],
                num_heads[i],
                self.window_size,
                mlp_ratio=mlp_ratio,
                conditioned=cond,
                qkv_bias=qkv_bias,
                cpb_hidden=cpb_hidden,
            )

        self.encoder = nn.ModuleList(stage(i) for i in range(n_stages))
        self.merges = nn.ModuleList(
            PatchMerging(dims[i], conditioned=cond) for i in range(n_stages - 1)
        )
        self.skips = nn.ModuleList(
            nn.ModuleList(ConvNeXtBlock(dims[i], conditioned=cond) for _ in range(skips[i]))
            for i in range(n_stages)
        )
        self.decoder = nn.ModuleList(stage(i) for i in range(n_stages))
        # unmerges[i - 1] takes level i (width dims[i]) to level i - 1
        self.unmerges = nn.ModuleList(
            PatchUnmerging(dims[i], conditioned=cond) for i in range(1, n_stages)
        )
        self.recovery = nn.Sequential(
            nn.ConvTranspose2d(embed_dim, out_channels, self.patch_size, stride=self.patch_size),
            nn.Conv2d(out_channels, out_channels, 5, padding=2, bias=False),
        )
        self.apply(_init_weights)
        if norm_init == "unit":
            for m in self.modules():
                if isinstance(m, ConditionalLayerNorm):
                    nn.init.ones_(m.weight.bias)

    # -- interface -------------------------------------------------------------------------
    @property
    def resolution_invariant(self) -> bool:
        """Inputs on any grid are resampled to the model grid (``resample != "pad"``)."""
        return self.resample != "pad"

    def token_grids(self, shape: Sequence[int] | None = None) -> list[tuple[int, int]]:
        """Token grid of every stage for an input of spatial ``shape`` (default: the model grid)."""
        h, w = self._run_grid(tuple(shape) if shape is not None else self.grid)
        ph, pw = self.patch_size
        return [(h // ph // 2**i, w // pw // 2**i) for i in range(self.n_stages)]

    def load_pretrained(self, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
        """Load a pretrained scOT's weights, re-initializing the channel-dependent layers if needed.

        When the checkpoint was trained on other input or output channels (its embedding or
        recovery tensors have other shapes), the whole embedding convolution and recovery head
        (parameters under :data:`EMBEDDING_RECOVERY`) keep this model's fresh initialization and
        everything else is loaded, as Poseidon's ``--replace_embedding_recovery`` does; otherwise
        every tensor is loaded. Any other difference (keys, shapes of the body) is an error.

        Returns
        -------
        The names of the parameters left at their initialization (empty when nothing was).
        """
        own = self.state_dict()
        channel_keys = [k for k in own if k.startswith(EMBEDDING_RECOVERY)]
        replace = any(
            k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
            for k in channel_keys
        )
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"scot: the checkpoint does not fit this configuration: missing {missing[:5]}, "
                f"unexpected {unexpected[:5]}"
            )
        keep = set(channel_keys) if replace else set()
        for key in sorted(set(own) - keep):
            if tuple(state_dict[key].shape) != tuple(own[key].shape):
                raise ValueError(
                    f"scot: checkpoint tensor {key!r} has shape {tuple(state_dict[key].shape)}, "
                    f"this model needs {tuple(own[key].shape)} (another width, depth or window?)"
                )
        self.load_state_dict({k: v for k, v in state_dict.items() if k not in keep}, strict=False)
        return sorted(keep)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Poseidon's three fine-tuning groups: ``"embedding_recovery"`` (channel-dependent,
        :data:`EMBEDDING_RECOVERY`), ``"time_conditioning"`` (the γ(t), β(t) maps of every
        conditioned norm) and ``"body"`` (the rest)."""
        time_ids = {
            id(p)
            for m in self.modules()
            if isinstance(m, ConditionalLayerNorm)
            for p in m.parameters()
        }
        groups: dict[str, list[nn.Parameter]] = {
            "embedding_recovery": [],
            "time_conditioning": [],
            "body": [],
        }
        for name, p in self.named_parameters():
            if name.startswith(EMBEDDING_RECOVERY):
                groups["embedding_recovery"].append(p)
            elif id(p) in time_ids:
                groups["time_conditioning"].append(p)
            else:
                groups["body"].append(p)
        return groups

    # -- grids -----------------------------------------------------------------------------
    def _run_grid(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """The grid the network runs on for an input of spatial ``shape``."""
        valid = model_grid(shape, self.patch_size, self.n_stages, what="input grid")
        return self.grid if self.resample != "pad" else valid

    def _to_run_grid(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        shape = tuple(x.shape[-2:])
        grid = self._run_grid(shape)
        if grid == shape:
            return x, grid
        if self.resample == "pad":
            pad = (0, grid[1] - shape[1], 0, grid[0] - shape[0])
            return F.pad(x, pad, mode=PAD_MODES[self.pad_mode]), grid
        return resample_grid(x, grid, periodic=self.resample == "fourier"), grid

    def _from_run_grid(self, y: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        if tuple(y.shape[-2:]) == shape:
            return y
        if self.resample == "pad":
            return y[..., : shape[0], : shape[1]]
        return resample_grid(y, shape, periodic=self.resample == "fourier")

    def _lead_time(self, t: torch.Tensor | float | None, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if t is None:
            if self.time_conditioning:
                raise ValueError("scot: time_conditioning=True needs the lead time t, got None")
            return x.new_zeros(b)
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.numel() == 1:
            return t.reshape(1).expand(b)
        if t.numel() != b or (t.ndim == 2 and t.shape[1] != 1) or t.ndim > 2:
            raise ValueError(
                f"scot expects the lead time t as a scalar, (B,) or (B, 1) with B={b}, "
                f"got shape {tuple(t.shape)}"
            )
        return t.reshape(b)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor | float | None = None) -> torch.Tensor:
        """``x`` ``(B, in_channels, H, W)``, ``t`` ``(B,)`` → ``(B, out_channels, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"scot expects x of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        tt = self._lead_time(t, x)
        shape = (x.shape[-2], x.shape[-1])
        x, _ = self._to_run_grid(x)
        h = self.embed_norm(self.embed(x).permute(0, 2, 3, 1), tt)  # (B, G_h, G_w, E)
        skips = []
        for i, stage in enumerate(self.encoder):
            out = stage(h, tt)
            skip = out
            for block in self.skips[i]:
                skip = block(skip, tt)
            skips.append(skip)
            h = self.merges[i](out + h, tt) if i < self.n_stages - 1 else out
        for i in range(self.n_stages - 1, -1, -1):
            if i < self.n_stages - 1:
                h = h + skips[i]
            out = self.decoder[i](h, tt)
            h = self.unmerges[i - 1](out + h, tt) if i > 0 else out + h
        y = self.recovery(h.permute(0, 3, 1, 2))
        return self._from_run_grid(y, shape)

    def extra_repr(self) -> str:
        return (
            f"grid={self.grid}, patch_size={self.patch_size}, window_size={self.window_size}, "
            f"resample={self.resample!r}, time_conditioning={self.time_conditioning}"
        )


def _init_weights(module: nn.Module) -> None:
    """Poseidon's initialization: linear/conv weights N(0, 0.02²), biases 0."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)

"""A model with its input and output normalizers folded in: physical fields in, physical fields out.

Training, evaluation and embedding all use this one module, so the normalization fitted on the
training split can never be forgotten or applied twice: the trainer optimizes it on physical data,
``sciml.load`` returns it (wrapped in :class:`~sciml.embed.Surrogate`), and exports trace through it.
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.models.outputs import GaussianOutput, is_gaussian


class NormalizedModel(nn.Module):
    """``decode(model(encode(x), *rest))``.

    Parameters
    ----------
    model:
        Any model following the sciml model interface (class attribute ``input_keys``; the first key
        must be ``"x"``, the input field ``(B, C_in, *S)``).
    input_normalizer, output_normalizer:
        Modules with ``encode(t)`` / ``decode(t)`` acting on ``(B, C, *S)`` tensors (see
        :mod:`sciml.data.transforms`); their fitted statistics are buffers, so they are saved in
        this module's ``state_dict``.
    """

    def __init__(
        self, model: nn.Module, input_normalizer: nn.Module, output_normalizer: nn.Module
    ) -> None:
        super().__init__()
        keys = tuple(getattr(model, "input_keys", ("x",)))
        if not keys or keys[0] != "x":
            raise ValueError(f"the wrapped model's first input must be 'x', got input_keys={keys}")
        self.model = model
        self.input_normalizer = input_normalizer
        self.output_normalizer = output_normalizer
        self.input_keys = keys

    @property
    def resolution_invariant(self) -> bool:
        return bool(getattr(self.model, "resolution_invariant", False))

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor | GaussianOutput:
        """``x``: ``(B, C_in, *S)`` in physical units → ``(B, C_out, *S)`` in physical units.

        A probabilistic model's ``(mean, var)`` comes back as the physical mean and variance:
        the normalizers are affine, ``u = s z + m``, so ``var_u = s² var_z`` with
        ``s = decode(1) − decode(0)``.
        """
        out = self.model(self.input_normalizer.encode(x), *rest)
        if is_gaussian(out):
            mean, var = out
            decode = self.output_normalizer.decode
            scale = decode(torch.ones_like(mean)) - decode(torch.zeros_like(mean))
            return GaussianOutput(decode(mean), var * scale.square())
        return self.output_normalizer.decode(out)

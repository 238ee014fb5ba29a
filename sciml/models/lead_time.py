"""Lead-time conditioning: physical lead times in, the horizon-normalized time a model takes.

Time-conditioned operators (Poseidon's scOT, the ``fno_time`` baseline) take the lead time
normalized by the training horizon, ``t = Δt / T`` with ``T`` the largest lead seen in training,
so that ``t ∈ [0, 1]`` whatever the physical time scale. :class:`LeadTime` does that division, so
the rest of the code (datasets, ``sciml.load``, export) speaks physical lead times ``Δt`` (s).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class LeadTime(nn.Module):
    """``model(x, Δt / horizon)``; warns for a lead time outside the trained range ``[0, horizon]``
    (eager calls only: traced, compiled and exported programs do not warn).

    Parameters
    ----------
    model:
        A model with ``input_keys = ("x", "t")`` (``t``: ``(B,)`` normalized lead time).
    horizon:
        The largest lead time of the training data ``T`` (s, > 0).
    """

    def __init__(self, model: nn.Module, horizon: float) -> None:
        super().__init__()
        keys = tuple(getattr(model, "input_keys", ("x",)))
        if keys[:2] != ("x", "t"):
            raise ValueError(
                f"a time-conditioned model takes (x, t); {type(model).__name__} takes {keys}"
            )
        if not horizon > 0:
            raise ValueError(f"the lead-time horizon must be positive, got {horizon}")
        self.model = model
        self.input_keys = ("x", "dt", *keys[2:])
        self.register_buffer("horizon", torch.tensor(float(horizon)))

    @property
    def resolution_invariant(self) -> bool:
        return bool(getattr(self.model, "resolution_invariant", False))

    def forward(self, x: torch.Tensor, dt: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C, *S)``, ``dt`` ``(B,)`` lead times (s) → the model's output."""
        t = dt.to(x) / self.horizon
        if not torch.compiler.is_compiling() and not torch.jit.is_tracing() and t.numel():
            horizon = float(self.horizon)
            beyond, before = float(t.max()), float(t.min())
            if beyond > 1.0 + 1e-6:
                warnings.warn(
                    f"lead time {beyond * horizon:.4g} s is beyond the trained "
                    f"horizon {horizon:.4g} s: the model extrapolates in time",
                    stacklevel=2,
                )
            if before < -1e-6:
                warnings.warn(
                    f"lead time {before * horizon:.4g} s is negative: outside the trained "
                    f"range [0, {horizon:.4g}] s (the model was trained forward in time only)",
                    stacklevel=2,
                )
        return self.model(x, t, *rest)

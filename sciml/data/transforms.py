"""Normalizers fitted on the training split and saved with the model, and grid resampling.

Normalizers are ``nn.Module`` s whose statistics are *buffers*: they follow ``.to(device, dtype)``
and are saved in (and restored from) the ``state_dict`` of any model that holds them, so a trained
surrogate carries its own normalization (see ``sciml.embed``). All three share one interface:

* ``fit(data, key=None)`` — statistics from a tensor ``(B, ...)`` or, streaming, from an iterable
  of such batches (a ``DataLoader``; with dict batches pass ``key="x"``). Fit on the training split
  only, so no test information leaks into the model.
* ``encode(x)`` / ``decode(x)`` — physical → normalized and back. Both accept a batch
  ``(B, C, *S)`` or a single sample ``(C, *S)``: statistics are stored without the batch axis.

``dims`` says which axes of a batch ``(B, C, *S)`` the statistics are reduced over:
``"channel"`` (default) reduces over the batch and every spatial axis (one mean/std per channel,
resolution independent); ``"pointwise"`` reduces over the batch only (one mean/std per channel and
grid point, as the FNO reference code's ``UnitGaussianNormalizer``); a tuple of axes (containing 0)
chooses explicitly.

:func:`resample` changes the resolution of gridded fields: exact trigonometric (Fourier)
interpolation on periodic grids, (bi/tri)linear interpolation on grids that include both
endpoints.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Normalizer",
    "UnitGaussianNormalizer",
    "RangeNormalizer",
    "IdentityNormalizer",
    "resample",
]


def _batches(data: Tensor | Iterable[Any], key: str | None) -> Iterable[Tensor]:
    """The tensors of ``data``: one tensor, or each batch (``batch[key]`` for dict batches)."""
    if isinstance(data, Tensor):
        yield data
        return
    for i, batch in enumerate(data):
        if isinstance(batch, Mapping):
            if key is None or key not in batch:
                raise ValueError(
                    f"batch {i} is a dict with keys {sorted(batch)}: pass key=<one of them> to fit"
                )
            batch = batch[key]
        if not isinstance(batch, Tensor):
            raise ValueError(f"batch {i}: expected a tensor, got {type(batch).__name__}")
        yield batch


class Normalizer(nn.Module, ABC):
    """Base class: reduction axes, streaming fit over batches, lazily sized buffers.

    Subclasses implement :meth:`_update` (accumulate one batch), :meth:`_finish` (set buffers),
    :meth:`encode` and :meth:`decode`.
    """

    def __init__(self, dims: str | tuple[int, ...] = "channel") -> None:
        super().__init__()
        if isinstance(dims, str):
            if dims not in ("channel", "pointwise"):
                raise ValueError(f"dims must be 'channel', 'pointwise' or a tuple, got {dims!r}")
        else:
            dims = tuple(int(d) for d in dims)
            if 0 not in dims or min(dims) < 0:
                raise ValueError(
                    f"dims must be non-negative axes including the batch axis 0: {dims}"
                )
        self.dims = dims
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))
        # a Python flag, not `count > 0`: a data-dependent check would break torch.export tracing
        self._fitted = False

    def _reduce_dims(self, x: Tensor) -> tuple[int, ...]:
        if self.dims == "channel":
            return (0, *range(2, x.ndim))
        if self.dims == "pointwise":
            return (0,)
        if max(self.dims) >= x.ndim:
            raise ValueError(f"dims {self.dims} out of range for a batch of shape {tuple(x.shape)}")
        return self.dims

    def fit(self, data: Tensor | Iterable[Any], key: str | None = None) -> Normalizer:
        """Fit the statistics on ``data`` (a batch or an iterable of batches); returns self."""
        state = None
        for batch in _batches(data, key):
            x = batch.detach().to(torch.float64)
            dims = self._reduce_dims(x)
            # statistics keep the reduced axes as size 1 and drop the batch axis
            stat = tuple(1 if d in dims else s for d, s in enumerate(x.shape))[1:]
            if state is not None and state["shape"] != stat:
                raise ValueError(
                    f"batch of shape {tuple(batch.shape)} gives statistics of shape {tuple(stat)}, "
                    f"earlier batches gave {tuple(state['shape'])}"
                )
            n = math.prod(x.shape[d] for d in dims)
            state = self._update(state, x, dims, n)
            state["shape"] = stat
        if state is None:
            raise ValueError("cannot fit a normalizer on empty data")
        self._finish(state)
        self.count = torch.tensor(state["n"], dtype=torch.int64, device=self.count.device)
        self._fitted = True
        return self

    @abstractmethod
    def _update(
        self, state: dict[str, Any] | None, x: Tensor, dims: tuple[int, ...], n: int
    ) -> dict[str, Any]:
        """Accumulate the statistics of one float64 batch ``x`` reduced over ``dims``."""

    @abstractmethod
    def _finish(self, state: dict[str, Any]) -> None:
        """Set the buffers from the accumulated statistics."""

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError(
                f"{type(self).__name__} is not fitted: call fit() on the training split first"
            )

    def _stat(self, name: str, x: Tensor) -> Tensor:
        """Buffer ``name`` on the device/dtype of ``x`` (statistics are kept in float64)."""
        return getattr(self, name).to(device=x.device, dtype=x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """Same as :meth:`encode`."""
        return self.encode(x)

    @abstractmethod
    def encode(self, x: Tensor) -> Tensor:
        """Physical → normalized, ``(B, C, *S)`` or ``(C, *S)``."""

    @abstractmethod
    def decode(self, x: Tensor) -> Tensor:
        """Normalized → physical, ``(B, C, *S)`` or ``(C, *S)``."""

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Buffers are sized by fit(); an unfitted normalizer adopts the saved shapes on load.
        for name, buf in self._buffers.items():
            saved = state_dict.get(prefix + name)
            if buf is not None and saved is not None and saved.shape != buf.shape:
                self._buffers[name] = torch.empty_like(saved, device=buf.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        saved_count = state_dict.get(prefix + "count")
        if saved_count is not None:
            self._fitted = int(saved_count) > 0

    def extra_repr(self) -> str:
        return f"dims={self.dims!r}, fitted={self._fitted}"


class UnitGaussianNormalizer(Normalizer):
    r"""Zero mean, unit standard deviation: :math:`\hat x = (x - \mu) / (\sigma + \epsilon)`.

    Mean and (population) standard deviation are accumulated in float64 over batches with Chan et
    al.'s parallel update, so a streaming fit equals a fit on the concatenated data.

    Parameters
    ----------
    dims:
        Reduction axes (see the module docstring).
    eps:
        Added to the standard deviation (FNO reference code: ``1e-5``), guards constant channels.

    References
    ----------
    Chan, Golub & LeVeque, "Updating formulae and a pairwise algorithm for computing sample
    variances", 1979. Li et al., FNO reference code ``utilities3.UnitGaussianNormalizer``.
    """

    def __init__(self, dims: str | tuple[int, ...] = "channel", eps: float = 1e-5) -> None:
        super().__init__(dims)
        if eps < 0:
            raise ValueError(f"eps must be non-negative, got {eps}")
        self.eps = float(eps)
        self.register_buffer("mean", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("std", torch.ones(0, dtype=torch.float64))

    def _update(self, state, x, dims, n):  # type: ignore[no-untyped-def]
        mean_b = x.mean(dim=dims, keepdim=True)[0]
        m2_b = ((x - mean_b) ** 2).sum(dim=dims, keepdim=True)[0]
        if state is None:
            return {"n": n, "mean": mean_b, "m2": m2_b}
        n_a, total = state["n"], state["n"] + n
        delta = mean_b - state["mean"]
        state["mean"] = state["mean"] + delta * (n / total)
        state["m2"] = state["m2"] + m2_b + delta**2 * (n_a * n / total)
        state["n"] = total
        return state

    def _finish(self, state):  # type: ignore[no-untyped-def]
        self.mean = state["mean"].to(self.count.device)
        self.std = (state["m2"] / state["n"]).sqrt().to(self.count.device)

    def encode(self, x: Tensor) -> Tensor:
        """``(x - mean) / (std + eps)``; ``x`` is ``(B, C, *S)`` or ``(C, *S)``."""
        self._check_fitted()
        return (x - self._stat("mean", x)) / (self._stat("std", x) + self.eps)

    def decode(self, x: Tensor) -> Tensor:
        """Inverse of :meth:`encode`: ``x * (std + eps) + mean``."""
        self._check_fitted()
        return x * (self._stat("std", x) + self.eps) + self._stat("mean", x)


class RangeNormalizer(Normalizer):
    r"""Affine map of the fitted range onto ``[low, high]``.

    :math:`\hat x = low + (x - x_{min})\,(high - low) / \max(x_{max} - x_{min}, \epsilon)`.

    Parameters
    ----------
    dims:
        Reduction axes (see the module docstring).
    low, high:
        Target interval (default ``[0, 1]``).
    eps:
        Lower bound on the fitted range, guards constant channels.
    """

    def __init__(
        self,
        dims: str | tuple[int, ...] = "channel",
        low: float = 0.0,
        high: float = 1.0,
        eps: float = 1e-12,
    ) -> None:
        super().__init__(dims)
        if not high > low:
            raise ValueError(f"need high > low, got low={low}, high={high}")
        self.low, self.high, self.eps = float(low), float(high), float(eps)
        self.register_buffer("min", torch.zeros(0, dtype=torch.float64))
        self.register_buffer("max", torch.ones(0, dtype=torch.float64))

    def _update(self, state, x, dims, n):  # type: ignore[no-untyped-def]
        lo = x.amin(dim=dims, keepdim=True)[0]
        hi = x.amax(dim=dims, keepdim=True)[0]
        if state is None:
            return {"n": n, "min": lo, "max": hi}
        state["min"] = torch.minimum(state["min"], lo)
        state["max"] = torch.maximum(state["max"], hi)
        state["n"] += n
        return state

    def _finish(self, state):  # type: ignore[no-untyped-def]
        self.min = state["min"].to(self.count.device)
        self.max = state["max"].to(self.count.device)

    def _scale(self, x: Tensor) -> Tensor:
        span = (self._stat("max", x) - self._stat("min", x)).clamp_min(self.eps)
        return (self.high - self.low) / span

    def encode(self, x: Tensor) -> Tensor:
        """Map ``[min, max]`` onto ``[low, high]``; ``x`` is ``(B, C, *S)`` or ``(C, *S)``."""
        self._check_fitted()
        return (x - self._stat("min", x)) * self._scale(x) + self.low

    def decode(self, x: Tensor) -> Tensor:
        """Inverse of :meth:`encode`."""
        self._check_fitted()
        return (x - self.low) / self._scale(x) + self._stat("min", x)


class IdentityNormalizer(Normalizer):
    """No normalization (``encode`` and ``decode`` return their input); ``fit`` only counts."""

    def _update(self, state, x, dims, n):  # type: ignore[no-untyped-def]
        return {"n": n + (state["n"] if state else 0)}

    def _finish(self, state):  # type: ignore[no-untyped-def]
        """Nothing to store: :meth:`fit` keeps the count."""

    def encode(self, x: Tensor) -> Tensor:
        return x

    def decode(self, x: Tensor) -> Tensor:
        return x


def _fourier_resample_axis(x: Tensor, m: int, axis: int) -> Tensor:
    """Trigonometric interpolation of a periodic real signal along ``axis`` to ``m`` points.

    Keeps the ``min(n, m)`` lowest frequencies. At an even Nyquist frequency of the smaller grid
    the two half-amplitude components ``±N/2`` are merged (downsampling) or split (upsampling), so
    band-limited signals are reproduced exactly and real signals stay real.
    """
    n = x.shape[axis]
    if m == n:
        return x
    spec = torch.fft.fft(torch.movedim(x, axis, -1), dim=-1)
    out = spec.new_zeros((*spec.shape[:-1], m))
    k = min(n, m)
    n_pos = k // 2 + 1  # frequencies 0..k//2
    n_neg = k - n_pos  # frequencies -1..-(k - n_pos)
    out[..., :n_pos] = spec[..., :n_pos]
    if n_neg > 0:
        out[..., m - n_neg :] = spec[..., n - n_neg :]
    if k % 2 == 0:
        if m < n:  # the new Nyquist bin holds both old components +k/2 and -k/2
            out[..., k // 2] += spec[..., n - k // 2]
        else:  # split the old Nyquist bin evenly between +k/2 and -k/2
            out[..., k // 2] *= 0.5
            out[..., m - k // 2] = out[..., k // 2]
    y = torch.fft.ifft(out, dim=-1).real * (m / n)
    return torch.movedim(y, -1, axis).to(x.dtype)


def resample(field: Tensor, size: int | tuple[int, ...], *, periodic: bool = True) -> Tensor:
    """Resample gridded fields ``(B, C, *N)`` to the spatial size ``size``.

    Parameters
    ----------
    field:
        ``(B, C, N_1, ..., N_d)`` with ``d`` in 1..3.
    size:
        New spatial size ``(M_1, ..., M_d)`` (an int means the same size on every axis).
    periodic:
        ``True``: the grid is ``j/N`` (right endpoint excluded) and the field periodic; resampling
        is trigonometric interpolation (exact for fields band-limited to the coarser grid).
        ``False``: the grid is ``j/(N-1)`` (both endpoints); resampling is linear / bilinear /
        trilinear interpolation with the endpoints kept (``align_corners=True``).

    Returns
    -------
    Tensor
        ``(B, C, M_1, ..., M_d)``, same dtype and device.
    """
    d = field.ndim - 2
    if not 1 <= d <= 3:
        raise ValueError(
            f"resample expects (B, C, *N) with 1 to 3 spatial axes, got shape {tuple(field.shape)}"
        )
    sizes = (int(size),) * d if isinstance(size, int) else tuple(int(s) for s in size)
    if len(sizes) != d or min(sizes) < 1:
        raise ValueError(f"size must be {d} positive ints for a {d}D field, got {size}")
    if periodic:
        for axis, m in enumerate(sizes, start=2):
            field = _fourier_resample_axis(field, m, axis)
        return field
    if min(sizes) < 2 or min(field.shape[2:]) < 2:
        raise ValueError("linear resampling with both endpoints needs at least 2 points per axis")
    mode = ("linear", "bilinear", "trilinear")[d - 1]
    return F.interpolate(field, size=sizes, mode=mode, align_corners=True)

r"""Periodic grids: wavenumbers, rfft transforms, spectral derivatives and dealiasing.

A :class:`Grid` is the periodic box :math:`[0, L)^D` sampled with ``N_i`` points along axis ``i``
(``x_j = j L / N``). Fields are real tensors ``(B, C, *N)``; their spectra are the ``rfftn`` over
the last ``D`` axes, shape ``(B, C, N_1, ..., N_{D-1}, N_D//2 + 1)``, complex with the precision
of the real dtype. We use ``norm="forward"`` so that :math:`\hat u_m` are the Fourier *coefficients*
(:math:`u(x) = \sum_m \hat u_m e^{i k_m x}`), independent of ``N`` — this makes zero-padding
(3/2 rule) and comparisons between resolutions plain copies.

The wavenumber of integer mode ``m`` is :math:`k = 2\pi m / L`. ``L`` may be a Python float or a
tensor of shape ``(B,)`` (one domain length per batch member, differentiable); every derived symbol
then carries a leading batch axis. All symbols are shaped to broadcast against ``(B, C, *N_f)``.

Dealiasing (Orszag 1971; Canuto et al., *Spectral Methods*, §3.2.2): the *2/3 rule* keeps modes
with :math:`|m_i| < \tfrac{2}{3} \cdot N_i/2` on every axis (exact for quadratic products); the
*3/2 rule* evaluates products on a zero-padded grid of ``3N/2`` points and truncates back (also
exact for quadratic products, keeps all modes). Cubic terms need the fraction 1/2 (or padding 2).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch

__all__ = ["Grid", "as_batch_param", "DEALIAS_MODES"]

#: accepted values of the ``dealias`` argument of equations
DEALIAS_MODES = ("2/3", "3/2", "none")


def as_batch_param(
    value: float | torch.Tensor,
    name: str,
    n_trailing: int,
    *,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """A scalar or per-batch parameter as a tensor broadcastable to ``(B, *trailing)``.

    Parameters
    ----------
    value:
        Python number, 0-d tensor, or tensor of shape ``(B,)``. Tensors keep their autograd graph.
    n_trailing:
        Number of trailing axes to append (``1 + D`` for a ``(B, C, *N)`` field).

    Returns
    -------
    Tensor of shape ``(1, 1, ...)`` (scalar) or ``(B, 1, ...)`` with ``n_trailing`` ones.
    """
    if isinstance(value, torch.Tensor):
        if value.ndim > 1:
            raise ValueError(
                f"parameter {name!r} must be a number or a tensor of shape (B,), "
                f"got shape {tuple(value.shape)}"
            )
        t = value.to(device=device, dtype=dtype).reshape(-1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        t = torch.tensor([float(value)], dtype=dtype, device=device)
    else:
        raise TypeError(f"parameter {name!r} must be a number or a tensor, got {type(value)}")
    if not torch.isfinite(t.detach()).all():
        raise ValueError(f"parameter {name!r} must be finite, got {value}")
    return t.reshape(-1, *([1] * n_trailing))


class Grid:
    """Uniform periodic grid on :math:`[0, L)^D` with spectral helpers.

    Parameters
    ----------
    shape:
        Points per axis ``(N_1, ..., N_D)`` (or one int for 1D); each even and ``>= 4`` (an even
        ``N`` has a Nyquist mode, which is zeroed in odd derivatives so real fields stay real).
    length:
        Domain length ``L`` (same on every axis): float or tensor ``(B,)``.
    dtype, device:
        Real dtype (``float32``/``float64``) and device of all tensors built by the grid.
    """

    def __init__(
        self,
        shape: int | Sequence[int],
        length: float | torch.Tensor = 2 * math.pi,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ) -> None:
        shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
        if not 1 <= len(shape) <= 3:
            raise ValueError(f"grids are 1D, 2D or 3D, got shape {shape}")
        for n in shape:
            if n < 4 or n % 2:
                raise ValueError(
                    f"every grid size must be even and >= 4 (rfft with a Nyquist mode), got {shape}"
                )
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"grid dtype must be torch.float32 or torch.float64, got {dtype}")
        self.shape: tuple[int, ...] = shape
        self.ndim = len(shape)
        self.dtype = dtype
        self.complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        # the device tensors actually land on ("cuda" → "cuda:0"), so states compare equal
        self.device = torch.empty(0, device=device if device is not None else "cpu").device
        # (Bl, 1, 1..1) with 1 + D trailing ones: broadcasts against (B, C, *N)
        self.length = as_batch_param(
            length, "length", 1 + self.ndim, dtype=dtype, device=self.device
        )
        if (self.length.detach() <= 0).any():
            raise ValueError(f"domain length must be positive, got {length}")
        self.fourier_shape: tuple[int, ...] = (*shape[:-1], shape[-1] // 2 + 1)

    # -- sizes --------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int | None:
        """``B`` when the domain length is a per-batch tensor, else ``None``."""
        return self.length.shape[0] if self.length.shape[0] > 1 else None

    @property
    def spacing(self) -> torch.Tensor:
        """Smallest grid spacing ``L / max_i N_i`` as a broadcastable tensor ``(Bl, 1, ...)``."""
        return self.length / max(self.shape)

    def _axis_view(self, v: torch.Tensor, axis: int) -> torch.Tensor:
        """``v`` of length ``n`` reshaped to ``(1, 1, .., n, .., 1)`` at spatial ``axis``."""
        shape = [1] * (2 + self.ndim)
        shape[2 + axis] = v.shape[0]
        return v.reshape(shape)

    # -- coordinates and modes ----------------------------------------------------------------
    def coordinates(self) -> list[torch.Tensor]:
        """Coordinates ``x_j = j L / N`` of each axis, shaped ``(Bl, 1, .., N_i, .., 1)``."""
        out = []
        for axis, n in enumerate(self.shape):
            j = torch.arange(n, dtype=self.dtype, device=self.device)
            out.append(self._axis_view(j / n, axis) * self.length)
        return out

    def modes(self, axis: int) -> torch.Tensor:
        """Integer mode numbers ``m`` of spectral ``axis`` (fft order; rfft on the last axis)."""
        n = self.shape[axis]
        if axis == self.ndim - 1:
            m = torch.arange(n // 2 + 1, dtype=self.dtype, device=self.device)
        else:
            m = torch.fft.fftfreq(n, d=1.0 / n, dtype=self.dtype, device=self.device)
        return self._axis_view(m, axis)

    def wavenumber(self, axis: int, *, odd: bool = False) -> torch.Tensor:
        """Angular wavenumber :math:`k = 2\\pi m / L` of ``axis``, broadcastable to the spectrum.

        With ``odd=True`` the Nyquist mode is set to zero: an odd derivative of the Nyquist cosine
        is a sine that the grid cannot represent, and keeping it would make real fields complex.
        """
        m = self.modes(axis)
        if odd:
            m = torch.where(m.abs() == self.shape[axis] // 2, torch.zeros_like(m), m)
        return 2 * math.pi * m / self.length

    def laplacian_symbol(self) -> torch.Tensor:
        """:math:`-|k|^2`, the Fourier symbol of the Laplacian."""
        return -sum(self.wavenumber(a) ** 2 for a in range(self.ndim))

    def derivative_symbol(self, axis: int, order: int = 1) -> torch.Tensor:
        """:math:`(i k_{axis})^{order}` (Nyquist zeroed for odd orders), complex."""
        if order < 0:
            raise ValueError(f"derivative order must be >= 0, got {order}")
        k = self.wavenumber(axis, odd=order % 2 == 1).to(self.complex_dtype)
        return (1j * k) ** order

    # -- transforms ---------------------------------------------------------------------------
    def _spatial_dims(self) -> tuple[int, ...]:
        return tuple(range(-self.ndim, 0))

    def check_field(self, u: torch.Tensor, name: str = "state") -> None:
        """Raise ``ValueError`` unless ``u`` is a real ``(B, C, *N)`` field on this grid."""
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(u)}")
        if u.is_complex() or u.ndim != 2 + self.ndim or tuple(u.shape[2:]) != self.shape:
            raise ValueError(
                f"{name} must be a real tensor (B, C, {', '.join(map(str, self.shape))}) on this "
                f"grid, got {'complex ' if u.is_complex() else ''}shape {tuple(u.shape)}"
            )

    def check_spectrum(self, u_hat: torch.Tensor, name: str = "spectrum") -> None:
        """Raise ``ValueError`` unless ``u_hat`` is a complex ``(B, C, *N_f)`` spectrum."""
        if (
            not u_hat.is_complex()
            or u_hat.ndim != 2 + self.ndim
            or tuple(u_hat.shape[2:]) != self.fourier_shape
        ):
            raise ValueError(
                f"{name} must be complex (B, C, {', '.join(map(str, self.fourier_shape))}), "
                f"got {u_hat.dtype} {tuple(u_hat.shape)}"
            )

    def rfft(self, u: torch.Tensor, *, scaled: bool = True) -> torch.Tensor:
        """Fourier coefficients ``(B, C, *N_f)`` of a real field ``(B, C, *N)``.

        With ``scaled=False`` the ``1/prod(N)`` normalisation is left to the caller, who may fold
        it into a coefficient it multiplies by anyway (exact when ``prod(N)`` is a power of two).
        """
        return torch.fft.rfftn(
            u, dim=self._spatial_dims(), norm="forward" if scaled else "backward"
        )

    def irfft(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Real field ``(B, C, *N)`` from its coefficients ``(B, C, *N_f)``."""
        return torch.fft.irfftn(u_hat, s=self.shape, dim=self._spatial_dims(), norm="forward")

    def irfft_low(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Real field ``(B, C, *N)`` from the ``K`` lowest modes ``(B, C, ..., K)`` of the last axis.

        The modes ``K, ..., N_D/2`` are zero. The transform is separable (``ifft`` over the
        leading axes, then ``irfft`` of the last, as ``irfftn`` does internally), so the leading
        axes are transformed for ``K`` columns only: a third less work for 2/3 dealiasing, with
        bitwise the same result as :meth:`irfft` of the zero-filled spectrum (torch/MKL). The
        forward transform has no such counterpart: torch's multi-axis ``rfftn`` is faster than
        the separable one even when only ``K`` columns are needed.
        """
        if self.ndim > 1:
            low = torch.fft.ifftn(u_hat, dim=self._spatial_dims()[:-1], norm="forward")
            if torch.is_grad_enabled() and low.requires_grad:
                u_hat = low  # irfft zero-pads the columns K.. itself
            else:  # write into a buffer whose tail alone is zeroed (irfft's padding fills it
                # all, then copies): the same values, one pass less (~8 % of the transform).
                # Each input is released before the next output is allocated, which lowers the
                # peak of short-lived memory.
                del u_hat
                k, nf = low.shape[-1], self.shape[-1] // 2 + 1
                u_hat = low.new_empty(*low.shape[:-1], nf)
                u_hat[..., k:].zero_()
                u_hat[..., :k] = low
                del low
        return torch.fft.irfft(u_hat, n=self.shape[-1], dim=-1, norm="forward")

    # -- dealiasing ---------------------------------------------------------------------------
    def dealias_mask(self, fraction: float = 2 / 3) -> torch.Tensor:
        """Boolean mask ``(1, 1, *N_f)``: ``|m_i| < fraction · N_i / 2`` on every axis."""
        if not 0 < fraction <= 1:
            raise ValueError(f"dealiasing fraction must be in (0, 1], got {fraction}")
        mask = torch.ones((1, 1, *self.fourier_shape), dtype=torch.bool, device=self.device)
        for axis, n in enumerate(self.shape):
            mask = mask & (self.modes(axis).abs() < fraction * n / 2)
        return mask

    def padded_shape(self, factor: float = 1.5) -> tuple[int, ...]:
        """Grid shape ``M_i = factor · N_i`` of the zero-padded product grid (even sizes)."""
        return tuple(2 * math.ceil(factor * n / 2) for n in self.shape)

    def _half_slices(self, factor: float) -> tuple[list[list[slice]], list[list[slice]]]:
        """Slices of the positive/negative halves of every non-last axis on the N and M grids."""
        big = self.padded_shape(factor)
        small = [[slice(0, n // 2), slice(n // 2 + 1, n)] for n in self.shape[:-1]]
        large = [[slice(0, n // 2), slice(m - n // 2 + 1, m)] for n, m in zip(self.shape[:-1], big)]
        return small, large

    def _copy_modes(
        self, src: torch.Tensor, dst: torch.Tensor, src_slices: list, dst_slices: list
    ) -> torch.Tensor:
        # the last (rfft) axis holds only non-negative modes: 0..N/2-1 (Nyquist dropped)
        last = slice(0, self.shape[-1] // 2)
        batch = (slice(None), slice(None))
        for combo in itertools.product((0, 1), repeat=self.ndim - 1):
            d = tuple(dst_slices[a][c] for a, c in enumerate(combo))
            s = tuple(src_slices[a][c] for a, c in enumerate(combo))
            dst[(*batch, *d, last)] = src[(*batch, *s, last)]
        return dst

    def pad_spectrum(self, u_hat: torch.Tensor, factor: float = 1.5) -> torch.Tensor:
        """Zero-pad coefficients ``(B, C, *N_f)`` to the ``factor``-times finer grid.

        The Nyquist modes are dropped (they have no unique counterpart on the finer grid). With
        ``norm="forward"`` coefficients are resolution independent, so padding is a copy.
        """
        big = self.padded_shape(factor)
        out = u_hat.new_zeros((*u_hat.shape[:2], *big[:-1], big[-1] // 2 + 1))
        small, large = self._half_slices(factor)
        return self._copy_modes(u_hat, out, small, large)

    def truncate_spectrum(self, v_hat: torch.Tensor, factor: float = 1.5) -> torch.Tensor:
        """Inverse of :meth:`pad_spectrum`: keep the modes of this grid (Nyquist set to zero)."""
        out = v_hat.new_zeros((*v_hat.shape[:2], *self.fourier_shape))
        small, large = self._half_slices(factor)
        return self._copy_modes(v_hat, out, large, small)

    def padded_irfft(self, u_hat: torch.Tensor, factor: float = 1.5) -> torch.Tensor:
        """The field of ``u_hat`` sampled on the ``factor``-times finer grid ``(B, C, *M)``."""
        big = self.padded_shape(factor)
        padded = self.pad_spectrum(u_hat, factor)
        return torch.fft.irfftn(padded, s=big, dim=self._spatial_dims(), norm="forward")

    def truncated_rfft(self, v: torch.Tensor, factor: float = 1.5) -> torch.Tensor:
        """Coefficients on this grid of a field ``(B, C, *M)`` given on the finer grid."""
        v_hat = torch.fft.rfftn(v, dim=self._spatial_dims(), norm="forward")
        return self.truncate_spectrum(v_hat, factor)

    def __repr__(self) -> str:
        length = f"{float(self.length):.6g}" if self.length.numel() == 1 else "tensor(B)"
        return f"Grid(shape={self.shape}, length={length}, dtype={self.dtype})"

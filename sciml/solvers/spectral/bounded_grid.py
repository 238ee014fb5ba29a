r"""Grids on boxes with homogeneous Dirichlet or Neumann walls: sine and cosine transforms.

A :class:`BoundedGrid` samples :math:`[a, a + L]^D` with ``N`` intervals per axis, *both walls
included*: ``x_j = a + jL/N``, ``j = 0..N`` (``N + 1`` points, the layout of the classic Burgers
data, Raissi et al. 2019). A field :math:`u` is expanded in the eigenfunctions of the Laplacian
with the wall condition,

.. math::
    \text{Dirichlet } (u = 0):\ u = \sum_{m=1}^{N-1} b_m \sin k_m (x - a), \qquad
    \text{Neumann } (\partial_n u = 0):\ u = \sum_{m=0}^{N} a_m \cos k_m (x - a),

with :math:`k_m = \pi m / L` (products of these over the axes in 2D/3D). The coefficients are the
type-I discrete sine / cosine transforms (DST-I / DCT-I) of the point values, computed as the
``rfft`` of the odd / even extension of the field to a ``2L``-periodic grid of ``2N`` points
(Canuto et al., *Spectral Methods*, 2006, §2.3; Press et al., *Numerical Recipes* §12.4).
Spectra are **real** tensors ``(B, C, N_1 + 1, ..., N_D + 1)`` indexed by ``m = 0..N``
(Dirichlet: ``b_0 = b_N = 0``). The Laplacian is diagonal, :math:`-|k|^2`, so the ETDRK and IMEX
steppers of :mod:`sciml.solvers.spectral` apply unchanged.

Derivatives change parity: :math:`\partial_x` maps the sine coefficients ``b`` to the cosine
coefficients ``k b`` and the cosine coefficients ``a`` to the sine coefficients ``-k a``. Every
transform here therefore takes the parity of each axis (``"sin"`` or ``"cos"``); the default is
the parity of the grid's fields. Dealiasing by the 2/3 rule keeps :math:`m < \tfrac23 N`, the
2/3 rule of the ``2N``-point periodic extension (exact for quadratic products).

Spectral accuracy needs a smooth odd (Dirichlet) or even (Neumann) extension, i.e. the
vanishing of the even (Dirichlet) or odd (Neumann) derivatives at the walls; see
``docs/solvers.md`` (non-periodic problems) for what this means per equation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sciml.solvers.spectral.grid import as_batch_param

__all__ = ["BOUNDARIES", "BoundedGrid", "Parity"]

#: accepted wall conditions
BOUNDARIES = ("dirichlet", "neumann")

#: the parity of one axis: sine (odd extension) or cosine (even extension) series
Parity = str


def _extend(u: torch.Tensor, dim: int, parity: Parity) -> torch.Tensor:
    """Odd (``"sin"``) or even (``"cos"``) extension of ``N + 1`` values to ``2N`` along ``dim``."""
    n = u.shape[dim] - 1
    inner = u.narrow(dim, 1, n - 1).flip(dim)
    if parity == "cos":
        return torch.cat([u, inner], dim=dim)
    zero = torch.zeros_like(u.narrow(dim, 0, 1))
    return torch.cat([zero, u.narrow(dim, 1, n - 1), zero, -inner], dim=dim)


def _axis_weights(n: int, parity: Parity, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Factor from the ``rfft`` coefficient of the extension to the sine/cosine coefficient."""
    w = torch.full((n + 1,), 2.0, dtype=dtype, device=device)
    if parity == "cos":
        w[0] = w[n] = 1.0
    else:  # b_m = -2 Im V_m; the walls' modes are zero
        w[0] = w[n] = 0.0
    return w


class BoundedGrid:
    """Uniform grid on :math:`[a, a + L]^D` (walls included) with sine/cosine transforms.

    Parameters
    ----------
    shape:
        Intervals per axis ``(N_1, ..., N_D)`` (or one int for 1D), each ``>= 4``; fields have
        ``N_i + 1`` points per axis.
    length:
        Box side ``L``: float or tensor ``(B,)`` (one per batch member, differentiable).
    boundary:
        ``"dirichlet"`` (:math:`u = 0`) or ``"neumann"`` (:math:`\\partial_n u = 0`) on every wall.
    origin:
        Lower corner ``a`` (same on every axis), e.g. ``-1`` for :math:`[-1, 1]`.
    dtype, device:
        Real dtype (``float32``/``float64``) and device of all tensors built by the grid.
    """

    def __init__(
        self,
        shape: int | Sequence[int],
        length: float | torch.Tensor = 1.0,
        *,
        boundary: str = "dirichlet",
        origin: float = 0.0,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ) -> None:
        intervals = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
        if not 1 <= len(intervals) <= 3:
            raise ValueError(f"bounded grids are 1D, 2D or 3D, got shape {intervals}")
        if any(n < 4 for n in intervals):
            raise ValueError(f"every number of intervals must be >= 4, got shape {intervals}")
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"grid dtype must be torch.float32 or torch.float64, got {dtype}")
        self.intervals: tuple[int, ...] = intervals
        #: field (and spectrum) shape: ``N_i + 1`` points per axis
        self.shape: tuple[int, ...] = tuple(n + 1 for n in intervals)
        self.fourier_shape = self.shape
        self.ndim = len(intervals)
        self.boundary = boundary
        self.origin = float(origin)
        self.dtype = dtype
        self.complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        # the device tensors actually land on ("cuda" → "cuda:0"), so states compare equal
        self.device = torch.empty(0, device=device if device is not None else "cpu").device
        self.length = as_batch_param(
            length, "length", 1 + self.ndim, dtype=dtype, device=self.device
        )
        if (self.length.detach() <= 0).any():
            raise ValueError(f"domain length must be positive, got {length}")
        #: parity of the fields on every axis
        self.parity: tuple[Parity, ...] = ("sin" if boundary == "dirichlet" else "cos",) * self.ndim

    # -- sizes and coordinates ----------------------------------------------------------------
    @property
    def batch_size(self) -> int | None:
        """``B`` when the domain length is a per-batch tensor, else ``None``."""
        return self.length.shape[0] if self.length.shape[0] > 1 else None

    @property
    def spacing(self) -> torch.Tensor:
        """Smallest grid spacing ``L / max_i N_i`` as a broadcastable tensor ``(Bl, 1, ...)``."""
        return self.length / max(self.intervals)

    def _axis_view(self, v: torch.Tensor, axis: int) -> torch.Tensor:
        shape = [1] * (2 + self.ndim)
        shape[2 + axis] = v.shape[0]
        return v.reshape(shape)

    def coordinates(self) -> list[torch.Tensor]:
        """Coordinates ``x_j = a + jL/N`` (walls included) per axis, ``(Bl, 1, .., N_i+1, .., 1)``."""
        out = []
        for axis, n in enumerate(self.intervals):
            j = torch.arange(n + 1, dtype=self.dtype, device=self.device)
            out.append(self.origin + self._axis_view(j / n, axis) * self.length)
        return out

    def modes(self, axis: int) -> torch.Tensor:
        """Mode numbers ``m = 0..N`` of ``axis``, shaped ``(1, 1, .., N+1, .., 1)``."""
        m = torch.arange(self.intervals[axis] + 1, dtype=self.dtype, device=self.device)
        return self._axis_view(m, axis)

    def wavenumber(self, axis: int) -> torch.Tensor:
        """:math:`k_m = \\pi m / L` of ``axis``, broadcastable to the spectrum."""
        return math.pi * self.modes(axis) / self.length

    def laplacian_symbol(self) -> torch.Tensor:
        """:math:`-|k|^2`, the eigenvalues of the Laplacian with the wall condition."""
        return -sum(self.wavenumber(a) ** 2 for a in range(self.ndim))

    def derivative(
        self, u_hat: torch.Tensor, axis: int, parity: Sequence[Parity] | None = None
    ) -> tuple[torch.Tensor, tuple[Parity, ...]]:
        """Coefficients of :math:`\\partial_{x_{axis}} u` and their parities.

        Sine coefficients ``b`` become cosine coefficients ``k b``, cosine coefficients ``a``
        become sine coefficients ``-k a`` (the Nyquist cosine, whose derivative vanishes on the
        grid, is dropped with the walls' sine modes).
        """
        parity = tuple(self.parity if parity is None else parity)
        k = self.wavenumber(axis)
        flipped = "cos" if parity[axis] == "sin" else "sin"
        sign = 1.0 if parity[axis] == "sin" else -1.0
        out = u_hat * (sign * k)
        if flipped == "sin":  # sine modes 0 and N vanish on the grid
            out = out * self._wall_mask(axis)
        return out, (*parity[:axis], flipped, *parity[axis + 1 :])

    def _wall_mask(self, axis: int) -> torch.Tensor:
        m = self.modes(axis)
        return ((m > 0) & (m < self.intervals[axis])).to(self.dtype)

    # -- validation ---------------------------------------------------------------------------
    def check_field(self, u: torch.Tensor, name: str = "state") -> None:
        """Raise ``ValueError`` unless ``u`` is a real ``(B, C, *(N + 1))`` field on this grid."""
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(u)}")
        if u.is_complex() or u.ndim != 2 + self.ndim or tuple(u.shape[2:]) != self.shape:
            raise ValueError(
                f"{name} must be a real tensor (B, C, {', '.join(map(str, self.shape))}) on this "
                f"grid (N + 1 points per axis, walls included), got shape {tuple(u.shape)}"
            )

    def check_spectrum(self, u_hat: torch.Tensor, name: str = "spectrum") -> None:
        """Raise ``ValueError`` unless ``u_hat`` is a real ``(B, C, *(N + 1))`` coefficient array."""
        if (
            u_hat.is_complex()
            or u_hat.ndim != 2 + self.ndim
            or tuple(u_hat.shape[2:]) != self.shape
        ):
            raise ValueError(
                f"{name} must be real sine/cosine coefficients (B, C, "
                f"{', '.join(map(str, self.shape))}), got {u_hat.dtype} {tuple(u_hat.shape)}"
            )

    # -- transforms ---------------------------------------------------------------------------
    def _parities(self, parity: Sequence[Parity] | None) -> tuple[Parity, ...]:
        parity = tuple(self.parity if parity is None else parity)
        if len(parity) != self.ndim or any(p not in ("sin", "cos") for p in parity):
            raise ValueError(
                f"parity needs one of 'sin'/'cos' per axis ({self.ndim}), got {parity}"
            )
        return parity

    def transform(self, u: torch.Tensor, parity: Sequence[Parity] | None = None) -> torch.Tensor:
        """Sine/cosine coefficients ``(B, C, *(N+1))`` of the point values ``u`` (same shape).

        DST-I / DCT-I along each spatial axis (``parity`` per axis, default the grid's). For sine
        axes the wall values are ignored (taken as zero).
        """
        for axis, p in enumerate(self._parities(parity)):
            dim = axis - self.ndim
            n = self.intervals[axis]
            v_hat = torch.fft.rfft(_extend(u, dim, p), dim=dim, norm="forward")
            part = v_hat.real if p == "cos" else -v_hat.imag
            w = _axis_weights(n, p, self.dtype, self.device)
            u = part * w.reshape([-1] + [1] * (-dim - 1))
        return u

    def inverse(self, u_hat: torch.Tensor, parity: Sequence[Parity] | None = None) -> torch.Tensor:
        """Point values ``(B, C, *(N+1))`` (walls included) of sine/cosine coefficients."""
        for axis, p in enumerate(self._parities(parity)):
            dim = axis - self.ndim
            n = self.intervals[axis]
            w = 1 / _axis_weights(n, p, self.dtype, self.device).clamp_min(1.0)
            half = u_hat * w.reshape([-1] + [1] * (-dim - 1))
            spectrum = (
                torch.complex(half, torch.zeros_like(half))
                if p == "cos"
                else (torch.complex(torch.zeros_like(half), -half))
            )
            u_hat = torch.fft.irfft(spectrum, n=2 * n, dim=dim, norm="forward").narrow(
                dim, 0, n + 1
            )
        return u_hat

    # the names the SpectralSolver uses for "state -> spectrum -> state"
    def rfft(self, u: torch.Tensor) -> torch.Tensor:
        """:meth:`transform` with the grid's parity (the solver's forward transform)."""
        return self.transform(u)

    def irfft(self, u_hat: torch.Tensor) -> torch.Tensor:
        """:meth:`inverse` with the grid's parity (the solver's inverse transform)."""
        return self.inverse(u_hat)

    def dealias_mask(self, fraction: float = 2 / 3) -> torch.Tensor:
        """Mask ``(1, 1, *(N+1))`` (grid dtype): ``m_i < fraction · N_i`` on every axis."""
        if not 0 < fraction <= 1:
            raise ValueError(f"dealiasing fraction must be in (0, 1], got {fraction}")
        mask = torch.ones((1, 1, *self.shape), dtype=torch.bool, device=self.device)
        for axis, n in enumerate(self.intervals):
            mask = mask & (self.modes(axis) < fraction * n)
        return mask.to(self.dtype)

    def __repr__(self) -> str:
        length = f"{float(self.length):.6g}" if self.length.numel() == 1 else "tensor(B)"
        return (
            f"BoundedGrid(intervals={self.intervals}, length={length}, origin={self.origin:g}, "
            f"boundary={self.boundary!r}, dtype={self.dtype})"
        )

r"""Base class of semi-linear periodic PDEs :math:`\partial_t u = \mathcal{L} u + \mathcal{N}(u)`.

In Fourier space the linear part is diagonal, :math:`\partial_t \hat u = L(k)\,\hat u +
\hat N(\hat u)`, which is all a time stepper needs (Cox & Matthews 2002; Kassam & Trefethen 2005):

* :meth:`SpectralEquation.linear_symbol` — :math:`L(k)`, real or complex, broadcastable to the
  spectrum ``(B, C, *N_f)`` (leading axis 1 or ``B`` when a parameter is per-batch, channel axis 1
  or ``C`` when channels have different operators, e.g. Gray–Scott);
* :meth:`SpectralEquation.nonlinear` — :math:`\hat N(\hat u)`, ``(B, C, *N_f)``, evaluated
  pseudo-spectrally (products in physical space) with dealiasing.

The IMEX view of jax-cfd (``explicit_terms`` / ``implicit_terms`` / ``implicit_solve``) follows
from these two for a diagonal ``L`` and is built by the IMEX steppers themselves.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch

from sciml.solvers.spectral._ops import real_pair, scale
from sciml.solvers.spectral.grid import DEALIAS_MODES, Grid, as_batch_param

__all__ = ["SpectralEquation"]


class SpectralEquation(ABC):
    """A semi-linear PDE on a periodic :class:`~sciml.solvers.spectral.grid.Grid`.

    Subclasses set :attr:`n_channels`, register their physical parameters with :meth:`param`
    (so per-batch tensors are validated and shaped once) and implement :meth:`linear_symbol` and
    :meth:`nonlinear`.

    Parameters
    ----------
    grid:
        The periodic grid; fixes dimension, resolution, dtype and device.
    dealias:
        ``"2/3"`` (mask, default), ``"3/2"`` (zero-padded products) or ``"none"``.
    dealias_fraction:
        Fraction of the modes kept by the ``"2/3"`` mode (use 1/2 for cubic nonlinearities).
    """

    #: number of field components ``C``
    n_channels: int = 1
    #: spatial dimensions the equation is written for (``None``: any)
    spatial_dims: tuple[int, ...] | None = None
    #: ``True`` when, with the 2/3 rule, :math:`\hat N` is zero outside the mask and depends on
    #: ``u_hat`` only through its unmasked modes; steppers may then form their stage values
    #: already masked and call :meth:`nonlinear_of_masked`, which skips the mask pass.
    masked_nonlinearity: bool = False
    #: ``True`` when, with the 2/3 rule in 2D/3D, :math:`\hat N` is zero in the columns ``K..``
    #: of the last spectral axis and depends on ``u_hat`` only through the columns ``< K`` (see
    #: :attr:`low_columns`).
    low_column_nonlinearity: bool = False

    def __init__(
        self, grid: Grid, *, dealias: str = "2/3", dealias_fraction: float = 2 / 3
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be a sciml.solvers.spectral.Grid, got {type(grid)}")
        if self.spatial_dims is not None and grid.ndim not in self.spatial_dims:
            raise ValueError(
                f"{type(self).__name__} is defined in {self.spatial_dims} spatial dimension(s), "
                f"got a {grid.ndim}D grid"
            )
        if dealias not in DEALIAS_MODES:
            raise ValueError(f"dealias must be one of {DEALIAS_MODES}, got {dealias!r}")
        self.grid = grid
        self.dealias = dealias
        self._mask = grid.dealias_mask(dealias_fraction) if dealias == "2/3" else None
        # Columns of the last (rfft) axis that the inverse transforms of the 2/3 and "none" rules
        # keep: in 2D/3D only the K unmasked ones (the leading axes are then transformed for K
        # columns, a third less work); in 1D all of them (zero-filling K -> N/2 + 1 would cost a
        # copy). None for the 3/2 rule.
        self._n_low: int | None = None
        if dealias != "3/2":
            n_f = grid.fourier_shape[-1]
            # counted in Python, not from the mask: a tensor count cannot be read under torch.export
            limit = dealias_fraction * grid.shape[-1] / 2  # the mask's |m| < fraction * N / 2
            kept = n_f if self._mask is None else sum(1 for m in range(n_f) if m < limit)
            self._n_low = kept if grid.ndim > 1 else n_f
        self._physical_mask = None if self._mask is None else self.physical_factor(1.0)
        self._fourier_mask = None if dealias == "3/2" else self.fourier_factor(1.0)
        self._batch: int | None = grid.batch_size
        self._params: dict[str, torch.Tensor] = {}

    # -- parameters ---------------------------------------------------------------------------
    def param(self, name: str, value: float | torch.Tensor) -> torch.Tensor:
        """Register physical parameter ``name``: float or ``(B,)`` tensor → ``(Bl, 1, 1..1)``."""
        t = as_batch_param(
            value, name, 1 + self.grid.ndim, dtype=self.grid.dtype, device=self.grid.device
        )
        b = t.shape[0]
        if b > 1:
            if self._batch is not None and self._batch != b:
                raise ValueError(
                    f"parameter {name!r} has batch size {b}, but other parameters have "
                    f"{self._batch}"
                )
            self._batch = b
        self._params[name] = t
        return t

    @property
    def parameters(self) -> dict[str, torch.Tensor]:
        """The registered physical parameters (broadcastable tensors)."""
        return dict(self._params)

    @property
    def batch_size(self) -> int | None:
        """``B`` when some parameter is a per-batch tensor, else ``None``."""
        return self._batch

    # -- the PDE ------------------------------------------------------------------------------
    @abstractmethod
    def linear_symbol(self) -> torch.Tensor:
        """:math:`L(k)`, broadcastable to ``(B, C, *N_f)``."""

    @abstractmethod
    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat N(\\hat u)` of a spectrum ``(B, C, *N_f)`` → ``(B, C, *N_f)``."""

    def nonlinear_of_masked(self, u_hat: torch.Tensor) -> torch.Tensor:
        """:meth:`nonlinear` of a spectrum ``(B, C, *N_f)`` that is already zero outside the mask.

        Equations with :attr:`masked_nonlinearity` override it to skip the input mask.
        """
        return self.nonlinear(u_hat)

    @property
    def stage_mask(self) -> torch.Tensor | None:
        """The mask ``(1, 1, *N_f)`` (grid dtype) a stepper may apply to stage values, or ``None``.

        Set only for :attr:`masked_nonlinearity` equations with the 2/3 rule.
        """
        if not self.masked_nonlinearity or self._mask is None:
            return None
        return self._mask.to(self.grid.dtype)

    @property
    def low_columns(self) -> int | None:
        """``K`` for :attr:`low_column_nonlinearity` equations with the 2/3 rule in 2D/3D, else ``None``.

        Steppers may then carry their stage values as the ``K`` low columns ``(B, C, ..., K)`` of
        the last spectral axis (two thirds of the spectrum) and call :meth:`nonlinear_low`.
        """
        if not self.low_column_nonlinearity or self._mask is None or self.grid.ndim == 1:
            return None
        kernel_owner = _defined_in(type(self), "nonlinear_low")
        if kernel_owner is not SpectralEquation and not issubclass(
            kernel_owner, _defined_in(type(self), "nonlinear")
        ):
            # a subclass changed the nonlinearity but inherits a kernel written for its parent's
            # (e.g. a tracer added to 2D Navier-Stokes): that kernel is not its equation's
            return None
        return self._n_low

    def nonlinear_low(self, u_low: torch.Tensor) -> torch.Tensor:
        r"""Columns ``< K`` of :math:`\hat N` from the columns ``< K`` of the spectrum.

        ``u_low`` is ``(B, C, ..., K)`` with ``K =`` :attr:`low_columns`; returns ``(B, C, ..., K)``.
        This default zero-fills the other columns and calls :meth:`nonlinear`; equations override
        it with a kernel that never forms them.
        """
        pad = self.grid.fourier_shape[-1] - u_low.shape[-1]
        return self.nonlinear(torch.nn.functional.pad(u_low, (0, pad)))[..., : u_low.shape[-1]]

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor | None:
        """Largest advection speed of the state (for the CFL warning), or ``None`` if none."""
        return None

    # -- pseudo-spectral products -------------------------------------------------------------
    def _masked(self, symbol: torch.Tensor | float) -> torch.Tensor:
        """``symbol`` times the dealiasing mask, broadcast to at least ``(1, 1, *N_f)``."""
        if not isinstance(symbol, torch.Tensor):
            symbol = torch.tensor(symbol, dtype=self.grid.dtype, device=self.grid.device)
        if self._mask is not None:
            symbol = symbol * self._mask
        shape = torch.broadcast_shapes(symbol.shape, (1, 1, *self.grid.fourier_shape))
        return symbol.expand(shape)

    def physical_factor(self, symbol: torch.Tensor | float) -> torch.Tensor:
        """``symbol`` times the dealiasing mask, as the ``factor`` of :meth:`to_physical`.

        Precompute it once (in ``__init__``): ``to_physical(u_hat, factor)`` then equals
        ``to_physical(symbol * u_hat)`` with one multiplication pass instead of two. ``symbol``
        broadcasts to ``(Bl, C, *N_f)``; the result is ``(Bl, C, ..., K[, 2])``: only the ``K``
        columns of the last axis the inverse transform keeps, real symbols as (re, im) pairs
        (see :func:`~sciml.solvers.spectral._ops.real_pair`).
        """
        symbol = self._masked(symbol)
        return real_pair(symbol if self._n_low is None else symbol[..., : self._n_low])

    def fourier_factor(self, symbol: torch.Tensor | float) -> torch.Tensor:
        """``symbol`` times the dealiasing mask, as the ``factor`` of :meth:`to_fourier`.

        ``to_fourier(v, factor)`` then equals ``symbol * to_fourier(v)`` in one pass. For the 2/3
        and "none" rules the factor also carries the ``1/prod(N)`` of the forward transform
        (exact when ``prod(N)`` is a power of two). Shape ``(Bl, C, *N_f[, 2])``.
        """
        symbol = self._masked(symbol)
        if self.dealias != "3/2":  # the padded transform normalises itself
            symbol = symbol / math.prod(self.grid.shape)
        return real_pair(symbol)

    def to_physical(
        self, u_hat: torch.Tensor, factor: torch.Tensor | None = None, *, masked: bool = False
    ) -> torch.Tensor:
        """Field values for products: dealiased on ``N`` points or padded on ``3N/2`` points.

        ``factor`` (from :meth:`physical_factor`, mask included) multiplies ``u_hat``
        ``(B, C, *N_f)`` first; ``masked=True`` (no ``factor``) says ``u_hat`` is already zero
        outside the mask. Returns ``(B', C', *N)`` or ``(B', C', *M)`` (``M = 3N/2``), ``B', C'``
        the broadcast of ``u_hat`` and ``factor``.
        """
        if factor is None and not masked:
            factor = self._physical_mask
        if self._n_low is None:
            u_hat = u_hat if factor is None else scale(u_hat, factor)
            return self.grid.padded_irfft(u_hat)
        u_hat = u_hat[..., : self._n_low]
        return self.grid.irfft_low(u_hat if factor is None else scale(u_hat, factor))

    def to_fourier(self, v: torch.Tensor, factor: torch.Tensor | None = None) -> torch.Tensor:
        """Coefficients ``(B, C, *N_f)`` of a product ``v`` computed from :meth:`to_physical` values.

        ``factor`` (from :meth:`fourier_factor`) multiplies the dealiased coefficients.
        """
        factor = self._fourier_mask if factor is None else factor
        if self.dealias == "3/2":
            v_hat = self.grid.truncated_rfft(v)
            if factor is None:
                return v_hat
        else:
            v_hat = self.grid.rfft(v, scaled=False)  # 1/prod(N) is in the factor
        # a fresh tensor: scaled in place unless autograd needs it
        return scale(v_hat, factor, inplace=True)

    def physical_fn(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Evaluate ``fn(x_1, ..., x_D)`` of the grid coordinates into a spectrum (forcings)."""
        return self.grid.rfft(fn(*self.grid.coordinates()).to(self.grid.dtype))

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={float(v):.4g}" if v.numel() == 1 else f"{k}=tensor(B={v.shape[0]})"
            for k, v in self._params.items()
        )
        return f"{type(self).__name__}({params}, grid={self.grid})"


def _defined_in(cls: type, name: str) -> type:
    """The class of ``cls``'s method resolution order whose body defines ``name``."""
    return next(klass for klass in cls.__mro__ if name in vars(klass))

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

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch

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

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor | None:
        """Largest advection speed of the state (for the CFL warning), or ``None`` if none."""
        return None

    # -- pseudo-spectral products -------------------------------------------------------------
    def to_physical(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Field values for products: dealiased on ``N`` points or padded on ``3N/2`` points."""
        if self.dealias == "3/2":
            return self.grid.padded_irfft(u_hat)
        if self._mask is not None:
            u_hat = u_hat * self._mask
        return self.grid.irfft(u_hat)

    def to_fourier(self, v: torch.Tensor) -> torch.Tensor:
        """Coefficients on the grid of a product computed by :meth:`to_physical` values."""
        if self.dealias == "3/2":
            return self.grid.truncated_rfft(v)
        v_hat = self.grid.rfft(v)
        return v_hat * self._mask if self._mask is not None else v_hat

    def physical_fn(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Evaluate ``fn(x_1, ..., x_D)`` of the grid coordinates into a spectrum (forcings)."""
        return self.grid.rfft(fn(*self.grid.coordinates()).to(self.grid.dtype))

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={float(v):.4g}" if v.numel() == 1 else f"{k}=tensor(B={v.shape[0]})"
            for k, v in self._params.items()
        )
        return f"{type(self).__name__}({params}, grid={self.grid})"

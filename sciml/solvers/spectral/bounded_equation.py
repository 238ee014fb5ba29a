r"""Base class of semi-linear PDEs on a :class:`~sciml.solvers.spectral.bounded_grid.BoundedGrid`.

The same contract as the periodic :class:`~sciml.solvers.spectral.equation.SpectralEquation`
(:math:`\partial_t \hat u = L(k)\hat u + \hat N(\hat u)` with a diagonal symbol), but the spectra
are the real sine/cosine coefficients of the bounded grid, so the ETDRK/IMEX steppers and
:class:`~sciml.solvers.spectral.stepper.SpectralSolver` run unchanged (every coefficient is real).
Subclasses implement :meth:`linear_symbol` (``(Bl, 1, *(N+1))``) and :meth:`nonlinear`
(``(B, C, *(N+1))`` → same), evaluating products in physical space with the 2/3 rule
(:meth:`to_physical`/:meth:`to_spectrum`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch

from sciml.solvers.spectral.bounded_grid import BoundedGrid, Parity
from sciml.solvers.spectral.grid import as_batch_param

__all__ = ["BoundedEquation"]


class BoundedEquation(ABC):
    """A semi-linear PDE with homogeneous Dirichlet or Neumann walls (see module docstring).

    Parameters
    ----------
    grid:
        The bounded grid; fixes the wall condition, dimension, resolution, dtype and device.
    dealias_fraction:
        Modes kept by the products, ``m < fraction · N`` (2/3 for quadratic, 1/2 for cubic
        nonlinearities; 1 keeps all modes).
    """

    #: number of field components ``C``
    n_channels: int = 1
    #: spatial dimensions the equation is written for (``None``: any)
    spatial_dims: tuple[int, ...] | None = None
    #: steppers may pre-mask stage values (periodic equations only)
    stage_mask = None
    #: steppers may carry stage values on low columns only (periodic equations only)
    low_columns = None

    def __init__(self, grid: BoundedGrid, *, dealias_fraction: float = 2 / 3) -> None:
        if not isinstance(grid, BoundedGrid):
            raise TypeError(
                f"grid must be a sciml.solvers.spectral.BoundedGrid, got {type(grid).__name__}"
            )
        if self.spatial_dims is not None and grid.ndim not in self.spatial_dims:
            raise ValueError(
                f"{type(self).__name__} is defined in {self.spatial_dims} spatial dimension(s), "
                f"got a {grid.ndim}D grid"
            )
        self.grid = grid
        self.mask = grid.dealias_mask(dealias_fraction)
        self._batch: int | None = grid.batch_size
        self._params: dict[str, torch.Tensor] = {}

    def param(self, name: str, value: float | torch.Tensor) -> torch.Tensor:
        """Register physical parameter ``name``: float or ``(B,)`` tensor → ``(Bl, 1, 1..1)``."""
        t = as_batch_param(
            value, name, 1 + self.grid.ndim, dtype=self.grid.dtype, device=self.grid.device
        )
        if t.shape[0] > 1:
            if self._batch is not None and self._batch != t.shape[0]:
                raise ValueError(
                    f"parameter {name!r} has batch size {t.shape[0]}, but other parameters "
                    f"have {self._batch}"
                )
            self._batch = t.shape[0]
        self._params[name] = t
        return t

    @property
    def parameters(self) -> dict[str, torch.Tensor]:
        """The registered physical parameters (broadcastable tensors)."""
        return dict(self._params)

    @property
    def batch_size(self) -> int | None:
        """``B`` when some parameter (or the domain length) is per-batch, else ``None``."""
        return self._batch

    @abstractmethod
    def linear_symbol(self) -> torch.Tensor:
        """:math:`L(k)`, real, broadcastable to ``(B, C, *(N+1))``."""

    @abstractmethod
    def nonlinear(self, u_hat: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat N(\\hat u)` of coefficients ``(B, C, *(N+1))`` → ``(B, C, *(N+1))``."""

    def nonlinear_of_masked(self, u_hat: torch.Tensor) -> torch.Tensor:
        """:meth:`nonlinear` (kept for the stepper protocol; bounded stages are not pre-masked)."""
        return self.nonlinear(u_hat)

    def max_velocity(self, u_hat: torch.Tensor) -> torch.Tensor | None:
        """Largest advection speed of the state (for the CFL warning), or ``None`` if none."""
        return None

    def to_physical(
        self, u_hat: torch.Tensor, parity: Sequence[Parity] | None = None
    ) -> torch.Tensor:
        """Dealiased point values ``(B, C, *(N+1))`` of coefficients ``u_hat`` for products."""
        return self.grid.inverse(u_hat * self.mask, parity)

    def to_spectrum(self, v: torch.Tensor, parity: Sequence[Parity] | None = None) -> torch.Tensor:
        """Dealiased coefficients ``(B, C, *(N+1))`` of a product ``v`` given at the points."""
        return self.grid.transform(v, parity) * self.mask

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={float(v):.4g}" if v.numel() == 1 else f"{k}=tensor(B={v.shape[0]})"
            for k, v in self._params.items()
        )
        return f"{type(self).__name__}({params}, grid={self.grid})"

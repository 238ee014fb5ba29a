r"""Base class of the Fourier-space time steppers and the Kassam–Trefethen contour integral.

A stepper is built from an equation and a fixed step ``dt``: the constructor precomputes every
coefficient that depends on :math:`z = \Delta t\, L(k)` (once per ``(dt, parameters)``), and
``stepper(u_hat)`` advances a spectrum ``(B, C, *N_f)`` by one step.

The exponential-integrator coefficients :math:`\varphi(z) = (e^z - 1)/z, \dots` suffer catastrophic
cancellation for small :math:`|z|`. Kassam & Trefethen (SIAM J. Sci. Comput. 26, 2005, §4)
evaluate them as the mean over points on a circle around :math:`z`,

.. math:: f(z) \approx \frac{1}{M}\sum_{j=1}^{M} f\big(z + r e^{2\pi i (j - 1/2)/M}\big),

(Cauchy's integral formula with the trapezoidal rule), which is accurate to machine precision for
the entire functions used here with ``M = 32``, ``r = 1`` and is differentiable in torch (so
gradients reach :math:`\nu` through the coefficients).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch

from sciml.solvers.spectral.equation import SpectralEquation

__all__ = ["TimeStepper", "contour_mean"]


def contour_mean(
    fn: Callable[[torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    *,
    n_points: int = 32,
    radius: float = 1.0,
) -> torch.Tensor:
    """Kassam–Trefethen evaluation of an entire function ``fn`` at ``z`` (any shape, complex).

    Loops over the ``n_points`` contour points (not over the grid) so memory stays that of ``z``.
    """
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points}")
    total = torch.zeros_like(z)
    for j in range(n_points):
        angle = 2 * math.pi * (j + 0.5) / n_points
        shift = complex(radius * math.cos(angle), radius * math.sin(angle))
        total = total + fn(z + shift)
    return total / n_points


class TimeStepper(ABC):
    """One fixed-``dt`` step of a semi-linear equation in Fourier space.

    Parameters
    ----------
    equation:
        Supplies :math:`L(k)` and :math:`\\hat N(\\hat u)`.
    dt:
        Time step (physical units), positive.
    n_circle_points, circle_radius:
        Contour-integral settings (exponential integrators only).
    """

    #: registry name, e.g. ``"etdrk4"``
    name: ClassVar[str]
    #: formal order of accuracy in time
    order: ClassVar[int]

    def __init__(
        self,
        equation: SpectralEquation,
        dt: float,
        *,
        n_circle_points: int = 32,
        circle_radius: float = 1.0,
    ) -> None:
        dt = float(dt)
        if not math.isfinite(dt) or dt <= 0:
            raise ValueError(f"time step dt must be positive and finite, got {dt}")
        self.equation = equation
        self.dt = dt
        self.n_circle_points = n_circle_points
        self.circle_radius = circle_radius
        symbol = equation.linear_symbol()
        self.real_symbol = not symbol.is_complex()
        self.linear = symbol.to(equation.grid.complex_dtype)
        self._coefficients: list[torch.Tensor] = []
        self.build()

    def phi(self, fn: Callable[[torch.Tensor], torch.Tensor], scale: float = 1.0) -> torch.Tensor:
        """``fn(scale · dt · L)`` by the contour integral; real when ``L`` is real."""
        z = self.linear * (scale * self.dt)
        out = contour_mean(fn, z, n_points=self.n_circle_points, radius=self.circle_radius)
        out = out.real if self.real_symbol else out
        self._coefficients.append(out)
        return out

    def exp(self, scale: float = 1.0) -> torch.Tensor:
        """:math:`e^{scale \\cdot dt \\cdot L}` (real when ``L`` is real)."""
        z = self.linear * (scale * self.dt)
        out = torch.exp(z.real) if self.real_symbol else torch.exp(z)
        self._coefficients.append(out)
        return out

    @property
    def requires_grad(self) -> bool:
        """Whether a coefficient depends on a tensor that requires grad (then it is not cached)."""
        return self.linear.requires_grad or any(c.requires_grad for c in self._coefficients)

    @abstractmethod
    def build(self) -> None:
        """Precompute the coefficients of this scheme (called once by the constructor)."""

    @abstractmethod
    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        """Advance the spectrum ``(B, C, *N_f)`` by ``dt``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dt={self.dt:g}, equation={self.equation!r})"

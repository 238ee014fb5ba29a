r"""ETDRK2 — second-order exponential Runge–Kutta (Cox & Matthews 2002, eqs. 20–22).

.. math::
    \hat a &= e^{hL}\hat u_n + h\varphi_1(hL)\,\hat N(\hat u_n), \\
    \hat u_{n+1} &= \hat a + h\varphi_2(hL)\,\big(\hat N(\hat a) - \hat N(\hat u_n)\big),
    \qquad \varphi_2(z) = \frac{e^z - 1 - z}{z^2}.
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.base_stepper import TimeStepper
from sciml.solvers.spectral.etdrk1 import phi1

__all__ = ["ETDRK2"]


def phi2(z: torch.Tensor) -> torch.Tensor:
    r""":math:`\varphi_2(z) = (e^z - 1 - z)/z^2` (evaluate on the contour only)."""
    return (torch.expm1(z) - z) / z**2


class ETDRK2(TimeStepper):
    """Cox–Matthews ETD2RK (see module docstring)."""

    name = "etdrk2"
    order = 2

    def build(self) -> None:
        self.E = self.exp()
        self.Q1 = self.dt * self.phi(phi1)
        self.Q2 = self.dt * self.phi(phi2)

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        nu = self.equation.nonlinear(u_hat)
        a = self.E * u_hat + self.Q1 * nu
        return a + self.Q2 * (self.equation.nonlinear(a) - nu)

r"""ETDRK4 — fourth-order exponential Runge–Kutta (Cox & Matthews 2002, eqs. 26–29).

With :math:`h` the step, :math:`\hat N_n = \hat N(\hat u_n)` and :math:`E_{1/2} = e^{hL/2}`:

.. math::
    \hat a &= E_{1/2}\hat u_n + Q \hat N_n, \qquad Q = h\,\tfrac12\varphi_1(hL/2), \\
    \hat b &= E_{1/2}\hat u_n + Q \hat N(\hat a), \\
    \hat c &= E_{1/2}\hat a + Q \big(2\hat N(\hat b) - \hat N_n\big), \\
    \hat u_{n+1} &= e^{hL}\hat u_n + h\big[f_1 \hat N_n + 2 f_2 (\hat N(\hat a) + \hat N(\hat b))
                    + f_3 \hat N(\hat c)\big],

.. math::
    f_1(z) = \frac{-4 - z + e^z(4 - 3z + z^2)}{z^3},\quad
    f_2(z) = \frac{2 + z + e^z(z - 2)}{z^3},\quad
    f_3(z) = \frac{-4 - 3z - z^2 + e^z(4 - z)}{z^3},

all evaluated by the Kassam–Trefethen contour integral (Kassam & Trefethen 2005, eq. 2.5 and §4).
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.base_stepper import TimeStepper
from sciml.solvers.spectral.etdrk1 import phi1

__all__ = ["ETDRK4", "f1", "f2", "f3"]


def f1(z: torch.Tensor) -> torch.Tensor:
    r""":math:`f_1(z) = (-4 - z + e^z(4 - 3z + z^2))/z^3`."""
    return (-4 - z + torch.exp(z) * (4 - 3 * z + z**2)) / z**3


def f2(z: torch.Tensor) -> torch.Tensor:
    r""":math:`f_2(z) = (2 + z + e^z(z - 2))/z^3`."""
    return (2 + z + torch.exp(z) * (z - 2)) / z**3


def f3(z: torch.Tensor) -> torch.Tensor:
    r""":math:`f_3(z) = (-4 - 3z - z^2 + e^z(4 - z))/z^3`."""
    return (-4 - 3 * z - z**2 + torch.exp(z) * (4 - z)) / z**3


class ETDRK4(TimeStepper):
    """Cox–Matthews ETD4RK with Kassam–Trefethen coefficients (see module docstring)."""

    name = "etdrk4"
    order = 4

    def build(self) -> None:
        h = self.dt
        self.E = self.exp()
        self.E2 = self.exp(0.5)
        self.Q = 0.5 * h * self.phi(phi1, 0.5)
        self.F1 = h * self.phi(f1)
        self.F2 = h * self.phi(f2)
        self.F3 = h * self.phi(f3)

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        nonlinear = self.equation.nonlinear
        n0 = nonlinear(u_hat)
        a = self.E2 * u_hat + self.Q * n0
        na = nonlinear(a)
        b = self.E2 * u_hat + self.Q * na
        nb = nonlinear(b)
        c = self.E2 * a + self.Q * (2 * nb - n0)
        nc = nonlinear(c)
        return self.E * u_hat + self.F1 * n0 + 2 * self.F2 * (na + nb) + self.F3 * nc

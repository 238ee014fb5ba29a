r"""ETDRK3 — third-order exponential Runge–Kutta (Cox & Matthews 2002, eqs. 23–25).

.. math::
    \hat a &= e^{hL/2}\hat u_n + \tfrac h2\varphi_1(hL/2)\,\hat N_n, \\
    \hat b &= e^{hL}\hat u_n + h\varphi_1(hL)\,\big(2\hat N(\hat a) - \hat N_n\big), \\
    \hat u_{n+1} &= e^{hL}\hat u_n
        + h\big[f_1 \hat N_n + 4 f_2 \hat N(\hat a) + f_3 \hat N(\hat b)\big],

with the functions :math:`f_{1,2,3}` of :mod:`~sciml.solvers.spectral.etdrk4` (the same
weights as ETDRK4's final stage).
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.base_stepper import TimeStepper
from sciml.solvers.spectral.etdrk1 import phi1
from sciml.solvers.spectral.etdrk4 import f1, f2, f3

__all__ = ["ETDRK3"]


class ETDRK3(TimeStepper):
    """Cox–Matthews ETD3RK (see module docstring)."""

    name = "etdrk3"
    order = 3

    def build(self) -> None:
        h = self.dt
        self.E = self.exp()
        self.E2 = self.exp(0.5)
        self.Q_half = 0.5 * h * self.phi(phi1, 0.5)
        self.Q = h * self.phi(phi1)
        self.F1 = h * self.phi(f1)
        self.F2 = h * self.phi(f2)
        self.F3 = h * self.phi(f3)

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        nonlinear = self.equation.nonlinear
        n0 = nonlinear(u_hat)
        a = self.E2 * u_hat + self.Q_half * n0
        na = nonlinear(a)
        b = self.E * u_hat + self.Q * (2 * na - n0)
        nb = nonlinear(b)
        return self.E * u_hat + self.F1 * n0 + 4 * self.F2 * na + self.F3 * nb

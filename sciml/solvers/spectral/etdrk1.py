r"""ETDRK1 — exponential Euler, first order (Cox & Matthews, J. Comput. Phys. 176, 2002, eq. 4).

.. math:: \hat u_{n+1} = e^{hL}\hat u_n + h\varphi_1(hL)\,\hat N(\hat u_n),
          \qquad \varphi_1(z) = \frac{e^z - 1}{z}.

Exact for linear problems (``N = 0``); one nonlinear evaluation per step.
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral.base_stepper import TimeStepper

__all__ = ["ETDRK1"]


def phi1(z: torch.Tensor) -> torch.Tensor:
    r""":math:`\varphi_1(z) = (e^z - 1)/z` (evaluate on the contour only)."""
    return torch.expm1(z) / z


class ETDRK1(TimeStepper):
    """Exponential time differencing Euler (see module docstring)."""

    name = "etdrk1"
    order = 1

    def build(self) -> None:
        self.E = self.exp()
        self.Q = self.dt * self.phi(phi1)

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        return self.E * u_hat + self.Q * self.equation.nonlinear(u_hat)

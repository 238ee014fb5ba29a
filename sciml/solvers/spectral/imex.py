r"""IMEX Crank–Nicolson / Runge–Kutta steppers (the low-storage schemes of jax-cfd).

The linear term is treated implicitly with Crank–Nicolson, the nonlinear term explicitly with a
Runge–Kutta method. For a diagonal symbol the implicit solve :math:`(1 - \mu L)\hat y = \hat x` is a
division, so each stage costs one nonlinear evaluation.

* ``cn_rk2`` — Heun + Crank–Nicolson (Chandler & Kerswell, J. Fluid Mech. 722, 2013, §3):

  .. math::
      \hat g &= \hat u_n + \tfrac h2 L\hat u_n, \quad
      \hat u^* = (1 - \tfrac h2 L)^{-1}\big(\hat g + h \hat N(\hat u_n)\big), \\
      \hat u_{n+1} &= (1 - \tfrac h2 L)^{-1}
          \big(\hat g + \tfrac h2 (\hat N(\hat u_n) + \hat N(\hat u^*))\big).

* ``cn_rk3`` (Williamson 1980 weights) and ``cn_rk4`` (Carpenter & Kennedy 1994, five-stage
  low-storage RK4; Canuto et al., *Spectral Methods*, App. D.3): for stages
  :math:`k = 1..s` with :math:`\hat h_0 = 0`,

  .. math::
      \hat h_k &= \hat N(\hat u_{k-1}) + \beta_k \hat h_{k-1}, \quad
      \mu_k = \tfrac h2 (\alpha_{k+1} - \alpha_k), \\
      \hat u_k &= (1 - \mu_k L)^{-1}
          \big(\hat u_{k-1} + \gamma_k h\, \hat h_k + \mu_k L \hat u_{k-1}\big).

Orders: the explicit part is of order 2 / 3 / 4, but Crank–Nicolson stages make the scheme
second order in the linear (implicit) term, hence second order overall for stiff
split problems (measured in ``tests/solvers/spectral/test_steppers.py``). Unconditionally stable for
the dissipative linear part; the explicit part obeys the usual advective CFL limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from sciml.solvers.spectral.base_stepper import TimeStepper

__all__ = ["CrankNicolsonRK2", "CrankNicolsonRK3", "CrankNicolsonRK4"]


class CrankNicolsonRK2(TimeStepper):
    """Heun's method for ``N`` + Crank–Nicolson for ``L`` (see module docstring)."""

    name = "cn_rk2"
    order = 2

    def build(self) -> None:
        half = 0.5 * self.dt * self.linear
        self.explicit_half = 1 + half
        self.inverse = 1 / (1 - half)
        if self.real_symbol:
            self.explicit_half, self.inverse = self.explicit_half.real, self.inverse.real
        self._coefficients += [self.explicit_half, self.inverse]

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        h = self.dt
        g = self.explicit_half * u_hat
        n0 = self.equation.nonlinear(u_hat)
        u1 = self.inverse * (g + h * n0)
        n1 = self.equation.nonlinear(u1)
        return self.inverse * (g + 0.5 * h * (n0 + n1))


class _LowStorageCNRK(TimeStepper):
    """Low-storage explicit RK for ``N`` with a Crank–Nicolson substep per stage for ``L``."""

    alphas: ClassVar[Sequence[float]]
    betas: ClassVar[Sequence[float]]
    gammas: ClassVar[Sequence[float]]

    def build(self) -> None:
        self.stages: list[tuple[float, float, torch.Tensor, torch.Tensor]] = []
        for k in range(len(self.betas)):
            mu = 0.5 * self.dt * (self.alphas[k + 1] - self.alphas[k])
            explicit = 1 + mu * self.linear
            inverse = 1 / (1 - mu * self.linear)
            if self.real_symbol:
                explicit, inverse = explicit.real, inverse.real
            self._coefficients += [explicit, inverse]
            self.stages.append((self.betas[k], self.gammas[k] * self.dt, explicit, inverse))

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        h = torch.zeros_like(u_hat)
        for beta, gamma_dt, explicit, inverse in self.stages:
            h = self.equation.nonlinear(u_hat) + beta * h
            u_hat = inverse * (explicit * u_hat + gamma_dt * h)
        return u_hat


class CrankNicolsonRK3(_LowStorageCNRK):
    """Williamson's low-storage RK3 + Crank–Nicolson (see module docstring)."""

    name = "cn_rk3"
    order = 3
    alphas = (0.0, 1 / 3, 3 / 4, 1.0)
    betas = (0.0, -5 / 9, -153 / 128)
    gammas = (1 / 3, 15 / 16, 8 / 15)


class CrankNicolsonRK4(_LowStorageCNRK):
    """Carpenter–Kennedy five-stage low-storage RK4 + Crank–Nicolson (see module docstring)."""

    name = "cn_rk4"
    order = 4
    alphas = (0.0, 0.1496590219993, 0.3704009573644, 0.6222557631345, 0.9582821306748, 1.0)
    betas = (0.0, -0.4178904745, -1.192151694643, -1.697784692471, -1.514183444257)
    gammas = (0.1496590219993, 0.3792103129999, 0.8229550293869, 0.6994504559488, 0.1530572479681)

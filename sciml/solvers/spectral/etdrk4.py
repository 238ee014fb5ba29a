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

When autograd records nothing (inference, ``torch.no_grad``, or no tensor requires grad) the step
runs as 11 fused passes over fresh buffers (:mod:`sciml.solvers.spectral._ops`: ``addcmul`` into
buffers updated in place, real coefficients applied to the ``(re, im)`` view) instead of ~25
allocating complex ops; the two paths agree to round-off (only the summation order differs).
For equations with :attr:`~sciml.solvers.spectral.equation.SpectralEquation.masked_nonlinearity`
(e.g. Burgers) the stage values are formed already dealiased (:math:`E_{1/2}` times the mask), so
:math:`\hat N` of the stages skips its mask pass. For equations with
:attr:`~sciml.solvers.spectral.equation.SpectralEquation.low_columns` (2D Navier–Stokes with the
2/3 rule) the stages and :math:`\hat N` are carried on the ``K`` low columns of the last spectral
axis only, where :math:`\hat N` is not zero: a third less work in every stage update, and the
other columns get :math:`e^{hL}\hat u_n` exactly as in the full step.
"""

from __future__ import annotations

import torch

from sciml.solvers.spectral._ops import addcmul, addcmul_, real_pair, recording, scale
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
        # operands of the in-place path (detached: it only runs when autograd records nothing);
        # 2Q and 2F2 are exact doublings, so they add no rounding
        with torch.no_grad():
            # E_{1/2} for the stage values; times the mask where the equation allows masked
            # stages (N is zero outside the mask, so the stages a, b, c are then masked exactly
            # and N skips its own mask pass: bitwise the same step)
            mask = self.equation.stage_mask
            e2_stage = self.E2 if mask is None else self.E2 * mask
            # with low columns, the stages and N live on the K low columns of the last axis
            # only (N is zero on the others, where the step reduces to e^{hL} u)
            k = self._low = self.equation.low_columns
            stage = (e2_stage, self.Q, 2 * self.Q, self.F1, 2 * self.F2, self.F3)
            if k is not None:
                stage = tuple(c[..., :k] for c in stage)
            self._pairs = tuple(real_pair(c) for c in (self.E, *stage))
        if k is not None:
            self._stage_nonlinear = self.equation.nonlinear_low
        elif mask is not None:
            self._stage_nonlinear = self.equation.nonlinear_of_masked
        else:
            self._stage_nonlinear = self.equation.nonlinear

    def __call__(self, u_hat: torch.Tensor) -> torch.Tensor:
        k = self._low
        if k is not None and not recording(u_hat, *self._coefficients):
            n0 = self.equation.nonlinear_low(u_hat[..., :k])
            if not recording(n0):
                return self._step_inplace(u_hat, n0)
        n0 = self.equation.nonlinear(u_hat)
        # real spectra (sine/cosine series of a BoundedGrid) take the plain path
        if recording(u_hat, n0, *self._coefficients) or not u_hat.is_complex():
            return self._step_autograd(u_hat, n0)
        return self._step_inplace(u_hat, n0)

    def _step_inplace(self, u_hat: torch.Tensor, n0: torch.Tensor) -> torch.Tensor:
        """The step with fused in-place updates; returns a fresh spectrum.

        ``n0 = N(u_hat)``, or its ``K`` low columns when the equation has :attr:`low_columns`
        (then every stage update runs on those columns only).
        """
        nonlinear = self._stage_nonlinear
        e, e2, q, q2, f1, f2x2, f3 = self._pairs
        out = scale(u_hat, e)  # accumulates e^{hL} u + f1 N_n + 2 f2 (N_a + N_b) + f3 N_c
        low = out if self._low is None else out[..., : self._low]  # where N is not zero
        addcmul_(low, f1, n0)
        # E2 u, shared by a and b; becomes b once a is formed
        b = scale(u_hat if self._low is None else u_hat[..., : self._low], e2)
        a = addcmul(b, q, n0)
        na = nonlinear(a)
        addcmul_(low, f2x2, na)
        nb = nonlinear(addcmul_(b, q, na))
        addcmul_(low, f2x2, nb)
        c = scale(a, e2, inplace=True)  # a is not needed any more: c = E2 a + 2Q N_b - Q N_n
        addcmul_(c, q2, nb)
        addcmul_(c, q, n0, value=-1.0)
        addcmul_(low, f3, nonlinear(c))
        return out

    def _step_autograd(self, u_hat: torch.Tensor, n0: torch.Tensor) -> torch.Tensor:
        """The step without in-place updates (autograd records it); ``n0 = N(u_hat)``."""
        nonlinear = self.equation.nonlinear
        a = self.E2 * u_hat + self.Q * n0
        na = nonlinear(a)
        b = self.E2 * u_hat + self.Q * na
        nb = nonlinear(b)
        c = self.E2 * a + self.Q * (2 * nb - n0)
        nc = nonlinear(c)
        return self.E * u_hat + self.F1 * n0 + 2 * self.F2 * (na + nb) + self.F3 * nc

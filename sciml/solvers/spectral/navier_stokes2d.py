r"""2D incompressible Navier–Stokes in vorticity form (periodic box :math:`[0, L)^2`).

.. math::
    \partial_t\omega + \mathbf u\cdot\nabla\omega = \nu\Delta\omega - \mu\,\omega + f,
    \qquad \mathbf u = (\partial_y\psi, -\partial_x\psi), \quad -\Delta\psi = \omega.

:math:`L(k) = -\nu|\mathbf k|^2 - \mu` (viscosity and linear drag), :math:`\hat N = -\widehat{
\mathbf u\cdot\nabla\omega} + \hat f` with the product dealiased (2/3 rule by default, as in
jax-cfd's ``NavierStokes2D``). The advection term is evaluated in Basdevant's form (J. Comput.
Phys. 50, 1983), which for a divergence-free ``u`` is an identity,

.. math::

    \mathbf u\cdot\nabla\omega = \partial_x\partial_y(v^2 - u^2)
        + (\partial_x^2 - \partial_y^2)(uv),

so a step needs the inverse transforms of ``u`` and ``v`` and the forward transforms of
``u² − v²`` and ``uv`` (4 FFTs) instead of those of ``u, v, ∂_xω, ∂_yω`` and ``u·∇ω`` (5).
With the 2/3 or 3/2 rule the quadratic products are alias-free, so both forms give the same
Galerkin-truncated term (to round-off); without dealiasing their aliasing errors differ.

Fields are ``(B, 1, N_x, N_y)`` with axis ``-2`` = ``x`` and ``-1`` = ``y``. Forcings:

* ``"fno"`` — Li et al. (FNO, ICLR 2021, §5.3): :math:`f = 0.1\big(\sin 2\pi(x+y)/L +
  \cos 2\pi(x+y)/L\big)` (the paper's unit box when ``L = 1``), no drag, :math:`\nu \in
  \{10^{-3}, 10^{-4}, 10^{-5}\}`;
* ``"kolmogorov"`` — Kochkov et al. (PNAS 118, 2021): velocity forcing :math:`(\sin(k_f y), 0)`,
  :math:`k_f = 2\pi n/L` with ``n = 4``, i.e. vorticity forcing :math:`-k_f\cos(k_f y)`, with
  linear drag :math:`\mu = 0.1` and :math:`\nu = 10^{-3}` on :math:`[0, 2\pi)^2`.

Energy budget (used as a test): with :math:`E = \tfrac12\langle|\mathbf u|^2\rangle`,
:math:`Z = \tfrac12\langle\omega^2\rangle` (``⟨·⟩`` = domain mean),
:math:`dE/dt = \langle\psi f\rangle - 2\nu Z - 2\mu E`, and with the palinstrophy
:math:`P = \tfrac12\langle|\nabla\omega|^2\rangle`,
:math:`dZ/dt = \langle\omega f\rangle - 2\nu P - 2\mu Z`, since the dealiased advection term
conserves energy and enstrophy exactly (Galerkin truncation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from sciml.registry import EQUATIONS
from sciml.solvers.spectral._ops import can_update, recording
from sciml.solvers.spectral.equation import SpectralEquation
from sciml.solvers.spectral.grid import Grid

__all__ = ["NavierStokes2D", "FORCINGS"]

#: names accepted by the ``forcing`` argument
FORCINGS = ("none", "fno", "kolmogorov")


@EQUATIONS.register("navier_stokes2d")
class NavierStokes2D(SpectralEquation):
    """Vorticity-form 2D Navier–Stokes (see module docstring).

    Parameters
    ----------
    grid:
        2D periodic grid.
    nu:
        Kinematic viscosity, float or ``(B,)`` tensor, ``> 0``.
    drag:
        Linear drag coefficient :math:`\\mu \\ge 0` (float or ``(B,)`` tensor).
    forcing:
        ``"none"``, ``"fno"``, ``"kolmogorov"`` or a vorticity forcing tensor broadcastable to
        ``(B, 1, N_x, N_y)``.
    forcing_amplitude:
        Scale of the named forcing (0.1 for ``"fno"``, 1.0 for ``"kolmogorov"`` by default).
    forcing_wavenumber:
        Integer ``n`` of the Kolmogorov forcing (``k_f = 2πn/L``).
    """

    spatial_dims = (2,)
    low_column_nonlinearity = True

    def __init__(
        self,
        grid: Grid,
        nu: float | torch.Tensor = 1e-3,
        drag: float | torch.Tensor = 0.0,
        forcing: str | torch.Tensor = "none",
        *,
        forcing_amplitude: float | None = None,
        forcing_wavenumber: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(grid, **kwargs)
        self.nu = self.param("nu", nu)
        self.drag = self.param("drag", drag)
        if (self.nu.detach() < 0).any() or (self.drag.detach() < 0).any():
            raise ValueError(f"nu and drag must be >= 0, got nu={nu}, drag={drag}")
        # first derivatives use the odd wavenumbers (Nyquist zeroed), second ones the full ones
        kx_odd, ky_odd = grid.wavenumber(0, odd=True), grid.wavenumber(1, odd=True)
        self._ikx = 1j * kx_odd.to(grid.complex_dtype)
        self._iky = 1j * ky_odd.to(grid.complex_dtype)
        k2 = -grid.laplacian_symbol()
        # inverse Laplacian with the mean mode set to zero (ψ is defined up to a constant)
        self._inv_k2 = torch.where(k2 > 0, 1 / torch.where(k2 > 0, k2, 1), torch.zeros_like(k2))
        # (Bl, 2, N_x, N_y//2+1): the symbols of u, v applied to w_hat, input mask included, so
        # both fields come from one broadcast product and one batched irfft2
        u_sym, v_sym = self._iky * self._inv_k2, -self._ikx * self._inv_k2
        self._velocity_factor = self.physical_factor(
            torch.cat(torch.broadcast_tensors(u_sym, v_sym), dim=1)
        )
        # -u.grad(w) = -k_x k_y FT(u^2 - v^2) + (k_x^2 - k_y^2) FT(uv): real symbols with the
        # output mask folded in, (1, 2, N_x, N_y//2+1[, 2]) for the two products
        kx, ky = grid.wavenumber(0), grid.wavenumber(1)
        advection = torch.broadcast_tensors(-kx_odd * ky_odd, kx**2 - ky**2)
        self._advection_factor = self.fourier_factor(torch.cat(advection, dim=1))
        self.forcing_hat = self._build_forcing(forcing, forcing_amplitude, forcing_wavenumber)
        # operands of nonlinear_low: the two advection factors and the forcing on the K low
        # columns, (Bl, 1, N_x, K, 2) and (Bf, 1, N_x, K)
        self._advection_low: tuple[torch.Tensor, torch.Tensor] | None = None
        self._forcing_low: torch.Tensor | None = None
        k = self.low_columns
        if k is not None:
            adv = self._advection_factor[..., :k, :]
            self._advection_low = (adv[:, :1].contiguous(), adv[:, 1:].contiguous())
            if self.forcing_hat is not None:
                self._forcing_low = self.forcing_hat[..., :k].contiguous()

    def _build_forcing(
        self, forcing: str | torch.Tensor, amplitude: float | None, wavenumber: int
    ) -> torch.Tensor | None:
        grid = self.grid
        if isinstance(forcing, torch.Tensor):
            f = forcing.to(device=grid.device, dtype=grid.dtype)
            if f.ndim != 4 or tuple(f.shape[1:]) != (1, *grid.shape):
                raise ValueError(
                    f"forcing tensor must have shape (B or 1, 1, {grid.shape[0]}, "
                    f"{grid.shape[1]}), got {tuple(f.shape)}"
                )
            return grid.rfft(f)
        if forcing not in FORCINGS:
            raise ValueError(f"forcing must be one of {FORCINGS} or a tensor, got {forcing!r}")
        if forcing == "none":
            return None
        if forcing == "fno":
            amp = 0.1 if amplitude is None else amplitude

            def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                phase = 2 * math.pi * (x + y) / grid.length
                return amp * (torch.sin(phase) + torch.cos(phase))

            return self._single_mode(fn)
        amp = 1.0 if amplitude is None else amplitude
        if int(wavenumber) != wavenumber or wavenumber < 1:
            raise ValueError(f"forcing_wavenumber must be a positive integer, got {wavenumber}")
        if wavenumber >= grid.shape[1] // 3:
            raise ValueError(
                f"forcing_wavenumber {wavenumber} is not resolved by {grid.shape[1]} points"
            )

        def kolmogorov(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            kf = 2 * math.pi * wavenumber / grid.length
            # curl of the velocity forcing (amp·sin(k_f y), 0)
            return -amp * kf * torch.cos(kf * y) + 0 * x  # + 0·x broadcasts to (.., N_x, N_y)

        return self._single_mode(kolmogorov)

    def _single_mode(
        self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Spectrum ``(1, 1, N_x, N_y//2+1)`` of a named forcing (one Fourier mode and its mirror).

        With the 2/3 rule the FFT's round-off outside the kept modes (~1e-7 in float32) is
        dropped, so the forcing never leaves them and :attr:`low_columns` applies.
        """
        f_hat = self.physical_fn(fn)
        return f_hat if self._mask is None else f_hat * self._mask

    # -- the PDE ------------------------------------------------------------------------------
    def linear_symbol(self) -> torch.Tensor:
        return self.nu * self.grid.laplacian_symbol() - self.drag

    def velocity_hat(self, w_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity spectra :math:`(\\hat u, \\hat v) = (ik_y\\hat\\psi, -ik_x\\hat\\psi)`."""
        psi = w_hat * self._inv_k2
        return self._iky * psi, -self._ikx * psi

    @property
    def low_columns(self) -> int | None:
        """As in the base class, unless the forcing has modes in the columns ``K..`` or needs grad."""
        k = super().low_columns
        f = self.forcing_hat
        if k is None or f is None:
            return k
        return None if f.requires_grad or bool(f[..., k:].abs().amax() > 0) else k

    def _products(self, w_hat: torch.Tensor) -> torch.Tensor:
        """The products ``(u² − v², uv)`` ``(B, 2, N_x, N_y)`` of the velocity of ``w_hat``.

        ``w_hat`` is the spectrum ``(B, 1, N_x, N_f)`` or its low columns ``(B, 1, N_x, K)``.
        """
        # (B, 1, N_x, N_f) x (Bl, 2, N_x, N_f) -> velocity (B, 2, N_x, N_y) = (u, v)
        velocity = self.to_physical(w_hat, self._velocity_factor)
        u, v = velocity.split(1, dim=1)
        if recording(velocity):
            return torch.cat([u * u - v * v, u * v], dim=1)
        products = torch.empty_like(velocity)  # three passes into one fresh buffer
        torch.mul(u, u, out=products[:, :1])
        products[:, :1].addcmul_(v, v, value=-1.0)
        torch.mul(u, v, out=products[:, 1:])
        return products

    def nonlinear(self, w_hat: torch.Tensor) -> torch.Tensor:
        # (B, 2, N_x, N_f): the two products' coefficients, each times its symbol
        terms = self.to_fourier(self._products(w_hat), self._advection_factor)
        out = terms[:, :1] + terms[:, 1:]
        if self.forcing_hat is None:
            return out
        if can_update(out, self.forcing_hat):
            return out.add_(self.forcing_hat)
        return out + self.forcing_hat

    def nonlinear_low(self, w_low: torch.Tensor) -> torch.Tensor:
        r""":math:`\hat N` on the ``K`` low columns ``(B, 1, N_x, K)`` from those of ``w_hat``.

        Inference kernel: the product coefficients are combined on the ``K`` columns only
        (``a·T₁ + b·T₂`` in two passes over ``(B, 1, N_x, K)``, against a scaling pass over
        ``(B, 2, N_x, N_f)`` and a sum in :meth:`nonlinear`); the same values to round-off.
        """
        if self._advection_low is None or recording(w_low, self._velocity_factor):
            return super().nonlinear_low(w_low)
        spec = self.grid.rfft(self._products(w_low), scaled=False)[..., : w_low.shape[-1]]
        a, b = self._advection_low
        out = torch.view_as_real(spec[:, :1]) * a
        out = torch.view_as_complex(out.addcmul_(b, torch.view_as_real(spec[:, 1:])))
        if self._forcing_low is None:
            return out
        if can_update(out, self._forcing_low):
            return out.add_(self._forcing_low)
        return out + self._forcing_low

    def max_velocity(self, w_hat: torch.Tensor) -> torch.Tensor:
        u_hat, v_hat = self.velocity_hat(w_hat.detach())
        return (self.grid.irfft(u_hat).abs() + self.grid.irfft(v_hat).abs()).max()

    # -- spectral diagnostics -----------------------------------------------------------------
    def _mean_square(self, a_hat: torch.Tensor, b_hat: torch.Tensor) -> torch.Tensor:
        """Domain mean :math:`\\langle a b\\rangle` by Parseval on the rfft half-spectrum (B,)."""
        prod = (a_hat * b_hat.conj()).real
        # modes 1..N/2-1 on the last axis stand for themselves and their conjugates
        weight = torch.full(
            (self.grid.fourier_shape[-1],), 2.0, dtype=prod.dtype, device=prod.device
        )
        weight[0] = 1.0
        weight[-1] = 1.0
        return (prod * weight).sum(dim=(-3, -2, -1))

    def energy(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Kinetic energy :math:`E = \\tfrac12\\langle|\\mathbf u|^2\\rangle`, ``(B,)``."""
        u_hat, v_hat = self.velocity_hat(w_hat)
        return 0.5 * (self._mean_square(u_hat, u_hat) + self._mean_square(v_hat, v_hat))

    def enstrophy(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Enstrophy :math:`Z = \\tfrac12\\langle\\omega^2\\rangle`, ``(B,)``."""
        return 0.5 * self._mean_square(w_hat, w_hat)

    def palinstrophy(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Palinstrophy :math:`P = \\tfrac12\\langle|\\nabla\\omega|^2\\rangle`, ``(B,)``."""
        return 0.5 * (
            self._mean_square(self._ikx * w_hat, self._ikx * w_hat)
            + self._mean_square(self._iky * w_hat, self._iky * w_hat)
        )

    def enstrophy_rate(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Analytic :math:`dZ/dt = \\langle\\omega f\\rangle - 2\\nu P - 2\\mu Z`, ``(B,)``."""
        nu = self.nu.reshape(-1)
        drag = self.drag.reshape(-1)
        rate = -2 * nu * self.palinstrophy(w_hat) - 2 * drag * self.enstrophy(w_hat)
        if self.forcing_hat is not None:
            rate = rate + self._mean_square(w_hat, self.forcing_hat)
        return rate

    def energy_rate(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Analytic :math:`dE/dt = \\langle\\psi f\\rangle - 2\\nu Z - 2\\mu E`, ``(B,)``."""
        nu = self.nu.reshape(-1)
        drag = self.drag.reshape(-1)
        rate = -2 * nu * self.enstrophy(w_hat) - 2 * drag * self.energy(w_hat)
        if self.forcing_hat is not None:
            rate = rate + self._mean_square(w_hat * self._inv_k2, self.forcing_hat)
        return rate

r"""1D diffusion–sorption (PDEBench) by cell-centred finite volumes and TR-BDF2 in time.

.. math::
    \partial_t u = \frac{D}{R(u)}\,\partial_{xx} u + s(x, t), \quad x \in (0, 1),\qquad
    R(u) = 1 + \frac{1-\phi}{\phi}\,\rho_s k_f n_f\,(u^+ + \varepsilon)^{n_f - 1},

with :math:`u(0, t) = g_L(t)` (1 in PDEBench) and the Cauchy outflow condition
:math:`u(1, t) + D\,\partial_x u(1, t) = g_R(t)` (0 in PDEBench). Constants (PDEBench, Takamoto et
al., NeurIPS 2022 D&B, App. D; the Freundlich ``k_f`` from the PI-HC-MoE code): ``D = 5e-4``,
``φ = 0.29``, ``ρ_s = 2880``, ``k_f = 3.5e-4``, ``n_f = 0.874``, ``ε = 1e-6``; ``t ∈ [0, 500]``.

**Sign of the Cauchy condition.** PDEBench's paper writes :math:`u(1,t) = D\,\partial_x u(1,t)`;
the FINN simulator that generates PDEBench's data sets the right ghost value to
:math:`D(u_{n-2} - u_{n-1})/\Delta x`, i.e. :math:`u = -D\,\partial_x u` (outflow). We use the
outflow sign: with the other one, the face relation
:math:`u_b(1 - 2D/h) = -(2D/h)\,u_{n-1}` is singular at :math:`h = 2D` (1024 cells, PDEBench's
resolution, is within 2.4 % of it). The two differ by :math:`O(D|\partial_x u|)`.
:math:`u^+ = \max(u, 0)` keeps :math:`R` finite for the slightly negative values that a
numerical solution may take (FINN uses :math:`(u + \varepsilon)^{n_f-1}`, NaN below ``-ε``).

Discretisation: ``n`` cells of width ``h = 1/n``, centres :math:`x_i = (i + \tfrac12)h`,
fluxes :math:`F_{i+1/2} = (u_{i+1} - u_i)/h` inside, :math:`F_{-1/2} = (u_0 - g_L)/(h/2)` and,
from the face value :math:`u_b = (g_R + \kappa u_{n-1})/(1 + \kappa)` with
:math:`\kappa = 2D/h`, :math:`F_{n-1/2} = (u_b - u_{n-1})/(h/2)`;
:math:`(\partial_{xx}u)_i \approx (F_{i+1/2} - F_{i-1/2})/h` (second order in ``h``).
Time: backward Euler (first order, L-stable; its matrix is an M-matrix, so the scheme keeps
:math:`u \\ge 0`), each step solved by Picard iteration on the coefficient :math:`D/R(u)`
(tridiagonal solves). Second-order schemes (Crank–Nicolson, TR-BDF2) were tried and rejected:
on PDEBench's rough random initial data their explicit half-step makes cells negative and the
iteration on :math:`R(u)` (singular derivative at 0) stops converging.

Fields are ``(B, n)`` (cell averages ≈ centre values); a rollout returns ``(B, n_t, n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from sciml.solvers.fv.tridiagonal import solve_tridiagonal

__all__ = ["SorptionParameters", "DiffusionSorptionFV", "ImplicitSolveError"]

#: ``s(x, t)``: ``x`` ``(n,)``, ``t`` a float → ``(B, n)`` or ``(n,)``
Source = Callable[[Tensor, float], Tensor]
#: boundary datum ``g(t)`` → float or ``(B,)``
Boundary = Callable[[float], Tensor | float]


class ImplicitSolveError(RuntimeError):
    """The iteration of an implicit stage did not converge or produced NaN/Inf."""


@dataclass(frozen=True)
class SorptionParameters:
    """Physical constants of diffusion–sorption (PDEBench values by default)."""

    diffusion: float = 5e-4
    porosity: float = 0.29
    rho_s: float = 2880.0
    k_f: float = 3.5e-4
    n_f: float = 0.874
    eps: float = 1e-6

    def __post_init__(self) -> None:
        for name in ("diffusion", "rho_s", "k_f", "n_f", "eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 < self.porosity < 1:
            raise ValueError(f"porosity must be in (0, 1), got {self.porosity!r}")

    @property
    def sorption(self) -> float:
        """:math:`(1-\\phi)/\\phi\\,\\rho_s k_f n_f`."""
        return (1 - self.porosity) / self.porosity * self.rho_s * self.k_f * self.n_f

    def retardation(self, u: Tensor) -> Tensor:
        """:math:`R(u) = 1 + c\\,(u^+ + \\varepsilon)^{n_f-1}`."""
        return 1 + self.sorption * (u.clamp_min(0) + self.eps) ** (self.n_f - 1)

    def retardation_derivative(self, u: Tensor) -> Tensor:
        """:math:`R'(u)` (0 for ``u < 0``, where :math:`u^+` is constant)."""
        slope = self.sorption * (self.n_f - 1) * (u.clamp_min(0) + self.eps) ** (self.n_f - 2)
        return torch.where(u > 0, slope, torch.zeros_like(u))


class DiffusionSorptionFV:
    """Finite-volume diffusion–sorption solver (see module docstring).

    Parameters
    ----------
    n_cells:
        Number of cells ``n`` on ``(0, 1)``.
    params:
        Physical constants.
    left, right:
        Boundary data :math:`g_L(t)`, :math:`g_R(t)` (floats or callables of ``t``); PDEBench:
        1 and 0.
    source:
        Optional :math:`s(x, t)` (manufactured solutions).
    picard_tol, picard_max_iter:
        Stop an implicit stage when the update is below ``picard_tol·(1 + |u|_∞)``; raise
        :class:`ImplicitSolveError` after ``picard_max_iter`` iterations.
    """

    def __init__(
        self,
        n_cells: int,
        *,
        params: SorptionParameters | None = None,
        left: float | Boundary = 1.0,
        right: float | Boundary = 0.0,
        source: Source | None = None,
        picard_tol: float = 1e-10,
        picard_max_iter: int = 100,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        if isinstance(n_cells, bool) or not isinstance(n_cells, int) or n_cells < 2:
            raise ValueError(f"n_cells must be an integer >= 2, got {n_cells!r}")
        self.n = n_cells
        self.h = 1.0 / n_cells
        self.params = params or SorptionParameters()
        self.left = left if callable(left) else (lambda t, v=float(left): v)
        self.right = right if callable(right) else (lambda t, v=float(right): v)
        self.source = source
        self.picard_tol = picard_tol
        self.picard_max_iter = picard_max_iter
        self.dtype, self.device = dtype, torch.device(device)
        self.x = (torch.arange(n_cells, dtype=dtype, device=self.device) + 0.5) * self.h
        self._kappa = 2 * self.params.diffusion / self.h

    # -- the semi-discrete operator ---------------------------------------------------------------
    def laplacian(self, u: Tensor, t: float) -> Tensor:
        """:math:`(F_{i+1/2} - F_{i-1/2})/h` with the boundary fluxes, ``(B, n)``."""
        h, kappa = self.h, self._kappa
        g_left = torch.as_tensor(self.left(t), dtype=u.dtype, device=u.device)
        g_right = torch.as_tensor(self.right(t), dtype=u.dtype, device=u.device)
        inner = (u[:, 1:] - u[:, :-1]) / h
        flux_left = (u[:, :1] - g_left.reshape(-1, 1)) / (h / 2)
        flux_right = (g_right.reshape(-1, 1) - u[:, -1:]) / ((1 + kappa) * h / 2)
        flux = torch.cat([flux_left, inner, flux_right], dim=1)
        return (flux[:, 1:] - flux[:, :-1]) / h

    def rhs(self, u: Tensor, t: float) -> Tensor:
        """:math:`f(u, t) = D/R(u)\\,L_h u + s`, ``(B, n)``."""
        out = self.params.diffusion / self.params.retardation(u) * self.laplacian(u, t)
        if self.source is not None:
            out = out + self.source(self.x, t)
        return out

    def _stencil(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The linear part of :math:`L_h`: tridiagonal ``(lower, diag, upper)`` each ``(B, n)``."""
        h, kappa = self.h, self._kappa
        off = torch.full_like(u, 1 / h**2)
        main = torch.full_like(u, -2 / h**2)
        main[:, 0] = -3 / h**2  # the left face is half a cell away
        main[:, -1] = -1 / h**2 - 2 / ((1 + kappa) * h**2)
        return off, main, off

    def _implicit_stage(self, rhs: Tensor, guess: Tensor, a: float, t: float) -> Tensor:
        """Solve :math:`u - a f(u, t) = \\text{rhs}` by Picard iteration on :math:`D/R(u)`.

        Each iterate solves the linear system with the coefficient frozen at the previous one,
        :math:`(I - a\\,\\tfrac{D}{R(u_k)} M)\\,u_{k+1} = \\text{rhs} + a(\\tfrac{D}{R(u_k)}\\,
        b + s)` (``L_h u = M u + b``), an M-matrix for every ``u_k``. Newton is not used: with
        :math:`n_f < 1`, :math:`R'` is singular at ``u = 0`` and the Newton matrix loses its
        diagonal dominance near dry cells (PDEBench's random initial data has many).
        """
        lower, main, upper = self._stencil(guess)
        affine = self.laplacian(torch.zeros_like(guess), t)
        forcing = 0.0 if self.source is None else self.source(self.x, t)
        u = guess
        for _ in range(self.picard_max_iter):
            coef = a * self.params.diffusion / self.params.retardation(u)
            new = solve_tridiagonal(
                -coef * lower, 1 - coef * main, -coef * upper, rhs + coef * affine + a * forcing
            )
            step = float((new - u).abs().max())
            u = new
            if not bool(torch.isfinite(u).all()):
                raise ImplicitSolveError(
                    f"diffusion-sorption: NaN/Inf in the implicit solve at t={t:g}"
                )
            if step <= self.picard_tol * (1 + float(u.abs().max())):
                return u
        raise ImplicitSolveError(
            f"diffusion-sorption: the implicit solve did not converge in {self.picard_max_iter} "
            f"iterations at t={t:g} (last update {step:.3e}); reduce dt"
        )

    def step(self, u: Tensor, dt: float, t: float = 0.0) -> Tensor:
        """One backward-Euler step from ``(u, t)`` to ``t + dt``, ``u`` ``(B, n)``."""
        return self._implicit_stage(u, u, dt, t + dt)

    def rollout(
        self, u0: Tensor, n_steps: int, *, dt: float, save_every: int = 1, t0: float = 0.0
    ) -> Tensor:
        """``(B, 1 + n_steps // save_every, n)``: ``u0`` and every ``save_every``-th step."""
        if u0.ndim != 2 or u0.shape[1] != self.n:
            raise ValueError(f"u0 must have shape (B, {self.n}), got {tuple(u0.shape)}")
        if n_steps < 0 or save_every < 1 or n_steps % save_every:
            raise ValueError(
                f"n_steps={n_steps} must be a non-negative multiple of save_every={save_every}"
            )
        u = u0.to(dtype=self.dtype, device=self.device)
        frames = [u]
        for k in range(n_steps):
            u = self.step(u, dt, t0 + k * dt)
            if (k + 1) % save_every == 0:
                frames.append(u)
        return torch.stack(frames, dim=1)

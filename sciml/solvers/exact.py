r"""Closed-form solutions of the PDEs we solve, for verification tests and benchmarks.

Every function takes coordinates (tensors, broadcast together) and returns a tensor; parameters
may be floats or tensors that broadcast against the coordinates (e.g. ``(B, 1, 1)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = [
    "advection_diffusion",
    "burgers_cole_hopf",
    "burgers_cole_hopf_quadrature",
    "kdv_soliton",
    "taylor_green_vorticity",
]

Param = float | torch.Tensor


def burgers_cole_hopf(x: torch.Tensor, t: Param, nu: Param, a: float = 2.0) -> torch.Tensor:
    r"""Periodic viscous Burgers solution on :math:`[0, 2\pi)` from the Cole–Hopf transform.

    :math:`u = -2\nu\,\partial_x\log\varphi` with the heat-equation solution
    :math:`\varphi = a + e^{-\nu t}\cos x` gives

    .. math:: u(x, t) = \frac{2\nu e^{-\nu t}\sin x}{a + e^{-\nu t}\cos x}, \qquad a > 1,

    which solves :math:`u_t + u u_x = \nu u_{xx}` (Cole 1951; Hopf 1950).
    """
    if a <= 1:
        raise ValueError(f"a must be > 1 (φ > 0 everywhere), got {a}")
    decay = torch.exp(-torch.as_tensor(nu, dtype=x.dtype, device=x.device) * t)
    return 2 * nu * decay * torch.sin(x) / (a + decay * torch.cos(x))


def burgers_cole_hopf_quadrature(
    u0: torch.Tensor,
    x: torch.Tensor,
    t: float,
    nu: float,
    *,
    length: float = 2 * math.pi,
    points_per_width: float = 8.0,
    derivative: bool = False,
    chunk_elements: int = 1 << 22,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    r"""Viscous Burgers solution for *any* periodic initial condition, by Cole–Hopf quadrature.

    With :math:`\Phi_0(y) = \int_0^y u_0` and the heat kernel on the real line (Cole 1951; Hopf
    1950; Whitham, *Linear and Nonlinear Waves*, 1974, §4.4),

    .. math::
        u(x, t) = \frac{\int_{\mathbb R} \frac{x - y}{t}\, w\,dy}{\int_{\mathbb R} w\,dy},\qquad
        u_x = \frac1t\Big(1 - \frac{\operatorname{Var}_w(x - y)}{2\nu t}\Big),\qquad
        w = \exp\Big(-\frac{(x - y)^2}{4\nu t} - \frac{\Phi_0(y)}{2\nu}\Big).

    The exponent is formed in log space and shifted by its maximum per point (so
    :math:`\nu \ll 1`, where :math:`w` spans thousands of decades, does not overflow); the integrals
    are trapezoidal sums on a uniform grid, spectrally accurate for these smooth, fast-decaying
    integrands. :math:`\Phi_0` is the exact antiderivative of the trigonometric interpolant of
    the samples (mean part :math:`\bar u_0 y` included), evaluated on the quadrature grid by a
    zero-padded inverse FFT. The grid spacing is the narrowest width of :math:`w`,
    :math:`\sqrt{2\nu/(1/t + \max|u_0'|)}`, and the highest mode's :math:`1/k`, divided by
    ``points_per_width``; it covers :math:`y \in [x - R, x + R]`,
    :math:`R = 2t\max|u_0| + \sqrt{160\,\nu t}` (:math:`w < e^{-40}\max w` outside).

    Parameters
    ----------
    u0:
        Initial values ``(N,)`` or ``(B, N)`` at ``y_j = jL/N`` of one period (``N`` even).
    x:
        Coordinates ``(P,)`` (any real values; the solution is ``L``-periodic).
    t, nu:
        Time ``> 0`` and viscosity ``> 0``.
    length:
        Period ``L``.
    points_per_width:
        Quadrature resolution (raise it to check convergence; 8 gives round-off-level values in
        the tests).
    derivative:
        Also return :math:`u_x`.
    chunk_elements:
        Points are processed in chunks of about this many quadrature evaluations (memory bound).

    Returns
    -------
    ``u`` ``(P,)`` or ``(B, P)`` (and ``u_x`` of the same shape when ``derivative``); differentiable
    with respect to ``u0`` and ``x``.
    """
    if not t > 0 or not nu > 0:
        raise ValueError(f"t and nu must be > 0, got t={t}, nu={nu}")
    if u0.ndim not in (1, 2) or u0.shape[-1] < 4 or u0.shape[-1] % 2:
        raise ValueError(
            f"u0 must have shape (N,) or (B, N) with N even >= 4, got {tuple(u0.shape)}"
        )
    if x.ndim != 1:
        raise ValueError(f"x must have shape (P,), got {tuple(x.shape)}")
    single = u0.ndim == 1
    u0 = u0.reshape(-1, u0.shape[-1])
    n = u0.shape[-1]
    x = x.to(u0)
    coeffs = torch.fft.rfft(u0, norm="forward")  # (B, N/2 + 1)
    m = torch.arange(n // 2 + 1, dtype=u0.dtype, device=u0.device)
    k = 2 * math.pi * m / length
    active = (coeffs.detach().abs() > 1e-13 * coeffs.detach().abs().max()).any(0)
    k_max = float(k[active].max()) if bool(active[1:].any()) else 2 * math.pi / length
    slope = float((coeffs.detach() * 1j * k).abs().sum(-1).max()) * 2  # >= max|u0'|
    speed = float(coeffs.detach().abs().sum(-1).max()) * 2  # >= max|u0|
    width = min(math.sqrt(2 * nu / (1 / t + slope)), 1 / k_max)
    fine = n * 2 ** max(0, math.ceil(math.log2(length / n / (width / points_per_width))))
    h = length / fine
    # Φ0 on one period of the fine grid: mean part + antiderivative of the oscillating part
    mean = coeffs[:, :1].real
    inv_ik = torch.zeros_like(coeffs)
    inv_ik[:, 1:] = coeffs[:, 1:] / (1j * k[1:])
    if n // 2 < fine // 2:
        inv_ik[:, -1] = 0  # the Nyquist cosine has no periodic antiderivative on a finer grid
    psi = torch.fft.irfft(inv_ik, n=fine, norm="forward")  # (B, fine)
    reach = 2 * t * speed + math.sqrt(160 * nu * t)
    j = torch.arange(
        math.floor((float(x.detach().min()) - reach) / h),
        math.ceil((float(x.detach().max()) + reach) / h) + 1,
        device=u0.device,
    )
    y = j.to(u0.dtype) * h
    potential = psi[:, torch.remainder(j, fine)] + mean * y  # Φ0(y) (B, J)
    values, slopes = [], []
    chunk = max(1, chunk_elements // (u0.shape[0] * y.numel()))
    for start in range(0, x.numel(), chunk):
        xs = x[start : start + chunk]
        z = xs[:, None] - y[None, :]  # (P', J)
        exponent = -(z * z) / (4 * nu * t) - potential[:, None, :] / (2 * nu)  # (B, P', J)
        w = torch.exp(exponent - exponent.amax(-1, keepdim=True))
        total = w.sum(-1)
        mean_z = (z * w).sum(-1) / total
        values.append(mean_z / t)
        if derivative:
            var = ((z - mean_z[..., None]) ** 2 * w).sum(-1) / total
            slopes.append((1 - var / (2 * nu * t)) / t)
    u = torch.cat(values, -1)
    u = u[0] if single else u
    if not derivative:
        return u
    u_x = torch.cat(slopes, -1)
    return u, (u_x[0] if single else u_x)


def taylor_green_vorticity(
    x: torch.Tensor,
    y: torch.Tensor,
    t: Param,
    nu: Param,
    *,
    k: float = 1.0,
    amplitude: float = 1.0,
    drag: Param = 0.0,
) -> torch.Tensor:
    r"""Decaying Taylor–Green vortex in vorticity form.

    :math:`\omega = 2 k A \cos(kx)\cos(ky)\,e^{-(2\nu k^2 + \mu)t}` is an eigenfunction of the
    Laplacian, so :math:`\mathbf u\cdot\nabla\omega = 0` and it solves
    :math:`\omega_t + \mathbf u\cdot\nabla\omega = \nu\Delta\omega - \mu\omega` exactly
    (velocity :math:`A(\sin kx\cos ky, -\cos kx\sin ky)`; Taylor & Green 1937).
    """
    rate = 2 * torch.as_tensor(nu, dtype=x.dtype, device=x.device) * k**2 + drag
    return 2 * k * amplitude * torch.cos(k * x) * torch.cos(k * y) * torch.exp(-rate * t)


def kdv_soliton(
    x: torch.Tensor,
    t: Param,
    c: float,
    *,
    x0: float = 0.0,
    length: float | None = None,
    alpha: float = 6.0,
    beta: float = 1.0,
) -> torch.Tensor:
    r"""Travelling soliton of :math:`u_t + \alpha u u_x + \beta u_{xxx} = 0`.

    .. math::
        u = \frac{3c}{\alpha}\operatorname{sech}^2
            \Big(\tfrac12\sqrt{c/\beta}\,(x - x_0 - ct)\Big).

    With ``length`` the distance :math:`x - x_0 - ct` is wrapped into :math:`[-L/2, L/2)` (the
    periodic image nearest to the crest); accurate when :math:`e^{-\sqrt{c/\beta}L/2}` is
    negligible.
    """
    xi = x - x0 - c * t
    if length is not None:
        xi = torch.remainder(xi + length / 2, length) - length / 2
    return 3 * c / alpha / torch.cosh(0.5 * math.sqrt(c / beta) * xi) ** 2


def advection_diffusion(
    x: torch.Tensor,
    t: Param,
    *,
    velocity: Param,
    nu: Param,
    length: float = 2 * math.pi,
    modes: Sequence[int] = (1,),
    amplitudes: Sequence[float] = (1.0,),
    phases: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""Fourier-series solution of :math:`u_t + c u_x = \nu u_{xx}` on :math:`[0, L)`.

    .. math:: u(x, t) = \sum_j A_j e^{-\nu k_j^2 t}\sin\big(k_j(x - ct) + \theta_j\big),
              \qquad k_j = 2\pi m_j / L.
    """
    if len(modes) != len(amplitudes) or (phases is not None and len(phases) != len(modes)):
        raise ValueError("modes, amplitudes and phases must have the same length")
    phases = [0.0] * len(modes) if phases is None else phases
    out = torch.zeros_like(x)
    for m, amp, phase in zip(modes, amplitudes, phases):
        k = 2 * math.pi * m / length
        decay = torch.exp(-torch.as_tensor(nu, dtype=x.dtype, device=x.device) * k**2 * t)
        out = out + amp * decay * torch.sin(k * (x - velocity * t) + phase)
    return out

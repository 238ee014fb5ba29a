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

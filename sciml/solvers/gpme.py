r"""Closed-form solutions of the generalized porous medium equation (GPME) benchmark family.

The 1D GPME :math:`u_t = \partial_x\big(k(u)\,\partial_x u\big)` with three choices of the
nonlinearity :math:`k`, as used by ProbConserv (Hansen et al., "Learning Physical Models that Can
Respect Conservation Laws", ICML 2023, arXiv 2302.11002, Sec. 4 and App. C):

* **heat** (easy): :math:`k` constant, :math:`u = e^{-kt}\sin x` on :math:`x\in[0, 2\pi]`,
  :math:`t\in[0,1]`; periodic, total mass :math:`U(t) = \int_0^{2\pi}u\,dx = 0`.
* **pme** (medium): :math:`k(u) = u^m`, :math:`u = (m\,(t-x)_+)^{1/m}` on :math:`[0,1]^2`, a
  degenerate front at :math:`x = t`; :math:`U(t) = m^{1+1/m}\,t^{1+1/m}/(m+1)` for
  :math:`t \le 1`.
* **stefan** (hard): :math:`k(u) = 1` for :math:`u \ge u^*`, else 0; on :math:`x\in[0,1]`,
  :math:`t\in[0,0.1]`, :math:`u(t,0)=1`,

  .. math:: u = 1 - c_1\,\mathrm{erf}\!\big(x / (2\sqrt t)\big) \ \text{for}\ x \le \alpha\sqrt t,
            \qquad u = 0 \ \text{beyond},

  with :math:`z_1` the root in :math:`(0, 10)` of
  :math:`u^*\,\mathrm{erf}(z)\,z\,e^{z^2} = (1-u^*)/\sqrt\pi`, :math:`\alpha = 2 z_1`,
  :math:`c_1 = (1-u^*)/\mathrm{erf}(z_1)`. The solution jumps from :math:`u^*` to 0 at the front
  :math:`\alpha\sqrt t` (a shock). The mass is the integrated inflow flux,
  :math:`U(t) = 2c_1\sqrt{t/\pi}`, which equals :math:`\int_0^1 u\,dx` by the front condition.

Every function takes tensors that broadcast together (coordinates ``t``, ``x`` and the parameter,
e.g. ``t (n_t, 1)``, ``x (1, n_x)``, parameter ``(B, 1, 1)``) and returns their broadcast shape.
These are fixed data (no gradient through the Stefan root, which is found by bisection).
:func:`exact_solution` and :func:`total_mass` dispatch on a problem name from :data:`PROBLEMS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = [
    "GPMEProblem",
    "PROBLEMS",
    "exact_solution",
    "front_position",
    "heat_mass",
    "heat_solution",
    "pme_mass",
    "pme_solution",
    "problem",
    "stefan_constants",
    "stefan_mass",
    "stefan_solution",
    "total_mass",
]

Param = float | torch.Tensor


def _tensor(value: Param, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def heat_solution(t: torch.Tensor, x: torch.Tensor, k: Param) -> torch.Tensor:
    r""":math:`u = e^{-kt}\sin x`, the heat equation :math:`u_t = k u_{xx}` on :math:`[0,2\pi]`."""
    return torch.exp(-_tensor(k, t) * t) * torch.sin(x)


def heat_mass(t: torch.Tensor, k: Param) -> torch.Tensor:
    r""":math:`\int_0^{2\pi} e^{-kt}\sin x\,dx = 0` for every ``t``, broadcast with ``k``."""
    return torch.zeros_like(t * _tensor(k, t))


def pme_solution(t: torch.Tensor, x: torch.Tensor, m: Param) -> torch.Tensor:
    r""":math:`u = (m\,\mathrm{ReLU}(t - x))^{1/m}`, the PME :math:`u_t = (u^m u_x)_x`."""
    m = _tensor(m, t)
    return (m * torch.relu(t - x)).pow(1.0 / m)


def pme_mass(t: torch.Tensor, m: Param) -> torch.Tensor:
    r""":math:`\int_0^1 u\,dx = m^{1+1/m}\,t^{1+1/m}/(m+1)` for :math:`0 \le t \le 1`."""
    m = _tensor(m, t)
    return m.pow(1 + 1 / m) * t.pow(1 + 1 / m) / (m + 1)


def stefan_constants(u_star: Param) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(z1, alpha, c1)`` of the Stefan solution for melting threshold(s) ``u_star`` in (0, 1).

    :math:`z_1` solves :math:`u^*\,\mathrm{erf}(z)\,z\,e^{z^2} = (1-u^*)/\sqrt\pi`; the left side
    increases from 0 at :math:`z = 0`, so the root is unique and found by bisection on
    :math:`(0, 10)` in float64 (80 halvings: below round-off). :math:`\alpha = 2z_1`,
    :math:`c_1 = (1-u^*)/\mathrm{erf}(z_1)`. Returned in the dtype of ``u_star`` (float64 for a
    Python float).
    """
    u = torch.as_tensor(u_star, dtype=torch.float64 if isinstance(u_star, float) else None)
    if not bool(((u > 0) & (u < 1)).all()):
        raise ValueError(f"stefan: u_star must lie in (0, 1), got {u.tolist()}")
    u64 = u.detach().to(torch.float64)
    rhs = (1 - u64) / math.sqrt(math.pi)
    lo, hi = torch.zeros_like(u64), torch.full_like(u64, 10.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        above = u64 * torch.erf(mid) * mid * torch.exp(mid * mid) > rhs
        hi = torch.where(above, mid, hi)
        lo = torch.where(above, lo, mid)
    z1 = 0.5 * (lo + hi)
    c1 = (1 - u64) / torch.erf(z1)
    return z1.to(u.dtype), (2 * z1).to(u.dtype), c1.to(u.dtype)


def stefan_solution(t: torch.Tensor, x: torch.Tensor, u_star: Param) -> torch.Tensor:
    r"""Stefan solution (module docstring); at ``t = 0`` it is 1 at ``x = 0`` and 0 elsewhere."""
    _, alpha, c1 = (_tensor(v, t) for v in stefan_constants(u_star))
    root_t = t.clamp_min(0).sqrt()
    safe = torch.where(root_t > 0, root_t, torch.ones_like(root_t))
    liquid = 1 - c1 * torch.erf(x / (2 * safe))
    inside = x <= alpha * root_t
    at_start = torch.where(x <= 0, torch.ones_like(liquid), torch.zeros_like(liquid))
    return torch.where(root_t > 0, torch.where(inside, liquid, torch.zeros_like(liquid)), at_start)


def stefan_mass(t: torch.Tensor, u_star: Param) -> torch.Tensor:
    r""":math:`U(t) = 2c_1\sqrt{t/\pi}`, the integrated inflow flux :math:`-u_x(t, 0)`."""
    _, _, c1 = stefan_constants(u_star)
    return 2 * _tensor(c1, t) * (t.clamp_min(0) / math.pi).sqrt()


def front_position(name: str, t: torch.Tensor, param: Param) -> torch.Tensor:
    r"""Position of the moving front: :math:`\alpha\sqrt t` (Stefan shock), :math:`t` (PME)."""
    if name == "stefan":
        return _tensor(stefan_constants(param)[1], t) * t.clamp_min(0).sqrt()
    if name == "pme":
        return t * torch.ones_like(_tensor(param, t))
    raise ValueError(f"front_position: problem must be one of 'pme', 'stefan', got {name!r}")


@dataclass(frozen=True)
class GPMEProblem:
    """One GPME benchmark: closed form, mass, domain and ProbConserv's parameter ranges.

    ``train_range`` is the uniform training distribution of the parameter, ``test_values`` the
    test parameters (ProbConserv configs ``3b_heat_var_c``, ``1b_pme_var_m``,
    ``2b_stefan_var_p``), ``t_eval`` the time of the paper's tables and histograms, ``valid``
    the open interval of admissible parameters.
    """

    name: str
    parameter: str
    solution: Callable[[torch.Tensor, torch.Tensor, Param], torch.Tensor]
    mass: Callable[[torch.Tensor, Param], torch.Tensor]
    x_range: tuple[float, float]
    t_range: tuple[float, float]
    train_range: tuple[float, float]
    test_values: tuple[float, ...]
    t_eval: float
    valid: tuple[float, float]


PROBLEMS: dict[str, GPMEProblem] = {
    "heat": GPMEProblem(
        "heat", "k", heat_solution, heat_mass, (0.0, 2 * math.pi), (0.0, 1.0), (1.0, 5.0),
        (1.0, 5.0), 0.5, (0.0, math.inf),
    ),
    "pme": GPMEProblem(
        "pme", "m", pme_solution, pme_mass, (0.0, 1.0), (0.0, 1.0), (1.0, 6.0),
        (1.0, 3.0, 6.0), 0.5, (0.0, math.inf),
    ),
    "stefan": GPMEProblem(
        "stefan", "u_star", stefan_solution, stefan_mass, (0.0, 1.0), (0.0, 0.1), (0.55, 0.7),
        (0.6, 0.5), 0.05, (0.0, 1.0),
    ),
}  # fmt: skip


def problem(name: str) -> GPMEProblem:
    """The :class:`GPMEProblem` called ``name``; an unknown name lists the valid ones."""
    if name not in PROBLEMS:
        raise ValueError(f"GPME problem must be one of {sorted(PROBLEMS)}, got {name!r}")
    return PROBLEMS[name]


def exact_solution(name: str, t: torch.Tensor, x: torch.Tensor, param: Param) -> torch.Tensor:
    """``u(t, x)`` of GPME problem ``name`` (``heat``, ``pme``, ``stefan``) at parameter ``param``."""
    return problem(name).solution(t, x, param)


def total_mass(name: str, t: torch.Tensor, param: Param) -> torch.Tensor:
    r"""Exact :math:`U(t) = \int u(t, x)\,dx` over the problem's domain, the conservation target."""
    return problem(name).mass(t, param)

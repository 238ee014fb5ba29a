r"""Batched Levenberg–Marquardt for many small nonlinear least-squares problems at once.

Each of ``S`` independent problems minimises :math:`\tfrac12\|r_s(w_s)\|^2` over
:math:`w_s \in \mathbb R^N`. One iteration solves, for every problem still running,

.. math:: (J^\top J + \lambda I)\,\delta = -J^\top r, \qquad w \leftarrow w + \delta
          \ \text{if}\ \tfrac12\|r(w+\delta)\|^2 < \tfrac12\|r(w)\|^2,

dividing the damping :math:`\lambda` by 3 after an accepted step and multiplying it by 4 after a
rejected one (Levenberg 1944; Marquardt 1963; Nocedal & Wright, *Numerical Optimization*, §10.3).
A problem has converged when an accepted step satisfies the Cauchy test of Optimistix's
``LevenbergMarquardt`` (used by PI-HC-MoE, Chalapathi et al., ICLR 2024, App. A):
:math:`\|\delta\|_\infty \le a + \rho\|w\|_\infty` and
:math:`|\Delta f| \le a + \rho f`, or when its gradient :math:`J^\top r` vanishes exactly.
A rejected trial step counts only while :math:`\lambda \le \max\operatorname{diag}(J^\top J)`:
a large damping makes any step small, while at round-off level a converged problem proposes
steps that no longer lower the cost. Near the minimum the cost resolves :math:`w` only to
:math:`\sqrt{\varepsilon}`: a step whose cost equals the current one to round-off is accepted
when it lowers :math:`\|J^\top r\|`, and a small one that does not counts as converged (the
minimum is resolved to machine precision).

The Jacobian comes from the caller (``fun(w) -> (r, J)``), so the solve needs no autograd. The
update is written with ``torch.where`` masks only, so it is differentiable when ``fun`` is:
the *unrolled* backward of :mod:`sciml.constraints.hard.implicit` runs it with autograd on.

A residual that is not finite at the start is an error (:class:`NonFiniteResidualError`); a
non-finite residual at a trial point rejects that step. Problems that do not converge within
``max_iter`` iterations keep their last iterate and are flagged in :attr:`LMResult.converged`:
the caller decides whether to warn or raise (never silently masked).

``fixed_iterations=True`` runs exactly ``max_iter`` iterations with no data-dependent Python
control flow (for ``torch.export``): a problem that has converged is masked out of every later
update, so the result equals the early-stopping one; a residual that is not finite at the
start is not raised but propagates (the solution is NaN, visible to the caller).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LMResult", "NonFiniteResidualError", "levenberg_marquardt"]

ResidualFn = Callable[[Tensor], tuple[Tensor, Tensor]]

_DECREASE, _INCREASE = 1.0 / 3.0, 4.0
_MAX_DAMPING = 1e16
_EPS = {
    dt: torch.finfo(dt).eps for dt in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}


class NonFiniteResidualError(FloatingPointError):
    """The residual (or its Jacobian) is NaN/Inf at the initial guess of some problems."""


@dataclass
class LMResult:
    """Outcome of :func:`levenberg_marquardt` for ``S`` problems.

    Attributes
    ----------
    solution:
        ``(S, N)`` last accepted iterate of each problem.
    n_iter:
        ``(S,)`` iterations used (accepted and rejected steps).
    converged:
        ``(S,)`` whether the convergence test was met within ``max_iter``.
    cost:
        ``(S,)`` final :math:`\\tfrac12\\|r\\|^2`.
    """

    solution: Tensor
    n_iter: Tensor
    converged: Tensor
    cost: Tensor

    @property
    def n_not_converged(self) -> int:
        """Number of problems that hit ``max_iter`` without converging."""
        return int((~self.converged).sum())


def _check_options(max_iter: int, rtol: float, atol: float, damping: float) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    if not damping > 0:
        raise ValueError(f"damping must be > 0, got {damping!r}")


def levenberg_marquardt(
    fun: ResidualFn,
    w0: Tensor,
    *,
    max_iter: int = 50,
    rtol: float = 1e-4,
    atol: float = 1e-4,
    damping: float = 1e-3,
    fixed_iterations: bool = False,
) -> LMResult:
    """Minimise :math:`\\tfrac12\\|r_s(w_s)\\|^2` for ``S`` problems in one batch.

    Parameters
    ----------
    fun:
        ``fun(w) -> (r, J)`` with ``w`` ``(S, N)``, residual ``r`` ``(S, M)`` and Jacobian
        ``J = ∂r/∂w`` ``(S, M, N)``.
    w0:
        ``(S, N)`` initial guess.
    max_iter:
        Iteration limit (PI-HC-MoE: 50).
    rtol, atol:
        Relative and absolute tolerances of the Cauchy convergence test (module docstring;
        PI-HC-MoE: 1e-4 on diffusion–sorption).
    damping:
        Initial :math:`\\lambda` relative to the largest diagonal entry of :math:`J^\\top J`.
    fixed_iterations:
        Run all ``max_iter`` iterations without early exits or checks that branch on data
        (module docstring; the export mode of the hard constraint).

    Returns
    -------
    LMResult
    """
    _check_options(max_iter, rtol, atol, damping)
    if w0.ndim != 2:
        raise ValueError(f"w0 must have shape (S, N), got {tuple(w0.shape)}")
    w = w0
    r, jac = fun(w)
    bad = ~(torch.isfinite(r).all(-1) & torch.isfinite(jac).flatten(1).all(-1))
    if not fixed_iterations and bad.any():
        idx = bad.nonzero().flatten().tolist()
        raise NonFiniteResidualError(
            f"the least-squares residual is NaN/Inf at the initial guess of problem(s) "
            f"{idx[:10]}{' ...' if len(idx) > 10 else ''} of {w.shape[0]}: check the basis "
            f"(network output) and the PDE inputs"
        )
    n = w.shape[1]
    eye = torch.eye(n, dtype=w.dtype, device=w.device)
    cost = 0.5 * (r * r).sum(-1)
    gram = jac.transpose(1, 2) @ jac
    lam = damping * gram.diagonal(dim1=1, dim2=2).amax(-1).clamp_min(1e-12)
    active = torch.ones(w.shape[0], dtype=torch.bool, device=w.device)
    converged = torch.zeros_like(active)
    n_iter = torch.zeros(w.shape[0], dtype=torch.long, device=w.device)
    for _ in range(max_iter):
        grad = (jac.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
        stationary = active & (grad.detach().abs().amax(-1) == 0)
        converged = converged | stationary
        active = active & ~stationary
        if not fixed_iterations and not bool(active.any()):
            break
        n_iter = n_iter + active.long()
        system = gram + lam.detach()[:, None, None] * eye
        step = -torch.linalg.solve(system, grad.unsqueeze(-1)).squeeze(-1)
        w_try = w + step
        r_try, jac_try = fun(w_try)
        cost_try = 0.5 * (r_try * r_try).sum(-1)
        finite = torch.isfinite(cost_try.detach()) & torch.isfinite(jac_try.detach()).flatten(
            1
        ).all(-1)
        # the cost resolves w only to ~sqrt(eps); at round-off level the gradient decides
        roundoff = (cost_try.detach() - cost.detach()).abs() <= 8 * _EPS[w.dtype] * cost.detach()
        grad_try = (jac_try.transpose(1, 2) @ r_try.unsqueeze(-1)).squeeze(-1).detach()
        flatter = grad_try.norm(dim=-1) < grad.detach().norm(dim=-1)
        decrease = (cost_try.detach() < cost.detach()) | (roundoff & flatter)
        accept = active & finite & decrease
        small_step = step.detach().abs().amax(-1) <= atol + rtol * w.detach().abs().amax(-1)
        small_change = (cost.detach() - cost_try.detach()).abs() <= atol + rtol * cost.detach()
        # a converged problem may propose a step that does not lower the cost (round-off): it
        # counts when the damping is too weak to have shrunk that step artificially
        undamped = lam <= gram.diagonal(dim1=1, dim2=2).amax(-1)
        # a rejected small step at round-off level that does not flatten the gradient either:
        # the minimum is resolved to machine precision, tighter tolerances cannot be met
        stalled = ~accept & roundoff
        done = active & finite & small_step & (small_change & (accept | undamped) | stalled)
        a2, a3 = accept[:, None], accept[:, None, None]
        w = torch.where(a2, w_try, w)
        r = torch.where(a2, r_try, r)
        jac = torch.where(a3, jac_try, jac)
        cost = torch.where(accept, cost_try, cost)
        gram = torch.where(a3, jac.transpose(1, 2) @ jac, gram)
        factor = torch.where(accept, _DECREASE, _INCREASE).to(lam.dtype)
        lam = torch.where(active, (lam * factor).clamp(1e-15, _MAX_DAMPING), lam)
        converged = converged | done
        active = active & ~done
        if not fixed_iterations and not bool(active.any()):
            break
    return LMResult(solution=w, n_iter=n_iter, converged=converged, cost=cost)

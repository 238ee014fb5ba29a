"""Reusable numerical assertions for solvers and models.

These are the checks our own test-suite runs, shipped so that users can apply the same checks to
their own solvers and layers (in the spirit of ``e3nn.util.test``):

* :func:`convergence_order` / :func:`assert_convergence_order` — least-squares slope of
  ``log(error)`` against ``log(h)``;
* :func:`directional_fd_error` / :func:`assert_grad_matches_fd` — an autograd gradient against a
  central finite difference along random directions (use float64);
* :func:`assert_equivariant` — ``f(g·x) == g·f(x)`` for a group action;
* :func:`assert_conserved` — a quantity stays constant along a trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

__all__ = [
    "convergence_order",
    "assert_convergence_order",
    "directional_fd_error",
    "assert_grad_matches_fd",
    "assert_equivariant",
    "assert_conserved",
]


def convergence_order(h: Sequence[float], errors: Sequence[float]) -> float:
    """Observed order ``p`` of ``error ≈ C h^p``: least-squares slope of ``log e`` vs ``log h``.

    Parameters
    ----------
    h:
        Step sizes (mesh widths or time steps), at least two, all positive.
    errors:
        The corresponding errors, all positive.
    """
    if len(h) != len(errors) or len(h) < 2:
        raise ValueError("need at least two (h, error) pairs of equal length")
    if min(h) <= 0 or min(errors) <= 0:
        raise ValueError(f"step sizes and errors must be positive, got h={h}, errors={errors}")
    x = torch.tensor([math.log(v) for v in h], dtype=torch.float64)
    y = torch.tensor([math.log(v) for v in errors], dtype=torch.float64)
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def assert_convergence_order(
    h: Sequence[float], errors: Sequence[float], expected: float, tol: float = 0.15
) -> float:
    """Assert that the observed order is within ``tol`` of ``expected``; return the order."""
    order = convergence_order(h, errors)
    if abs(order - expected) > tol:
        pairs = ", ".join(f"h={a:.3g}: {e:.3e}" for a, e in zip(h, errors))
        raise AssertionError(
            f"observed convergence order {order:.3f}, expected {expected} ± {tol} ({pairs})"
        )
    return order


def directional_fd_error(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    eps: float = 1e-6,
    n_directions: int = 3,
    seed: int = 0,
) -> float:
    """Largest relative gap between the autograd and the central-difference directional derivative.

    For random unit directions ``d``, compares ``⟨∇f(x), d⟩`` (reverse mode) with
    ``(f(x + εd) − f(x − εd)) / 2ε``. ``fn`` must map ``x`` to a scalar tensor. Use float64: with
    ``eps=1e-6`` the central difference has truncation error ``O(ε²)`` and round-off ``O(1e-16/ε)``.

    Returns
    -------
    float
        ``max_d |g_ad − g_fd| / max(|g_fd|, tiny)``.
    """
    x = x.detach().clone().requires_grad_(True)
    value = fn(x)
    if value.numel() != 1:
        raise ValueError(f"fn must return a scalar, got shape {tuple(value.shape)}")
    (grad,) = torch.autograd.grad(value, x)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    worst = 0.0
    with torch.no_grad():
        for _ in range(n_directions):
            d = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
            d = d / d.norm()
            g_ad = float((grad * d).sum())
            g_fd = float((fn(x + eps * d) - fn(x - eps * d)) / (2 * eps))
            scale = max(abs(g_fd), abs(g_ad), 1e-300)
            worst = max(worst, abs(g_ad - g_fd) / scale)
    return worst


def assert_grad_matches_fd(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    rtol: float = 1e-6,
    eps: float = 1e-6,
    n_directions: int = 3,
    seed: int = 0,
) -> float:
    """Assert :func:`directional_fd_error` ``≤ rtol``; return the error."""
    err = directional_fd_error(fn, x, eps=eps, n_directions=n_directions, seed=seed)
    if err > rtol:
        raise AssertionError(
            f"autograd gradient differs from central finite differences by {err:.3e} (rtol {rtol})"
        )
    return err


def assert_equivariant(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    act_in: Callable[[torch.Tensor], torch.Tensor],
    act_out: Callable[[torch.Tensor], torch.Tensor],
    *,
    atol: float = 1e-6,
) -> float:
    """Assert ``fn(act_in(x)) ≈ act_out(fn(x))``; return the max absolute deviation."""
    lhs = fn(act_in(x))
    rhs = act_out(fn(x))
    err = float((lhs - rhs).abs().max())
    if err > atol:
        raise AssertionError(f"equivariance violated: max |f(gx) - g f(x)| = {err:.3e} > {atol}")
    return err


def assert_conserved(values: torch.Tensor, *, rtol: float = 1e-10, atol: float = 0.0) -> float:
    """Assert a trajectory of a conserved quantity stays at its initial value.

    Parameters
    ----------
    values:
        ``(T, ...)`` — the quantity at each saved time (any trailing shape, e.g. batch).
    """
    ref = values[0]
    dev = float((values - ref).abs().max())
    bound = atol + rtol * float(ref.abs().max())
    if dev > bound:
        raise AssertionError(f"quantity drifts by {dev:.3e}, bound {bound:.3e}")
    return dev

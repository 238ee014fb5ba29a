r"""Batched tridiagonal solve (Thomas algorithm) for the implicit finite-volume steppers.

Solves :math:`a_i x_{i-1} + b_i x_i + c_i x_{i+1} = d_i`, ``i = 0..n-1`` (``a_0`` and ``c_{n-1}``
are ignored) for every batch row at once: forward elimination and back substitution, ``O(n)``
work per system (Thomas 1949; Golub & Van Loan, *Matrix Computations*, §4.3.6). Without pivoting
it is stable for diagonally dominant matrices, which the implicit diffusion operators are
(``I - θΔt·L`` with ``L`` a diffusion stencil). A zero pivot raises instead of returning Inf.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["solve_tridiagonal"]


def solve_tridiagonal(lower: Tensor, diag: Tensor, upper: Tensor, rhs: Tensor) -> Tensor:
    """``x`` ``(B, n)`` with ``lower[i] x[i-1] + diag[i] x[i] + upper[i] x[i+1] = rhs[i]``.

    Parameters
    ----------
    lower, diag, upper, rhs:
        ``(B, n)`` each (broadcastable); ``lower[:, 0]`` and ``upper[:, -1]`` are not used.
    """
    lower, diag, upper, rhs = torch.broadcast_tensors(lower, diag, upper, rhs)
    n = diag.shape[-1]
    c_prime = torch.empty_like(diag)
    d_prime = torch.empty_like(diag)
    pivot = diag[..., 0]
    c_prime[..., 0] = upper[..., 0] / pivot
    d_prime[..., 0] = rhs[..., 0] / pivot
    smallest = pivot.abs().min()
    for i in range(1, n):
        pivot = diag[..., i] - lower[..., i] * c_prime[..., i - 1]
        smallest = torch.minimum(smallest, pivot.abs().min())
        c_prime[..., i] = upper[..., i] / pivot
        d_prime[..., i] = (rhs[..., i] - lower[..., i] * d_prime[..., i - 1]) / pivot
    if not bool(smallest > 0):
        raise ZeroDivisionError("tridiagonal solve: zero pivot (the matrix is singular)")
    x = torch.empty_like(d_prime)
    x[..., -1] = d_prime[..., -1]
    for i in range(n - 2, -1, -1):
        x[..., i] = d_prime[..., i] - c_prime[..., i] * x[..., i + 1]
    return x

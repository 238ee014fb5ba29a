"""Quadrature rules on the reference simplex, exact for polynomials up to a requested degree.

Degrees 0 and 1 use the centroid (one point); degree 2 the symmetric rule with ``d + 1`` points
at barycentric coordinates ``(a, b, …, b)`` and permutations, ``a = (1 + d·r)/(d + 1)``,
``b = (1 - r)/(d + 1)``, ``r = 1/√(d + 2)``, equal weights (Stroud's ``T_n: 2-1``; 3 points on
triangles, 4 on tetrahedra — the rules scikit-fem uses by default for P1). Higher degrees use
Stroud conical products: the reference ``d``-simplex
``{ξ ≥ 0, Σ ξ ≤ 1}`` is the image of the unit cube under the collapsed (Duffy) map
``ξ_1 = u_1, ξ_2 = (1 - u_1) u_2, ξ_3 = (1 - u_1)(1 - u_2) u_3``, whose Jacobian
``(1 - u_1)^{d-1} (1 - u_2)^{d-2}`` is absorbed into Gauss–Jacobi weights. With
``m = ⌈(p + 1) / 2⌉`` points per direction the rule is exact for total degree ``p`` and has positive
weights (Stroud, *Approximate Calculation of Multiple Integrals*, 1971, §2.7; Karniadakis &
Sherwin, *Spectral/hp Element Methods*, 2005, §4.1).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy.special import roots_jacobi
from torch import Tensor

__all__ = ["simplex_quadrature", "reference_volume", "rule_degree"]


def reference_volume(dim: int) -> float:
    """Measure of the reference ``dim``-simplex, ``1 / dim!``."""
    return 1.0 / math.factorial(dim)


def _symmetric_rule(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Centroid rule (degree ≤ 1) or the ``d + 1``-point degree-2 rule, points ``(Q, dim)``."""
    vol = reference_volume(dim)
    if degree <= 1:
        return np.full((1, dim), 1.0 / (dim + 1)), np.array([vol])
    r = 1.0 / math.sqrt(dim + 2)
    a, b = (1 + dim * r) / (dim + 1), (1 - r) / (dim + 1)
    bary = np.full((dim + 1, dim + 1), b) + (a - b) * np.eye(dim + 1)  # (Q, d+1) barycentric
    return bary[:, 1:], np.full(dim + 1, vol / (dim + 1))


def rule_degree(degree: int) -> int:
    """The degree to which the rule :func:`simplex_quadrature` picks for ``degree`` is exact
    (requests with the same value get the same rule: 0 and 1 both get the centroid)."""
    if degree <= 2:
        return max(degree, 1)
    return 2 * math.ceil((degree + 1) / 2) - 1


@functools.cache
def _rule(dim: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    if dim == 0:
        return np.zeros((1, 0)), np.ones(1)
    if degree <= 2:
        return _symmetric_rule(dim, degree)
    m = max(1, math.ceil((degree + 1) / 2))
    nodes, weights = [], []
    for axis in range(dim):
        # weight (1 - u)^(dim - 1 - axis) on [0, 1]  ⇔  Jacobi α = dim - 1 - axis, β = 0 on [-1, 1]
        alpha = dim - 1 - axis
        t, w = roots_jacobi(m, alpha, 0.0)
        nodes.append((t + 1) / 2)
        weights.append(w / 2 ** (alpha + 1))
    grids = np.meshgrid(*nodes, indexing="ij")
    wgrid = np.prod(np.meshgrid(*weights, indexing="ij"), axis=0).ravel()
    u = [g.ravel() for g in grids]
    xi = np.zeros((len(wgrid), dim))
    scale = np.ones(len(wgrid))
    for axis in range(dim):
        xi[:, axis] = scale * u[axis]
        scale = scale * (1 - u[axis])
    return xi, wgrid


def simplex_quadrature(
    dim: int, degree: int, *, dtype: torch.dtype = torch.float64, device=None
) -> tuple[Tensor, Tensor]:
    """Points ``(Q, dim)`` and weights ``(Q,)`` on the reference ``dim``-simplex (0 ≤ dim ≤ 3).

    The weights sum to :func:`reference_volume` and the rule integrates every polynomial of total
    degree ``≤ degree`` exactly.
    """
    if dim not in (0, 1, 2, 3):
        raise ValueError(f"simplex quadrature exists here for dim 0..3, got {dim}")
    if degree < 0:
        raise ValueError(f"quadrature degree must be >= 0, got {degree}")
    xi, w = _rule(dim, degree)
    return (
        torch.as_tensor(xi, dtype=dtype, device=device),
        torch.as_tensor(w, dtype=dtype, device=device),
    )

"""Simplex quadrature is exact to its degree; Lagrange elements are nodal with exact gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sciml.solvers.fem import lagrange, simplex_quadrature
from sciml.solvers.fem.quadrature import rule_degree


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("degree", [0, 1, 2, 3, 4, 5, 6])
def test_rule_integrates_monomials_exactly(dim: int, degree: int) -> None:
    x, w = simplex_quadrature(dim, degree)
    assert bool((w > 0).all())
    for powers in itertools.product(range(degree + 1), repeat=dim):
        if sum(powers) > degree:
            continue
        numeric = float((x ** torch.tensor(powers, dtype=x.dtype)).prod(-1) @ w)
        # ∫_simplex x^a = a_1! ... a_d! / (|a| + d)!
        exact = math.prod(math.factorial(a) for a in powers) / math.factorial(sum(powers) + dim)
        assert numeric == pytest.approx(exact, rel=1e-13, abs=1e-16)


def test_bad_rule_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="dim 0..3"):
        simplex_quadrature(4, 2)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        simplex_quadrature(2, -1)


@pytest.mark.parametrize(("dim", "degree"), [(2, 1), (2, 2), (3, 1), (3, 2)])
def test_lagrange_basis_is_nodal_partition_of_unity_with_exact_gradients(dim, degree) -> None:
    el = lagrange(dim, degree)
    nodes = el.reference_nodes()
    assert el.n_dofs == {(2, 1): 3, (2, 2): 6, (3, 1): 4, (3, 2): 10}[(dim, degree)]
    assert torch.allclose(el.shape(nodes), torch.eye(el.n_dofs), atol=1e-15)
    xi = torch.rand(5, dim, generator=torch.Generator().manual_seed(0)) / dim
    assert torch.allclose(el.shape(xi).sum(-1), torch.ones(5), atol=1e-14)
    h = 1e-6
    fd = torch.stack(
        [(el.shape(xi + h * e) - el.shape(xi - h * e)) / (2 * h) for e in torch.eye(dim)], -1
    )
    assert torch.allclose(fd, el.grad(xi), atol=1e-8)


def test_lagrange_degree_is_checked() -> None:
    with pytest.raises(ValueError, match="degree must be 1 or 2"):
        lagrange(2, 3)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_rule_degree_names_the_rule_each_request_gets(dim: int) -> None:
    for degree in range(8):
        exact = rule_degree(degree)
        assert exact >= degree
        for a, b in zip(
            simplex_quadrature(dim, degree), simplex_quadrature(dim, exact), strict=True
        ):
            assert torch.equal(a, b)

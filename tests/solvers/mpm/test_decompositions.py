"""Polar / SVD / spectral decompositions: correctness and finite gradients at F = I."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm.decompositions import det, polar, polar2d, svd, sym_exp, sym_log

OPTS = {"dtype": torch.float64}


def _random_F(dim: int, n: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.eye(dim, **OPTS) + 0.3 * torch.randn(n, dim, dim, generator=gen, **OPTS)


def _degenerate(dim: int) -> torch.Tensor:
    """F = I, a uniform stretch, and a matrix with two equal singular values."""
    eye = torch.eye(dim, **OPTS)
    Q, _ = torch.linalg.qr(
        torch.randn(dim, dim, generator=torch.Generator().manual_seed(1), **OPTS)
    )
    Q = Q * torch.sign(torch.linalg.det(Q))
    s = torch.ones(dim, **OPTS)
    s[-1] = 1.7
    return torch.stack([eye, 1.3 * eye, Q @ torch.diag(s) @ Q.T])


def test_polar2d_is_the_closed_form_atan2_rotation() -> None:
    F = _random_F(2)
    R = polar2d(F)
    theta = torch.atan2(F[:, 1, 0] - F[:, 0, 1], F[:, 0, 0] + F[:, 1, 1])
    assert torch.allclose(R[:, 0, 0], torch.cos(theta), atol=1e-14)
    assert torch.allclose(R[:, 1, 0], torch.sin(theta), atol=1e-14)
    S = R.transpose(-1, -2) @ F
    assert torch.allclose(S, S.transpose(-1, -2), atol=1e-14)


@pytest.mark.parametrize("dim", [2, 3])
def test_svd_reconstructs_F_with_proper_rotations(dim: int) -> None:
    F = _random_F(dim)
    F[0] = F[0] @ torch.diag(torch.tensor([1.0] * (dim - 1) + [-1.0], **OPTS))  # inverted
    U, s, V = svd(F)
    assert torch.allclose(U @ torch.diag_embed(s) @ V.transpose(-1, -2), F, atol=1e-13)
    assert torch.allclose(torch.linalg.det(U), torch.ones(len(F), **OPTS), atol=1e-13)
    assert torch.allclose(torch.linalg.det(V), torch.ones(len(F), **OPTS), atol=1e-13)
    assert s[0, -1] < 0 and (s[1:] > 0).all()


@pytest.mark.parametrize("dim", [2, 3])
def test_svd_backward_matches_finite_differences_at_distinct_singular_values(dim: int) -> None:
    F = _random_F(dim).requires_grad_(True)

    def f(F):
        U, s, V = svd(F)
        return (U.sin() * U).sum(-1), s**3, (V.cos() * V).sum(-1)

    assert torch.autograd.gradcheck(f, (F,))


@pytest.mark.parametrize("dim", [2, 3])
def test_decomposition_gradients_are_finite_and_exact_at_repeated_singular_values(dim: int):
    F = _degenerate(dim).requires_grad_(True)
    U, s, V = svd(F)
    loss = (U * torch.arange(dim * dim, **OPTS).view(dim, dim)).sum() + (V**2).sum() + s.sum()
    (g,) = torch.autograd.grad(loss, F)
    assert torch.isfinite(g).all()
    # The rotation R = U Vᵀ and symmetric functions of σ are smooth there: exact gradients.
    assert torch.autograd.gradcheck(lambda F: polar(F), (F,))
    assert torch.autograd.gradcheck(lambda F: svd(F)[1].sum(-1), (F,))
    assert torch.autograd.gradcheck(lambda F: (svd(F)[1] ** 2).sum(-1), (F,))


@pytest.mark.parametrize("dim", [2, 3])
def test_spectral_functions_have_exact_gradients_at_repeated_eigenvalues(dim: int) -> None:
    F = _degenerate(dim)
    A = (F @ F.transpose(-1, -2)).requires_grad_(True)

    def sym(A):
        return 0.5 * (A + A.transpose(-1, -2))

    assert torch.allclose(sym_exp(sym_log(A)), A, atol=1e-13)
    assert torch.autograd.gradcheck(lambda A: sym_log(sym(A)), (A,))
    assert torch.autograd.gradcheck(lambda A: sym_exp(0.3 * sym(A)), (A,))


@pytest.mark.parametrize("dim", [2, 3])
def test_closed_form_determinant_matches_lu(dim: int) -> None:
    F = _random_F(dim)
    assert torch.allclose(det(F), torch.linalg.det(F), atol=1e-14)

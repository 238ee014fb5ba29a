"""Polar / SVD / spectral decompositions: correctness and finite gradients at F = I."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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


# Tolerances of the 3D Jacobi SVD, relative to ‖F‖₂ (measured worst cases: 1.4e-6 in float32,
# 3e-15 in float64, over 2.4M matrices of the families below).
SVD3_TOL = {torch.float32: 5e-6, torch.float64: 1e-13}


def _rotations(n: int, gen: torch.Generator) -> torch.Tensor:
    Q, _ = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen, **OPTS))
    return Q * torch.sign(torch.linalg.det(Q))[:, None, None]


def _svd3_cases(n: int = 2000, seed: int = 0) -> torch.Tensor:
    """float64 ``(K, 3, 3)``: random, near-identity, ill-conditioned, clustered, rank-deficient,
    reflected and axis-aligned matrices, plus exact special cases (0, ±I, rank one, huge, tiny)."""
    gen = torch.Generator().manual_seed(seed)
    eye = torch.eye(3, **OPTS)
    P, Q = _rotations(n, gen), _rotations(n, gen)
    picks = torch.tensor([1.0, 1 + 1e-3, 1 - 1e-5, 1e-4, 1e-4 * (1 + 1e-4), 1e-8, 0.0, 3.0], **OPTS)
    s_mixed = picks[torch.randint(0, len(picks), (n, 3), generator=gen)]
    s_mixed[::2, 2] *= -1
    s_ill = torch.exp(4 * torch.randn(n, 3, generator=gen, **OPTS))
    s_cluster = 1 + 1e-4 * torch.randn(n, 3, generator=gen, **OPTS)
    s_rank = torch.tensor([[2.0, 1.0, 0.0], [2.0, 0.0, 0.0], [1.0, 1.0, 0.0]], **OPTS)
    families = [
        torch.randn(n, 3, 3, generator=gen, **OPTS),
        eye + 1e-3 * torch.randn(n, 3, 3, generator=gen, **OPTS),
        P @ torch.diag_embed(s_ill) @ Q.mT,
        P @ torch.diag_embed(s_cluster) @ Q.mT,
        P @ torch.diag_embed(s_mixed) @ Q.mT,
        P[:3] @ torch.diag_embed(s_rank) @ Q[:3].mT,
        torch.diag_embed(s_mixed),
        torch.stack(
            [
                torch.zeros(3, 3, **OPTS),
                eye,
                -eye,
                torch.diag(torch.tensor([1.0, 1.0, -1.0], **OPTS)),
                torch.diag(torch.tensor([0.0, 0.0, 3.0], **OPTS)),
                torch.ones(3, 3, **OPTS),
            ]
        ),
        1e30 * torch.randn(10, 3, 3, generator=gen, **OPTS),
        1e-30 * torch.randn(10, 3, 3, generator=gen, **OPTS),
    ]
    return torch.cat(families)


def _check_svd3(F: torch.Tensor, U: torch.Tensor, s: torch.Tensor, V: torch.Tensor) -> None:
    """Reconstruction, orthogonality, conventions and σ against LAPACK (float64 reference)."""
    tol = SVD3_TOL[F.dtype]
    F64, U64, s64, V64 = (x.double() for x in (F, U, s, V))
    norm = torch.linalg.matrix_norm(F64, 2)
    rec = torch.linalg.matrix_norm(U64 @ torch.diag_embed(s64) @ V64.mT - F64, 2)
    assert (rec <= tol * norm).all(), (rec / norm).max()
    eye = torch.eye(3, **OPTS)
    assert (U64.mT @ U64 - eye).abs().max() <= tol
    assert (V64.mT @ V64 - eye).abs().max() <= tol
    assert (det(U64) - 1).abs().max() <= tol and (det(V64) - 1).abs().max() <= tol
    reference = torch.linalg.svdvals(F64)
    assert ((s64.abs() - reference).abs() <= tol * norm[:, None]).all()
    assert (s64[:, :2] >= 0).all()
    assert (s64[:, :-1].abs() >= s64[:, 1:].abs() - tol * norm[:, None]).all()  # descending
    d = det(F64)
    clear = d.abs() > 1e3 * tol * norm**3  # sign of det F resolved in this precision
    assert (torch.sign(s64[clear, 2]) == torch.sign(d[clear])).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_svd3_reconstructs_and_matches_lapack_on_random_and_degenerate_matrices(dtype) -> None:
    F = _svd3_cases().to(dtype)
    _check_svd3(F, *svd(F))


def test_svd3_is_exact_on_the_identity_and_diagonal_matrices() -> None:
    F = torch.diag_embed(torch.tensor([[1.0, 1.0, 1.0], [3.0, 2.0, -1.0], [0.5, 2.0, 1.0]]))
    U, s, V = svd(F)
    assert torch.equal(U[0], torch.eye(3)) and torch.equal(V[0], torch.eye(3))
    assert torch.equal(s, torch.tensor([[1.0, 1.0, 1.0], [3.0, 2.0, -1.0], [2.0, 1.0, 0.5]]))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    sigma=st.lists(st.sampled_from([0.0, 1e-7, 0.5, 1.0, 1.0 + 1e-6, 2.0]), min_size=3, max_size=3),
    reflect=st.booleans(),
    exponent=st.integers(-20, 20),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_svd3_properties_hold_for_repeated_and_zero_singular_values(
    seed: int, sigma: list[float], reflect: bool, exponent: int, dtype: torch.dtype
) -> None:
    gen = torch.Generator().manual_seed(seed)
    P, Q = _rotations(4, gen), _rotations(4, gen)
    s = torch.tensor(sigma, **OPTS) * torch.tensor([1.0, 1.0, -1.0 if reflect else 1.0], **OPTS)
    F = (10.0**exponent * P @ torch.diag(s) @ Q.mT).to(dtype)
    _check_svd3(F, *svd(F))


def test_svd3_shapes_dtypes_and_errors() -> None:
    F = torch.eye(3) + 0.1 * torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    U, s, V = svd(F)
    assert U.shape == V.shape == (2, 4, 3, 3) and s.shape == (2, 4, 3)
    U1, s1, V1 = svd(F[1, 2])
    assert torch.equal(s1, s[1, 2]) and torch.equal(U1, U[1, 2]) and torch.equal(V1, V[1, 2])
    assert svd(F[:0])[1].shape == (0, 4, 3)
    Uh, sh, Vh = svd(F.half())
    assert sh.dtype == torch.float16 and torch.allclose(sh.float(), s, atol=1e-2)
    with pytest.raises(ValueError, match="d in"):
        svd(torch.eye(4))


def _svd_polar(F: torch.Tensor) -> torch.Tensor:
    U, _, V = svd(F)
    return U @ V.mT


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_polar3_newton_matches_the_svd_rotation_and_hands_bad_matrices_to_it(dtype) -> None:
    """3D polar: the scaled Newton iteration agrees with U Vᵀ of the Jacobi SVD to rounding, for
    well-conditioned and ill-conditioned matrices; inverted, singular and zero matrices (and
    non-finite ones) take the SVD's rotation-variant convention exactly."""
    gen = torch.Generator().manual_seed(3)
    F = torch.eye(3, **OPTS) + 0.3 * torch.randn(40, 3, 3, generator=gen, **OPTS)
    F = F[det(F) > 0.05][:30]
    Q = _svd_polar(torch.randn(1, 3, 3, generator=gen, **OPTS))[0]
    ill = (Q @ torch.diag(torch.tensor([1.0, 1e-2, 1e-3], **OPTS)))[None]  # κ = 1e3, det > 0
    flip = torch.diag(torch.tensor([1.0, 1.0, -1.0], **OPTS))
    odd = torch.stack([flip, torch.zeros(3, 3, **OPTS), torch.diag(torch.tensor([1, 1e-9, 1.0]))])
    F = torch.cat([F, ill, odd, F[:2] @ flip]).to(dtype)
    R, reference = polar(F), _svd_polar(F)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert (R - reference).abs().max() <= tol
    assert (R.mT @ R - torch.eye(3, dtype=dtype)).abs().max() <= tol
    assert torch.equal(R[-5:], reference[-5:])  # the matrices handed to the SVD
    bad = torch.full((1, 3, 3), float("nan"), dtype=dtype)
    assert torch.isnan(polar(torch.cat([F, bad]))[-1]).all()
    assert polar(F[:0]).shape == (0, 3, 3)


def test_polar3_gradient_matches_finite_differences_and_the_svd_path() -> None:
    F = _random_F(3, n=8, seed=5)
    F = F[det(F) > 0.05]
    flipped = F[:2] @ torch.diag(torch.tensor([1.0, 1.0, -1.0], **OPTS))
    for case in (F, torch.cat([F, flipped])):  # the second mixes in SVD-handled matrices
        x = case.clone().requires_grad_()
        assert torch.autograd.gradcheck(polar, (x,))
        g = torch.randn(case.shape, generator=torch.Generator().manual_seed(6), **OPTS)
        (a,) = torch.autograd.grad((polar(x) * g).sum(), x)
        (b,) = torch.autograd.grad((_svd_polar(x) * g).sum(), x)
        assert (a - b).abs().max() <= 1e-10
    eye = torch.eye(3, **OPTS).expand(2, 3, 3).clone().requires_grad_()
    (a,) = torch.autograd.grad((polar(eye) * g[:2]).sum(), eye)
    (b,) = torch.autograd.grad((_svd_polar(eye) * g[:2]).sum(), eye)
    assert torch.isfinite(a).all() and (a - b).abs().max() <= 1e-12

"""Polar, singular-value and spectral decompositions with gradients that stay finite at F = I.

The undeformed state ``F = I`` has repeated singular values, where the textbook backward of
``torch.linalg.svd`` / ``eigh`` divides by ``σ_i − σ_j = 0``. Three tools avoid it:

* :func:`polar2d` — the closed-form 2D rotation ``R(θ)``, ``θ = atan2(F₁₀ − F₀₁, F₀₀ + F₁₁)``
  (written as ``cos θ = a/r``, ``sin θ = b/r`` with ``r = √(a² + b²)``): smooth wherever
  ``r > 0``.
* :func:`svd` — a rotation-variant SVD ``F = U diag(σ) Vᵀ`` (``det U = det V = 1``, the sign of
  ``det F`` carried by ``σ_d``) with a custom backward. Writing ``P = Uᵀ δF V = s + a`` (symmetric
  plus skew parts), the infinitesimal rotations are ``Ω_U = s∘D + a∘E`` and ``Ω_V = s∘D − a∘E``
  with ``D_ij = 1/(σ_j − σ_i)``, ``E_ij = 1/(σ_i + σ_j)``. Only ``D`` diverges at repeated
  singular values, and it cancels in ``R = U Vᵀ``; we clamp ``|σ_j − σ_i| ≥ ε`` in ``D`` so that
  the gradient stays finite and the gradient of ``R`` (and of σ) stays exact.
* :func:`sym_function` — ``f(A) = Q f(Λ) Qᵀ`` for symmetric ``A`` with the Daleckii–Krein backward
  ``∇_A = Q (G ∘ Qᵀ ḡ Q) Qᵀ``, ``G_ij = (f(λ_i) − f(λ_j))/(λ_i − λ_j)`` and ``G_ij = f′(λ̄)`` for
  (near-)equal eigenvalues: exact and finite everywhere. Hencky strains ``½ log(F Fᵀ)`` and the
  log-strain return mappings are built from it.

References: Townsend (2016), "Differentiating the singular value decomposition"; Ionescu et al.
(2015), matrix backpropagation; Higham (2008), *Functions of Matrices*, Thm 3.11.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def det(F: torch.Tensor) -> torch.Tensor:
    """``(...)`` determinant of ``(..., d, d)`` matrices, d ∈ {2, 3}, in closed form.

    Several times faster on CPU than the batched LU behind ``torch.linalg.det`` for tiny matrices,
    and its gradient (the cofactor matrix) is finite for singular ``F``.
    """
    if F.shape[-1] == 2:
        return F[..., 0, 0] * F[..., 1, 1] - F[..., 0, 1] * F[..., 1, 0]
    a, b, c = F[..., 0, :], F[..., 1, :], F[..., 2, :]
    cross = torch.stack(
        [
            b[..., 1] * c[..., 2] - b[..., 2] * c[..., 1],
            b[..., 2] * c[..., 0] - b[..., 0] * c[..., 2],
            b[..., 0] * c[..., 1] - b[..., 1] * c[..., 0],
        ],
        -1,
    )
    return (a * cross).sum(-1)


def _rotation2d(c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def polar2d(F: torch.Tensor) -> torch.Tensor:
    """Rotation ``R`` ``(..., 2, 2)`` of the 2D polar decomposition ``F = R S``, ``S`` symmetric."""
    a = F[..., 0, 0] + F[..., 1, 1]
    b = F[..., 1, 0] - F[..., 0, 1]
    r = torch.sqrt(a * a + b * b)
    return _rotation2d(a / r, b / r)


def _eps(dtype: torch.dtype) -> float:
    return 1e-12 if dtype == torch.float64 else 1e-6


def _svd2d(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Closed-form 2D SVD: ``F = R S`` (polar), ``S = V diag(σ) Vᵀ``, ``U = R V``.

    Batched LAPACK calls on 2×2 matrices are slow on CPU; this is a handful of elementwise ops.
    The eigenvector angle of ``S = [[a, b], [b, c]]`` is ``φ = ½ atan2(2b, a − c)``.
    """
    R = polar2d(F)
    sigma, V = _eigh2d(R.transpose(-1, -2) @ F)
    return R @ V, sigma, V


def _eigh2d(S: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (largest first) and rotation eigenvectors of symmetric 2×2 ``S``.

    Closed form for ``S = [[a, b], [b, c]]``: angle ``φ = ½ atan2(2b, a − c)``,
    ``λ = (a+c)/2 ± √(((a−c)/2)² + b²)``.
    """
    a, b, c = S[..., 0, 0], 0.5 * (S[..., 0, 1] + S[..., 1, 0]), S[..., 1, 1]
    phi = 0.5 * torch.atan2(2 * b, a - c)
    Q = _rotation2d(torch.cos(phi), torch.sin(phi))
    mean, radius = 0.5 * (a + c), torch.sqrt((0.5 * (a - c)) ** 2 + b * b)
    return torch.stack([mean + radius, mean - radius], -1), Q


def _eigh(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(λ, Q)`` of symmetric ``A``: closed form in 2D, LAPACK otherwise (forward passes only)."""
    return _eigh2d(A) if A.shape[-1] == 2 else torch.linalg.eigh(A)


class _SafeSVD(torch.autograd.Function):
    @staticmethod
    def forward(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if F.shape[-1] == 2:
            return _svd2d(F)
        U, S, Vh = torch.linalg.svd(F)
        V = Vh.transpose(-1, -2)
        # Make U and V proper rotations; the sign of det F moves to the smallest singular value.
        du = torch.sign(det(U))
        dv = torch.sign(det(V))
        U = U.clone()
        V = V.clone()
        S = S.clone()
        U[..., :, -1] *= du.unsqueeze(-1)
        V[..., :, -1] *= dv.unsqueeze(-1)
        S[..., -1] *= du * dv
        return U, S, V

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001 (torch hook signature)
        ctx.save_for_backward(*output)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gU: torch.Tensor, gS: torch.Tensor, gV: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        U, S, V = ctx.saved_tensors
        eps = _eps(S.dtype)
        si = S.unsqueeze(-1)
        sj = S.unsqueeze(-2)
        diff = sj - si
        summ = si + sj
        off = ~torch.eye(S.shape[-1], dtype=torch.bool, device=S.device)
        safe_diff = torch.where(diff.abs() < eps, torch.where(diff < 0, -eps, eps), diff)
        safe_sum = torch.where(summ.abs() < eps, torch.where(summ < 0, -eps, eps), summ)
        D = torch.where(off, 1.0 / safe_diff, 0.0)
        E = torch.where(off, 1.0 / safe_sum, 0.0)
        Ut, Vt = U.transpose(-1, -2), V.transpose(-1, -2)
        gP = torch.diag_embed(gS)
        if gU is not None or gV is not None:
            MU = Ut @ gU if gU is not None else torch.zeros_like(U)
            MV = Vt @ gV if gV is not None else torch.zeros_like(V)
            A = 0.5 * (MU - MU.transpose(-1, -2))
            B = 0.5 * (MV - MV.transpose(-1, -2))
            # D term acts on the symmetric part of P, E term on the skew part (module docstring).
            sym_term = (A + B) * D
            skew_term = (A - B) * E
            gP = gP + 0.5 * (sym_term + sym_term.transpose(-1, -2)) + skew_term
        return U @ gP @ Vt


def svd(F: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rotation-variant SVD ``F = U diag(σ) Vᵀ`` with a backward finite at repeated ``σ``.

    Parameters
    ----------
    F:
        ``(..., d, d)`` real matrices.

    Returns
    -------
    U, sigma, V:
        ``(..., d, d)`` rotations, ``(..., d)`` singular values in descending order of magnitude
        (the last one negative when ``det F < 0``; in 2D, the eigenvalues of the polar factor
        ``S``, largest first), ``(..., d, d)`` rotations.
    """
    return _SafeSVD.apply(F)


def polar(F: torch.Tensor) -> torch.Tensor:
    """Rotation ``R`` of the polar decomposition ``F = R S``, ``(..., d, d)``, d ∈ {2, 3}.

    2D uses the closed form of :func:`polar2d`; 3D uses ``R = U Vᵀ`` from :func:`svd`, whose
    gradient is exact (the clamped term cancels).
    """
    if F.shape[-1] == 2:
        return polar2d(F)
    U, _, V = svd(F)
    return U @ V.transpose(-1, -2)


class _SymFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, f: Fn, df: Fn) -> torch.Tensor:  # noqa: ANN001
        lam, Q = _eigh(A)
        ctx.save_for_backward(lam, Q)
        ctx.f, ctx.df = f, df
        return Q @ torch.diag_embed(f(lam)) @ Q.transpose(-1, -2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # noqa: ANN001
        lam, Q = ctx.saved_tensors
        fl = ctx.f(lam)
        li, lj = lam.unsqueeze(-1), lam.unsqueeze(-2)
        diff = li - lj
        scale = lam.abs().amax(-1, keepdim=True).unsqueeze(-1).clamp_min(1.0)
        close = diff.abs() <= 1e3 * torch.finfo(lam.dtype).eps * scale
        safe = torch.where(close, torch.ones_like(diff), diff)
        G = torch.where(
            close, ctx.df(0.5 * (li + lj)), (fl.unsqueeze(-1) - fl.unsqueeze(-2)) / safe
        )
        Qt = Q.transpose(-1, -2)
        g = 0.5 * (grad + grad.transpose(-1, -2))
        return Q @ (G * (Qt @ g @ Q)) @ Qt, None, None


def sym_function(A: torch.Tensor, f: Fn, df: Fn) -> torch.Tensor:
    """Spectral function ``Q f(Λ) Qᵀ`` of symmetric ``A`` ``(..., d, d)``.

    ``f`` and ``df`` (its derivative) act elementwise on eigenvalues; they are treated as fixed
    (no learnable parameters inside them). The backward is exact, including at repeated
    eigenvalues (module docstring).
    """
    return _SymFunction.apply(A, f, df)


def sym_log(A: torch.Tensor, floor: float = 0.0) -> torch.Tensor:
    """Matrix logarithm of an SPD matrix; eigenvalues below ``floor`` are raised to it first."""
    tiny = torch.finfo(A.dtype).tiny
    lo = max(floor, tiny)
    return sym_function(
        A,
        lambda x: torch.log(x.clamp_min(lo)),
        lambda x: torch.where(x > lo, 1.0 / x.clamp_min(lo), torch.zeros_like(x)),
    )


def sym_exp(A: torch.Tensor) -> torch.Tensor:
    """Matrix exponential of a symmetric matrix."""
    return sym_function(A, torch.exp, torch.exp)

"""Batched Thomas algorithm against a dense solve."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.fv import solve_tridiagonal


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_a_dense_solve_for_a_diagonally_dominant_batch(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    lower, upper = (torch.rand(4, 12, generator=gen, dtype=dtype) for _ in range(2))
    diag = 3 + torch.rand(4, 12, generator=gen, dtype=dtype)
    rhs = torch.randn(4, 12, generator=gen, dtype=dtype)
    dense = torch.diag_embed(diag) + torch.diag_embed(lower[:, 1:], -1)
    dense = dense + torch.diag_embed(upper[:, :-1], 1)
    expected = torch.linalg.solve(dense, rhs.unsqueeze(-1)).squeeze(-1)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(
        solve_tridiagonal(lower, diag, upper, rhs), expected, atol=tol, rtol=tol
    )


def test_zero_pivot_raises() -> None:
    z = torch.zeros(1, 3)
    with pytest.raises(ZeroDivisionError, match="zero pivot"):
        solve_tridiagonal(z, z, z, torch.ones(1, 3))

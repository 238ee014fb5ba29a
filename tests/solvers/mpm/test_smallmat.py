"""Channel-first storage of tiny matrix batches: products equal ``@`` and keep the layout."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.mpm.smallmat import channel_first, channels, matmul


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matmul_equals_the_batched_product_and_is_stored_channel_first(dim, dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(2, 5, dim, dim, generator=gen).to(dtype)
    b = torch.randn(2, 5, dim, dim, generator=gen).to(dtype)
    tol = 1e-6 if dtype == torch.float32 else 1e-14
    for x, y in ((a, b), (channel_first(a), b), (channel_first(a), channel_first(b))):
        out = matmul(x, y)
        assert out.shape == a.shape and out.dtype == dtype
        assert channels(out).is_contiguous()
        assert (out - a @ b).abs().max() <= tol
        assert (matmul(x, y, transpose_b=True) - a @ b.mT).abs().max() <= tol
    assert (matmul(a[:1], b[1]) - a[:1] @ b[1]).abs().max() <= tol  # batch dims broadcast
    cf = channel_first(a)
    assert torch.equal(cf, a) and channels(cf).is_contiguous() and channel_first(cf) is cf


def test_matmul_is_differentiable() -> None:
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: matmul(x, y, transpose_b=True), (a, b))

"""Packed-key sorting: the NumPy path on CPU gives exactly what torch's sort and unique give."""

from __future__ import annotations

import pytest
import torch

from sciml.solvers.fem.sorting import argsort_keys, unique_keys


@pytest.mark.parametrize(
    "keys",
    [
        torch.randint(0, 50, (1000,), generator=torch.Generator().manual_seed(0)),
        torch.randint(0, 2**40, (7, 3, 3), generator=torch.Generator().manual_seed(1)),
        torch.tensor([5]),
        torch.zeros(0, dtype=torch.long),
    ],
)
def test_unique_keys_equal_torch_unique(keys: torch.Tensor) -> None:
    ours = unique_keys(keys, return_inverse=True, return_counts=True)
    ref = torch.unique(keys, return_inverse=True, return_counts=True)
    assert all(torch.equal(a, b) for a, b in zip(ours, ref, strict=True))
    assert torch.equal(unique_keys(keys), torch.unique(keys))
    uniq, inverse = unique_keys(keys, return_inverse=True)
    assert torch.equal(uniq[inverse], keys)


def test_argsort_keys_sorts() -> None:
    keys = torch.randint(0, 10**12, (5000,), generator=torch.Generator().manual_seed(2))
    order = argsort_keys(keys)
    assert torch.equal(keys[order], keys.sort().values)
    assert torch.equal(order.sort().values, torch.arange(len(keys)))

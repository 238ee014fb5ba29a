"""chamfer_distance: brute-force value, symmetry, invariance to the particle order."""

from __future__ import annotations

import pytest
import torch

from sciml.evaluation.metrics import chamfer_distance
from sciml.registry import METRICS


def test_matches_a_brute_force_reference_and_ignores_the_order() -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 40, 2, generator=gen, dtype=torch.float64)
    target = torch.rand(2, 3, 25, 2, generator=gen, dtype=torch.float64)
    d2 = torch.cdist(pred, target).square()  # (B, T, P, Q)
    expected = d2.min(-1).values.mean(-1) + d2.min(-2).values.mean(-1)
    cd = METRICS.get("chamfer_distance")(pred, target)
    assert cd.shape == (2, 3) and torch.allclose(cd, expected, atol=1e-12)
    assert torch.allclose(chamfer_distance(target, pred), cd, atol=1e-12)
    perm = torch.randperm(40, generator=gen)
    assert torch.allclose(chamfer_distance(pred[:, :, perm], target), cd, atol=1e-12)
    assert torch.equal(chamfer_distance(pred, pred), torch.zeros(2, 3, dtype=torch.float64))


def test_bad_shapes_are_an_error() -> None:
    with pytest.raises(ValueError, match="chamfer_distance: expected"):
        chamfer_distance(torch.rand(2, 3, 4, 2), torch.rand(2, 4, 4, 2))

"""A small diffusion–sorption setting shared by the hard-constraint tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def ds_batch() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"x": 0.2 * torch.rand(2, 16, generator=gen, dtype=torch.float64)}

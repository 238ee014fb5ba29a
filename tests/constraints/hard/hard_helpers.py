"""Basis functions shared by the hard-constraint tests (imported by name, like fem_helpers)."""

from __future__ import annotations

import math

import torch


def smooth_basis(n_batch: int, n_t: int, n_x: int, n_basis: int = 8) -> torch.Tensor:
    """``(B, N, T, X)`` float64 basis: cosines in x times decays in t, varied per sample."""
    t = torch.linspace(0, 1, n_t, dtype=torch.float64)[:, None]
    x = ((torch.arange(n_x, dtype=torch.float64) + 0.5) / n_x)[None]
    funcs = [
        torch.cos(i * math.pi * x) * torch.exp(-j * t)
        for i in range(n_basis // 2)
        for j in range(2)
    ]
    basis = torch.stack(funcs)[None].repeat(n_batch, 1, 1, 1)
    scale = 1 + 0.1 * torch.arange(n_batch, dtype=torch.float64)
    return basis * scale[:, None, None, None]

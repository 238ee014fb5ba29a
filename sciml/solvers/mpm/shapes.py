"""Particle samplers for simple bodies: points on a regular lattice inside a shape.

Each returns ``(P, d)`` positions (m) at spacing ``h``; the matching particle volume is ``h^d``
(NCLaw samples its cube with 10 particles per side, spacing 0.05 m).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _lattice(lo: torch.Tensor, hi: torch.Tensor, spacing: float) -> torch.Tensor:
    axes = [
        torch.arange(float(a) + spacing / 2, float(b), spacing, dtype=lo.dtype)
        for a, b in zip(lo, hi)
    ]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], -1)


def _check(spacing: float, n: int) -> None:
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    if n == 0:
        raise ValueError("the shape contains no lattice point; reduce the spacing")


def box(
    lo: Sequence[float], hi: Sequence[float], spacing: float, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``(P, d)`` cell-centred lattice points in the box ``[lo, hi]``."""
    lo_t = torch.as_tensor(lo, dtype=dtype)
    hi_t = torch.as_tensor(hi, dtype=dtype)
    if lo_t.shape != hi_t.shape or bool((hi_t <= lo_t).any()):
        raise ValueError(f"box needs lo < hi of equal length, got lo={lo}, hi={hi}")
    pts = _lattice(lo_t, hi_t, spacing)
    _check(spacing, len(pts))
    return pts


def ball(
    center: Sequence[float], radius: float, spacing: float, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``(P, d)`` lattice points inside the disk / ball ``|x − center| < radius``."""
    c = torch.as_tensor(center, dtype=dtype)
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    pts = _lattice(c - radius, c + radius, spacing)
    pts = pts[(pts - c).norm(dim=-1) < radius]
    _check(spacing, len(pts))
    return pts

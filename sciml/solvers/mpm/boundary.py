"""Grid boundary conditions of MLS-MPM: domain walls and a (moving) half-space collider.

Conditions act on grid velocities after the momentum update, as in NCLaw and Taichi's MLS-MPM.
For a node with outward wall normal ``n`` (pointing into the obstacle) and velocity ``v``
relative to the obstacle:

* ``"sticky"``: ``v ← 0``;
* ``"slip"``: ``v ← v − (v·n) n`` (free slip, no penetration and no separation);
* ``"separate"``: as ``"slip"`` but only where ``v·n > 0`` (moving into the obstacle), so material
  can leave the wall. Optional Coulomb friction ``μ`` then shrinks the tangential velocity by
  ``μ·(v·n)`` (Stomakhin et al. 2013, §8).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sciml.solvers.mpm.grid import Grid

MODES = ("sticky", "slip", "separate")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown boundary mode {mode!r}; expected one of {MODES}")
    return mode


class Walls:
    """The domain walls: nodes within ``grid.bound`` cells of a face get the condition ``mode``.

    Parameters
    ----------
    mode:
        ``"sticky"``, ``"slip"`` or ``"separate"``.
    """

    def __init__(self, mode: str = "separate") -> None:
        self.mode = _check_mode(mode)

    def __repr__(self) -> str:
        return f"Walls({self.mode!r})"

    def apply(self, grid: Grid, v: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """``(B, n_nodes, d)`` velocities with the wall condition applied."""
        idx = grid.node_multi_index(device=v.device)  # (n_nodes, d)
        lower = idx < grid.bound
        upper = idx > grid.n - grid.bound
        if self.mode == "sticky":
            return torch.where((lower | upper).any(-1, keepdim=True), 0.0, v)
        if self.mode == "slip":
            return torch.where(lower | upper, 0.0, v)
        into = (lower & (v < 0)) | (upper & (v > 0))
        return torch.where(into, 0.0, v)


class HalfSpaceCollider:
    """A rigid half-space ``{y : (y − p(t))·n̂ < 0}`` (a slope, a floor, a moving piston).

    Parameters
    ----------
    point:
        ``(d,)`` a point on the plane at ``t = 0`` (m).
    normal:
        ``(d,)`` normal pointing out of the obstacle into the free region (normalised here).
    velocity:
        ``(d,)`` constant velocity of the obstacle (m/s); ``p(t) = point + t·velocity``.
    mode:
        ``"sticky"``, ``"slip"`` or ``"separate"``.
    friction:
        Coulomb coefficient μ ≥ 0, used with ``"separate"``.
    """

    def __init__(
        self,
        point: Sequence[float],
        normal: Sequence[float],
        *,
        velocity: Sequence[float] | None = None,
        mode: str = "separate",
        friction: float = 0.0,
    ) -> None:
        self.point = torch.as_tensor(point, dtype=torch.float64)
        normal_t = torch.as_tensor(normal, dtype=torch.float64)
        if self.point.shape != normal_t.shape or self.point.dim() != 1:
            raise ValueError(
                f"collider point and normal must be vectors of the same length, got "
                f"{tuple(self.point.shape)} and {tuple(normal_t.shape)}"
            )
        if float(normal_t.norm()) == 0.0:
            raise ValueError("collider normal must be non-zero")
        self.normal = normal_t / normal_t.norm()
        self.velocity = (
            torch.zeros_like(self.point)
            if velocity is None
            else torch.as_tensor(velocity, dtype=torch.float64)
        )
        if self.velocity.shape != self.point.shape:
            raise ValueError(
                f"collider velocity must have shape {tuple(self.point.shape)}, "
                f"got {tuple(self.velocity.shape)}"
            )
        self.mode = _check_mode(mode)
        if friction < 0:
            raise ValueError(f"friction must be >= 0, got {friction}")
        self.friction = friction

    def __repr__(self) -> str:
        return (
            f"HalfSpaceCollider(point={self.point.tolist()}, normal={self.normal.tolist()}, "
            f"mode={self.mode!r})"
        )

    def apply(self, grid: Grid, v: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """``(B, n_nodes, d)`` velocities with the collider condition applied."""
        if self.point.numel() != grid.dim:
            raise ValueError(f"collider is {self.point.numel()}D but the grid is {grid.dim}D")
        opts = {"dtype": v.dtype, "device": v.device}
        n = self.normal.to(**opts)
        vc = self.velocity.to(**opts)
        nodes = grid.node_positions(**opts)  # (n_nodes, d)
        origin = self.point.to(**opts) + time.view(-1, 1) * vc  # (B, d)
        inside = ((nodes.unsqueeze(0) - origin.unsqueeze(1)) @ n) < 0  # (B, n_nodes)
        rel = v - vc
        vn = rel @ n  # (B, n_nodes); < 0 moves into the obstacle (n points out of it)
        if self.mode == "sticky":
            new = torch.zeros_like(rel)
        else:
            tangential = rel - vn.unsqueeze(-1) * n
            if self.mode == "slip":
                new = tangential
            else:
                approaching = vn < 0
                new = torch.where(approaching.unsqueeze(-1), tangential, rel)
                if self.friction > 0:
                    vt = tangential.norm(dim=-1).clamp_min(torch.finfo(v.dtype).tiny)
                    scale = (1 + self.friction * vn / vt).clamp_min(0.0)
                    new = torch.where(approaching.unsqueeze(-1), tangential * scale[..., None], rel)
        return torch.where(inside.unsqueeze(-1), new + vc, v)

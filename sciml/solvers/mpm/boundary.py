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
    friction:
        Coulomb coefficient μ ≥ 0 of the ``"separate"`` walls (module docstring): one number for
        every face, or one ``(lower, upper)`` pair per axis, e.g. ``[(0, 0), (0.3, 0)]`` for a
        rough floor and smooth side walls in 2D. Default 0 (free slip).
    on_plane:
        Put the wall on the plane ``bound·Δx`` from each face: the node layer then includes the
        nodes on that plane and :meth:`limits` keeps particles on its inner side. Default
        ``False``: the layer of Taichi's and NCLaw's MLS-MPM, whose nodes stop one node short of
        that plane, which lets material flow up to a cell past it, where it is squeezed against
        the constrained nodes (a dam break then shows particles behind the wall plane and a
        band with ``J ≈ 0.6`` along the walls; with ``on_plane`` neither).

    A node with index ``I`` lies in the layer of the lower face of axis ``k`` when
    ``I_k < bound`` (``≤`` with ``on_plane``) and of the upper face when ``I_k > n − bound``
    (``≥``); the condition acts on the velocity component ``k`` (all components when sticky).
    The layers are slabs of the node array, so the condition touches only their nodes.
    """

    def __init__(
        self,
        mode: str = "separate",
        *,
        friction: float | Sequence[Sequence[float]] = 0.0,
        on_plane: bool = False,
    ) -> None:
        self.mode = _check_mode(mode)
        self.on_plane = bool(on_plane)
        if isinstance(friction, int | float):
            pairs = None
            values = [float(friction)]
        else:
            pairs = [tuple(float(f) for f in pair) for pair in friction]
            if any(len(pair) != 2 for pair in pairs) or len(pairs) not in (2, 3):
                raise ValueError(
                    "friction must be a number or one (lower, upper) pair per axis, got "
                    f"{friction!r}"
                )
            values = [f for pair in pairs for f in pair]
        if any(not f >= 0 for f in values):
            raise ValueError(f"friction must be >= 0, got {friction!r}")
        if mode != "separate" and any(f > 0 for f in values):
            raise ValueError(
                f"friction applies to mode 'separate' only, got mode {mode!r} with friction "
                f"{friction!r}"
            )
        self.friction = float(friction) if pairs is None else pairs

    def __repr__(self) -> str:
        return f"Walls({self.mode!r}, friction={self.friction!r}, on_plane={self.on_plane})"

    def limits(self, grid: Grid) -> tuple[float, float]:
        """``(lo, hi)`` (m): particle positions are clamped to ``[lo, hi]^d`` after each step —
        the wall planes with ``on_plane``, else one cell from the box faces (``grid.margin``)."""
        lo = grid.bound * grid.dx if self.on_plane else grid.margin
        return lo, grid.size - lo

    def _mu(self, dim: int, axis: int, side: int) -> float:
        if isinstance(self.friction, float):
            return self.friction
        if len(self.friction) != dim:
            raise ValueError(
                f"friction has {len(self.friction)} (lower, upper) pairs but the grid is {dim}D"
            )
        return self.friction[axis][side]

    def apply(self, grid: Grid, v: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """``(B, n_nodes, d)`` velocities with the wall condition applied (``v`` is kept)."""
        return self.apply_(grid, v.clone())

    def apply_(self, grid: Grid, v: torch.Tensor) -> torch.Tensor:
        """Apply the condition in place to ``v`` ``(B, n_nodes, d)`` (any memory layout) and
        return it. Differentiable: the updates are masked fills and copies into views."""
        dim, b = grid.dim, grid.bound + int(self.on_plane)
        nodes = v.unflatten(1, (grid.n + 1,) * dim)  # (B, n+1, …, n+1, d), a view
        for k in range(dim):
            for side, start in ((0, 0), (1, grid.n + 1 - b)):
                slab = nodes.narrow(1 + k, start, b)
                if self.mode == "sticky":
                    slab.zero_()
                    continue
                normal = slab[..., k]
                if self.mode == "slip":
                    normal.zero_()
                    continue
                mu = self._mu(dim, k, side)
                if mu > 0:
                    _coulomb_(slab, k, normal < 0 if side == 0 else normal > 0, mu)
                # v_k ← max(v_k, 0) on the lower face, min(v_k, 0) on the upper one: a clamp,
                # not a masked fill (which is a branchy scalar loop on CPU, several times slower)
                if side == 0:
                    normal.clamp_(min=0.0)
                else:
                    normal.clamp_(max=0.0)
        return v


def _coulomb_(slab: torch.Tensor, k: int, into: torch.Tensor, mu: float) -> None:
    """Shrink the tangential velocity of the nodes ``into`` a face of normal axis ``k`` by
    ``μ |v_k|`` (stopping it if smaller), in place: ``v_t ← v_t max(0, 1 − μ|v_k|/|v_t|)``."""
    d = slab.shape[-1]
    others = [j for j in range(d) if j != k]
    # a copy, so that autograd keeps these values while the slab is updated in place
    comps = torch.stack([slab[..., j] for j in range(d)])
    tangential = comps[others]
    vt = tangential.norm(dim=0).clamp_min(torch.finfo(slab.dtype).tiny)
    scale = (1 - mu * comps[k].abs() / vt).clamp_min(0.0)
    new = tangential * torch.where(into, scale, 1.0)
    for i, j in enumerate(others):
        slab[..., j].copy_(new[i])


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

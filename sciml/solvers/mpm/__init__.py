"""Differentiable MLS-MPM in plain torch (2D and 3D, batched, any device and dtype).

* :mod:`.grid` — background grid and quadratic B-spline stencils;
* :mod:`.state` — the particle state;
* :mod:`.transfer` — APIC P2G / G2P;
* :mod:`.boundary` — wall and collider conditions;
* :mod:`.decompositions` — polar / SVD / spectral functions with safe gradients;
* :mod:`.materials` — constitutive laws (jelly, plasticine, sand, water) and NCLaw's presets;
* :mod:`.shapes` — particle samplers for simple bodies;
* :mod:`.simulator` — ``step`` and ``rollout`` (bounded-memory backprop).
"""

from sciml.solvers.mpm.boundary import HalfSpaceCollider, Walls
from sciml.solvers.mpm.grid import Grid, Stencil
from sciml.solvers.mpm.simulator import (
    CFLError,
    DomainError,
    MPMSimulator,
    NonFiniteStateError,
    Trajectory,
)
from sciml.solvers.mpm.state import MPMState, ParticleArrayError

__all__ = [
    "CFLError",
    "DomainError",
    "Grid",
    "HalfSpaceCollider",
    "MPMSimulator",
    "MPMState",
    "NonFiniteStateError",
    "ParticleArrayError",
    "Stencil",
    "Trajectory",
    "Walls",
]

"""sciml's differentiable MLS-MPM against Taichi's (and NVIDIA Warp's) MLS-MPM on the CPU.

Run from the repository root, on an otherwise idle machine (CPU only; GPUs are hidden)::

    .venv/bin/python benchmarks/mpm_vs_taichi.py --threads 1 --out /tmp/mpm_bench.md  # default
    .venv/bin/python benchmarks/mpm_vs_taichi.py --threads 1 --quick                 # < 1 minute
    .venv/bin/python benchmarks/mpm_vs_taichi.py --no-taichi --no-warp --no-memory  # ours only

Needs ``pip install taichi warp-lang`` (the ``bench`` extra); a missing anchor prints
"not run: reason" instead of numbers.

Flags: ``--quick`` (2D only unless ``--dims`` says otherwise, 20 forward steps, one timed repeat,
50 memory steps; under a minute once Taichi's and Warp's kernel caches are warm -- their first
compilation takes longer), ``--threads K`` (torch intra-op threads *and*
Taichi's ``cpu_max_num_threads``; Warp's CPU kernels are single-threaded; default 1 -- compare
the sides with the same K), ``--repeats R`` (median of R timed runs after one untimed warm-up run,
default 3), ``--steps-2d`` / ``--steps-3d`` (forward steps; forward+backward runs half as many),
``--dims 2 3``, ``--no-taichi``, ``--no-warp``, ``--no-backward``, ``--no-memory``,
``--taichi-backward-3d`` (off by default: building Taichi's 3D autodiff kernels, through its
SVD, did not finish in 10 minutes here), ``--no-water-3d-backward`` (drop the extra 3D
forward+backward row with the water law, on by default whenever 3D and backward run; building
its Taichi autodiff kernels took about 3 minutes here on a cold kernel cache),
``--mem-particles-side 64`` and ``--mem-steps 500`` (the memory part: a 64² block on a 64² grid
for 500 steps), ``--mem-checkpoint 25`` (``checkpoint_every`` of the checkpointed run),
``--mem-max-gib 6`` (skip the memory part's uncheckpointed run if the saved-tensor estimate from a
short run exceeds this), ``--out FILE`` (also write the markdown there).

The problem (identical for every side): a block of particles on a lattice of spacing Δx/2 centred
in the unit box -- 2D: 100 × 100 = 10 000 particles on a 128² grid; 3D: 31³ = 29 791 particles on
a 64³ grid -- jelly (fixed corotated, NCLaw units E = 1e5 Pa, ν = 0.2, ρ = 1e3 kg/m³), particle
volume (Δx/2)^d, initial velocity (1, 0[, 0]) m/s plus a fixed affine field ``A (x − ½)`` (spin
and shear, |v| < 2 m/s: a pure translation would keep F = I and the stress zero), gravity
−9.8 m/s² along the last axis, "separate" walls (3 cells), Δt = 1e-4 s (the CFL limit
Δx / (c + |v|) is 6.4e-4 s in 2D and 1.3e-3 s in 3D, c = 10.5 m/s the P-wave speed), float32.
Every side does the same MLS-MPM step: quadratic B-spline weights, APIC P2G with the
fixed-corotated Kirchhoff stress (polar decomposition: closed form in 2D, SVD in 3D), grid update
``v = mv/m + Δt g`` and walls, G2P of ``v`` and ``C``, ``F ← (I + Δt C) F``,
``x ← clamp(x + Δt v, Δx, 1 − Δx)``.

What is timed: wall clock (``time.perf_counter``) and the process's CPU time
(``time.process_time``, all its threads: steadier than wall time on a shared machine), median of
``--repeats`` rounds after one untimed warm-up run per side that includes all compilation; the
rounds call the sides in turn (interleaved, round-robin, the first side rotating from round to
round), so that a change of load hits every side alike. The table gives, per side, the median
wall and CPU milliseconds per step and the ratios of both.

* forward -- ours: ``MPMSimulator.rollout(state, n, dt=…, save_every=n)`` under ``no_grad``
  (including its per-step finiteness check and the CFL / domain checks at the start); Taichi: one
  fused ``substep`` kernel per step (grid clear, P2G, grid update, G2P, as in Taichi's own
  ``mpm88``/``mpm128`` examples; scatter with atomic adds) on fields updated in place; Warp: grid
  zeroing and three kernels (P2G, grid update, G2P) launched per step on ``device="cpu"``.
* forward + backward -- loss = mean over particles of ``‖x − ½‖²`` at the last step (the
  block's spread about the box centre: it depends on the stress, unlike the centre of mass),
  gradients with respect to Young's modulus E and the initial velocities. Ours: rollout with
  autograd + ``loss.backward()`` (the whole graph kept in memory, no checkpointing). Taichi: its
  source-transformation autodiff (``kernel.grad()``): one set of particle fields per step; the
  grid is not stored per step but recomputed in the backward sweep (clear, P2G, grid update, then
  the ``.grad`` kernels of G2P, grid update and P2G), so Taichi's backward includes one extra
  forward pass (the usual DiffTaichi scheme; ours stores the grid instead). The two gradients are
  compared (relative difference printed).
* forward + backward, 3D, water (no SVD) -- the row "3D 29791 p, 64^3, water (no SVD)": the same
  3D problem, steps, loss and timing as the 3D forward+backward row, but both sides use the weakly
  compressible water law instead of jelly, so that Taichi's 3D autodiff compiles (no SVD): NCLaw's
  preset E = 1e5 Pa, ν = 0.3, ρ = 1e3 kg/m³; Kirchhoff stress ``τ = λ J (J − 1) I`` with
  ``J = det F``, and after each step ``F ← max(J, 1e-6)^(1/3) I`` (ours:
  ``sciml.solvers.mpm.materials.Fluid``; Taichi: the same ``TaichiMPM`` kernels with
  ``material="water"``). The gradient with respect to E goes through ``λ(E, ν)``. Since the
  initial velocity field has divergence tr A = 0.5 /s, J departs from 1 and the pressure is not
  zero. One difference in Taichi's backward for this row: the grid update's adjoint is a
  hand-written kernel (torch's rule for ``mv / m``: ``m̄ = −v̄ · (mv/m) / m``) instead of
  ``grid_op.grad()``, because Taichi's autodiff rule ``m̄ = −v̄ · mv / (m m)`` underflows ``m m``
  to 0 in float32: the 3D block starts exactly on the lattice (fractional offsets 0.5 and 1.0),
  so some stencil weights start at 0 and after one step are ~1e-9, nodes get masses ~1e-29 kg,
  and ``.grad()`` returned NaN gradients. P2G and G2P keep Taichi's autodiff.

Particle-steps/s = particles × steps / median seconds. Ratio = ours / anchor throughput (≥ 1: ours
is faster). The project's goal is forward ≥ 0.5× Taichi on the CPU.

Memory (2D, ``--mem-particles-side``² particles on a 64² grid, ``--mem-steps`` steps, loss on the
final positions, backward to E and v₀), each configuration in a fresh subprocess:

* "saved by autograd": the bytes of the distinct tensors (by storage) that autograd saves for the
  backward pass during the forward, counted with ``torch.autograd.graph.saved_tensors_hooks``.
  With ``checkpoint_every`` the non-reentrant ``torch.utils.checkpoint`` replaces the tensors saved
  inside each segment by recomputation handles, so the hook then counts what checkpointing keeps
  plus the segment-boundary states (the inputs of each segment, added explicitly).
* "peak RSS": the process's high-water resident set size (Linux ``VmHWM``, reset through
  ``/proc/self/clear_refs`` after the setup: imports, initial state, a 2-step forward + backward in
  the same configuration) minus the resident size at that reset, i.e. what forward + backward
  added at peak, including one segment's recomputed graph and the allocator's slack.

Fairness caveats (repeat them next to the numbers): Taichi and Warp compile one fused kernel per
phase and keep every particle's temporaries in registers; ours is eager torch -- each operation
streams whole (S, B·N) arrays through memory, so a step is ~60 kernel launches with intermediate
arrays. Taichi's CPU scatter uses atomic adds even with one thread; Warp's serial CPU kernels
need none. Ours is batched (B scenes in one call) and works on any torch device; the anchors here
run one scene. The machine's other load affects every side: ratios come from one run, sides
interleaved.
"""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _env import cpu_model, version  # noqa: E402  (benchmarks/ is the script's folder)

from sciml.solvers.mpm import Grid, MPMSimulator, MPMState  # noqa: E402
from sciml.solvers.mpm.materials import DENSITY, PRESETS, FixedCorotated, Fluid  # noqa: E402
from sciml.solvers.mpm.shapes import box  # noqa: E402

E_PA, NU = 1e5, 0.2
# (E, ν) per material: "jelly" (fixed corotated, the main rows) and "water" (weakly compressible
# fluid, NCLaw's preset; the extra 3D forward+backward row, whose stress needs no SVD)
MATERIALS = {"jelly": (E_PA, NU), "water": (PRESETS["water"][1]["E"], PRESETS["water"][1]["nu"])}
WATER_MIN_J = 1e-6  # ``Fluid``'s default floor on J in its projection F <- J^(1/d) I
DT = 1e-4
GRAVITY = 9.8
BOUND = 3
PROBLEMS = {2: (128, 100), 3: (64, 31)}  # dim: (grid cells per axis, particles per block side)


# -- problem ------------------------------------------------------------------------------------
@dataclass
class Problem:
    dim: int
    n: int
    side: int
    x0: np.ndarray  # (N, d) float32

    @property
    def dx(self) -> float:
        return 1.0 / self.n

    @property
    def spacing(self) -> float:
        return self.dx / 2

    @property
    def n_particles(self) -> int:
        return self.x0.shape[0]

    @property
    def v0(self) -> np.ndarray:
        """Translation (1, 0[, 0]) m/s plus a spin and shear about the block's centre, so that
        ``C``, ``F`` and the stress are not trivial (a pure translation keeps ``F = I``)."""
        if self.dim == 2:
            A = np.array([[-1.0, -1.5], [2.5, 1.0]])
        else:
            A = np.array([[-1.0, -1.5, 0.5], [2.5, 1.0, 0.0], [0.5, 0.0, 0.5]])
        v = (self.x0 - 0.5) @ A.T.astype(np.float32)
        v[:, 0] += 1.0
        return v.astype(np.float32)


def make_problem(dim: int, n: int, side: int) -> Problem:
    h = 0.5 / n
    lo, hi = [0.5 - side * h / 2] * dim, [0.5 + side * h / 2] * dim
    x = box(lo, hi, h, dtype=torch.float64).to(torch.float32).numpy()
    return Problem(dim, n, side, x)


# -- ours ---------------------------------------------------------------------------------------
def _ours_setup(p: Problem, *, grad: bool, material: str = "jelly"):
    e_pa, nu = MATERIALS[material]
    E = torch.tensor(e_pa, dtype=torch.float32, requires_grad=grad)
    if material == "jelly":
        law = FixedCorotated(E, nu)
    else:
        law = Fluid(E, nu, min_J=WATER_MIN_J)
    sim = MPMSimulator(Grid(p.dim, p.n), law)
    v0 = torch.from_numpy(p.v0).requires_grad_(grad)
    state = MPMState.create(
        torch.from_numpy(p.x0), density=DENSITY, particle_volume=p.spacing**p.dim, v=v0
    )
    return sim, state, E, v0


def ours_forward(p: Problem, steps: int) -> Callable[[], np.ndarray]:
    sim, state, _, _ = _ours_setup(p, grad=False)

    def run() -> np.ndarray:
        with torch.no_grad():
            traj = sim.rollout(state, steps, dt=DT, save_every=steps)
        return traj.state.x[0].numpy()

    return run


def ours_backward(
    p: Problem, steps: int, material: str = "jelly"
) -> Callable[[], tuple[float, np.ndarray]]:
    def run() -> tuple[float, np.ndarray]:
        sim, state, E, v0 = _ours_setup(p, grad=True, material=material)
        traj = sim.rollout(state, steps, dt=DT, save_every=steps)
        loss = ((traj.state.x - 0.5) ** 2).sum(-1).mean()
        loss.backward()
        return float(E.grad), v0.grad.numpy().copy()

    return run


# -- Taichi -------------------------------------------------------------------------------------
class TaichiMPM:
    """MLS-MPM in Taichi, written to match ``sciml.solvers.mpm`` step for step (see docstring).

    ``material``: "jelly" (fixed corotated, as ``FixedCorotated``) or "water" (as ``Fluid``:
    ``τ = λ J (J − 1) I`` and ``F ← max(J, min_J)^(1/d) I`` after each step; no SVD)."""

    def __init__(  # noqa: ANN001
        self, ti, p: Problem, *, grad_steps: int = 0, material: str = "jelly"
    ) -> None:
        self.ti, self.p = ti, p
        dim, n, f32 = p.dim, p.n, ti.f32
        dx, inv_dx = p.dx, float(p.n)
        vol = p.spacing**dim
        mass = DENSITY * vol
        e_pa, nu = MATERIALS[material]
        self.e_pa = e_pa
        mu0, lam0 = e_pa / (2 * (1 + nu)), e_pa * nu / ((1 + nu) * (1 - 2 * nu))
        nodes = (n + 1,) * dim
        N = p.n_particles
        stencil = ti.static(ti.ndrange(*((3,) * dim)))

        # ---- forward only: fields updated in place, one fused kernel per step ----
        x = ti.Vector.field(dim, f32, N)
        v = ti.Vector.field(dim, f32, N)
        C = ti.Matrix.field(dim, dim, f32, N)
        F = ti.Matrix.field(dim, dim, f32, N)
        gv = ti.Vector.field(dim, f32, nodes)
        gm = ti.field(f32, nodes)
        self.x, self.v, self.C, self.F = x, v, C, F

        @ti.func
        def weights(xp):
            Xp = xp * inv_dx
            base = ti.cast(ti.floor(Xp - 0.5), ti.i32)
            fx = Xp - base
            w = [0.5 * (1.5 - fx) ** 2, 0.75 - (fx - 1.0) ** 2, 0.5 * (fx - 0.5) ** 2]
            return base, fx, w

        @ti.func
        def kirchhoff_jelly(Fp, mu, lam):
            R, _ = ti.polar_decompose(Fp)
            J = Fp.determinant()
            return 2 * mu * (Fp - R) @ Fp.transpose() + ti.Matrix.identity(f32, dim) * lam * J * (
                J - 1
            )

        @ti.func
        def kirchhoff_water(Fp, mu, lam):
            J = Fp.determinant()
            return ti.Matrix.identity(f32, dim) * lam * J * (J - 1)

        @ti.func
        def project_jelly(Fp):
            return Fp

        @ti.func
        def project_water(Fp):
            J = ti.max(Fp.determinant(), WATER_MIN_J)
            return ti.Matrix.identity(f32, dim) * ti.pow(J, 1.0 / dim)

        if material == "jelly":
            kirchhoff, project = kirchhoff_jelly, project_jelly
        elif material == "water":
            kirchhoff, project = kirchhoff_water, project_water
        else:
            raise ValueError(f"unknown material {material!r}")

        @ti.func
        def grid_update(I, mv, m):
            vv = ti.Vector.zero(f32, dim)
            if m > 0:
                vv = mv / m
            vv[dim - 1] -= DT * GRAVITY
            for k in ti.static(range(dim)):
                if I[k] < BOUND and vv[k] < 0:
                    vv[k] = 0
                if I[k] > n - BOUND and vv[k] > 0:
                    vv[k] = 0
            return vv

        @ti.kernel
        def substep():
            for I in ti.grouped(gm):
                gv[I] = ti.Vector.zero(f32, dim)
                gm[I] = 0.0
            for q in x:
                base, fx, w = weights(x[q])
                tau = kirchhoff(F[q], mu0, lam0)
                affine = (-DT * vol * 4 * inv_dx * inv_dx) * tau + mass * C[q]
                for off in ti.static(ti.grouped(stencil)):
                    dpos = (off - fx) * dx
                    weight = 1.0
                    for k in ti.static(range(dim)):
                        weight *= w[off[k]][k]
                    gv[base + off] += weight * (mass * v[q] + affine @ dpos)
                    gm[base + off] += weight * mass
            for I in ti.grouped(gm):
                gv[I] = grid_update(I, gv[I], gm[I])
            for q in x:
                base, fx, w = weights(x[q])
                nv = ti.Vector.zero(f32, dim)
                nC = ti.Matrix.zero(f32, dim, dim)
                for off in ti.static(ti.grouped(stencil)):
                    dpos = (off - fx) * dx
                    weight = 1.0
                    for k in ti.static(range(dim)):
                        weight *= w[off[k]][k]
                    g = gv[base + off]
                    nv += weight * g
                    nC += 4 * inv_dx * inv_dx * weight * g.outer_product(dpos)
                v[q] = nv
                C[q] = nC
                F[q] = project((ti.Matrix.identity(f32, dim) + DT * nC) @ F[q])
                x[q] = ti.math.clamp(x[q] + DT * nv, dx, 1 - dx)

        self.substep = substep
        if not grad_steps:
            return

        # ---- forward + backward: one set of particle fields per step, grid recomputed ----
        T = grad_steps
        xs = ti.Vector.field(dim, f32, (T + 1, N), needs_grad=True)
        vs = ti.Vector.field(dim, f32, (T + 1, N), needs_grad=True)
        Cs = ti.Matrix.field(dim, dim, f32, (T + 1, N), needs_grad=True)
        Fs = ti.Matrix.field(dim, dim, f32, (T + 1, N), needs_grad=True)
        gvi = ti.Vector.field(dim, f32, nodes, needs_grad=True)
        gvo = ti.Vector.field(dim, f32, nodes, needs_grad=True)
        gmi = ti.field(f32, nodes, needs_grad=True)
        Ef = ti.field(f32, (), needs_grad=True)
        # the step index travels in a field: with postponed annotations (PEP 563) a kernel
        # cannot declare a ``ti.i32`` argument
        step = ti.field(ti.i32, ())
        loss = ti.field(f32, (), needs_grad=True)
        self.xs, self.vs, self.Cs, self.Fs, self.Ef, self.loss = xs, vs, Cs, Fs, Ef, loss
        self.T = T

        @ti.kernel
        def clear_grid():
            for I in ti.grouped(gmi):
                gvi[I] = ti.Vector.zero(f32, dim)
                gmi[I] = 0.0

        @ti.kernel
        def clear_grid_grad():
            for I in ti.grouped(gmi):
                gvi.grad[I] = ti.Vector.zero(f32, dim)
                gvo.grad[I] = ti.Vector.zero(f32, dim)
                gmi.grad[I] = 0.0

        @ti.kernel
        def p2g():
            for q in range(N):
                s = step[None]
                E = Ef[None]
                mu, lam = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
                base, fx, w = weights(xs[s, q])
                tau = kirchhoff(Fs[s, q], mu, lam)
                affine = (-DT * vol * 4 * inv_dx * inv_dx) * tau + mass * Cs[s, q]
                for off in ti.static(ti.grouped(stencil)):
                    dpos = (off - fx) * dx
                    weight = 1.0
                    for k in ti.static(range(dim)):
                        weight *= w[off[k]][k]
                    gvi[base + off] += weight * (mass * vs[s, q] + affine @ dpos)
                    gmi[base + off] += weight * mass

        @ti.kernel
        def grid_op():
            for I in ti.grouped(gmi):
                gvo[I] = grid_update(I, gvi[I], gmi[I])

        @ti.kernel
        def g2p():
            for q in range(N):
                s = step[None]
                base, fx, w = weights(xs[s, q])
                nv = ti.Vector.zero(f32, dim)
                nC = ti.Matrix.zero(f32, dim, dim)
                for off in ti.static(ti.grouped(stencil)):
                    dpos = (off - fx) * dx
                    weight = 1.0
                    for k in ti.static(range(dim)):
                        weight *= w[off[k]][k]
                    g = gvo[base + off]
                    nv += weight * g
                    nC += 4 * inv_dx * inv_dx * weight * g.outer_product(dpos)
                vs[s + 1, q] = nv
                Cs[s + 1, q] = nC
                Fs[s + 1, q] = project((ti.Matrix.identity(f32, dim) + DT * nC) @ Fs[s, q])
                xs[s + 1, q] = ti.math.clamp(xs[s, q] + DT * nv, dx, 1 - dx)

        @ti.kernel
        def compute_loss():
            for q in range(N):
                loss[None] += (xs[T, q] - 0.5).norm_sqr() / N

        @ti.kernel
        def grid_op_adjoint():
            # hand-written adjoint of grid_op, used for the water row (see the module docstring):
            # Taichi's autodiff rule for a / b, -ā a / (b b), underflows b b to 0 in float32 at
            # nodes with a tiny mass (~1e-29 kg) and returns inf / NaN; this is torch's rule,
            # -ā (a / b) / b, with the same wall masks as the forward
            for I in ti.grouped(gmi):
                m = gmi[I]
                if m > 0:
                    v_free = gvi[I] / m
                    vv = v_free
                    vv[dim - 1] -= DT * GRAVITY
                    adj = gvo.grad[I]
                    for k in ti.static(range(dim)):
                        if I[k] < BOUND and vv[k] < 0:
                            adj[k] = 0
                        if I[k] > n - BOUND and vv[k] > 0:
                            adj[k] = 0
                    gvi.grad[I] += adj / m
                    gmi.grad[I] -= adj.dot(v_free) / m

        self.step = step
        self._grid_op_backward = grid_op_adjoint if material == "water" else grid_op.grad
        self._grad_kernels = (clear_grid, clear_grid_grad, p2g, grid_op, g2p, compute_loss)

    def init(self) -> None:
        p, dim, N = self.p, self.p.dim, self.p.n_particles
        self.x.from_numpy(p.x0)
        self.v.from_numpy(p.v0)
        self.C.from_numpy(np.zeros((N, dim, dim), np.float32))
        self.F.from_numpy(np.tile(np.eye(dim, dtype=np.float32), (N, 1, 1)))

    def forward(self, steps: int) -> np.ndarray:
        self.init()
        for _ in range(steps):
            self.substep()
        self.ti.sync()
        return self.x.to_numpy()

    def forward_backward(self) -> tuple[float, np.ndarray]:
        clear_grid, clear_grid_grad, p2g, grid_op, g2p, compute_loss = self._grad_kernels
        p, dim, N, T = self.p, self.p.dim, self.p.n_particles, self.T
        xs0 = np.zeros((T + 1, N, dim), np.float32)
        xs0[0] = p.x0
        vs0 = np.zeros_like(xs0)
        vs0[0] = p.v0
        Fs0 = np.zeros((T + 1, N, dim, dim), np.float32)
        Fs0[0] = np.eye(dim, dtype=np.float32)
        self.xs.from_numpy(xs0)
        self.vs.from_numpy(vs0)
        self.Fs.from_numpy(Fs0)
        self.Cs.fill(0)
        self.Ef[None] = self.e_pa
        self.loss[None] = 0
        for field_ in (self.xs, self.vs, self.Cs, self.Fs):
            field_.grad.fill(0)
        self.Ef.grad[None] = 0
        for s in range(T):
            self.step[None] = s
            clear_grid()
            p2g()
            grid_op()
            g2p()
        compute_loss()
        self.loss.grad[None] = 1
        compute_loss.grad()
        for s in reversed(range(T)):
            self.step[None] = s
            clear_grid()  # recompute this step's grid
            p2g()
            grid_op()
            clear_grid_grad()
            g2p.grad()
            self._grid_op_backward()
            p2g.grad()
        self.ti.sync()
        return float(self.Ef.grad[None]), self.vs.grad.to_numpy()[0]


def taichi_import(threads: int):
    import taichi as ti

    ti.init(arch=ti.cpu, cpu_max_num_threads=threads, default_fp=ti.f32, log_level=ti.WARN)
    return ti


# -- Warp ---------------------------------------------------------------------------------------
class WarpMPM:
    """The same step in NVIDIA Warp (forward only): three kernels per step on ``device="cpu"``."""

    def __init__(self, wp, p: Problem) -> None:  # noqa: ANN001
        self.wp, self.p = wp, p
        dim, n = p.dim, p.n
        dx, inv_dx = p.dx, float(p.n)
        vol = p.spacing**dim
        mass = DENSITY * vol
        mu0, lam0 = E_PA / (2 * (1 + NU)), E_PA * NU / ((1 + NU) * (1 - 2 * NU))
        self.kernels = _warp_kernels(wp, dim, n, dx, inv_dx, vol, mass, mu0, lam0)
        N = p.n_particles
        vec, mat = (wp.vec2, wp.mat22) if dim == 2 else (wp.vec3, wp.mat33)
        self.x = wp.zeros(N, dtype=vec, device="cpu")
        self.v = wp.zeros(N, dtype=vec, device="cpu")
        self.C = wp.zeros(N, dtype=mat, device="cpu")
        self.F = wp.zeros(N, dtype=mat, device="cpu")
        shape = (n + 1,) * dim
        self.gv = wp.zeros(shape, dtype=vec, device="cpu")
        self.gm = wp.zeros(shape, dtype=float, device="cpu")

    def forward(self, steps: int) -> np.ndarray:
        wp, p, dim = self.wp, self.p, self.p.dim
        N = p.n_particles
        self.x.assign(p.x0)
        self.v.assign(p.v0)
        self.C.assign(np.zeros((N, dim, dim), np.float32))
        self.F.assign(np.tile(np.eye(dim, dtype=np.float32), (N, 1, 1)))
        p2g, grid_op, g2p = self.kernels
        shape = self.gm.shape
        for _ in range(steps):
            self.gv.zero_()
            self.gm.zero_()
            wp.launch(p2g, dim=N, inputs=[self.x, self.v, self.C, self.F, self.gv, self.gm])
            wp.launch(grid_op, dim=shape, inputs=[self.gv, self.gm])
            wp.launch(g2p, dim=N, inputs=[self.x, self.v, self.C, self.F, self.gv])
        wp.synchronize()
        return self.x.numpy()


def _warp_kernels(wp, dim, n, dx, inv_dx, vol, mass, mu0, lam0):  # noqa: ANN001, ANN202
    """Warp kernels for one dimension (closures over the constants; 2D and 3D differ in types)."""
    c_aff = -DT * vol * 4 * inv_dx * inv_dx
    c_apic = 4 * inv_dx * inv_dx
    lo, hi = dx, 1.0 - dx

    @wp.func  # quadratic B-spline weight of node offset i at fractional position f
    def bspline(f: float, i: int) -> float:
        if i == 0:
            return 0.5 * (1.5 - f) * (1.5 - f)
        if i == 1:
            return 0.75 - (f - 1.0) * (f - 1.0)
        return 0.5 * (f - 0.5) * (f - 0.5)

    if dim == 2:

        @wp.kernel
        def p2g(
            x: wp.array(dtype=wp.vec2),
            v: wp.array(dtype=wp.vec2),
            C: wp.array(dtype=wp.mat22),
            F: wp.array(dtype=wp.mat22),
            gv: wp.array2d(dtype=wp.vec2),
            gm: wp.array2d(dtype=float),
        ):
            q = wp.tid()
            Xp = x[q] * inv_dx
            bi = int(wp.floor(Xp[0] - 0.5))
            bj = int(wp.floor(Xp[1] - 0.5))
            fx = Xp - wp.vec2(float(bi), float(bj))
            Fp = F[q]
            U = wp.mat22()
            S = wp.vec2()
            V = wp.mat22()
            wp.svd2(Fp, U, S, V)
            R = U * wp.transpose(V)
            J = wp.determinant(Fp)
            tau = 2.0 * mu0 * (Fp - R) * wp.transpose(Fp) + wp.identity(2, float) * (
                lam0 * J * (J - 1.0)
            )
            affine = c_aff * tau + mass * C[q]
            mv = mass * v[q]
            for i in range(3):
                wi = bspline(fx[0], i)
                for j in range(3):
                    weight = wi * bspline(fx[1], j)
                    dpos = (wp.vec2(float(i), float(j)) - fx) * dx
                    wp.atomic_add(gv, bi + i, bj + j, weight * (mv + affine * dpos))
                    wp.atomic_add(gm, bi + i, bj + j, weight * mass)

        @wp.kernel
        def grid_op(gv: wp.array2d(dtype=wp.vec2), gm: wp.array2d(dtype=float)):
            i, j = wp.tid()
            vv = wp.vec2()
            m = gm[i, j]
            if m > 0.0:
                vv = gv[i, j] / m
            vv = vv + wp.vec2(0.0, -DT * GRAVITY)
            idx = wp.vec2i(i, j)
            for a in range(2):
                if idx[a] < BOUND and vv[a] < 0.0:
                    vv[a] = 0.0
                if idx[a] > n - BOUND and vv[a] > 0.0:
                    vv[a] = 0.0
            gv[i, j] = vv

        @wp.kernel
        def g2p(
            x: wp.array(dtype=wp.vec2),
            v: wp.array(dtype=wp.vec2),
            C: wp.array(dtype=wp.mat22),
            F: wp.array(dtype=wp.mat22),
            gv: wp.array2d(dtype=wp.vec2),
        ):
            q = wp.tid()
            Xp = x[q] * inv_dx
            bi = int(wp.floor(Xp[0] - 0.5))
            bj = int(wp.floor(Xp[1] - 0.5))
            fx = Xp - wp.vec2(float(bi), float(bj))
            nv = wp.vec2()
            nC = wp.mat22()
            for i in range(3):
                wi = bspline(fx[0], i)
                for j in range(3):
                    weight = wi * bspline(fx[1], j)
                    dpos = (wp.vec2(float(i), float(j)) - fx) * dx
                    g = gv[bi + i, bj + j]
                    nv = nv + weight * g
                    nC = nC + (c_apic * weight) * wp.outer(g, dpos)
            v[q] = nv
            C[q] = nC
            F[q] = (wp.identity(2, float) + DT * nC) * F[q]
            xn = x[q] + DT * nv
            x[q] = wp.vec2(wp.clamp(xn[0], lo, hi), wp.clamp(xn[1], lo, hi))

        return p2g, grid_op, g2p

    @wp.kernel
    def p2g3(
        x: wp.array(dtype=wp.vec3),
        v: wp.array(dtype=wp.vec3),
        C: wp.array(dtype=wp.mat33),
        F: wp.array(dtype=wp.mat33),
        gv: wp.array3d(dtype=wp.vec3),
        gm: wp.array3d(dtype=float),
    ):
        q = wp.tid()
        Xp = x[q] * inv_dx
        bi = int(wp.floor(Xp[0] - 0.5))
        bj = int(wp.floor(Xp[1] - 0.5))
        bk = int(wp.floor(Xp[2] - 0.5))
        fx = Xp - wp.vec3(float(bi), float(bj), float(bk))
        Fp = F[q]
        U = wp.mat33()
        S = wp.vec3()
        V = wp.mat33()
        wp.svd3(Fp, U, S, V)
        R = U * wp.transpose(V)
        J = wp.determinant(Fp)
        tau = 2.0 * mu0 * (Fp - R) * wp.transpose(Fp) + wp.identity(3, float) * (
            lam0 * J * (J - 1.0)
        )
        affine = c_aff * tau + mass * C[q]
        mv = mass * v[q]
        for i in range(3):
            wi = bspline(fx[0], i)
            for j in range(3):
                wj = wi * bspline(fx[1], j)
                for k in range(3):
                    weight = wj * bspline(fx[2], k)
                    dpos = (wp.vec3(float(i), float(j), float(k)) - fx) * dx
                    wp.atomic_add(gv, bi + i, bj + j, bk + k, weight * (mv + affine * dpos))
                    wp.atomic_add(gm, bi + i, bj + j, bk + k, weight * mass)

    @wp.kernel
    def grid_op3(gv: wp.array3d(dtype=wp.vec3), gm: wp.array3d(dtype=float)):
        i, j, k = wp.tid()
        vv = wp.vec3()
        m = gm[i, j, k]
        if m > 0.0:
            vv = gv[i, j, k] / m
        vv = vv + wp.vec3(0.0, 0.0, -DT * GRAVITY)
        idx = wp.vec3i(i, j, k)
        for a in range(3):
            if idx[a] < BOUND and vv[a] < 0.0:
                vv[a] = 0.0
            if idx[a] > n - BOUND and vv[a] > 0.0:
                vv[a] = 0.0
        gv[i, j, k] = vv

    @wp.kernel
    def g2p3(
        x: wp.array(dtype=wp.vec3),
        v: wp.array(dtype=wp.vec3),
        C: wp.array(dtype=wp.mat33),
        F: wp.array(dtype=wp.mat33),
        gv: wp.array3d(dtype=wp.vec3),
    ):
        q = wp.tid()
        Xp = x[q] * inv_dx
        bi = int(wp.floor(Xp[0] - 0.5))
        bj = int(wp.floor(Xp[1] - 0.5))
        bk = int(wp.floor(Xp[2] - 0.5))
        fx = Xp - wp.vec3(float(bi), float(bj), float(bk))
        nv = wp.vec3()
        nC = wp.mat33()
        for i in range(3):
            wi = bspline(fx[0], i)
            for j in range(3):
                wj = wi * bspline(fx[1], j)
                for k in range(3):
                    weight = wj * bspline(fx[2], k)
                    dpos = (wp.vec3(float(i), float(j), float(k)) - fx) * dx
                    g = gv[bi + i, bj + j, bk + k]
                    nv = nv + weight * g
                    nC = nC + (c_apic * weight) * wp.outer(g, dpos)
        v[q] = nv
        C[q] = nC
        F[q] = (wp.identity(3, float) + DT * nC) * F[q]
        xn = x[q] + DT * nv
        x[q] = wp.vec3(wp.clamp(xn[0], lo, hi), wp.clamp(xn[1], lo, hi), wp.clamp(xn[2], lo, hi))

    return p2g3, grid_op3, g2p3


def warp_import():
    import warp as wp

    wp.config.quiet = True
    wp.init()
    return wp


# -- timing rows --------------------------------------------------------------------------------
@dataclass
class Row:
    dim: int
    particles: int
    grid: int
    steps: int
    kind: str  # "forward" or "forward+backward"
    wall: dict[str, float | None] = field(default_factory=dict)  # side -> median wall seconds
    cpu: dict[str, float | None] = field(default_factory=dict)  # side -> median CPU seconds
    notes: dict[str, str] = field(default_factory=dict)  # side -> "not run: ..."
    check: str = ""
    label: str = ""  # appended to the problem column, e.g. ", water (no SVD)"

    def rate(self, side: str, clock: str = "wall") -> float | None:
        t = (self.wall if clock == "wall" else self.cpu).get(side)
        return None if not t else self.particles * self.steps / t


def _fail(row: Row, side: str, exc: Exception) -> None:
    row.wall[side] = row.cpu[side] = None
    row.notes[side] = f"not run: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    print(f"  {side}: {row.notes[side]}", file=sys.stderr, flush=True)


def _time_sides(row: Row, sides: dict[str, Callable[[], object]], repeats: int) -> dict:
    """One untimed warm-up call per side, then ``repeats`` rounds that call every side in turn
    (interleaved, so that a change in the machine's load hits all sides alike; the first side
    rotates from round to round, so that none always runs right after another). Stores the median
    wall time (``perf_counter``) and process CPU time (``process_time``) of each side in ``row``
    and returns each side's last result; a side that raises is reported, not fatal."""
    out: dict[str, object] = {}
    for side, fn in list(sides.items()):
        try:
            out[side] = fn()
        except Exception as exc:  # an anchor that fails to build or run
            _fail(row, side, exc)
            del sides[side]
    walls: dict[str, list[float]] = {side: [] for side in sides}
    cpus: dict[str, list[float]] = {side: [] for side in sides}
    for k in range(repeats):
        order = list(sides.items())
        for side, fn in order[k % len(order) :] + order[: k % len(order)]:
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                out[side] = fn()
                walls[side].append(time.perf_counter() - t0)
                cpus[side].append(time.process_time() - c0)
            except Exception as exc:
                _fail(row, side, exc)
                del sides[side]
                out.pop(side, None)
    for side in sides:
        row.wall[side] = statistics.median(walls[side])
        row.cpu[side] = statistics.median(cpus[side])
    return out


def forward_row(p: Problem, steps: int, args: argparse.Namespace, ti, wp) -> Row:  # noqa: ANN001
    row = Row(p.dim, p.n_particles, p.n, steps, "forward")
    sides: dict[str, Callable[[], object]] = {"ours": ours_forward(p, steps)}
    if ti is None:
        row.notes["taichi"] = args.taichi_reason
    else:
        try:
            solver = TaichiMPM(ti, p)
            sides["taichi"] = lambda: solver.forward(steps)
        except Exception as exc:
            _fail(row, "taichi", exc)
    if wp is None:
        row.notes["warp"] = args.warp_reason
    else:
        try:
            wsolver = WarpMPM(wp, p)
            sides["warp"] = lambda: wsolver.forward(steps)
        except Exception as exc:
            _fail(row, "warp", exc)
    out = _time_sides(row, sides, args.repeats)
    diffs = [
        f"{side} {np.abs(out['ours'] - x).max():.1e}"
        for side, x in out.items()
        if side != "ours" and "ours" in out
    ]
    row.check = "max abs diff of final x vs ours (m): " + (", ".join(diffs) or "—")
    return row


def backward_row(  # noqa: ANN001
    p: Problem, steps: int, args: argparse.Namespace, ti, material: str = "jelly"
) -> Row:
    label = "" if material == "jelly" else f", {material} (no SVD)"
    row = Row(p.dim, p.n_particles, p.n, steps, "forward+backward", label=label)
    sides: dict[str, Callable[[], object]] = {"ours": ours_backward(p, steps, material)}
    row.notes["warp"] = "not run: forward only (Warp's tape not wired up here)"
    if ti is None:
        row.notes["taichi"] = args.taichi_reason
    elif p.dim == 3 and material == "jelly" and not args.taichi_backward_3d:
        row.notes["taichi"] = (
            "not run: compiling Taichi's autodiff kernels through its 3D SVD did not finish in "
            "10 minutes on the reference machine (--taichi-backward-3d to try)"
        )
    else:
        try:
            solver = TaichiMPM(ti, p, grad_steps=steps, material=material)
            sides["taichi"] = solver.forward_backward
        except Exception as exc:
            _fail(row, "taichi", exc)
    out = _time_sides(row, sides, args.repeats)
    if "ours" in out and "taichi" in out:
        (e_o, v_o), (e_t, v_t) = out["ours"], out["taichi"]
        rel_e = abs(e_o - e_t) / max(abs(e_t), 1e-30)
        rel_v = np.abs(v_o - v_t).max() / max(np.abs(v_t).max(), 1e-30)
        row.check = (
            f"dL/dE ours {e_o:.4e} vs taichi {e_t:.4e} (rel diff {rel_e:.1e}); dL/dv0 max "
            f"rel diff {rel_v:.1e}"
        )
    return row


# -- memory (subprocess per configuration) ------------------------------------------------------
def _proc_status_mib(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1]) / 1024.0  # kB
    raise OSError(f"{key} not in /proc/self/status")


def _reset_peak_rss() -> float:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``) and return the
    current RSS in MiB. (``ru_maxrss`` is no use here: it keeps the parent's peak across exec.)"""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _proc_status_mib("VmRSS")
    except OSError:
        return _proc_status_mib("VmHWM")


def memory_child(spec: dict) -> dict:
    """Run one forward+backward in this (fresh) process and report saved bytes and peak RSS."""
    torch.set_num_threads(spec["threads"])
    side, steps, ck = spec["side"], spec["steps"], spec["checkpoint"]
    p = make_problem(2, 64, side)
    sim, state, E, v0 = _ours_setup(p, grad=True)
    # warm-up: 2 steps forward + backward in the same configuration (the first checkpointed call
    # pays a one-time import of several seconds and some resident memory)
    warm = sim.rollout(state, 2, dt=DT, checkpoint_every=None if ck is None else 1)
    ((warm.state.x - 0.5) ** 2).sum(-1).mean().backward()
    E.grad = v0.grad = None
    base_rss = _reset_peak_rss()
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided and t.device.type == "cpu" and t.untyped_storage().nbytes():
            s = t.untyped_storage()
            seen[(s.data_ptr(), s.nbytes())] = s.nbytes()
        return t

    t0 = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        traj = sim.rollout(state, steps, dt=DT, save_every=steps, checkpoint_every=ck)
        loss = ((traj.state.x - 0.5) ** 2).sum(-1).mean()
    saved = sum(seen.values())
    if ck is not None:  # segment-boundary states kept by checkpoint as recomputation inputs
        per_state = sum(t.numel() * t.element_size() for t in state.tensors())
        saved += per_state * ((steps + ck - 1) // ck)
    loss.backward()
    elapsed = time.perf_counter() - t0
    return {
        "saved_mib": saved / 2**20,
        "rss_mib": _proc_status_mib("VmHWM") - base_rss,
        "seconds": elapsed,
        "dE": float(E.grad),
        "dv0": v0.grad.abs().sum().item(),
    }


def _run_child(spec: dict) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_rows(args: argparse.Namespace) -> list[tuple[str, dict | str]]:
    side, steps, ck = args.mem_particles_side, args.mem_steps, args.mem_checkpoint
    base = {"threads": args.threads, "side": side}
    rows: list[tuple[str, dict | str]] = []
    probe_steps = min(20, steps)
    estimate_gib = 0.0
    if steps > 100:  # estimate the uncheckpointed run's memory from a short one first
        probe = _run_child({**base, "steps": probe_steps, "checkpoint": None})
        estimate_gib = probe["saved_mib"] * steps / probe_steps / 1024
    if estimate_gib > args.mem_max_gib:
        rows.append(
            (
                "none",
                f"not run: about {estimate_gib:.1f} GiB saved (from {probe_steps} steps) > "
                f"--mem-max-gib {args.mem_max_gib}",
            )
        )
    else:
        rows.append(("none", _run_child({**base, "steps": steps, "checkpoint": None})))
    rows.append((str(ck), _run_child({**base, "steps": steps, "checkpoint": ck})))
    return rows


# -- report -------------------------------------------------------------------------------------
def _fmt_rate(r: float | None) -> str:
    return "—" if r is None else f"{r / 1e6:.3g} M"


def render(header: list[str], rows: list[Row], mem, args: argparse.Namespace) -> str:  # noqa: ANN001
    lines = list(header) + [
        "",
        "### Particle-steps per second (median; ratio = ours / anchor, ≥ 1: ours faster)",
        "",
        "Wall clock and, in the CPU columns, the process's CPU time (``process_time``: what each "
        "side computed, less sensitive to other processes on a shared machine).",
        "",
        "| problem | pass | steps | ours | taichi | ours/taichi | warp | ours/warp "
        "| ours/taichi CPU | ours/warp CPU | ours ms/step | taichi ms/step | warp ms/step "
        "| ours CPU ms/step | taichi CPU ms/step | warp CPU ms/step |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def ratio(r: Row, side: str, clock: str) -> str:
        a, b = r.rate("ours", clock), r.rate(side, clock)
        return "—" if a is None or b is None else f"{a / b:.2f}"

    def per_step(r: Row, side: str, clock: str = "wall") -> str:
        t = (r.wall if clock == "wall" else r.cpu).get(side)
        return "—" if not t else f"{1e3 * t / r.steps:.4g}"

    for r in rows:
        lines.append(
            f"| {r.dim}D {r.particles} p, {r.grid}^{r.dim}{r.label} | {r.kind} | {r.steps} | "
            f"{_fmt_rate(r.rate('ours'))} | {_fmt_rate(r.rate('taichi'))} | "
            f"{ratio(r, 'taichi', 'wall')} | {_fmt_rate(r.rate('warp'))} | "
            f"{ratio(r, 'warp', 'wall')} | {ratio(r, 'taichi', 'cpu')} | "
            f"{ratio(r, 'warp', 'cpu')} | {per_step(r, 'ours')} | {per_step(r, 'taichi')} | "
            f"{per_step(r, 'warp')} | {per_step(r, 'ours', 'cpu')} | "
            f"{per_step(r, 'taichi', 'cpu')} | {per_step(r, 'warp', 'cpu')} |"
        )
    lines += ["", "Checks and anchors not run:", ""]
    for r in rows:
        extra = "; ".join(f"{k}: {v}" for k, v in r.notes.items())
        lines.append(
            f"- {r.dim}D{r.label} {r.kind}: {r.check or '—'}" + (f"; {extra}" if extra else "")
        )
    if mem is not None:
        side, steps = args.mem_particles_side, args.mem_steps
        lines += [
            "",
            f"### Autograd memory: 2D, {side * side} particles on 64², {steps} steps, "
            "forward + backward to E and v₀ (fresh process each)",
            "",
            "| checkpoint_every | saved by autograd (MiB) | peak RSS added (MiB) "
            "| fwd+bwd seconds | dL/dE |",
            "|---|---|---|---|---|",
        ]
        for ck, res in mem:
            if isinstance(res, str):
                lines.append(f"| {ck} | {res} | — | — | — |")
            else:
                lines.append(
                    f"| {ck} | {res['saved_mib']:.1f} | {res['rss_mib']:.1f} | "
                    f"{res['seconds']:.2f} | {res['dE']:.6e} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", choices=[2, 3], default=None)
    ap.add_argument("--steps-2d", type=int, default=100, help="forward steps in 2D")
    ap.add_argument("--steps-3d", type=int, default=10, help="forward steps in 3D")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    ap.add_argument("--threads", type=int, default=1, help="torch and Taichi CPU threads")
    ap.add_argument("--no-taichi", action="store_true")
    ap.add_argument("--no-warp", action="store_true")
    ap.add_argument("--no-backward", action="store_true")
    ap.add_argument(
        "--taichi-backward-3d",
        action="store_true",
        help="also time Taichi's 3D autodiff (slow build)",
    )
    ap.add_argument(
        "--water-3d-backward",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with 3D and backward: add a 3D forward+backward row with the water law (no SVD, "
        "so Taichi's autodiff compiles); default on",
    )
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--mem-particles-side", type=int, default=64)
    ap.add_argument("--mem-steps", type=int, default=500)
    ap.add_argument("--mem-checkpoint", type=int, default=25)
    ap.add_argument("--mem-max-gib", type=float, default=6.0)
    ap.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child is not None:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return
    if args.quick:
        args.dims = args.dims or [2]
        args.steps_2d, args.steps_3d = min(args.steps_2d, 20), min(args.steps_3d, 2)
        args.repeats = 1
        args.mem_steps = min(args.mem_steps, 50)
    args.dims = args.dims or [2, 3]
    torch.set_num_threads(args.threads)

    ti = wp = None
    args.taichi_reason = "not run: --no-taichi"
    args.warp_reason = "not run: --no-warp"
    if not args.no_taichi:
        try:
            ti = taichi_import(args.threads)
        except Exception as exc:  # ImportError, or a platform Taichi does not support
            args.taichi_reason = f"not run: taichi unavailable ({type(exc).__name__}: {exc})"
    if not args.no_warp:
        try:
            wp = warp_import()
        except Exception as exc:
            args.warp_reason = f"not run: warp unavailable ({type(exc).__name__}: {exc})"

    load = os.getloadavg()
    header = [
        "## MLS-MPM benchmark: sciml vs Taichi (and Warp) on the CPU",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; CPU: {cpu_model()} "
        f"({os.cpu_count()} logical cores); load average at start: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- torch {torch.__version__} ({torch.get_num_threads()} threads), taichi "
        f"{version('taichi')} (cpu_max_num_threads={args.threads}), warp-lang "
        f"{version('warp-lang')} (CPU kernels single-threaded), numpy {np.__version__}",
        f"- jelly (fixed corotated, E = {E_PA:g} Pa, ν = {NU}, ρ = {DENSITY:g} kg/m³), "
        f"Δt = {DT:g} s, float32, gravity, separate walls ({BOUND} cells); block on a lattice of "
        f"spacing Δx/2; median of {args.repeats} timed runs after one warm-up (compilation "
        "excluded); forward+backward runs half the forward steps",
    ]
    if 3 in args.dims and not args.no_backward and args.water_3d_backward:
        header.append(
            '- the "water (no SVD)" row: weakly compressible fluid (E = '
            f"{MATERIALS['water'][0]:g} Pa, ν = {MATERIALS['water'][1]}, ρ = {DENSITY:g} kg/m³; "
            "τ = λ J (J − 1) I, F ← max(J, 1e-6)^(1/3) I after each step) on both sides, "
            "otherwise as the 3D forward+backward row"
        )
    print("\n".join(header), flush=True)

    rows: list[Row] = []
    for dim in sorted(args.dims):
        n, side = PROBLEMS[dim]
        p = make_problem(dim, n, side)
        steps = args.steps_2d if dim == 2 else args.steps_3d
        t0 = time.perf_counter()
        rows.append(forward_row(p, steps, args, ti, wp))
        r = rows[-1]
        print(
            f"  {dim}D forward: ours {_fmt_rate(r.rate('ours'))}, taichi "
            f"{_fmt_rate(r.rate('taichi'))}, warp {_fmt_rate(r.rate('warp'))} particle-steps/s; "
            f"CPU time: ours {_fmt_rate(r.rate('ours', 'cpu'))}, taichi "
            f"{_fmt_rate(r.rate('taichi', 'cpu'))}, warp {_fmt_rate(r.rate('warp', 'cpu'))} "
            f"({time.perf_counter() - t0:.1f}s wall)",
            file=sys.stderr,
            flush=True,
        )
        if not args.no_backward:
            t0 = time.perf_counter()
            rows.append(backward_row(p, max(1, steps // 2), args, ti))
            r = rows[-1]
            print(
                f"  {dim}D forward+backward: ours {_fmt_rate(r.rate('ours'))}, taichi "
                f"{_fmt_rate(r.rate('taichi'))}; CPU time: ours "
                f"{_fmt_rate(r.rate('ours', 'cpu'))}, taichi {_fmt_rate(r.rate('taichi', 'cpu'))} "
                f"({time.perf_counter() - t0:.1f}s wall); "
                f"{r.check}",
                file=sys.stderr,
                flush=True,
            )
            if dim == 3 and args.water_3d_backward:
                t0 = time.perf_counter()
                rows.append(backward_row(p, max(1, steps // 2), args, ti, material="water"))
                r = rows[-1]
                print(
                    f"  {dim}D water (no SVD) forward+backward: ours {_fmt_rate(r.rate('ours'))}, "
                    f"taichi {_fmt_rate(r.rate('taichi'))}; CPU time: ours "
                    f"{_fmt_rate(r.rate('ours', 'cpu'))}, taichi "
                    f"{_fmt_rate(r.rate('taichi', 'cpu'))} "
                    f"({time.perf_counter() - t0:.1f}s wall); {r.check}",
                    file=sys.stderr,
                    flush=True,
                )

    mem = None
    if not args.no_memory:
        t0 = time.perf_counter()
        mem = memory_rows(args)
        print(f"  memory part: {time.perf_counter() - t0:.1f}s wall", file=sys.stderr, flush=True)

    text = render(header, rows, mem, args)
    print()
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()

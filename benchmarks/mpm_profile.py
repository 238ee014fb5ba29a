"""Where a forward MLS-MPM step spends its time: CPU ms per phase on the Taichi benchmark problems.

Run from the repository root (one thread, the problems of ``benchmarks/mpm_vs_taichi.py``: 2D
10 000 jelly particles on 128², 3D 29 791 on 64³, float32, Δt = 1e-4 s)::

    .venv/bin/python benchmarks/mpm_profile.py --threads 1 --steps 40 --repeats 5

Each phase of ``MPMSimulator._step`` is run in the same order on the same data, and timed with
``time.process_time`` (this process's CPU time); the printed value is the median over
``--repeats`` rounds of the mean CPU ms per step over ``--steps`` steps, under ``no_grad``. The
phases: ``stencil`` (``Grid.stencil``: B-spline weights and base node), ``stress`` (the law's
Kirchhoff stress; in 3D the polar decomposition), ``p2g`` (the affine term and
:func:`~sciml.solvers.mpm.transfer.p2g`), ``grid`` (``v = mv/m + Δt g`` and the walls), ``g2p``
(:func:`~sciml.solvers.mpm.transfer.g2p`), ``update`` (``F`` and ``x``), and ``check`` (the
rollout's per-step finiteness test). ``step`` is one whole ``MPMSimulator._step`` call plus the
check, timed separately; the sum of the phases exceeds it by the per-phase timer overhead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mpm_vs_taichi as bench  # noqa: E402

from sciml.solvers.mpm.simulator import _all_finite  # noqa: E402
from sciml.solvers.mpm.smallmat import matmul  # noqa: E402
from sciml.solvers.mpm.transfer import g2p, p2g  # noqa: E402

PHASES = ("stencil", "stress", "p2g", "grid", "g2p", "update", "check")


def _phases(sim, state, dt: float, steps: int) -> dict[str, float]:  # noqa: ANN001
    """Mean CPU ms per step of each phase over ``steps`` steps (same operations as ``_step``)."""
    grid, total = sim.grid, defaultdict(float)
    clock = time.process_time
    for _ in range(steps):
        t0 = clock()
        st = grid.stencil(state.x)
        t1 = clock()
        tau = sim.material.stress(state.F)
        t2 = clock()
        scale = (-dt * 4.0 / grid.dx**2) * state.volume
        affine = scale[..., None, None] * tau + state.mass[..., None, None] * state.C
        gm, gmv = p2g(grid, st, state.mass, state.mass.unsqueeze(-1) * state.v, affine)
        t3 = clock()
        gv = sim._grid_update(gm, gmv, dt)
        t4 = clock()
        v, C = g2p(grid, st, gv)
        t5 = clock()
        step = dt * C
        step.diagonal(0, -2, -1).add_(1.0)
        F_new = sim.material.project(matmul(step, state.F))
        d = state.x.shape[-1]
        x_t = (dt * v.reshape(-1, d).t()).add_(state.x.reshape(-1, d).t())
        x_new = x_t.clamp(*sim.walls.limits(grid)).t().view(state.x.shape)
        t6 = clock()
        _all_finite(x_new, v, F_new)
        t7 = clock()
        state = state.replace(x=x_new, v=v, C=C, F=F_new, time=state.time + dt)
        for name, a, b in zip(PHASES, (t0, t1, t2, t3, t4, t5, t6), (t1, t2, t3, t4, t5, t6, t7)):
            total[name] += b - a
    return {k: 1e3 * v / steps for k, v in total.items()}


def _whole(sim, state, dt: float, steps: int) -> float:  # noqa: ANN001
    t0 = time.process_time()
    for _ in range(steps):
        state = sim._step(state, dt)
        _all_finite(state.x, state.v, state.F)
    return 1e3 * (time.process_time() - t0) / steps


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", choices=[2, 3], default=[2, 3])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=40, help="steps per timed round (3D: a quarter)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for dim in args.dims:
        n, side = bench.PROBLEMS[dim]
        p = bench.make_problem(dim, n, side)
        sim, state, _, _ = bench._ours_setup(p, grad=False)
        steps = args.steps if dim == 2 else max(1, args.steps // 4)
        rounds: dict[str, list[float]] = defaultdict(list)
        with torch.no_grad():
            _phases(sim, state, bench.DT, 2)  # warm-up
            for _ in range(args.repeats):
                for k, v in _phases(sim, state, bench.DT, steps).items():
                    rounds[k].append(v)
                rounds["step"].append(_whole(sim, state, bench.DT, steps))
        print(f"\n{dim}D, {p.n_particles} particles, {n}^{dim}: CPU ms per step (median)")
        for k in (*PHASES, "step"):
            print(f"  {k:8s} {statistics.median(rounds[k]):8.3f}")


if __name__ == "__main__":
    main()

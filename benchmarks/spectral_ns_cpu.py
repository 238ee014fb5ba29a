"""CPU time of sciml's 2D Navier-Stokes rollout alone: the NS case of ``spectral_vs_peers.py``.

For A/B comparisons of solver changes on a shared machine, where wall time is unreliable: run the
old code (e.g. ``git archive <commit> sciml | tar -x -C /tmp/old``, then ``PYTHONPATH=/tmp/old``)
and the new one in alternating processes and compare the printed CPU times::

    for i in 1 2 3 4 5; do
      OMP_NUM_THREADS=1 PYTHONPATH=/tmp/old nice -n 10 .venv/bin/python benchmarks/spectral_ns_cpu.py
      OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/spectral_ns_cpu.py
    done

Case: Taylor-Green vorticity replicated over a batch of 8, 256^2, nu = 1e-2, ETDRK4 with 32
contour points, dt = 0.01, 100 steps, ``rollout(save_every=100)`` under
``torch.inference_mode``, one torch thread. One untimed warm-up rollout, then ``--repeats`` timed
ones. Prints the median and minimum process CPU seconds per rollout, the median wall seconds and
the minor page faults per step (``getrusage``; fresh pages that ``malloc`` had returned to the
system, a large part of eager torch's cost on CPU).
"""

from __future__ import annotations

import argparse
import math
import resource
import statistics
import time

import torch

from sciml.solvers import exact
from sciml.solvers.spectral import Grid, NavierStokes2D, SpectralSolver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeats", type=int, default=3, help="timed rollouts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, batch, n_steps = 256, 8, 100
    dtype = getattr(torch, args.dtype)
    grid = Grid((n, n), length=2 * math.pi, dtype=dtype)
    eq = NavierStokes2D(grid, nu=1e-2, drag=0.0, forcing="none")
    solver = SpectralSolver(eq, 0.01, "etdrk4", n_circle_points=32)
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    w = exact.taylor_green_vorticity(x[:, None], x[None, :], 0.0, 1e-2)
    state = w.expand(batch, 1, n, n).to(dtype).contiguous()

    def run() -> None:
        with torch.inference_mode():
            solver.rollout(state, n_steps, save_every=n_steps)

    run()
    cpu, wall = [], []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(
        f"NS {batch} x {n}^2 {args.dtype}: CPU s per rollout median {statistics.median(cpu):.3f} "
        f"min {min(cpu):.3f}; wall median {statistics.median(wall):.3f}; minor faults per step "
        f"{faults / (args.repeats * n_steps):.0f}"
    )


if __name__ == "__main__":
    main()

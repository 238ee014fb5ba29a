"""Hybrid rollouts: a CNN surrogate interleaved with an accurate solver every k-th step.

Burgers ``u_t + u u_x = nu u_xx`` (``nu = 0.01``) on ``[0, 2pi)``; states live on 64 points,
one step is ``dt = 0.05``. Reference: ETDRK4 on 1024 points with 16 substeps per step, restricted
to 64 points. The surrogate is a residual PeriodicConvNet ``u + net(u)`` on the 64-point grid,
trained with the unrolled rollout loss. The "solver step" is the accurate but more expensive
solver: the state is Fourier-interpolated to ``--solver-n`` points, advanced by ``--substeps``
ETDRK4 steps of ``dt/substeps`` and truncated back to 64 points. In a hybrid rollout with
``k`` the solver takes steps ``k, 2k, ...`` and the surrogate the others (``k = 1``: the
solver alone; ``k = inf``: the surrogate alone).

Printed, per k: the fraction of solver steps, the median wall and CPU time of one rollout of the
test batch (5 repeats), its speed-up over k = 1, and the relative L2 error vs the reference at
several steps. Run::

    python examples/solver_in_the_loop/hybrid_burgers.py
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from sciml.evaluation.metrics import rollout_error
from sciml.hybrid import (
    CoarseFineProblem,
    PeriodicConvNet,
    SurrogateStep,
    fit_unrolled,
    hybrid_rollout,
    markdown_table,
    median_time,
    solver_steps,
)
from sciml.solvers.spectral import Burgers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nu", type=float, default=0.01)
    p.add_argument("--n-train", type=int, default=32)
    p.add_argument("--n-test", type=int, default=16)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--unroll", type=int, default=8)
    p.add_argument("--iters", type=int, default=600)
    p.add_argument("--solver-n", type=int, default=256, help="grid of the solver steps")
    p.add_argument("--substeps", type=int, default=4, help="solver steps per hybrid step")
    p.add_argument("--ks", default="1,2,4,8,16,inf", help="comma-separated k values")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(args.seed)
    ks = [math.inf if k.strip() == "inf" else int(k) for k in args.ks.split(",")]
    started = time.perf_counter()

    problem = CoarseFineProblem(
        lambda g: Burgers(g, nu=args.nu), fine_shape=1024, coarse_shape=64, dt=0.05, substeps=16
    )
    ref = problem.reference(
        problem.initial_states(args.n_train + args.n_test, generator=gen), args.steps, dtype=dtype
    )
    train, test = ref[: args.n_train], ref[args.n_train :]
    x0 = test[:, 0]

    torch.manual_seed(args.seed)
    surrogate = SurrogateStep(PeriodicConvNet(1, hidden=32, n_layers=3, dtype=dtype))
    hist = fit_unrolled(
        surrogate, train, n_unroll=args.unroll, n_iters=args.iters, lr=2e-3, generator=gen
    )
    solver = problem.solver_step(args.solver_n, substeps=args.substeps, dtype=dtype)

    report_steps = sorted({1, 10, 20, args.steps // 2, args.steps} & set(range(1, args.steps + 1)))
    rows, base = [], None
    for k in ks:

        def run(k=k) -> torch.Tensor:
            return hybrid_rollout(solver, surrogate, x0, args.steps, solver_every=k)

        with torch.no_grad():
            err = rollout_error(run(), test).mean(0)
        t = median_time(run, repeats=5)
        base = t.wall if base is None else base
        frac = sum(solver_steps(args.steps, k)) / args.steps
        rows.append(
            [
                "inf" if k == math.inf else k,
                f"{frac:.2f}",
                1e3 * t.wall,
                1e3 * t.cpu,
                base / t.wall,
                *[err[s].item() for s in report_steps],
                err[1:].mean().item(),
            ]
        )
    print(
        f"Burgers nu={args.nu}: states on 64 points, dt=0.05, solver = ETDRK4 on "
        f"{args.solver_n} points x {args.substeps} substeps; {args.n_test} test trajectories of "
        f"{args.steps} steps, {args.dtype}, {args.threads} thread(s)"
    )
    headers = ["k", "solver fraction", "wall ms/rollout", "CPU ms/rollout", "speed-up vs k=1"]
    headers += [f"err@{s}" for s in report_steps] + ["mean err"]
    print(markdown_table(headers, rows))
    print(f"surrogate final training loss {hist[-1]:.3g}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

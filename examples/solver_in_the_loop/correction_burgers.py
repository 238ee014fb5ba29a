"""Correction learning: a coarse spectral Burgers solver + a CNN trained through its rollouts.

Setting (Um et al., "Solver-in-the-Loop", NeurIPS 2020): viscous Burgers
``u_t + u u_x = nu u_xx`` on ``[0, 2pi)`` with ``nu = 0.01`` and random smooth initial states
(max |u| = 1). Reference: the ETDRK4 solver on 1024 points with 16 substeps per coarse step,
restricted to the coarse grid of 32 points (``dt = 0.05``). Compared, on held-out initial states:

* ``coarse solver``: the same ETDRK4 solver on the 32-point grid;
* ``corrected solver``: coarse solver + PeriodicConvNet correction, trained through
  ``--unroll``-step rollouts (the gradient runs through every solver step);
* ``CNN surrogate`` (and with ``--fno`` an ``FNO surrogate``): pure learned steppers ``u + net(u)`` on the same grid,
  trained with the same unrolled loss;
* ``solver N=64 / 128``: the solver on finer grids (started from the coarse state, interpolated;
  output restricted to 32 points) — what the same wall time buys a plain solver.

A second table evaluates the coarse, corrected and surrogate steppers on initial states of a
larger amplitude (``--ood-amplitude``) than any seen in training.

Printed: relative L2 error vs the reference at several steps (for learned models the mean over
``--seeds`` weight initialisations, with the min-max of the mean error) and the median wall/CPU
time of one rollout of the whole test batch (5 repeats). Run::

    python examples/solver_in_the_loop/correction_burgers.py
"""

from __future__ import annotations

import argparse
import time

import torch

from sciml.data.transforms import resample
from sciml.evaluation.metrics import rollout_error
from sciml.hybrid import (
    CoarseFineProblem,
    CorrectedStep,
    PeriodicConvNet,
    SolverStep,
    SurrogateStep,
    fit_unrolled,
    markdown_table,
    median_time,
    rollout,
)
from sciml.models.fno import FNO
from sciml.solvers.spectral import Burgers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nu", type=float, default=0.01)
    p.add_argument("--n-train", type=int, default=32, help="training trajectories")
    p.add_argument("--n-test", type=int, default=16, help="held-out trajectories")
    p.add_argument("--steps", type=int, default=60, help="coarse steps per trajectory")
    p.add_argument("--unroll", type=int, default=8, help="steps the training gradient runs through")
    p.add_argument("--iters", type=int, default=600, help="optimiser iterations per model")
    p.add_argument("--fno", action="store_true", help="add an FNO surrogate (slow on a CPU)")
    p.add_argument(
        "--ood-amplitude", type=float, default=1.5, help="max |u0| of the out-of-range test set"
    )
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=int, default=0, help="data seed and first weight seed")
    p.add_argument("--seeds", type=int, default=1, help="weight initialisation seeds per model")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    gen = torch.Generator().manual_seed(args.seed)
    started = time.perf_counter()

    problem = CoarseFineProblem(
        lambda g: Burgers(g, nu=args.nu), fine_shape=1024, coarse_shape=32, dt=0.05, substeps=16
    )
    u0 = problem.initial_states(args.n_train + args.n_test, generator=gen)
    ref = problem.reference(u0, args.steps, dtype=dtype)
    train, test = ref[: args.n_train], ref[args.n_train :]
    # out of the training range: larger initial amplitude (steeper, faster shocks)
    ood = problem.reference(
        problem.initial_states(args.n_test, amplitude=args.ood_amplitude, generator=gen),
        args.steps,
        dtype=dtype,
    )
    x0 = test[:, 0]

    def curve(traj: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return rollout_error(traj, target).mean(0)  # (T,): mean over the trajectories

    def cells(errs: list[torch.Tensor]) -> list:
        """Error columns: the mean over seeds, and the min-max of the mean error."""
        err = torch.stack(errs).mean(0)
        means = [e[1:].mean().item() for e in errs]
        spread = f"{min(means):.3g}-{max(means):.3g}" if len(errs) > 1 else "-"
        return [*[err[s].item() for s in report_steps], err[1:].mean().item(), spread]

    def scored(name: str, n_params: int, runs: list) -> list:
        with torch.no_grad():
            errs = [curve(run(), test) for run in runs]
        t = median_time(runs[0], repeats=5)
        return [name, n_params, 1e3 * t.wall, 1e3 * t.cpu, *cells(errs)]

    report_steps = sorted(
        {1, 5, 10, 20, args.steps // 2, args.steps} & set(range(1, args.steps + 1))
    )
    coarse = problem.solver_step(dtype=dtype)
    rows = [scored("coarse solver (N=32)", 0, [lambda: rollout(coarse, x0, args.steps)])]
    for n in (64, 128):
        fine_step = SolverStep(problem.solver(n, dtype=dtype))
        xn = resample(x0, n)

        def run(step=fine_step, xn=xn) -> torch.Tensor:
            traj = rollout(step, xn, args.steps)
            return resample(traj.flatten(0, 1), 32).reshape(test.shape)

        rows.append(scored(f"solver N={n}", 0, [run]))

    def cnn() -> PeriodicConvNet:
        return PeriodicConvNet(1, hidden=32, n_layers=3, kernel_size=5, dtype=dtype)

    factories = {
        "corrected solver (N=32)": lambda: CorrectedStep(coarse, cnn()),
        "CNN surrogate (N=32)": lambda: SurrogateStep(cnn()),
    }
    if args.fno:
        factories["FNO surrogate (N=32)"] = lambda: SurrogateStep(
            FNO(1, 1, 1, n_modes=16, hidden_channels=32, n_layers=4).to(dtype)
        )
    models: dict[str, list] = {"coarse solver (N=32)": [coarse]}
    losses = {}
    for name, factory in factories.items():
        models[name], losses[name] = [], []
        for seed in range(args.seed, args.seed + args.seeds):
            torch.manual_seed(seed)  # initial weights of this seed
            step = factory()
            windows = torch.Generator().manual_seed(seed)  # the same windows for every model
            t0 = time.perf_counter()
            hist = fit_unrolled(
                step, train, n_unroll=args.unroll, n_iters=args.iters, lr=2e-3, generator=windows
            )
            losses[name].append((hist[-1], time.perf_counter() - t0))
            models[name].append(step)
        n_params = sum(q.numel() for q in step.parameters())
        runs = [lambda s=s: rollout(s, x0, args.steps) for s in models[name]]
        rows.append(scored(name, n_params, runs))

    with torch.no_grad():
        ood_rows = [
            [name, *cells([curve(rollout(s, ood[:, 0], args.steps), ood) for s in steps])]
            for name, steps in models.items()
        ]

    headers = ["method", "params", "wall ms/rollout", "CPU ms/rollout"]
    headers += [f"err@{s}" for s in report_steps] + ["mean err", "mean err, min-max over seeds"]
    print(
        f"Burgers nu={args.nu}, dt=0.05, {args.n_test} test trajectories of {args.steps} steps, "
        f"{args.dtype}, {args.threads} thread(s); relative L2 error vs the 1024-point reference; "
        f"learned models: mean over {args.seeds} initialisation seed(s), timed with the first"
    )
    print(markdown_table(headers, rows))
    print(f"\nOut of the training range: initial max |u| = {args.ood_amplitude} (trained on 1)")
    print(markdown_table(["method", *headers[4:]], ood_rows))
    for name, runs in losses.items():
        loss = ", ".join(f"{v:.3g}" for v, _ in runs)
        print(f"{name}: final training loss {loss}; training {runs[0][1]:.0f} s per seed")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

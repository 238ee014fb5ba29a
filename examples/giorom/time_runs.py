"""Inference cost, size and training time of trained particle-simulator runs (docs/giorom.md).

For each run directory: the parameters, the training wall time (``metrics.csv``'s last
``time``), and the wall and CPU time of producing a dense rollout of ``--frames`` frames of the
first test trajectory, median of ``--repeats`` runs with all runs interleaved (so every model sees
the same machine load). A reduced-order run (``sciml.load`` returns a
:class:`~sciml.models.giorom.ReducedOrderSimulator`) is timed twice: the stepper alone on the
sampled particles, and stepper + reconstruction to every particle (what a dense output costs).

With ``--data FILE`` the rollouts start from the first test trajectory of another particle file
(e.g. larger bodies): reduced-order runs then sample it at ``--ratio`` (default: each run's
ratio), and ``--dense-radius`` sets the graph radius of runs on every particle (a few particle
spacings of the new bodies; the weights stay the trained ones, only the cost is measured).

Usage::

    OMP_NUM_THREADS=1 python examples/giorom/time_runs.py runs/giorom_jelly \\
        runs/giorom_jelly_gns_dense runs/giorom_jelly_gns_sparse --frames 20 --repeats 5
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

import sciml
from sciml.data.particles import sparse_positions
from sciml.models.giorom import ReducedOrderSimulator
from sciml.spec import load_spec
from sciml.tasks import task_for


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--frames", type=int, default=20, help="rollout frames per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per model (median)")
    parser.add_argument("--out", type=Path, default=None, help="write the table as JSON here")
    parser.add_argument("--data", type=Path, default=None, help="another particle file")
    parser.add_argument("--ratio", type=float, default=None, help="resample reduced-order runs")
    parser.add_argument("--dense-radius", type=float, default=None, help="dense runs' radius")
    args = parser.parse_args()
    torch.set_num_threads(1)

    jobs: dict[str, Callable[[], object]] = {}
    info: dict[str, dict[str, float]] = {}
    for run in args.runs:
        spec = load_spec(run / "spec.yaml")
        test = task_for(spec).dataset("test", path=args.data)
        loaded = sciml.load(run)
        if isinstance(loaded, ReducedOrderSimulator) and args.ratio is not None:
            loaded = ReducedOrderSimulator(
                loaded.stepper, {**loaded.sampling, "ratio": args.ratio}
            ).eval()
        elif not isinstance(loaded, ReducedOrderSimulator) and args.dense_radius is not None:
            loaded.radius = args.dense_radius
        h = loaded.history
        name = run.name
        with open(run / "metrics.csv") as fh:
            rows = list(csv.DictReader(fh))
        if isinstance(loaded, ReducedOrderSimulator):
            dense = test.dense[:1, : h + 1].float()
            sparse = sparse_positions(dense, loaded.sample(test.dense[:1, 0]))
            stepper = loaded.stepper
            jobs[f"{name} (sparse stepper)"] = lambda s=stepper, x=sparse: s.rollout(x, args.frames)
            jobs[f"{name} (stepper + reconstruction)"] = lambda m=loaded, x=dense: m(x, args.frames)
            n_particles = sparse.shape[2]
        else:
            dense = test.positions[:1, : h + 1].float()
            jobs[name] = lambda m=loaded, x=dense: m.rollout(x, args.frames)
            n_particles = dense.shape[2]
        info[name] = {
            "parameters": sum(p.numel() for p in loaded.parameters()),
            "stepped_particles": n_particles,
            "train_seconds": float(rows[-1]["time"]),
            "train_steps": int(rows[-1]["step"]),
        }
    timings: dict[str, list[tuple[float, float]]] = {k: [] for k in jobs}
    with torch.no_grad():
        for fn in jobs.values():  # warm-up
            fn()
        for _ in range(args.repeats):
            for key, fn in jobs.items():
                timings[key].append(_timed(fn))
    result = {"runs": info, "frames": args.frames, "repeats": args.repeats, "per_frame": {}}
    print(f"| model | wall s/frame (median of {args.repeats}) | CPU s/frame |")
    print("|---|---|---|")
    for key, values in timings.items():
        wall = statistics.median(w for w, _ in values) / args.frames
        cpu = statistics.median(c for _, c in values) / args.frames
        result["per_frame"][key] = {"wall": wall, "cpu": cpu}
        print(f"| {key} | {wall:.4g} | {cpu:.4g} |")
    print()
    print("| run | parameters | stepped particles | training steps | training wall s |")
    print("|---|---|---|---|---|")
    for name, row in info.items():
        print(
            f"| {name} | {row['parameters']:,} | {row['stepped_particles']} | "
            f"{row['train_steps']} | {row['train_seconds']:.0f} |"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

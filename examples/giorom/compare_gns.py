"""Smoke-level comparison of GIOROM (sparse stepper + dense reconstruction) with GNS on MPM data.

Trains, on the same windows and with the same :class:`sciml.training.Trainer` settings:

* ``giorom``: :class:`sciml.models.giorom.GIOROM` on ``ratio`` of the particles (farthest-point
  sampling on frame 0), then :class:`sciml.models.dense_reconstruction.KernelReconstruction`
  on ground-truth sparse→dense pairs, applied to the stepper's own rollout;
* ``gns_dense``: :class:`sciml.models.gns.GNS` on all particles;
* ``gns_sparse``: a GNS on the same sparse particles, densified by kNN interpolation;

and scores dense rollouts of the test trajectories (the last ``--n-test``) by position MSE and
Chamfer distance (m², mean over the predicted frames), plus the reconstruction of the *true*
sparse trajectories (GIOROM's published setting) and the wall time per step. Results go to
``<out>/results.json`` and ``results.md``, a figure of GIOROM vs ground truth to
``<out>/giorom_frames.png``, and with ``--vtu`` one VTU point cloud per frame (ParaView).

Usage (smoke level: minutes on one CPU core)::

    sciml generate mpm2d --set n_samples=8 --set particles_per_side=40 \\
        --set 'materials=[water]' --set n_steps=800 --set grid_n=64 --out data/giorom_water.h5
    nice -n 10 python examples/giorom/compare_gns.py data/giorom_water.h5 --steps 300

The training-step API of each stepper is the GNS one: a batch of
:class:`sciml.data.particles.ParticleWindowDataset` holds ``x (B, P|M, H+1, d)`` positions and
``y (B, P|M, d)`` normalized accelerations; the loss is ``mean((model(x) − y)²)``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from sciml.data.format import DatasetFile
from sciml.data.mesh import write_point_cloud_vtu
from sciml.data.particles import (
    ParticleStats,
    ParticleWindowDataset,
    particle_spacing,
    read_positions,
)
from sciml.evaluation.metrics import chamfer_distance, position_mse
from sciml.evaluation.plots import plot_particles
from sciml.models.dense_reconstruction import (
    KernelReconstruction,
    ReconstructionPairs,
    knn_interpolate,
)
from sciml.models.giorom import GIOROM, SparseTrajectories
from sciml.models.gns import GNS
from sciml.models.learned_mpm import simulation_settings
from sciml.tasks.learned_simulator import wall_bounds
from sciml.training import Trainer, TrainerConfig


def _mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (pred - y).square().mean()


def fit(model: nn.Module, train: Dataset, run_dir: Path, steps: int, batch_size: int, seed: int):
    """``steps`` Adam steps (lr 3e-3, cosine decay, gradient clipping at 1) with the Trainer."""
    val = Subset(train, range(0, len(train), max(1, math.ceil(len(train) / 8))))
    config = TrainerConfig(
        epochs=10**9,
        max_steps=steps,
        batch_size=batch_size,
        lr=3e-3,
        scheduler="cosine",
        grad_clip=1.0,
        seed=seed,
        log_every=max(1, steps // 10),
        eval_every=steps,
        checkpoint_every=steps,
        progress=False,
    )
    started = time.perf_counter()
    Trainer(model, _mse, train, val, config, run_dir).fit()
    return model.eval(), time.perf_counter() - started


def step_seconds(model: GNS, window: torch.Tensor, repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of one ``model.step`` on ``window`` ``(1, P, H+1, d)``."""
    wall, cpu = [], []
    with torch.no_grad():
        model.step(window)  # warm-up
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.process_time()
            model.step(window)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def ballistic(
    history_frames: torch.Tensor, n_steps: int, acceleration: torch.Tensor
) -> torch.Tensor:
    """The no-network reference: every particle keeps its last velocity plus the mean
    acceleration (gravity), ``x_{t+1} = 2 x_t − x_{t−1} + μ_a``; ``(B, H+1, P, d)`` →
    ``(B, n_steps, P, d)``."""
    prev, last = history_frames[:, -2], history_frames[:, -1]
    frames = []
    for _ in range(n_steps):
        prev, last = last, 2 * last - prev + acceleration
        frames.append(last)
    return torch.stack(frames, 1)


def scores(pred: torch.Tensor, true: torch.Tensor) -> dict[str, float]:
    """Position MSE and Chamfer distance of ``(B, T, P, d)`` rollouts: mean and final frame."""
    mse = position_mse(pred, true)
    cd = chamfer_distance(pred, true)
    return {
        "position_mse": float(mse.mean()),
        "chamfer": float(cd.mean()),
        "final_position_mse": float(mse[:, -1].mean()),
        "final_chamfer": float(cd[:, -1].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="mpm2d/mpm3d particle file")
    parser.add_argument("--out", default="runs/giorom_compare")
    parser.add_argument("--ratio", type=float, default=0.1, help="sampled fraction, in (0, 1]")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per stepper")
    parser.add_argument("--recon-steps", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=2, help="last trajectories held out")
    parser.add_argument("--rollout-frames", type=int, default=40)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vtu", action="store_true", help="write GIOROM's dense rollout as VTU")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    positions = read_positions(args.file).float()  # (N, T, P, d)
    n, T, P, dim = positions.shape
    if not 0 < args.n_test < n:
        raise SystemExit(f"--n-test must be in [1, {n - 1}] for {n} trajectories")
    history = 5
    file = DatasetFile(args.file, check_finite=False)
    bounds = wall_bounds(simulation_settings(file.config, len(file.spatial_dims)))
    dense_radius = 3.0 * particle_spacing(positions[0, 0])
    data = SparseTrajectories.from_positions(positions, args.ratio)
    M = data.indices.shape[1]
    sparse_radius = 3.0 * particle_spacing(data.sparse[0, 0])
    data = SparseTrajectories.from_positions(positions, args.ratio, radius=sparse_radius)
    train_ids, test_ids = range(n - args.n_test), range(n - args.n_test, n)
    noise_std = 0.1 * float(ParticleStats.fit(positions[list(train_ids)]).acceleration_std.mean())
    common = {"history": history, "latent": args.latent, "noise_std": noise_std, "bounds": bounds}

    def windows(x: torch.Tensor) -> ParticleWindowDataset:
        return ParticleWindowDataset(x[list(train_ids)], history, noise_std=noise_std)

    sparse_train, dense_train = windows(data.sparse), windows(positions)
    torch.manual_seed(args.seed)
    models = {
        "giorom": (
            GIOROM(
                dim,
                radius=sparse_radius,
                n_encoder_layers=2,
                n_decoder_layers=1,
                stats=sparse_train.stats,
                **common,
            ),
            sparse_train,
        ),
        "gns_dense": (
            GNS(dim, radius=dense_radius, n_message_passing=3, stats=dense_train.stats, **common),
            dense_train,
        ),
        "gns_sparse": (
            GNS(dim, radius=sparse_radius, n_message_passing=3, stats=sparse_train.stats, **common),
            sparse_train,
        ),
    }
    report: dict[str, object] = {
        "file": str(args.file),
        "particles": P,
        "sampled": M,
        "ratio": args.ratio,
        "dense_radius": dense_radius,
        "sparse_radius": sparse_radius,
        "train_trajectories": len(train_ids),
        "test_trajectories": len(test_ids),
        "steps": args.steps,
        "train_seconds": {},
        "step_seconds": {},
    }
    for name, (model, train) in models.items():
        _, seconds = fit(model, train, out / name, args.steps, args.batch_size, args.seed)
        report["train_seconds"][name] = seconds
        print(f"{name}: trained {args.steps} steps in {seconds:.0f} s", flush=True)

    recon = KernelReconstruction(
        dim,
        k=8,
        bandwidth=particle_spacing(data.sparse[0, 0]),
        displacement_scale=float((positions - positions[:, :1]).std()),
    )
    pairs = ReconstructionPairs(positions[list(train_ids)], data.indices[list(train_ids)])
    _, seconds = fit(recon, pairs, out / "reconstruction", args.recon_steps, 4, args.seed)
    report["train_seconds"]["reconstruction"] = seconds

    # Dense rollouts of the test trajectories from their first H+1 true frames.
    test = positions[list(test_ids)]
    sparse_test = data.sparse[list(test_ids)]
    n_roll = min(args.rollout_frames, T - history - 1)
    true = test[:, history + 1 : history + 1 + n_roll]
    ref, sparse_ref = test[:, 0], sparse_test[:, 0]
    with torch.no_grad():
        g_sparse = models["giorom"][0].rollout(sparse_test[:, : history + 1], n_roll)
        s_sparse = models["gns_sparse"][0].rollout(sparse_test[:, : history + 1], n_roll)
        dense = models["gns_dense"][0].rollout(test[:, : history + 1], n_roll)

        def knn_dense(sparse: torch.Tensor) -> torch.Tensor:
            b, t = sparse.shape[:2]
            rep = lambda z: z.repeat_interleave(t, 0)  # noqa: E731
            flat = knn_interpolate(rep(sparse_ref), sparse.flatten(0, 1), rep(ref), k=3)
            return flat.reshape(b, t, P, dim)

        results = {
            "giorom + kernel reconstruction": recon.rollout(sparse_ref, g_sparse, ref),
            "giorom + kNN interpolation": knn_dense(g_sparse),
            "gns dense": dense,
            "gns sparse + kNN interpolation": knn_dense(s_sparse),
            "ballistic (mean acceleration, no network)": ballistic(
                test[:, : history + 1], n_roll, dense_train.stats.acceleration_mean.float()
            ),
            "true sparse + kernel reconstruction": recon.rollout(
                sparse_ref, sparse_test[:, history + 1 : history + 1 + n_roll], ref
            ),
            "true sparse + kNN interpolation": knn_dense(
                sparse_test[:, history + 1 : history + 1 + n_roll]
            ),
        }
    report["rollout_frames"] = n_roll
    report["scores"] = {k: scores(v, true) for k, v in results.items()}
    window = lambda x: x[:1, : history + 1].transpose(1, 2)  # noqa: E731
    for name, x in (("giorom", sparse_test), ("gns_dense", test), ("gns_sparse", sparse_test)):
        wall, cpu = step_seconds(models[name][0], window(x))
        report["step_seconds"][name] = {"wall_median": wall, "cpu_median": cpu}
    s = report["step_seconds"]
    report["speedup_gns_dense_over_giorom"] = {
        "wall": s["gns_dense"]["wall_median"] / s["giorom"]["wall_median"],
        "cpu": s["gns_dense"]["cpu_median"] / s["giorom"]["cpu_median"],
    }
    (out / "results.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"{P} particles, {M} sampled ({args.ratio:.0%}), {len(test_ids)} test trajectories, "
        f"{n_roll} rollout frames; {args.steps} training steps per stepper",
        "",
        "| model | position MSE (m²) | Chamfer (m²) | final MSE | final Chamfer |",
        "|---|---|---|---|---|",
    ]
    for k, v in report["scores"].items():
        lines.append(
            f"| {k} | {v['position_mse']:.3e} | {v['chamfer']:.3e} | "
            f"{v['final_position_mse']:.3e} | {v['final_chamfer']:.3e} |"
        )
    lines += ["", "| stepper | wall s/step (median of 5) | CPU s/step |", "|---|---|---|"]
    for k, v in s.items():
        lines.append(f"| {k} | {v['wall_median']:.4f} | {v['cpu_median']:.4f} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    pred0 = results["giorom + kernel reconstruction"][0]
    frames = sorted({0, n_roll // 3, 2 * n_roll // 3, n_roll - 1})
    plot_particles(
        pred0.numpy(),
        true[0].numpy(),
        out / "giorom_frames.png",
        frames=frames,
        title=f"GIOROM ({args.ratio:.0%} sampled) + reconstruction vs ground truth",
    )
    if args.vtu:
        (out / "vtu").mkdir(exist_ok=True)
        for k in range(n_roll):
            write_point_cloud_vtu(
                out / "vtu" / f"giorom_{k:04d}.vtu",
                pred0[k].numpy(),
                {"error": (pred0[k] - true[0, k]).norm(dim=-1).numpy()},
            )


if __name__ == "__main__":
    main()

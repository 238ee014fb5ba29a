"""Black-box baseline for the NCLaw comparison: a GNS trained on one MPM trajectory.

NCLaw (Ma et al., ICML 2023) learns a constitutive law inside a differentiable MPM simulator
from a single trajectory; its claim is that this generalizes out of distribution far better
than a black-box learned simulator trained on the same data. This script trains that
black box — a GNS (:mod:`sciml.models.gns`) — on trajectory 0 of an ``mpm2d``/``mpm3d`` file with
:class:`sciml.training.Trainer`, and scores autoregressive rollouts by the position MSE.

Usage (a few minutes on one CPU core; then rollout errors on trajectories 0 and 1)::

    sciml generate mpm2d --set n_samples=2 --set 'materials=[jelly]' --out jelly.h5
    python examples/nclaw/baselines.py jelly.h5 --steps 600 --run-dir runs/gns_jelly

The lead script calls :func:`train_gns` and :func:`gns_position_mse`.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch
from torch.utils.data import Subset

from sciml.data.format import DatasetFile
from sciml.data.particles import (
    ParticleStats,
    ParticleWindowDataset,
    particle_spacing,
    read_positions,
)
from sciml.models.gns import GNS
from sciml.models.learned_mpm import simulation_settings
from sciml.tasks.learned_simulator import wall_bounds as task_wall_bounds
from sciml.training import Trainer, TrainerConfig

__all__ = ["train_gns", "gns_position_mse", "gns_rollout", "wall_bounds"]


def wall_bounds(path: str | os.PathLike) -> tuple[float, float]:
    """``(lo, hi)`` of the walls the particles of an ``mpm2d``/``mpm3d`` file meet
    (:func:`sciml.tasks.learned_simulator.wall_bounds` of the file's MPM settings)."""
    f = DatasetFile(path, check_finite=False)
    return task_wall_bounds(simulation_settings(f.config, len(f.spatial_dims)))


def _mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (pred - y).square().mean()


def train_gns(
    train_file: str | os.PathLike,
    run_dir: str | os.PathLike,
    *,
    steps: int,
    seed: int,
    n_frames: int | None = None,
    history: int = 5,
    stride: int = 1,
    radius_factor: float = 3.0,
    noise_scale: float = 0.1,
    latent: int = 32,
    n_message_passing: int = 3,
    batch_size: int = 2,
    lr: float = 3e-3,
    device: str = "cpu",
    progress: bool = False,
) -> GNS:
    """Train a GNS on the first ``n_frames`` frames (default: all) of trajectory 0 of
    ``train_file`` for ``steps`` optimizer steps.

    Windows of ``history + 1`` frames ``stride`` saved frames apart
    (:class:`~sciml.data.particles.ParticleWindowDataset`); connectivity radius
    ``radius_factor`` × the initial particle spacing; training noise ``noise_std`` =
    ``noise_scale`` × the mean per-component standard deviation of the frame accelerations;
    wall features relative to :func:`wall_bounds`; Adam with a cosine-decayed learning rate and gradient clipping at 1. Validation (every
    quarter of the run, in ``run_dir/metrics.csv``) is the noise-free one-step loss on up to 64
    windows of the same trajectory.

    Returns
    -------
    GNS
        The trained model in ``eval()`` mode, float32 on ``device``; its normalization
        statistics are buffers, so ``state_dict`` (also in ``run_dir/checkpoints``) carries them.
    """
    positions = read_positions(train_file, [0], n_frames)  # (1, T, P, d)
    dim = positions.shape[-1]
    noise_std = noise_scale * float(ParticleStats.fit(positions, stride).acceleration_std.mean())
    train = ParticleWindowDataset(positions, history, stride, noise_std=noise_std)
    clean = ParticleWindowDataset(positions, history, stride, stats=train.stats)
    val = Subset(clean, range(0, len(clean), max(1, math.ceil(len(clean) / 64))))
    radius = radius_factor * particle_spacing(positions[0, 0])
    torch.manual_seed(seed)
    model = GNS(
        dim,
        history=history,
        radius=radius,
        latent=latent,
        n_message_passing=n_message_passing,
        noise_std=noise_std,
        bounds=wall_bounds(train_file),
        stats=train.stats,
    )
    config = TrainerConfig(
        epochs=10**9,
        max_steps=steps,
        batch_size=batch_size,
        lr=lr,
        scheduler="cosine",
        grad_clip=1.0,
        seed=seed,
        device=device,
        log_every=max(1, steps // 20),
        eval_every=max(1, steps // 4),
        checkpoint_every=steps,
        progress=progress,
    )
    Trainer(model, _mse, train, val, config, run_dir).fit()
    return model.eval()


def gns_rollout(
    model: GNS, test_file: str | os.PathLike, trajectory: int, n_frames: int, *, stride: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and true positions, each ``(T', P, d)``, of frames ``(H+1)s, (H+2)s, …`` below
    ``n_frames`` (``s = stride``), rolled out from the first ``H+1`` true frames of the grid."""
    ref = next(model.buffers())
    x = read_positions(test_file, [trajectory], n_frames)[0, ::stride]
    x = x.to(dtype=ref.dtype, device=ref.device)
    h = model.history
    if x.shape[0] <= h + 1:
        raise ValueError(
            f"{test_file}: {x.shape[0]} frames at stride {stride} leave nothing to predict after "
            f"the {h + 1} history frames"
        )
    model.eval()
    with torch.no_grad():
        pred = model.rollout(x[: h + 1], x.shape[0] - h - 1)
    return pred, x[h + 1 :]


def gns_position_mse(
    model: GNS, test_file: str | os.PathLike, trajectory: int, n_frames: int, *, stride: int = 1
) -> float:
    """Position MSE of an autoregressive GNS rollout, averaged over the predicted frames.

    The rollout starts from the first ``H+1`` ground-truth frames of ``trajectory`` and predicts
    the frames up to ``n_frames − 1``. For each predicted frame the error is NCLaw's ``MSELoss``
    of positions (mean over particles and coordinates, m²); the result is the mean over those
    frames. The history frames are given, not predicted, so they are left out of the average
    (NCLaw's own rollouts start from frame 0 and score frames ``1 … n_frames − 1``).
    """
    pred, true = gns_rollout(model, test_file, trajectory, n_frames, stride=stride)
    return float((pred - true).square().mean(dim=(1, 2)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="mpm2d/mpm3d file; trajectory 0 is the training data")
    parser.add_argument("--run-dir", default="runs/gns_baseline")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--message-passing", type=int, default=3)
    parser.add_argument("--noise-scale", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args()
    start = time.perf_counter()
    model = train_gns(
        args.file,
        args.run_dir,
        steps=args.steps,
        seed=args.seed,
        latent=args.latent,
        n_message_passing=args.message_passing,
        noise_scale=args.noise_scale,
        batch_size=args.batch_size,
        lr=args.lr,
        progress=True,
    )
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.0f} s")
    n_total = len(read_positions(args.file, [0])[0])
    n_traj = read_positions(args.file).shape[0]
    for traj in range(min(n_traj, 2)):
        for n in sorted({min(n_total, 51), n_total}):
            mse = gns_position_mse(model, args.file, traj, n)
            print(f"trajectory {traj}, frames < {n}: position MSE {mse:.3e} m²")


if __name__ == "__main__":
    main()

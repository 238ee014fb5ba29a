"""A trained reduced-order run applied to another discretisation of the same bodies, without
retraining (GIOROM's discretisation-invariance test, docs/giorom.md).

The run (``sciml.load`` → :class:`~sciml.models.giorom.ReducedOrderSimulator`) is rolled out from
the first ``H + 1`` frames of the test trajectories of ``DATA`` (e.g. the same scenes simulated
with 2× more particles per side), once per sampling ratio: the stepper moves ``⌈ratio·P⌉``
farthest-point-sampled particles of the new body and the reconstruction maps them to all ``P``.
Reported per ratio (m², means over frames and trajectories): dense position MSE and final-frame
MSE, dense Chamfer distance, the kNN-interpolation baseline on the same rollout, and the
reconstruction of the true sparse trajectories.

Usage::

    python examples/giorom/denser.py runs/giorom_jelly data/giorom_jelly_x2.h5 --ratios 0.1 0.025
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import sciml
from sciml.data.particles import sparse_positions
from sciml.evaluation.metrics import chamfer_distance, position_mse
from sciml.models.giorom import ReducedOrderSimulator
from sciml.spec import load_spec
from sciml.tasks import task_for


def evaluate(rom: ReducedOrderSimulator, dense: torch.Tensor) -> dict[str, float]:
    """Metrics of ``rom`` on dense test frames ``(N, T, P, d)`` (module docstring)."""
    h = rom.history
    out = rom(dense[:, : h + 1], dense.shape[1] - h - 1)
    target = dense[:, h + 1 :]
    sparse = sparse_positions(dense, out.indices)
    sparse_ref, dense_ref = sparse[:, 0], dense[:, 0]
    knn = rom.knn_reconstruct(sparse_ref, out.sparse, dense_ref)
    true = rom.reconstruct(sparse_ref, sparse[:, h + 1 :], dense_ref)
    mse = position_mse(out.dense, target)
    return {
        "n_dense_particles": dense.shape[2],
        "n_stepped_particles": out.indices.shape[1],
        "dense_position_mse": float(mse.mean()),
        "dense_final_position_mse": float(mse[:, -1].mean()),
        "dense_chamfer": float(chamfer_distance(out.dense, target).mean()),
        "knn_dense_position_mse": float(position_mse(knn, target).mean()),
        "true_sparse_reconstruction_mse": float(position_mse(true, target).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run trained on sampled particles")
    parser.add_argument("data", type=Path, help="particle file of the same scenes")
    parser.add_argument("--ratios", type=float, nargs="+", default=None, help="default: the run's")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rom = sciml.load(args.run)
    if not isinstance(rom, ReducedOrderSimulator):
        parser.error(f"{args.run} was not trained on sampled particles (data.options.sampling)")
    test = task_for(load_spec(args.run / "spec.yaml")).dataset("test", path=args.data)
    dense = test.dense[:, :: test.stride].float()
    results = {}
    print(
        "| ratio | dense particles | stepped | dense MSE | final MSE | Chamfer | kNN MSE | "
        "true-sparse recon. MSE |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for ratio in args.ratios or [rom.sampling["ratio"]]:
        resampled = ReducedOrderSimulator(rom.stepper, {**rom.sampling, "ratio": ratio}).eval()
        with torch.no_grad():
            row = evaluate(resampled, dense)
        results[str(ratio)] = row
        print(
            f"| {ratio:g} | {row['n_dense_particles']} | {row['n_stepped_particles']} | "
            f"{row['dense_position_mse']:.4g} | {row['dense_final_position_mse']:.4g} | "
            f"{row['dense_chamfer']:.4g} | {row['knn_dense_position_mse']:.4g} | "
            f"{row['true_sparse_reconstruction_mse']:.4g} |"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

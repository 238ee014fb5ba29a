"""GIOROM vs ground truth, frames side by side, and the same rollout as ParaView files.

Loads a reduced-order run (``sciml.load`` → :class:`~sciml.models.giorom.ReducedOrderSimulator`),
rolls out one test trajectory of its data from the first ``H + 1`` frames (as ``sciml
evaluate``), and draws the ground truth (top row) and the reconstructed dense rollout (bottom
row) at a few frames, each column zoomed on the body. Particles are coloured by their reference position along the body's
first axis (the same material point has the same colour in both rows), the stepped (sampled)
particles are drawn black. With ``--vtu DIR`` the rollout is also written as ParaView series
(``dense.pvd``, ``sparse.pvd``, ``truth.pvd``: :meth:`ReducedOrderRollout.write_vtu`).

Usage::

    python examples/giorom/frames_figure.py runs/giorom_jelly docs/figures/giorom_jelly_frames.png \\
        --vtu runs/giorom_jelly/vtu
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import sciml  # noqa: E402
from sciml.evaluation.metrics import position_mse  # noqa: E402
from sciml.models.giorom import ReducedOrderSimulator  # noqa: E402
from sciml.spec import load_spec  # noqa: E402
from sciml.tasks import task_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run trained on sampled particles")
    parser.add_argument("figure", type=Path, help="output PNG")
    parser.add_argument("--trajectory", type=int, default=0, help="test trajectory")
    parser.add_argument("--frames", type=int, nargs="+", default=None, help="rollout frames")
    parser.add_argument("--vtu", type=Path, default=None, help="also write the VTU series here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rom = sciml.load(args.run)
    if not isinstance(rom, ReducedOrderSimulator):
        parser.error(f"{args.run} was not trained on sampled particles (data.options.sampling)")
    spec = load_spec(args.run / "spec.yaml")
    test = task_for(spec).dataset("test")
    dense = test.dense[args.trajectory, :: test.stride].float()  # (T, P, d)
    h = rom.history
    with torch.no_grad():
        out = rom(dense[: h + 1], dense.shape[0] - h - 1)
    truth = dense[h + 1 :]
    n = truth.shape[0]
    frames = args.frames or [0, n // 3, 2 * n // 3, n - 1]
    dt = round(float(test.time[test.stride] - test.time[0]), 9)  # float32 in the file
    times = [(h + 1 + k) * dt for k in range(n)]
    colour = dense[0, :, 0].numpy()
    sampled = out.indices.numpy()
    mse = position_mse(out.dense[None], truth[None])[0]

    fig, axes = plt.subplots(
        2, len(frames), figsize=(2.8 * len(frames), 5.8), layout="constrained", squeeze=False
    )
    for col, k in enumerate(frames):
        for row, (x, label) in enumerate(
            ((truth[k], "ground truth (MPM)"), (out.dense[k], "GIOROM"))
        ):
            ax = axes[row, col]
            ax.scatter(x[:, 0], x[:, -1], c=colour, s=1.5, cmap="viridis", linewidths=0)
            if row == 1:
                ax.scatter(x[sampled, 0], x[sampled, -1], c="k", s=3, linewidths=0)
            both = torch.cat([truth[k], out.dense[k]])
            centre = (both.amax(0) + both.amin(0)) / 2
            half = float((both.amax(0) - both.amin(0)).max()) / 2 + 0.03
            ax.set_xlim(float(centre[0]) - half, float(centre[0]) + half)
            ax.set_ylim(float(centre[-1]) - half, float(centre[-1]) + half)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            title = f"{label}\nt = {times[k]:.3f} s"
            if row == 1:
                title += f", MSE {float(mse[k]):.2g} m²"
            ax.set_title(title, fontsize=8)
    fig.suptitle(
        f"{spec.name}: test trajectory {args.trajectory}, {out.indices.numel()} of "
        f"{dense.shape[1]} particles stepped (black), the rest reconstructed",
        fontsize=9,
    )
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=110)
    print(f"wrote {args.figure}")
    if args.vtu is not None:
        files = out.write_vtu(args.vtu, dense[0], times=times, truth=truth)
        print("wrote " + ", ".join(str(p) for p in files.values()))


if __name__ == "__main__":
    main()

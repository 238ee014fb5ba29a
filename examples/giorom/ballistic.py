"""No-network reference for the particle-simulator comparison (docs/giorom.md): every particle of
the test trajectories moves with its last velocity plus the mean acceleration of the training
windows of a run (``x_{t+1} = 2 x_t − x_{t−1} + μ_a``), from the same ``H + 1`` start frames as
``sciml evaluate``; prints the position MSE (m², mean over frames and trajectories) and the
final frame's. On a sparse run (``data.options.sampling``) the particles are the sampled ones.

Usage::

    python examples/giorom/ballistic.py runs/giorom_jelly_gns_dense
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import sciml
from sciml.evaluation.metrics import position_mse
from sciml.spec import load_spec
from sciml.tasks import task_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a GNS run (its statistics), dense or sparse")
    args = parser.parse_args()
    model = sciml.load(args.run)
    model = getattr(model, "stepper", model)  # a sparse run's stepper: the sampled particles
    test = task_for(load_spec(args.run / "spec.yaml")).dataset("test")
    frames = test.positions[:, :: test.stride].to(torch.float64)
    h = model.history
    x = list(frames[:, h - 1 : h + 1].unbind(1))
    mean = model.acceleration_mean.to(torch.float64)
    for _ in range(frames.shape[1] - h - 1):
        x.append(2 * x[-1] - x[-2] + mean)
    mse = position_mse(torch.stack(x[2:], 1), frames[:, h + 1 :])
    print(
        f"ballistic: position MSE {float(mse.mean()):.4g} m², final {float(mse[:, -1].mean()):.4g}"
    )


if __name__ == "__main__":
    main()

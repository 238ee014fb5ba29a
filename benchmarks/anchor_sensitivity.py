"""How sensitive neuraloperator's Darcy-16 run is to tiny changes (issue 23): its own loop, one
seed, with one ingredient swapped at a time.

Run from the repository root (after ``benchmarks/trainer_vs_anchors.py --part fno --data-dir D``
has generated the data into ``D``)::

    .venv/bin/python benchmarks/anchor_sensitivity.py --data-dir D [--seed 0] [--threads 1]

Variants of ``trainer_vs_anchors.neuralop_run`` (the anchor's loop, same data, same seed-s
initialization):

1. as in the benchmark (its ``DataLoader`` shuffle);
2. sciml's batch order (:class:`sciml.training.sampler.EpochBatchSampler` with seed s);
3. as 2, with the output normalizer's std multiplied by ``sqrt((n-1)/n)``: sciml's population
   std instead of ``torch.std`` (a relative change of 2e-6 at n = 256 000 values);
4. as 1, with sciml's periodic *spectral* ``h1`` (normalized outputs, summed) instead of
   neuraloperator's ``H1Loss(d=2)`` (periodic finite differences).

Prints the test rel. L2 of the final weights at 16² and zero-shot at 32² for each variant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
import trainer_vs_anchors as bench  # noqa: E402  (benchmarks/ is the script's folder)

from sciml.data.grid import GridPairDataset
from sciml.training.losses import H1Loss
from sciml.training.sampler import EpochBatchSampler


class _SamplerLoader:
    """A ``DataLoader`` stand-in that yields sciml's batch order, a new permutation per epoch."""

    def __init__(self, dataset, batch_size: int, shuffle: bool, seed: int = 0) -> None:  # noqa: ANN001
        self.dataset, self.epoch = dataset, 0
        self.sampler = EpochBatchSampler(len(dataset), batch_size, seed=seed)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        for index in self.sampler:
            yield {"x": self.dataset.x[index], "y": self.dataset.y[index]}


class _SpectralH1(torch.nn.Module):
    """sciml's periodic spectral h1, summed, called the way neuraloperator's Trainer calls a loss."""

    def __init__(self) -> None:
        super().__init__()
        self.h1 = H1Loss(reduction="sum")

    def forward(self, y_pred: torch.Tensor, y: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        return self.h1(y_pred, y)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    import neuralop
    from neuralop.data.transforms.normalizers import UnitGaussianNormalizer

    p16, p32 = args.data_dir / "darcy2d_16.h5", args.data_dir / "darcy2d_32.h5"
    kw = {"n_train": bench.F_TRAIN, "n_test": bench.F_TEST}
    train = bench._stack(GridPairDataset(p16, ["coeff"], ["u"], split="train", **kw))
    tests = {
        "16²": bench._stack(GridPairDataset(p16, ["coeff"], ["u"], split="test", **kw)),
        "32² zero-shot": bench._stack(GridPairDataset(p32, ["coeff"], ["u"], split="all")),
    }
    loader, h1, fit = bench.DataLoader, neuralop.H1Loss, UnitGaussianNormalizer.fit

    def population_fit(self, data):  # noqa: ANN001, ANN202
        fit(self, data)
        n = data.numel()
        self.std = self.std * ((n - 1) / n) ** 0.5

    def sciml_order(dataset, batch_size, shuffle):  # noqa: ANN001, ANN202
        return _SamplerLoader(dataset, batch_size, shuffle, seed=args.seed)

    variants = {
        "1. as in the benchmark": {},
        "2. sciml's batch order": {"order": True},
        "3. sciml's batch order, population std": {"order": True, "std": True},
        "4. sciml's spectral h1": {"spectral": True},
    }
    print(f"neuraloperator's Darcy-16 loop, seed {args.seed}, threads {args.threads}")
    print("| variant | test rel. L2 16² | zero-shot 32² |\n|---|---|---|")
    for name, v in variants.items():
        bench.DataLoader = sciml_order if v.get("order") else loader
        UnitGaussianNormalizer.fit = population_fit if v.get("std") else fit
        neuralop.H1Loss = (lambda d=2: _SpectralH1()) if v.get("spectral") else h1
        errors, _, _ = bench.neuralop_run(train, tests, 15, args.seed)
        print(f"| {name} | {errors['16²']:.5f} | {errors['32² zero-shot']:.5f} |", flush=True)
    bench.DataLoader, neuralop.H1Loss, UnitGaussianNormalizer.fit = loader, h1, fit


if __name__ == "__main__":
    sys.exit(main())

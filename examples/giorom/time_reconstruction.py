"""Cost of reconstructing a dense rollout with the neighbour search done once per rollout (what
:meth:`KernelReconstruction.rollout` and :meth:`ReducedOrderSimulator.knn_reconstruct` do) vs
once per chunk of frames with the references repeated per frame (the code before the cache).

Both reconstruct the true sparse frames of the first test trajectory of a reduced-order run,
``--repeats`` interleaved timings each, medians of wall and CPU time; the outputs are compared.

Usage::

    OMP_NUM_THREADS=1 python examples/giorom/time_reconstruction.py runs/giorom_jelly
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

import sciml
from sciml.data.particles import sparse_positions
from sciml.models.dense_reconstruction import knn_interpolate
from sciml.models.giorom import ReducedOrderSimulator
from sciml.spec import load_spec
from sciml.tasks import task_for


def per_chunk(fn: Callable, sparse_ref, sparse, dense_ref, chunk: int = 16) -> torch.Tensor:
    """The pre-cache rollout: ``fn`` on ``chunk`` frames at a time, references repeated."""
    B, T, M, d = sparse.shape
    out = []
    for lo in range(0, T, chunk):
        part = sparse[:, lo : lo + chunk]
        n = part.shape[1]
        dense = fn(
            sparse_ref.repeat_interleave(n, 0),
            part.reshape(B * n, M, d),
            dense_ref.repeat_interleave(n, 0),
        )
        out.append(dense.reshape(B, n, -1, d))
    return torch.cat(out, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rom = sciml.load(args.run)
    assert isinstance(rom, ReducedOrderSimulator) and rom.stepper.reconstruction is not None
    test = task_for(load_spec(args.run / "spec.yaml")).dataset("test")
    dense = test.dense[:1, :: test.stride].float()
    sparse = sparse_positions(dense, rom.sample(test.dense[:1, 0]))
    refs = (sparse[:, 0], sparse, dense[:, 0])
    model = rom.stepper.reconstruction

    def knn(a, b, c):
        return knn_interpolate(a, b, c, rom.knn_k)

    jobs = {
        "learned, search per chunk": lambda: per_chunk(model, *refs),
        "learned, search once": lambda: model.rollout(*refs),
        "kNN, search per chunk": lambda: per_chunk(knn, *refs),
        "kNN, search once": lambda: rom.knn_reconstruct(*refs),
    }
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in jobs}
    with torch.no_grad():
        results = {k: fn() for k, fn in jobs.items()}  # warm-up, and the outputs
        for _ in range(args.repeats):
            for key, fn in jobs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                fn()
                times[key].append((time.perf_counter() - wall, time.process_time() - cpu))
    for a, b in (
        ("learned, search per chunk", "learned, search once"),
        ("kNN, search per chunk", "kNN, search once"),
    ):
        diff = float((results[a] - results[b]).abs().max())
        print(f"max |{a} - {b}| = {diff:.2e} m")
    frames = sparse.shape[1]
    print(f"\n{frames} frames, {dense.shape[2]} particles from {sparse.shape[2]}")
    print(f"| reconstruction | wall s (median of {args.repeats}) | CPU s |")
    print("|---|---|---|")
    for key, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"| {key} | {wall:.4g} | {cpu:.4g} |")


if __name__ == "__main__":
    main()

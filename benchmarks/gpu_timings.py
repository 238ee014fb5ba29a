"""Timings of the solvers and models on one device (made for a CUDA machine; runs on CPU too).

Rows (median of ``--repeats`` runs after a warm-up, synchronized on CUDA):

* MPM forward (a spinning jelly block at the box centre, two particles per cell and axis, the
  sizes of ``benchmarks/mpm_vs_taichi.py``), 2D 10,000 particles on 128², 3D 29,791 on 64³:
  particle-steps per second;
* 2D Navier–Stokes (``ns2d-fno`` preset, ETDRK4), 8 × 256², float32 and float64: steps per second;
* one training step (forward, backward, Adam) of FNO, MgNO and scOT-mini on a 64² two-channel
  batch of 16: milliseconds and peak memory on CUDA.

    python benchmarks/gpu_timings.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from sciml.models.build import build_model
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState
from sciml.solvers.mpm.materials import DENSITY, make_material
from sciml.solvers.mpm.shapes import box
from sciml.solvers.presets import build_solver

#: MPM time step (s), as in benchmarks/mpm_vs_taichi.py
DT = 1e-4


def _timed(run: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median seconds of ``run()`` over ``repeats`` calls after one warm-up."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mpm_row(dim: int, n: int, side: int, steps: int, device: torch.device, repeats: int) -> str:
    spacing = 0.5 / n  # two particles per cell and axis
    lo = [0.5 - side * spacing / 2] * dim
    x0 = box(lo, [c + side * spacing for c in lo], spacing, dtype=torch.float32).to(device)
    spin = torch.zeros(dim, dim, device=device)
    spin[0, 1], spin[1, 0] = -2.0, 2.0  # rotation about the block's centre, so F is not trivial
    v0 = (x0 - 0.5) @ spin.T
    v0[:, 0] += 1.0
    sim = MPMSimulator(Grid(dim, n), make_material("jelly"))
    state = MPMState.create(x0, density=DENSITY, particle_volume=spacing**dim, v=v0)

    def run() -> None:
        with torch.no_grad():
            sim.rollout(state, steps, dt=DT, save_every=steps)

    seconds = _timed(run, device, repeats)
    rate = x0.shape[0] * steps / seconds
    return (
        f"| MPM forward {dim}D, {x0.shape[0]} particles, {n}^{dim} | {rate:.3g} particle-steps/s |"
    )


def ns_row(dtype: torch.dtype, steps: int, device: torch.device, repeats: int) -> str:
    solver = build_solver("ns2d-fno", device=device, dtype=dtype)
    g = torch.Generator(device="cpu").manual_seed(0)
    w0 = torch.randn(8, 1, 256, 256, generator=g, dtype=dtype).to(device)

    def run() -> None:
        with torch.no_grad():
            solver.rollout(w0, steps, save_every=steps)

    seconds = _timed(run, device, repeats)
    return f"| NS 2D ETDRK4, 8 × 256², {str(dtype)[6:]} | {steps / seconds:.3g} steps/s |"


def train_step_row(name: str, options: dict, device: torch.device, repeats: int) -> str:
    torch.manual_seed(0)
    model = build_model(
        name, options, in_channels=2, out_channels=2, n_dims=2, spatial_shape=(64, 64)
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(16, 2, 64, 64, device=device), torch.randn(16, 2, 64, 64, device=device)
    t = torch.rand(16, device=device)
    keys = tuple(getattr(model, "input_keys", ("x",)))

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        out = model(x, t) if keys[:2] == ("x", "t") else model(x)
        (out - y).square().mean().backward()
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = _timed(run, device, repeats)
    peak = (
        torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    )
    n_params = sum(p.numel() for p in model.parameters())
    return (
        f"| train step {name} ({n_params:,} params), batch 16 × 2 × 64² | "
        f"{1e3 * seconds:.3g} ms, peak {peak:.0f} MiB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; median of {args.repeats} runs\n")
    print("| case | result |\n|---|---|")
    steps = 5 if args.quick else 50
    rows: list[Callable[[], str]] = [
        lambda: mpm_row(2, 32 if args.quick else 128, 20 if args.quick else 100, steps, device, args.repeats),
        lambda: mpm_row(3, 16 if args.quick else 64, 8 if args.quick else 31, steps, device, args.repeats),
        lambda: ns_row(torch.float32, steps, device, args.repeats),
        lambda: ns_row(torch.float64, steps, device, args.repeats),
        lambda: train_step_row("fno", {"n_modes": [16, 16], "hidden_channels": 32}, device, args.repeats),
        lambda: train_step_row("mgno", {}, device, args.repeats),
        lambda: train_step_row(
            "scot",
            {
                "patch_size": 2, "embed_dim": 32, "depths": [2, 2, 2], "num_heads": [2, 4, 8],
                "skip_connections": [2, 2, 0], "window_size": 8,
            },
            device,
            args.repeats,
        ),
    ]  # fmt: skip
    for row in rows:
        try:
            print(row(), flush=True)
        except Exception as exc:  # one failing row must not hide the others
            print(f"| (failed) | {type(exc).__name__}: {exc} |", flush=True)


if __name__ == "__main__":
    main()

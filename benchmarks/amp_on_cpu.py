"""Why ``trainer.amp`` is refused on CPU: one training step under autocast vs float32.

A training step here is what :class:`sciml.training.Trainer` does per micro-batch with
``trainer.amp`` set: forward under ``torch.autocast(device_type="cpu", dtype=...)`` with float32
weights, a float32 loss, backward (milliseconds, median of ``--repeats`` runs of ``--steps``
steps after a warm-up). Two networks:

* FNO: the trainer benchmark's ``neuralop.models.FNO(n_modes=(12, 12), hidden_channels=32,
  n_layers=4)``, batch 20 x 1 x 32 x 32;
* MLP: 64 -> 256 -> 256 -> 64 with GELU (a DeepONet-sized branch net), batch 512.

Ratio = autocast time / float32 time (> 1: mixed precision is slower). Usage::

    .venv/bin/python benchmarks/amp_on_cpu.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # a CPU benchmark

import torch  # noqa: E402
from _env import cpu_model, default_threads, version  # noqa: E402
from torch import nn  # noqa: E402

MODES: dict[str, torch.dtype | None] = {
    "float32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def _networks() -> dict[str, tuple[nn.Module, torch.Tensor]]:
    from neuralop.models import FNO

    torch.manual_seed(0)
    fno = FNO(n_modes=(12, 12), hidden_channels=32, in_channels=1, out_channels=1, n_layers=4)
    mlp = nn.Sequential(
        nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 64)
    )
    return {
        "FNO 2D (batch 20 x 32x32)": (fno, torch.randn(20, 1, 32, 32)),
        "MLP 64-256-256-64 (batch 512)": (mlp, torch.randn(512, 64)),
    }


def _step_fn(net: nn.Module, x: torch.Tensor, low: torch.dtype | None) -> Callable[[], None]:
    def step() -> None:
        net.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=low or torch.float32, enabled=low is not None):
            loss = net(x).float().square().mean()
        loss.backward()

    return step


def time_step(step: Callable[[], None], n_steps: int, repeats: int) -> float:
    """Median milliseconds per call of ``step`` over ``repeats`` timed runs of ``n_steps``."""
    for _ in range(3):
        step()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        runs.append((time.perf_counter() - t0) / n_steps * 1e3)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--steps", type=int, default=10, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, neuraloperator {version('neuraloperator')}; "
        f"CPU: {cpu_model()}; torch threads {args.threads}; "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    print(
        f"Command: benchmarks/amp_on_cpu.py --threads {args.threads} --steps {args.steps} "
        f"--repeats {args.repeats}\n"
    )
    print(
        "| network | float32 ms/step | bf16 ms/step | fp16 ms/step | bf16 / float32 | fp16 / float32 |"
    )
    print("|---|---|---|---|---|---|")
    for name, (net, x) in _networks().items():
        ms = {
            mode: time_step(_step_fn(net, x, low), args.steps, args.repeats)
            for mode, low in MODES.items()
        }
        print(
            f"| {name} | {ms['float32']:.2f} | {ms['bf16']:.2f} | {ms['fp16']:.2f} "
            f"| {ms['bf16'] / ms['float32']:.1f}x | {ms['fp16'] / ms['float32']:.1f}x |"
        )


if __name__ == "__main__":
    main()

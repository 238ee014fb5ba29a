"""A tiny deterministic training run shared by the trainer tests, in-process and as a script.

As a script (also under ``torchrun``) it trains into ``run_dir`` and writes a JSON summary::

    python tests/training/tiny_run.py RUN_DIR [--resume] [--sleep S] [--set key=value ...]

``--sleep`` slows every training-loss call so a test can interrupt the run mid-way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.training import Trainer, TrainerConfig

#: Defaults exercise the whole state a resume must restore: AdamW moments, warmup + cosine,
#: gradient accumulation and clipping, dropout RNG, checkpoints in the middle of an epoch.
DEFAULTS: dict[str, Any] = {
    "epochs": 4,
    "batch_size": 8,
    "lr": 1e-2,
    "optimizer": "adamw",
    "weight_decay": 1e-2,
    "scheduler": "cosine",
    "warmup_steps": 3,
    "grad_clip": 1.0,
    "grad_accum_steps": 2,
    "dtype": "float64",
    "log_every": 1,
    "eval_every": 3,
    "checkpoint_every": 4,
    "progress": False,
}


class SyntheticDataset(Dataset):
    """``x ~ N(0, I_3)``, ``y = sin(x_1 + x_2 + x_3)``; samples are ``{"x": (3,), "y": (1,)}``."""

    def __init__(self, n: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 3, generator=generator, dtype=torch.float64)
        self.y = self.x.sum(dim=1, keepdim=True).sin()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class TinyMLP(nn.Module):
    """3 → 16 → 1 with optional dropout (to make the run consume the global RNG)."""

    input_keys = ("x",)

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SlowMSE(nn.MSELoss):
    """MSE that sleeps ``delay`` seconds per call in training mode (so runs can be interrupted)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.delay and torch.is_grad_enabled():
            time.sleep(self.delay)
        return super().forward(pred, target)


def make_trainer(
    run_dir: str | Path,
    *,
    delay: float = 0.0,
    dropout: float = 0.1,
    model_seed: int = 0,
    n_train: int = 48,
    fingerprint: str = "tiny",
    loss_fn: nn.Module | None = None,
    **overrides: Any,
) -> Trainer:
    """A :class:`Trainer` for :class:`TinyMLP` on :class:`SyntheticDataset` (config overridable)."""
    torch.manual_seed(model_seed)
    model = TinyMLP(dropout)
    config = TrainerConfig(**{**DEFAULTS, **overrides})
    return Trainer(
        model,
        loss_fn if loss_fn is not None else SlowMSE(delay),
        SyntheticDataset(n_train, seed=1),
        SyntheticDataset(16, seed=2),
        config,
        run_dir,
        fingerprint=fingerprint,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--out", help="write the JSON summary here (rank 0) instead of stdout")
    parser.add_argument("--set", action="append", default=[], help="config override key=json")
    args = parser.parse_args(argv)
    # One thread: the reference and the interrupted runs must do identical arithmetic.
    torch.set_num_threads(1)
    overrides = {}
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value)
    trainer = make_trainer(args.run_dir, delay=args.sleep, dropout=args.dropout, **overrides)
    is_main = trainer.ctx.is_main
    result = trainer.fit(resume=args.resume)
    summary = {"steps": result.steps, "interrupted": result.interrupted, "history": result.history}
    if is_main:
        text = json.dumps(summary)
        if args.out:
            Path(args.out).write_text(text)
        else:
            print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

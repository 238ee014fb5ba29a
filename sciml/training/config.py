"""The trainer's settings as one validated, plain dataclass (the YAML spec maps onto it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sciml.training.optim import INTERVALS, OPTIMIZERS, SCHEDULERS

AMP_MODES = ("none", "bf16", "fp16")
DTYPES = ("float32", "float64")

#: Settings that may differ between an interrupted run and its resumption: they change neither
#: the optimization trajectory nor the saved weights.
RESUME_EXEMPT = frozenset({"progress", "num_workers", "device", "log_every"})


@dataclass(frozen=True)
class TrainerConfig:
    """How to train.

    Attributes
    ----------
    epochs, max_steps:
        Training stops after ``epochs`` passes or ``max_steps`` optimizer steps, whichever first.
    batch_size:
        Global samples per micro-batch (split evenly over DDP ranks). With
        ``grad_accum_steps = k`` one optimizer step sees ``k · batch_size`` samples.
    lr, optimizer, weight_decay, betas, eps:
        ``"adam"`` (L2 penalty) or ``"adamw"`` (decoupled weight decay), with torch's meaning of
        ``betas`` and ``eps``.
    param_groups:
        Parameter groups by name (:func:`sciml.training.optim.parameter_groups`): a tuple of
        ``{"match": regex, "lr" | "lr_scale": float, "weight_decay": float}``.
    scheduler, step_size, gamma, patience, warmup_steps, interval, horizon, pct_start, \
    div_factor, final_div_factor, cycle_momentum:
        See :class:`sciml.training.optim.LRSchedule`; ``step_size`` and ``horizon`` count
        ``interval``s, ``patience`` evaluations, ``warmup_steps`` optimizer steps (linear warmup
        composes with any decay).
    shuffle:
        Visit the training samples in a new seeded order each epoch (``False``: file order).
    grad_clip:
        Max global gradient 2-norm, or ``None``.
    amp:
        Mixed precision on CUDA only: ``"bf16"`` autocast, or ``"fp16"`` autocast + loss scaling.
    seed:
        Seeds Python, NumPy and torch at the start of a fresh run, and the data order.
    device, dtype:
        Where and in which floating dtype the model and batches live.
    log_every, eval_every, checkpoint_every:
        Periods in optimizer steps for a CSV/TensorBoard row, a validation pass (+ ``best.pt``),
        and a ``step_<N>.pt`` + ``last.pt`` checkpoint. The final step always does all three.
    num_workers:
        DataLoader worker processes.
    progress:
        Show a tqdm progress bar (rank 0 only).
    """

    epochs: int = 100
    max_steps: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    param_groups: tuple[Mapping[str, Any], ...] = ()
    scheduler: str = "none"
    step_size: int = 100
    gamma: float = 0.5
    patience: int = 10
    warmup_steps: int = 0
    interval: str | None = None
    horizon: int | None = None
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    cycle_momentum: bool = True
    shuffle: bool = True
    grad_clip: float | None = None
    grad_accum_steps: int = 1
    amp: str = "none"
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    log_every: int = 50
    eval_every: int = 200
    checkpoint_every: int = 500
    num_workers: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        at_least_one = ["epochs", "batch_size", "step_size", "grad_accum_steps", "log_every"]
        at_least_one += ["eval_every", "checkpoint_every"]
        for name in at_least_one:
            _check(name, getattr(self, name), "an integer >= 1", lambda v: _is_int(v) and v >= 1)
        for name in ("patience", "warmup_steps", "num_workers", "seed"):
            _check(name, getattr(self, name), "an integer >= 0", lambda v: _is_int(v) and v >= 0)
        _check(
            "max_steps",
            self.max_steps,
            "None or an integer >= 1",
            lambda v: v is None or (_is_int(v) and v >= 1),
        )
        _check("lr", self.lr, "a number > 0", lambda v: _is_num(v) and v > 0)
        _check("weight_decay", self.weight_decay, "a number >= 0", lambda v: _is_num(v) and v >= 0)
        _check(
            "betas",
            self.betas,
            "two numbers in [0, 1)",
            lambda v: len(v) == 2 and all(_is_num(b) and 0 <= b < 1 for b in v),
        )
        _check("eps", self.eps, "a number > 0", lambda v: _is_num(v) and v > 0)
        _check(
            "horizon",
            self.horizon,
            "None or an integer >= 1",
            lambda v: v is None or (_is_int(v) and v >= 1),
        )
        _check(
            "pct_start", self.pct_start, "a number in (0, 1)", lambda v: _is_num(v) and 0 < v < 1
        )
        for name in ("div_factor", "final_div_factor"):
            _check(name, getattr(self, name), "a number > 0", lambda v: _is_num(v) and v > 0)
        _check(
            "interval",
            self.interval,
            f"None or one of {list(INTERVALS)}",
            lambda v: v is None or v in INTERVALS,
        )
        _check(
            "param_groups",
            self.param_groups,
            "mappings with a 'match' key",
            lambda v: all(isinstance(g, Mapping) and "match" in g for g in v),
        )
        _check("gamma", self.gamma, "a number in (0, 1]", lambda v: _is_num(v) and 0 < v <= 1)
        _check(
            "grad_clip",
            self.grad_clip,
            "None or a number > 0",
            lambda v: v is None or (_is_num(v) and v > 0),
        )
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("scheduler", SCHEDULERS),
            ("amp", AMP_MODES),
            ("dtype", DTYPES),
        ):
            _check(
                name, getattr(self, name), f"one of {list(allowed)}", lambda v, a=allowed: v in a
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resume_differences(self, saved: dict[str, Any]) -> list[str]:
        """Fields (other than :data:`RESUME_EXEMPT`) whose value differs from ``saved``; a field
        a run saved before it existed counts as its default."""
        current = self.to_dict()
        return [
            f"{f.name}: saved {saved.get(f.name, f.default)!r}, now {current[f.name]!r}"
            for f in fields(self)
            if f.name not in RESUME_EXEMPT
            and _plain(saved.get(f.name, f.default)) != _plain(current[f.name])
        ]


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists (a checkpoint may hold either)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(name: str, value: Any, expected: str, ok: Any) -> None:
    if not ok(value):
        raise ValueError(f"TrainerConfig.{name} must be {expected}, got {value!r}")


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-like ``data`` (e.g. a resolved spec), for ``Trainer``'s
    ``fingerprint=``: equal for equal content whatever the dict key order."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]

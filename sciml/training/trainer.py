"""The training loop: seeded, accumulating, clipping, mixed-precision, resumable, data-parallel.

One optimizer step consumes ``grad_accum_steps`` micro-batches; each micro-batch loss is
divided by the number of micro-batches in the step before ``backward``, so the accumulated
gradient is that of the mean loss over the combined batch (exactly a larger batch for
mean-reduced losses and equal micro-batch sizes). Checkpoints are taken at step boundaries and
contain everything that determines the rest of the run: weights, optimizer and schedule state,
the RNG states, and the position in the epoch (the data order is a function of ``seed + epoch``
only, see :mod:`sciml.training.sampler`). A run killed at any point and resumed from its
``last.pt`` therefore ends with bit-identical weights on CPU.

Run directory layout::

    run_dir/checkpoints/last.pt        latest state (every checkpoint, end of run, Ctrl-C)
    run_dir/checkpoints/best.pt        state at the lowest validation loss so far
    run_dir/checkpoints/step_<N>.pt    every ``checkpoint_every`` steps
    run_dir/metrics.csv                step, epoch, train_loss, val_loss, lr, time
    run_dir/tensorboard/               SummaryWriter events
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate
from tqdm import tqdm

from sciml.devices import resolve_device
from sciml.rundir import RunDir
from sciml.training.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from sciml.training.config import TrainerConfig
from sciml.training.distributed import (
    all_reduce_sum,
    init_distributed,
    per_rank_batch_size,
    shutdown,
    wrap_model,
)
from sciml.training.interrupt import StopRequest, ignore_sigint_in_worker
from sciml.training.log import RunLogger
from sciml.training.loss_terms import LossTerms
from sciml.training.optim import LRSchedule, build_optimizer, parameter_groups
from sciml.training.sampler import EpochBatchSampler

CHECKPOINT_FORMAT = 1
#: metrics.csv column: optimizer steps skipped by fp16 loss scaling (overflowing gradients)
AMP_SKIPPED = "amp_skipped_steps"

#: Device types on which ``amp`` is accepted. The code path (``torch.autocast`` and
#: ``torch.amp.GradScaler`` on ``device.type``) is device-generic, but on CPU autocast makes a
#: training step 3-17x slower than float32 (``benchmarks/amp_on_cpu.py``), so it is refused there.
#: The tests widen this tuple to run the same path on CPU.
AMP_DEVICE_TYPES: tuple[str, ...] = ("cuda",)


def check_device(device: str, amp: str = "none", dtype: str = "float32") -> torch.device:
    """The torch device ``device`` names, if this machine has it (:func:`resolve_device`) and
    ``amp``/``dtype`` suit it.

    Raises :class:`ValueError` with a one-line reason, also for mixed precision off
    :data:`AMP_DEVICE_TYPES` or from a ``dtype`` other than float32.
    """
    dev = resolve_device(device)
    if amp == "none":
        return dev
    if dev.type not in AMP_DEVICE_TYPES:
        raise ValueError(
            f"amp={amp!r} needs a CUDA device, but device is {device!r}; "
            f"use amp='none' on {dev.type.upper()}"
        )
    if dtype != "float32":
        raise ValueError(f"amp={amp!r} mixes precision from float32; dtype is {dtype!r}")
    return dev


class NonFiniteLossError(RuntimeError):
    """The loss (or the parameters) became NaN/Inf; the run stopped without saving that state."""


class TrainerSetupError(ValueError):
    """The trainer cannot start: unwritable run directory, nothing to resume, a resume whose
    spec/config differs from the one the run was started with, or a loss that depends on no
    trainable parameter."""


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.fit`.

    Attributes
    ----------
    final_val_loss, best_val_loss:
        Last and lowest validation losses (``nan`` if validation never ran).
    best_step:
        Step of ``best.pt`` (``-1`` if none).
    steps:
        Optimizer steps done in total (across resumptions).
    history:
        The rows of ``metrics.csv`` as dicts.
    interrupted:
        ``True`` when a Ctrl-C/SIGTERM stopped the run early (``last.pt`` holds its state).
    """

    run_dir: Path
    final_val_loss: float
    best_val_loss: float
    best_step: int
    steps: int
    history: list[dict[str, Any]]
    interrupted: bool = False


@dataclass
class _Progress:
    """Counters that, with the model/optimizer/schedule/RNG state, determine the rest of a run."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    last_val_loss: float | None = None
    best_val_loss: float = math.inf
    best_step: int = -1
    window: list[float] = field(default_factory=lambda: [0.0, 0.0])  # train-loss sum, count
    statistics: dict[str, float] = field(default_factory=dict)  # model counts, summed per window
    terms: dict[str, float] = field(default_factory=dict)  # loss terms, summed per window
    elapsed: float = 0.0


def collate(samples: Any) -> Any:
    """DataLoader ``collate_fn``: stack a list of sample dicts, or pass an already batched dict.

    A dataset that implements ``__getitems__(indices) -> dict[str, Tensor]`` (batched indexing
    of in-memory tensors) returns the whole batch at once; re-collating it would split and
    re-stack every row, which dominates the step time for small models on large batches.
    """
    if isinstance(samples, dict):
        return samples
    return default_collate(samples)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Fits ``model`` to ``train_dataset`` under ``config``, writing everything to ``run_dir``.

    Parameters
    ----------
    model:
        An ``nn.Module`` with class attribute ``input_keys``; it is called as
        ``model(*[batch[k] for k in model.input_keys])``. Moved to ``config.device``/``dtype``.
        Optional hooks: ``parameter_groups(lr) -> list[dict]`` (torch param groups with their own
        learning rates, all scaled by the schedule) and ``set_training_progress(fraction)``,
        called before every optimizer step with ``(step − 1) / total_steps`` (a curriculum, e.g.
        the teacher-forcing interval of :class:`~sciml.models.learned_mpm.LearnedMPM`), and
        ``training_statistics() -> dict[str, float]``, counts since its last call (always the
        same keys), read after every step, summed over each log window and written as extra
        ``metrics.csv`` columns (rank 0's counts under DDP).
    loss_fn:
        A :class:`~sciml.training.loss_terms.LossTerms` (called with the prediction and the
        whole batch; with two or more terms each is logged as a ``loss_<name>`` column), or a
        plain ``loss_fn(pred, target) -> scalar``. Either is a mean over the batch (so that
        accumulation and data parallelism reproduce the large-batch gradient).
    train_dataset, val_dataset:
        Map-style datasets of dicts of tensors with at least ``"y"`` and the model's input keys.
    config:
        :class:`TrainerConfig`.
    run_dir:
        Created if missing. See the module docstring for its layout.
    fingerprint:
        A string identifying the spec the run was started from (e.g. a hash of the resolved
        YAML). Stored in every checkpoint; :meth:`fit` with ``resume=True`` refuses a
        different one.
    collate_fn:
        Passed to the DataLoaders (default: :func:`collate`, which also accepts datasets with
        a batched ``__getitems__``).

    Notes
    -----
    Under ``torchrun`` (see :mod:`sciml.training.distributed`) ``batch_size`` is the global
    batch, split evenly over ranks; only rank 0 writes the run directory. All ranks are seeded
    alike, so the RNG state rank 0 saves is every rank's, and a resumed DDP run restores it on
    all of them. Bit-identical resumption is guaranteed on CPU; CUDA kernels may be
    non-deterministic.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
        train_dataset: Dataset,
        val_dataset: Dataset,
        config: TrainerConfig,
        run_dir: str | Path,
        *,
        fingerprint: str = "",
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        keys = getattr(model, "input_keys", None)
        if not isinstance(keys, tuple) or not all(isinstance(k, str) for k in keys):
            raise TypeError(
                f"{type(model).__name__} needs a class attribute input_keys: tuple[str, ...] "
                "naming the batch fields its forward takes, e.g. input_keys = ('x',)"
            )
        for name, dataset in (("train_dataset", train_dataset), ("val_dataset", val_dataset)):
            if len(dataset) == 0:
                raise ValueError(f"{name} is empty")
        self.config = config
        self.fingerprint = fingerprint
        self.loss_fn = (
            loss_fn if isinstance(loss_fn, LossTerms) else LossTerms([("loss", 1.0, loss_fn)])
        )
        self.input_keys = keys
        self.run_dir = Path(run_dir)
        self.ckpt_dir = RunDir(self.run_dir).checkpoints
        self._last_saved_step: int | None = None  # step of the newest last.pt on disk

        self.dtype = getattr(torch, config.dtype)
        check_device(config.device, config.amp, config.dtype)
        self.ctx = init_distributed(config.device)
        self.device = self.ctx.device
        if self.ctx.is_main:
            self._prepare_run_dir()

        if config.amp == "fp16" and any(p.is_complex() for p in model.parameters()):
            raise TrainerSetupError(
                f"amp='fp16' needs loss scaling, and torch's GradScaler cannot unscale the "
                f"complex parameters of {type(model).__name__} (e.g. FNO's spectral weights); "
                "use amp='bf16', which needs no scaling"
            )
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.loss_fn.bind(self.model)  # terms with space='normalized' see its output normalizer
        self.ddp_model = wrap_model(self.model, self.ctx)
        # A model may split its parameters into groups with their own learning rates (e.g. a
        # learned simulator's elastic and plastic laws); the schedule scales every group alike.
        groups = getattr(self.model, "parameter_groups", None)
        if callable(groups) and config.param_groups:
            raise TrainerSetupError(
                f"{type(self.model).__name__} defines its own parameter groups; "
                "optimizer.param_groups cannot be used with it"
            )
        if callable(groups):
            params = groups(config.lr)
        elif config.param_groups:
            params = parameter_groups(
                self.model, config.param_groups, config.lr, config.weight_decay
            )
        else:
            params = self.model.parameters()
        self.optimizer = build_optimizer(
            params,
            config.optimizer,
            config.lr,
            config.weight_decay,
            betas=config.betas,
            eps=config.eps,
        )
        # A model with a curriculum (e.g. a teacher-forcing interval) follows the step count.
        self._progress_hook = getattr(self.model, "set_training_progress", None)
        # A model may count events of its own (e.g. skipped diverged segments) for the log.
        self._statistics_hook = getattr(self.model, "training_statistics", None)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.amp == "fp16")
        # fp16 loss scaling skips the optimizer step whose gradients overflow: counted in the log
        self.statistic_names: tuple[str, ...] = (
            tuple(self._statistics_hook()) if callable(self._statistics_hook) else ()
        ) + ((AMP_SKIPPED,) if self.scaler.is_enabled() else ())
        self.term_names = self.loss_fn.log_columns
        self._step_skipped = 0.0  # whether the last optimizer step was skipped (fp16 overflow)

        self._build_loaders(train_dataset, val_dataset, collate_fn or collate)
        self.steps_per_epoch = math.ceil(self.sampler.batches_per_epoch / config.grad_accum_steps)
        total = config.epochs * self.steps_per_epoch
        self.total_steps = min(total, config.max_steps) if config.max_steps else total
        self.schedule = LRSchedule(
            self.optimizer,
            config.scheduler,
            total_steps=self.total_steps,
            steps_per_epoch=self.steps_per_epoch,
            warmup_steps=config.warmup_steps,
            step_size=config.step_size,
            gamma=config.gamma,
            patience=config.patience,
            interval=config.interval,
            horizon=config.horizon,
            pct_start=config.pct_start,
            div_factor=config.div_factor,
            final_div_factor=config.final_div_factor,
            cycle_momentum=config.cycle_momentum,
        )

    # ----------------------------------------------------------------------------------- setup
    def _build_loaders(
        self, train_dataset: Dataset, val_dataset: Dataset, collate_fn: Callable[[Any], Any]
    ) -> None:
        cfg, ctx = self.config, self.ctx
        local_batch = per_rank_batch_size(cfg.batch_size, ctx.world_size)
        self.sampler = EpochBatchSampler(
            len(train_dataset),
            cfg.batch_size,
            seed=cfg.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            shuffle=cfg.shuffle,
        )
        # Private generators: creating a DataLoader iterator draws a worker base seed, which
        # must not advance the global RNG (dropout etc.) or depend on where a resume starts.
        self._train_gen = torch.Generator()
        self._val_gen = torch.Generator()
        loader_kw: dict[str, Any] = {
            "num_workers": cfg.num_workers,
            "collate_fn": collate_fn,
            "pin_memory": self.device.type == "cuda",
            "worker_init_fn": ignore_sigint_in_worker if cfg.num_workers > 0 else None,
        }
        self.train_loader = DataLoader(
            train_dataset, batch_sampler=self.sampler, generator=self._train_gen, **loader_kw
        )
        # Validation is sharded over ranks without padding; losses are summed sample-weighted.
        # Its workers persist (no respawn per evaluation); the training loader's do not, so
        # that worker seeds follow seed + epoch exactly, resumed or not.
        val_share = Subset(val_dataset, range(ctx.rank, len(val_dataset), ctx.world_size))
        self.val_loader = DataLoader(
            val_share,
            batch_size=local_batch,
            shuffle=False,
            generator=self._val_gen,
            persistent_workers=cfg.num_workers > 0,
            **loader_kw,
        )

    def _prepare_run_dir(self) -> None:
        try:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / ".write_probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise TrainerSetupError(
                f"run directory {self.run_dir} is not writable ({err}); choose another output"
            ) from err

    # -------------------------------------------------------------------------- state in/out
    def _state(self, p: _Progress, history: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": p.step,
            "epoch": p.epoch,
            "batch_in_epoch": p.batch_in_epoch,
            "rng": capture_rng_state(),
            "val_loss": p.last_val_loss,
            "best_val_loss": p.best_val_loss,
            "best_step": p.best_step,
            "window": list(p.window),
            "statistics": dict(p.statistics),
            "terms": dict(p.terms),
            "elapsed": p.elapsed,
            "history": list(history),
            "config": self.config.to_dict(),
            "fingerprint": self.fingerprint,
        }

    def _save(self, state: dict[str, Any], names: list[str], step: int) -> None:
        if not self.ctx.is_main or not names:
            return
        if not all(bool(torch.isfinite(t).all()) for t in self.model.state_dict().values()):
            raise NonFiniteLossError(
                f"model parameters became non-finite at step {step}; stopping without writing "
                f"a checkpoint. {self._kept_checkpoint_note()}"
            )
        save_checkpoint(state, *[self.ckpt_dir / name for name in names])
        if "last.pt" in names:
            self._last_saved_step = step

    def _kept_checkpoint_note(self) -> str:
        if self._last_saved_step is None:
            return "No checkpoint had been written yet."
        return (
            f"The last good checkpoint is kept: {self.ckpt_dir / 'last.pt'} "
            f"(step {self._last_saved_step})."
        )

    def _restore(self) -> tuple[_Progress, list[dict[str, Any]]]:
        path = self.ckpt_dir / "last.pt"
        if not path.is_file():
            raise TrainerSetupError(f"nothing to resume in {self.run_dir}: {path} not found")
        state = load_checkpoint(path, map_location="cpu")
        if state.get("fingerprint", "") != self.fingerprint:
            raise TrainerSetupError(
                f"cannot resume {self.run_dir}: it was started from a different spec "
                f"(fingerprint {state.get('fingerprint')!r}, now {self.fingerprint!r})"
            )
        diffs = self.config.resume_differences(state.get("config", {}))
        if diffs:
            raise TrainerSetupError(
                f"cannot resume {self.run_dir}: trainer settings differ from the saved run: "
                + "; ".join(diffs)
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"])
        self._last_saved_step = int(state["step"])
        p = _Progress(
            step=int(state["step"]),
            epoch=int(state["epoch"]),
            batch_in_epoch=int(state["batch_in_epoch"]),
            last_val_loss=state["val_loss"],
            best_val_loss=float(state["best_val_loss"]),
            best_step=int(state["best_step"]),
            window=[float(v) for v in state["window"]],
            statistics={k: float(v) for k, v in state.get("statistics", {}).items()},
            terms={k: float(v) for k, v in state.get("terms", {}).items()},
            elapsed=float(state["elapsed"]),
        )
        return p, list(state["history"])

    # ------------------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> TrainResult:
        """Train until ``epochs``/``max_steps``; with ``resume=True`` continue from ``last.pt``.

        Raises
        ------
        NonFiniteLossError
            The loss became NaN/Inf; the message names the step. No checkpoint is written from
            that state, so ``last.pt`` stays the last good one.
        TrainerSetupError
            ``resume=True`` with no ``last.pt`` or with a different fingerprint/config, or a
            fresh run into a directory that already holds one.
        """
        try:
            if resume:
                p, history = self._restore()
            else:
                if (self.ckpt_dir / "last.pt").exists():
                    raise TrainerSetupError(
                        f"{self.run_dir} already holds a run (checkpoints/last.pt); resume it or "
                        "choose an empty run directory"
                    )
                seed_everything(self.config.seed)
                p, history = _Progress(), []
            logger = RunLogger(
                self.run_dir,
                history,
                enabled=self.ctx.is_main,
                extra_columns=(*self.term_names, *self.statistic_names),
            )
            try:
                interrupted = self._loop(p, logger)
            finally:
                logger.close()
        finally:
            shutdown(self.ctx)
        final = p.last_val_loss
        return TrainResult(
            run_dir=self.run_dir,
            final_val_loss=math.nan if final is None else final,
            best_val_loss=p.best_val_loss if p.best_step >= 0 else math.nan,
            best_step=p.best_step,
            steps=p.step,
            history=logger.history,
            interrupted=interrupted,
        )

    def _loop(self, p: _Progress, logger: RunLogger) -> bool:
        """Run steps until done; returns whether a stop signal ended the run early."""
        bar = tqdm(
            total=self.total_steps,
            initial=p.step,
            desc="train",
            unit="step",
            disable=not (self.config.progress and self.ctx.is_main),
            dynamic_ncols=True,
        )
        started = time.perf_counter() - p.elapsed
        n_batches = self.sampler.batches_per_epoch
        self.model.train()
        with bar, StopRequest() as stop:
            while p.step < self.total_steps:
                if p.batch_in_epoch >= n_batches:
                    p.epoch, p.batch_in_epoch = p.epoch + 1, 0
                self.sampler.set_epoch(p.epoch, start_batch=p.batch_in_epoch)
                self._train_gen.manual_seed(self.config.seed + p.epoch)
                batches = self._epoch_batches()
                while p.batch_in_epoch < n_batches and p.step < self.total_steps:
                    n_micro = min(self.config.grad_accum_steps, n_batches - p.batch_in_epoch)
                    loss, lr, stop_all, terms = self._train_step(batches, n_micro, p.step + 1, stop)
                    for name, value in terms.items():
                        p.terms[name] = p.terms.get(name, 0.0) + value
                    counts = self._statistics_hook() if callable(self._statistics_hook) else {}
                    if self.scaler.is_enabled():
                        counts = {**counts, AMP_SKIPPED: self._step_skipped}
                    for name, value in counts.items():
                        p.statistics[name] = p.statistics.get(name, 0.0) + float(value)
                    p.step += 1
                    p.batch_in_epoch += n_micro
                    p.elapsed = time.perf_counter() - started
                    bar.update(1)
                    self._after_step(p, loss, lr, logger, bar, final=p.step == self.total_steps)
                    if stop_all:
                        self._save(self._state(p, logger.history), ["last.pt"], p.step)
                        last = self.ckpt_dir / "last.pt"
                        bar.write(f"interrupted at step {p.step}; saved {last}", file=sys.stderr)
                        return True
        return False

    def _epoch_batches(self) -> Iterator[Any]:
        """Batches of the current epoch (the sampler is already set to it).

        An in-memory dataset with batched ``__getitems__`` is indexed directly when no worker
        processes, custom collation or pinned memory are involved: a DataLoader iterator per epoch
        (per step when training full-batch) would only add overhead. Same batches either way.
        """
        loader = self.train_loader
        direct = (
            loader.num_workers == 0
            and loader.collate_fn is collate
            and not loader.pin_memory
            and hasattr(loader.dataset, "__getitems__")
        )
        if direct:
            return (loader.dataset.__getitems__(indices) for indices in self.sampler)
        return iter(loader)

    def _to_device(self, batch: Any) -> dict[str, torch.Tensor]:
        if not isinstance(batch, dict):
            raise TypeError(f"a batch must be a dict of tensors, got {type(batch).__name__}")
        missing = [k for k in (*self.input_keys, "y") if k not in batch]
        if missing:
            raise KeyError(
                f"batch lacks {missing} needed by the model/loss (batch has {sorted(batch)})"
            )
        non_blocking = self.device.type == "cuda"
        return {
            k: v.to(self.device, self.dtype if v.is_floating_point() else v.dtype, non_blocking)
            for k, v in batch.items()
        }

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.amp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def _train_step(
        self, batches: Iterator[Any], n_micro: int, step: int, stop: StopRequest
    ) -> tuple[float, float, bool, dict[str, float]]:
        """One optimizer step over ``n_micro`` micro-batches.

        Returns the loss averaged over micro-batches and ranks, the learning rate used,
        whether any rank was asked to stop (reduced together, so all ranks stop at once), and
        the loss terms' values averaged over the micro-batches (this rank's; empty for a
        single-term loss).
        """
        self.optimizer.zero_grad(set_to_none=True)
        if callable(self._progress_hook):
            self._progress_hook((step - 1) / self.total_steps)
        losses = []
        term_sums: dict[str, torch.Tensor] = {}
        for i in range(n_micro):
            batch = self._to_device(next(batches))
            # Synchronize gradients across ranks only on the last micro-batch of the step.
            defer_sync = self.ctx.enabled and i < n_micro - 1
            with self.ddp_model.no_sync() if defer_sync else contextlib.nullcontext():
                with self._autocast():
                    pred = self.ddp_model(*[batch[k] for k in self.input_keys])
                    loss = self.loss_fn(pred, batch)
                    if self.term_names:
                        for name, value in self.loss_fn.last.items():
                            term_sums[name] = term_sums.get(name, 0.0) + value.float()
                if loss.requires_grad:
                    self.scaler.scale(loss / n_micro).backward()
                elif bool(torch.isfinite(loss)):
                    raise TrainerSetupError(
                        "the training loss does not depend on any trainable parameter (it has no "
                        "autograd graph); check that the model's forward uses its parameters"
                    )
                # else: a NaN computed without a graph (e.g. a simulation that blew up at its
                # first step) is reported as a non-finite loss below, like any other.
            losses.append(loss.detach())
        mean_loss, stop_all = self._reduce_step(losses, stop.requested)
        if not math.isfinite(mean_loss):
            raise NonFiniteLossError(
                f"non-finite training loss ({mean_loss}) at step {step}; stopping without "
                f"taking that step. {self._kept_checkpoint_note()}"
            )
        lr = self.schedule.lr
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scaler.is_enabled():  # update() backs the scale off exactly when it skipped
            self._step_skipped = float(self.scaler.get_scale() < scale)
        self.schedule.step()
        terms = {name: float(value) / n_micro for name, value in term_sums.items()}
        return mean_loss, lr, stop_all, terms

    def _reduce_step(self, losses: list[torch.Tensor], stop: bool) -> tuple[float, bool]:
        """Mean of the micro-batch losses over micro-batches and ranks, and whether any rank
        wants to stop: one collective per step carries both, so all ranks stop together."""
        if not self.ctx.enabled:
            # Plain floats: fewer tiny tensor ops per step than the collective path below.
            return sum(loss.item() for loss in losses) / len(losses), stop
        flag = torch.tensor(float(stop), dtype=torch.float64, device=self.device)
        stats = torch.stack([torch.stack(losses).to(torch.float64).mean(), flag])
        all_reduce_sum(stats, self.ctx)
        return stats[0].item() / self.ctx.world_size, stats[1].item() > 0

    @torch.no_grad()
    def _validate(self) -> float:
        """Sample-weighted mean validation loss over the whole set (all ranks' shares)."""
        self.model.eval()
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for raw in self.val_loader:
            batch = self._to_device(raw)
            with self._autocast():
                loss = self.loss_fn(self.model(*[batch[k] for k in self.input_keys]), batch)
            n = batch["y"].shape[0]
            totals[0] += loss.to(torch.float64) * n
            totals[1] += n
        all_reduce_sum(totals, self.ctx)
        self.model.train()
        return (totals[0] / totals[1]).item()

    def _after_step(
        self, p: _Progress, loss: float, lr: float, logger: RunLogger, bar: Any, final: bool
    ) -> None:
        """Validation, logging and checkpoints due at step ``p.step``, in that order, so every
        checkpoint holds the state after all of this step's bookkeeping."""
        cfg = self.config
        p.window[0] += loss
        p.window[1] += 1
        evaluate = final or p.step % cfg.eval_every == 0
        improved = False
        if evaluate:
            p.last_val_loss = self._validate()
            self.schedule.observe(p.last_val_loss)
            improved = p.last_val_loss < p.best_val_loss
            if improved:
                p.best_val_loss, p.best_step = p.last_val_loss, p.step
        if evaluate or final or p.step % cfg.log_every == 0:
            row = {
                "step": p.step,
                "epoch": p.epoch + p.batch_in_epoch / self.sampler.batches_per_epoch,
                "train_loss": p.window[0] / p.window[1],
                "val_loss": p.last_val_loss if evaluate else None,
                "lr": lr,
                "time": p.elapsed,
                **{name: p.terms.get(name, 0.0) / p.window[1] for name in self.term_names},
                **{name: p.statistics.get(name, 0.0) for name in self.statistic_names},
            }
            p.window = [0.0, 0.0]
            p.statistics = {}
            p.terms = {}
            logger.log(row)
            bar.set_postfix(loss=f"{row['train_loss']:.3g}", refresh=False)
        names = ["best.pt"] if improved else []
        if final or p.step % cfg.checkpoint_every == 0:
            names.append("last.pt")
        # After last.pt, so that a step_<N>.pt on disk implies a last.pt at least as recent.
        if p.step % cfg.checkpoint_every == 0:
            names.append(f"step_{p.step}.pt")
        if names and self.ctx.is_main:
            self._save(self._state(p, logger.history), names, p.step)

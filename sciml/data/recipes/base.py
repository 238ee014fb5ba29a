"""The recipe interface: how a benchmark dataset is generated and written to our HDF5 schema.

A recipe is a class registered in :data:`sciml.registry.RECIPES` with

* ``Config`` — a pydantic model of its parameters, every field with a default. A catalog preset
  ``sciml/catalog/datasets/<name>.yaml`` may replace some of them (only those that differ, e.g.
  the benchmark's sample count); :func:`make_config` applies it for every caller. Unknown keys
  are refused with the list of valid ones.
* ``generate(config, out_path, *, device, progress)`` — writes the file through
  :class:`~sciml.data.format.DatasetWriter` and returns its path.

:func:`generate_in_blocks` is the shared resumable loop: trajectories are produced in blocks whose
random numbers depend only on ``(seed, block start)``, so a run killed with ``kill -9`` and started
again continues from the last complete block and ends with the same file as an uninterrupted run.
Under :func:`generate`, Ctrl-C or ``SIGTERM`` stops the loop cleanly after the current block
(:class:`GenerationInterrupted`; a second Ctrl-C stops at once), and ``resume=True`` insists on
continuing the ``.partial`` file instead of starting over.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from tqdm.auto import tqdm

from sciml.catalog import preset_names, read_preset
from sciml.data.format import DatasetLayout, DatasetWriter
from sciml.data.output_path import check_output_file
from sciml.data.sharding import active_sharding
from sciml.devices import resolve_device
from sciml.registry import RECIPES


class RecipeConfig(BaseModel):
    """Base of recipe configurations: strict (unknown keys are errors), with a seed and a size."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    n_samples: int = 32
    seed: int = 0
    batch_size: int = 16

    @model_validator(mode="after")
    def _check_sizes_and_seed(self) -> RecipeConfig:
        # here rather than as Field bounds, which a subclass redefining the default would drop
        for name, least in (("n_samples", 1), ("batch_size", 1), ("seed", 0)):
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be >= {least}, got {getattr(self, name)}")
        return self


class Recipe(ABC):
    """Base class of dataset recipes (see module docstring)."""

    Config: ClassVar[type[RecipeConfig]] = RecipeConfig
    #: one-line description shown by ``sciml info``
    summary: ClassVar[str] = ""

    @abstractmethod
    def generate(
        self,
        config: RecipeConfig,
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        """Write the dataset of ``config`` to ``out_path`` and return the path."""


class RecipeError(ValueError):
    """Unknown recipe parameters or values; the message lists the valid ones."""


class GenerationInterrupted(Exception):
    """Generation stopped by a signal after a complete block; the ``.partial`` file is kept."""

    def __init__(self, signum: int, partial: Path, n_done: int, n_total: int) -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name} after {n_done} of {n_total} trajectories; {partial} keeps them: "
            "run the same command with --resume to continue"
        )


@dataclass
class _Control:
    """What :func:`generate` tells :func:`generate_in_blocks`: resume or not, and the signal
    that asked to stop (set by the handler)."""

    resume: bool = False
    stop_signal: int | None = None


_CONTROL: ContextVar[_Control | None] = ContextVar("sciml_generation_control", default=None)


@contextlib.contextmanager
def _stop_on_signals(control: _Control) -> Iterator[None]:
    """Record ``SIGINT``/``SIGTERM`` in ``control`` instead of dying mid-block (a second Ctrl-C
    raises ``KeyboardInterrupt`` at once). Inert outside the main thread, where handlers cannot
    be installed. (The trainer's :class:`sciml.training.interrupt.StopRequest` does the same one
    layer up, which this data-layer module may not import.)"""

    def handle(signum: int, frame: Any) -> None:
        if control.stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        control.stop_signal = signum
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current block "
            "(Ctrl-C again to stop at once)",
            file=sys.stderr,
        )

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def default_parameters(name: str) -> dict[str, Any]:
    """What recipe ``name``'s catalog preset (``sciml/catalog/datasets/<name>.yaml``) sets: only
    the parameters whose benchmark value differs from its ``Config`` default (empty without a
    preset)."""
    return read_preset("datasets", name) if name in preset_names("datasets") else {}


def make_config(name: str, overrides: Mapping[str, Any] | None = None) -> RecipeConfig:
    """Validated configuration of recipe ``name``: its ``Config`` defaults, then its catalog
    preset (:func:`default_parameters`), then ``overrides``.

    The one place a recipe's parameters are resolved, so ``sciml.generate(name, out)``,
    ``sciml generate name`` and a spec's ``data.generate`` describe the same file.
    """
    cls: type[Recipe] = RECIPES.get(name)
    overrides = {**default_parameters(name), **dict(overrides or {})}
    fields = cls.Config.model_fields
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        valid = ", ".join(f"{k} (default {v.default!r})" for k, v in fields.items())
        raise RecipeError(f"recipe {name!r} has no parameter(s) {unknown}. Valid: {valid}")
    try:
        return cls.Config(**overrides)
    except ValidationError as exc:
        msgs = "; ".join(_error_text(e) for e in exc.errors())
        raise RecipeError(f"recipe {name!r}: {msgs}") from None


def _error_text(error: Any) -> str:
    """``"key: reason"`` for one pydantic error (just the reason for a whole-config check)."""
    loc = ".".join(map(str, error["loc"]))
    msg = str(error["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}; got {error.get('input')!r}" if loc else msg


def generate(
    name: str,
    out_path: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    resume: bool = False,
) -> Path:
    """Generate dataset ``name`` into ``out_path`` (the public entry point, ``sciml generate``).

    The configuration, the device and the output path are checked before any work. Ctrl-C or
    ``SIGTERM`` stops after the current block with :class:`GenerationInterrupted`;
    ``resume=True`` continues the ``<out_path>.partial`` file such a stop (or a crash) left and
    refuses when there is none or it was made with other parameters.
    """
    config = make_config(name, overrides)
    try:
        device = resolve_device(device)
    except ValueError as err:
        raise RecipeError(f"recipe {name!r}: {err}") from None
    check_output_file(out_path, example_name=f"{name}.h5")
    recipe: Recipe = RECIPES.get(name)()
    control = _Control(resume=resume)
    token = _CONTROL.set(control)
    try:
        with _stop_on_signals(control):
            return recipe.generate(config, out_path, device=device, progress=progress)
    finally:
        _CONTROL.reset(token)


def block_generator(seed: int, start: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator whose stream depends only on ``(seed, start)`` (resumable generation)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed) * 1_000_003 + int(start))
    return gen


def generate_in_blocks(
    out_path: str | os.PathLike,
    layout: DatasetLayout,
    make_block: Callable[[int, int], Mapping[str, Any]],
    *,
    block_size: int,
    progress: bool = True,
) -> Path:
    """Fill a dataset file block by block, resuming a ``.partial`` file left by a killed run.

    Parameters
    ----------
    make_block:
        ``make_block(start, size) -> {field: (size, ...)}``; must be deterministic in
        ``(start, size)`` (draw random numbers from :func:`block_generator`).
    block_size:
        Trajectories per block (the solver batch size).

    Under :func:`sciml.data.sharding.sharded` (``sciml generate`` under ``torchrun``) this rank
    generates only its blocks, into a shard file, and rank 0 joins the shards into ``out_path``.
    """
    sharding = active_sharding()
    if sharding is not None:
        return sharding.generate(
            out_path,
            layout,
            make_block,
            block_size=block_size,
            progress=progress and sharding.rank == 0,
            fill=generate_in_blocks,
        )
    n = layout.n_trajectories
    control = _CONTROL.get() or _Control()
    with DatasetWriter(out_path, layout, resume=control.resume) as writer:
        bar = tqdm(
            total=n,
            initial=writer.n_done,
            desc=f"generate {layout.dataset_name}",
            unit="traj",
            disable=not progress,
        )
        for start in range(writer.n_done, n, block_size):
            size = min(block_size, n - start)
            writer.write(start, make_block(start, size))
            bar.update(size)
            if control.stop_signal is not None and writer.n_done < n:
                bar.close()
                raise GenerationInterrupted(control.stop_signal, writer.partial, writer.n_done, n)
        bar.close()
    return Path(out_path)

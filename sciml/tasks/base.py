"""The task interface: what every kind of problem provides, and the steps all kinds share.

A :class:`Task` turns a validated :class:`~sciml.spec.Spec` into datasets, a model description
(``model.json``), a fitted and trainable model, the loss, an evaluation report, and, from a
trained run, the module ``sciml.load`` returns and the inputs ``sciml export`` traces with. The
workflow calls these methods in order and never tests what kind of problem it runs::

    task = task_for(spec)                       # spec.task, or the task of data.kind
    train, val = task.dataset("train", n_val=k), task.dataset("val", n_val=k)
    info = {..., **task.describe(train)}        # → model.json
    model = task.build(info)                    # untrained (also how a run is restored)
    train, val = task.fit(model, train, val)    # normalizers, POD, statistics
    Trainer(model, task.loss(), train, val, ...)
    task.evaluate(task.for_use(model, info), ...)

A new kind of problem is one module that subclasses :class:`Task` and registers it with
``@TASKS.register(name)``.
"""

from __future__ import annotations

import inspect
import json
import os
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.data.format import DataFileError
from sciml.registry import DATASETS, MODELS
from sciml.spec import DataSpec, Spec, SpecError
from sciml.training.loss_terms import LossTerms, build_loss

DTYPES = {"float32": torch.float32, "float64": torch.float64}


class Task(ABC):
    """One kind of problem (see the module docstring for the order of the calls).

    Class attributes
    ----------------
    name:
        Registered name (``model.json["task"]``, the spec's ``task:``).
    dataset_kinds:
        ``data.kind`` values this task is the default for.
    model_inputs:
        Batch entries a model of this task may take as inputs (its ``input_keys``); empty:
        not checked.
    """

    name: ClassVar[str]
    dataset_kinds: ClassVar[tuple[str, ...]] = ()
    model_inputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.dtype = DTYPES[spec.trainer.dtype]

    # ------------------------------------------------------------------------------------ data
    def dataset_options(self) -> dict[str, Any]:
        """Extra keyword arguments of the dataset class that this task sets (default none)."""
        return {}

    def dataset(
        self,
        split: str,
        *,
        path: str | os.PathLike | None = None,
        subsample: int | None = None,
        n_val: int = 0,
    ) -> Dataset:
        """The ``split`` (``"train"``, ``"val"``, ``"test"``, ``"all"``) of the spec's data (or
        of the file ``path``), ``n_val`` training trajectories held out as ``"val"``."""
        data = self.spec.data
        file = Path(path) if path is not None else data.file
        if not file.exists():
            hint = ""
            if path is None and data.dataset is not None:
                hint = f"; make it with: {generate_command(data)}"
            raise DataFileError(file, f"data file not found{hint}")
        options = {
            "split": split,
            "n_train": data.n_train,
            "n_test": data.n_test,
            "n_val": n_val,
            "subsample": subsample if subsample is not None else data.subsample,
            "dtype": self.dtype,
            **self.dataset_options(),
            **data.options,
        }
        if data.test_fraction is not None:
            options["test_fraction"] = data.test_fraction
        return self.open_dataset(DATASETS.get(data.kind), file, options)

    def open_dataset(self, cls: Any, file: Path, options: dict[str, Any]) -> Dataset:
        """Call the dataset class: one that maps input fields to other output fields takes
        ``(file, inputs, outputs)``, one of a state that predicts itself ``(file, fields)``."""
        data = self.spec.data
        if _takes_outputs(cls):
            return cls(file, data.inputs, data.outputs, **options)
        if data.outputs != data.inputs:
            raise SpecError(
                f"data.outputs: dataset kind {data.kind!r} predicts its own state; set outputs "
                f"equal to inputs ({data.inputs})"
            )
        return cls(file, data.inputs, **options)

    # ----------------------------------------------------------------------------------- model
    def model_keywords(self) -> tuple[str, ...]:
        """Constructor keywords this task fills from the data (default none)."""
        return ()

    def model_problem(self, model_name: str) -> str | None:
        """Why this task cannot train the registered model family ``model_name`` with any
        options, or ``None`` when it may (building it can still refuse an option).

        A family qualifies when its constructor takes every keyword the data fills
        (:meth:`model_keywords`); ``sciml bench`` asks this of every family and benchmark.
        """
        needed = self.model_keywords()
        params = inspect.signature(MODELS.get(model_name)).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return None
        missing = [k for k in needed if k not in params]
        if missing:
            return (
                f"task {self.name!r} builds its model with {', '.join(needed)} from the data; "
                f"the {model_name!r} constructor takes no {', '.join(missing)}"
            )
        return None

    @classmethod
    def check_inputs(cls, model: nn.Module, model_name: str) -> nn.Module:
        """``model`` when every input it takes (``input_keys``) is a batch entry of this task
        (:attr:`model_inputs`); a :class:`ValueError` naming the others otherwise (instead of
        a missing key deep in the first training step)."""
        keys = tuple(getattr(model, "input_keys", ("x",)))
        other = [k for k in keys if k not in cls.model_inputs]
        if cls.model_inputs and other:
            raise ValueError(
                f"model {model_name!r} takes the inputs {list(keys)}, but task {cls.name!r} "
                f"gives only {list(cls.model_inputs)} (not {other}); choose the task whose "
                "batches hold them (see `sciml info` and docs/design.md)"
            )
        return model

    @abstractmethod
    def describe(self, train_set: Dataset) -> dict[str, Any]:
        """What ``model.json`` records beyond the spec's model section: the constructor
        arguments the data fixes (channels, dimension, grid, ...)."""

    @classmethod
    @abstractmethod
    def build(cls, info: Mapping[str, Any]) -> nn.Module:
        """The untrained model ``model.json`` describes (training starts from it, and a trained
        run is restored into it)."""

    def fit(
        self, model: nn.Module, train_set: Dataset, val_set: Dataset
    ) -> tuple[Dataset, Dataset]:
        """Fit what is fitted on the training split before training (normalizers, bases,
        statistics); returns the training and validation sets the trainer should use."""
        return train_set, val_set

    def loss(self) -> LossTerms:
        """The training loss (``trainer.loss``)."""
        return build_loss(self.spec.trainer.loss)

    # ------------------------------------------------------------------------------------- use
    @classmethod
    def for_use(cls, model: nn.Module, info: Mapping[str, Any]) -> nn.Module:
        """What ``sciml.load`` returns for a trained ``model`` (default: the model itself)."""
        return model

    @classmethod
    def example_inputs(cls, loaded: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
        """Inputs ``sciml export`` traces the loaded module with."""
        raise ValueError(
            f"runs of the {cls.name!r} task cannot be exported: their module is a simulation loop "
            "over particle states, not a traceable field-to-field map; use sciml.load in Python"
        )

    # ------------------------------------------------------------------------------ evaluation
    @abstractmethod
    def evaluate(
        self,
        loaded: nn.Module,
        *,
        data: str | os.PathLike | None,
        split: str,
        resolutions: list[int],
        out: Path,
        device: str,
        vtu: int = 0,
    ) -> tuple[dict[str, dict[str, Any]], list[Path]]:
        """Metrics per section (``"test"``, ``"test@128"``, ...) and the figures written into
        ``out``, for the ``loaded`` module on the ``split`` of the spec's data (or of ``data``).

        ``vtu > 0``: also write the predictions and ground truth of the first ``vtu`` samples
        (trajectories) of the split as ParaView files into ``out / "vtu"``
        (:mod:`sciml.evaluation.vtu`); a task whose predictions have no such form refuses it
        with a :class:`~sciml.spec.SpecError`."""


def _takes_outputs(cls: Any) -> bool:
    """Whether a dataset class's constructor (its own or an inherited one that names its
    parameters) takes ``outputs``."""
    inits = [k.__init__ for k in getattr(cls, "__mro__", ()) if "__init__" in vars(k)]
    return any("outputs" in inspect.signature(init).parameters for init in inits)


def generate_command(data: DataSpec) -> str:
    """The ``sciml generate`` command that makes the spec's data file."""
    # compact JSON in shell quotes, so the printed command can be pasted as it is
    sets = "".join(
        " --set " + shlex.quote(f"{k}={json.dumps(v, separators=(',', ':'))}")
        for k, v in data.generate.items()
    )
    return f"sciml generate {data.dataset}{sets} --out {shlex.quote(str(data.file))}"


def validation_size(data: DataSpec, n_training: int) -> int:
    """Validation trajectories out of ``n_training`` training ones: ``data.n_val``, else
    ``round(val_fraction · n_training)`` but at least one (none from a single trajectory)."""
    if data.n_val is not None:
        return data.n_val
    if n_training < 2 or data.val_fraction == 0:
        return 0
    return min(n_training - 1, max(1, round(data.val_fraction * n_training)))

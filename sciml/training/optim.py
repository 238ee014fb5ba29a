"""Optimizer factory and one composable learning-rate schedule (warmup × decay × plateau).

The learning rate after ``s`` optimizer steps is

.. math::
    \\eta(s) = \\eta_0 \\, w(s) \\, d(s) \\, p,
    \\qquad w(s) = \\min\\!\\left(1, \\frac{s + 1}{W + 1}\\right),

with linear warmup ``w`` over ``W`` steps, a decay ``d`` (``none``: 1; ``cosine``:
:math:`\\tfrac12(1 + \\cos(\\pi \\min(1, (s - W)/(S - W))))` over the ``S`` total steps, as in
SGDR (Loshchilov & Hutter 2017) without restarts; ``step``: :math:`\\gamma^{\\lfloor e /
\\text{step\\_size}\\rfloor}` with ``e`` the epoch) and a plateau factor ``p`` that is multiplied
by ``γ`` each time the validation loss has not improved for more than ``patience`` evaluations
(as :class:`torch.optim.lr_scheduler.ReduceLROnPlateau`). One object owns all three factors, so
warmup composes with every decay, including plateau, which torch's separate schedulers cannot do
without overwriting each other's learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("none", "cosine", "step", "plateau")

#: Relative improvement a validation loss needs to count as better (ReduceLROnPlateau's default).
PLATEAU_THRESHOLD = 1e-4


def build_optimizer(
    params: Iterable[torch.nn.Parameter] | Iterable[dict[str, Any]],
    name: str,
    lr: float,
    weight_decay: float = 0.0,
) -> torch.optim.Optimizer:
    """``"adam"`` → :class:`torch.optim.Adam` (L2 penalty), ``"adamw"`` → decoupled decay.

    ``params`` are parameters or torch param-group dicts (``{"params": [...], "lr": ...}``).

    Uses torch's fused implementation (one kernel for all parameters) when every parameter is a
    real floating tensor on a CPU or CUDA device, and the multi-tensor ``foreach`` one otherwise
    (e.g. FNO's complex spectral weights): for small models the per-parameter loop of the default
    implementation is a large part of a training step (DeepONet: 0.84 → 0.23 ms per step).
    """
    params = list(params)
    tensors = (
        [t for g in params for t in g["params"]]
        if params and isinstance(params[0], dict)
        else params
    )
    # is_floating_point() is False for complex tensors, which the fused kernels do not take
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in tensors)
    impl = {"fused": True} if fused else {"foreach": True}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **impl)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **impl)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")


class LRSchedule:
    """Sets ``optimizer``'s learning rate to ``base_lr · warmup · decay · plateau`` each step.

    Parameters
    ----------
    optimizer:
        Its param groups' current ``lr`` are taken as the base learning rates.
    name:
        Decay: ``"none" | "cosine" | "step" | "plateau"``.
    total_steps:
        Optimizer steps in the whole run (cosine anneals to zero at this step).
    steps_per_epoch:
        Optimizer steps per epoch, to turn the step decay's ``step_size`` (epochs) into steps.
    warmup_steps, step_size, gamma, patience:
        See the module docstring.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        name: str = "none",
        *,
        total_steps: int,
        steps_per_epoch: int,
        warmup_steps: int = 0,
        step_size: int = 1,
        gamma: float = 0.5,
        patience: int = 10,
    ) -> None:
        if name not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {name!r}; expected one of {list(SCHEDULERS)}")
        if total_steps < 1 or steps_per_epoch < 1:
            raise ValueError(
                f"total_steps and steps_per_epoch must be >= 1, got {total_steps}, "
                f"{steps_per_epoch}"
            )
        self.optimizer = optimizer
        self.name = name
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch
        self.warmup_steps = warmup_steps
        self.step_size = step_size
        self.gamma = gamma
        self.patience = patience
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.steps_done = 0
        self.plateau_factor = 1.0
        self.best_metric = math.inf
        self.bad_evaluations = 0
        self._apply()

    def factor(self, step: int) -> float:
        """The multiplier ``warmup(step) · decay(step) · plateau`` applied to the base rates."""
        warmup = min(1.0, (step + 1) / (self.warmup_steps + 1))
        decay = 1.0
        if self.name == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            progress = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.name == "step":
            decay = self.gamma ** ((step // self.steps_per_epoch) // self.step_size)
        return warmup * decay * self.plateau_factor

    def _apply(self) -> None:
        factor = self.factor(self.steps_done)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def step(self) -> None:
        """Advance one optimizer step."""
        self.steps_done += 1
        self._apply()

    def observe(self, val_loss: float) -> None:
        """Feed a validation loss; only the ``plateau`` schedule reacts to it."""
        if self.name != "plateau":
            return
        if val_loss < self.best_metric * (1.0 - PLATEAU_THRESHOLD):
            self.best_metric = val_loss
            self.bad_evaluations = 0
        else:
            self.bad_evaluations += 1
            if self.bad_evaluations > self.patience:
                self.plateau_factor *= self.gamma
                self.bad_evaluations = 0
        self._apply()

    @property
    def lr(self) -> float:
        """Current learning rate of the first param group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps_done": self.steps_done,
            "plateau_factor": self.plateau_factor,
            "best_metric": self.best_metric,
            "bad_evaluations": self.bad_evaluations,
            "base_lrs": list(self.base_lrs),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["steps_done"])
        self.plateau_factor = float(state["plateau_factor"])
        self.best_metric = float(state["best_metric"])
        self.bad_evaluations = int(state["bad_evaluations"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self._apply()

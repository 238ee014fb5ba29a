"""Time-conditioned operator: the state at ``t`` and a lead time ``Δt`` → the state at ``t + Δt``.

Poseidon's setting (Herde et al., NeurIPS 2024): trained on ``all2all`` pairs (every ``(i, j)``
with ``i ≤ j`` of a trajectory, samples ``{"x", "y", "dt", "coords"}``; ``data.options.max_lead``
limits ``j − i``, e.g. to 1 for the one-step ablation), the model takes the lead time normalized
by the training horizon ``T`` (the largest lead in the training data; :class:`~sciml.models.
lead_time.LeadTime` divides, so everything outside the model speaks seconds). Model inputs
``("x", "t")``, e.g. ``scot`` or the ``fno_time`` baseline.

Evaluation: the usual metrics over the test pairs, and from the first state of every test
trajectory two rollouts to every later stored time,

* *direct jump*: one call with ``Δt = t_k − t_0``;
* *autoregressive*: ``k`` calls of the smallest stored lead ``Δ = t_1 − t_0``;

each call with the trajectory's ``constant_inputs`` channels (``data.options.constant_inputs``,
e.g. a forcing) after the state, as in training, and, on a mixed-family set, the channels the
trajectory's family lacks (``channel_mask``) kept at their stored values;

with the relative L2 error of each against the truth at every ``t_k`` (``rollout_error.png``).
``sciml.load`` returns a :class:`~sciml.embed.Surrogate` called as ``surrogate(x, dt)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sciml.constraints.wrap import wrap_constraint
from sciml.embed import example_input
from sciml.evaluation.plots import plot_rollout_error
from sciml.models.build import build_normalized_model
from sciml.models.lead_time import LeadTime
from sciml.models.outputs import point_prediction, with_absent_channels
from sciml.registry import METRICS, TASKS
from sciml.tasks.field_operator import FieldOperatorTask


@TASKS.register("time_conditioned")
class TimeConditionedTask(FieldOperatorTask):
    """State and lead time → later state (see the module docstring)."""

    name = "time_conditioned"
    dataset_kinds = ("all2all", "all2all_mixture")
    model_inputs = ("x", "dt", "coords")

    def describe(self, train_set: Any) -> dict[str, Any]:
        leads = [float(train_set.time[j] - train_set.time[i]) for i, j in train_set.pairs]
        # the names of the input channels after the state (the Surrogate's channel error)
        constant = list(getattr(train_set, "constant_inputs", []))
        return {**super().describe(train_set), "horizon": max(leads), "constant_inputs": constant}

    @classmethod
    def build(cls, info: Mapping[str, Any]) -> nn.Module:
        horizon = float(info["horizon"])
        model = build_normalized_model(info, wrap=lambda m: LeadTime(m, horizon))
        return wrap_constraint(cls.check_inputs(model, info["name"]), info)

    @classmethod
    def example_inputs(cls, loaded: nn.Module, batch_size: int) -> tuple[torch.Tensor, ...]:
        x = example_input(loaded, batch=batch_size)
        horizon = float(loaded.info["horizon"])
        return x, torch.linspace(0.25, 1.0, batch_size).to(x) * horizon

    @torch.no_grad()
    def rollouts(
        self, loaded: Any, test_set: Any, out: Path, device: str
    ) -> tuple[dict[str, float], Path]:
        """Direct-jump and autoregressive rollouts from ``t_0`` to every later stored time."""
        frames = torch.stack(
            [test_set.trajectory(k) for k in range(len(test_set.trajectories))]
        ).to(device=device, dtype=self.dtype)  # (N, T, C, *S)
        times = test_set.time.to(device=device, dtype=self.dtype)
        model = loaded.to(device=device, dtype=self.dtype)
        start, truth = frames[:, 0], frames[:, 1:]
        n = frames.shape[0]
        # the constant input channels (data.options.constant_inputs) go with every call
        constants = torch.stack([test_set.constants(k) for k in range(n)]).to(frames)
        # a mixed-family set: the channels a trajectory's family lacks keep their stored values
        masks = [getattr(test_set, "channel_mask", lambda k: None)(k) for k in range(n)]
        mask = None if masks[0] is None else torch.stack(masks).to(device)

        def step(state: torch.Tensor, lead: torch.Tensor, k: int) -> torch.Tensor:
            out = point_prediction(model(torch.cat([state, constants], dim=1), lead))
            return out if mask is None else with_absent_channels(out, truth[:, k], mask)

        leads = [(times[k] - times[0]).expand(n) for k in range(1, len(times))]
        direct = torch.stack([step(start, lead, k) for k, lead in enumerate(leads)], dim=1)
        state, steps = start, []
        for k in range(len(leads)):
            state = step(state, leads[0], k)
            steps.append(state)
        autoregressive = torch.stack(steps, dim=1)
        error = METRICS.get("rollout_error")
        direct_err = error(direct.cpu(), truth.cpu())  # (N, T − 1)
        auto_err = error(autoregressive.cpu(), truth.cpu())
        figure = plot_rollout_error(
            torch.stack([direct_err.mean(0), auto_err.mean(0)]).numpy(),
            out / "rollout_error.png",
            title="test rollouts: direct jump (0) vs autoregressive (1)",
        )
        summary = {
            "direct_relative_l2_final": float(direct_err[:, -1].mean()),
            "direct_relative_l2_mean": float(direct_err.mean()),
            "autoregressive_relative_l2_final": float(auto_err[:, -1].mean()),
            "autoregressive_relative_l2_mean": float(auto_err.mean()),
        }
        return summary, figure

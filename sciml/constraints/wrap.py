"""Wrap a model with the spec's ``constraint:`` (applied to its physical-units output).

A spec section ``constraint: {name: mass_projection, ...options}`` names a constraint registered
in :data:`sciml.registry.CONSTRAINTS`; :func:`wrap_constraint` builds it with the options (and,
where its constructor takes them, the data's ``in_channels``, ``out_channels``, ``n_dims``,
``spatial_shape``, ``coords``) and returns :class:`Constrained`, which every task uses for
training, evaluation, ``sciml.load`` and export alike. :func:`build_constrained` builds the model
with the output channels the constraint asks for (:meth:`Constraint.model_out_channels`: a hard
PDE constraint's backbone outputs ``N`` basis functions, not the target's channels).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from sciml.constraints.base import Constraint, Output
from sciml.registry import CONSTRAINTS, UnknownNameError

#: data-fixed constructor arguments a constraint may take
DATA_KEYS = ("in_channels", "out_channels", "n_dims", "spatial_shape", "coords")


class Constrained(nn.Module):
    """``constraint(model(*inputs), inputs)``: the model's output made to satisfy a law.

    ``input_keys`` and ``resolution_invariant`` are the wrapped model's, so the wrapper is a
    drop-in replacement for it. With ``in_training=False`` (spec: ``constraint.in_training:
    false``) the constraint is applied in evaluation mode only: the model trains on its own
    output and the constraint is a post-hoc correction (ProbConserv's headline setting:
    "no retraining"); validation, evaluation, ``sciml.load`` and export see the constrained
    output.
    """

    def __init__(
        self, model: nn.Module, constraint: Constraint, *, in_training: bool = True
    ) -> None:
        super().__init__()
        self.model = model
        self.constraint = constraint
        self.in_training = bool(in_training)
        self.input_keys = tuple(getattr(model, "input_keys", ("x",)))

    @property
    def resolution_invariant(self) -> bool:
        return bool(getattr(self.model, "resolution_invariant", False))

    def forward(self, *inputs: torch.Tensor) -> Output:
        output = self.model(*inputs)
        if self.training and not self.in_training:
            return output
        return self.constraint(output, dict(zip(self.input_keys, inputs)))

    def training_statistics(self) -> dict[str, float]:
        """The wrapped model's and the constraint's counts since the last call (the trainer's
        ``metrics.csv`` columns, e.g. a solver's iterations)."""
        own = getattr(self.model, "training_statistics", None)
        return {**(own() if callable(own) else {}), **self.constraint.training_statistics()}


def build_constraint(spec: Mapping[str, Any], info: Mapping[str, Any]) -> Constraint:
    """The constraint ``spec`` (``{"name": ..., **options}``) describes, with the data's shapes
    from ``info`` where its constructor takes them. :class:`ValueError` names the option."""
    options = dict(spec)
    options.pop("in_training", None)  # the wrapper's option (Constrained), not the constraint's
    if "name" not in options:
        raise ValueError("constraint.name: required key is missing (see `sciml info`)")
    name = options.pop("name")
    try:
        ctor = CONSTRAINTS.get(str(name))
    except UnknownNameError as err:
        raise ValueError(f"constraint.name: {err}") from None
    params = inspect.signature(ctor).parameters
    shapes = {k: info[k] for k in DATA_KEYS if k in params and k in info}
    try:
        return ctor(**shapes, **options)
    except TypeError as err:
        raise ValueError(f"constraint {name!r}: {err}") from None


def wrap_constraint(model: nn.Module, info: Mapping[str, Any]) -> nn.Module:
    """``model`` wrapped by ``info["constraint"]`` (``model.json``), or unchanged without one."""
    spec = info.get("constraint")
    if not spec:
        return model
    return Constrained(model, build_constraint(spec, info), in_training=_in_training(spec))


def build_constrained(
    info: Mapping[str, Any], build: Callable[[Mapping[str, Any]], nn.Module]
) -> nn.Module:
    """``build(info)`` wrapped by ``info["constraint"]``, the model built with the output
    channels the constraint needs (``constraint.model_out_channels(info["out_channels"])``);
    without a constraint, ``build(info)`` itself."""
    spec = info.get("constraint")
    if not spec:
        return build(info)
    constraint = build_constraint(spec, info)
    channels = constraint.model_out_channels(int(info["out_channels"]))
    model = build({**info, "out_channels": channels})
    return Constrained(model, constraint, in_training=_in_training(spec))


def _in_training(spec: Mapping[str, Any]) -> bool:
    """``constraint.in_training`` (default true): apply the constraint while training too."""
    value = spec.get("in_training", True)
    if not isinstance(value, bool):
        raise ValueError(f"constraint.in_training: expected true or false, got {value!r}")
    return value

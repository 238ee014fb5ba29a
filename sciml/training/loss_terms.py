"""A training loss as a weighted sum of named terms, each seeing the prediction and the batch.

A spec's ``trainer.loss`` is one of::

    loss: relative_lp                                     # a registered loss, default options
    loss: {name: h1, periodic: false}                     # with options
    loss: [{name: h1, periodic: false}, {name: darcy_residual, weight: 0.1}]   # weighted sum

:func:`build_loss` turns any of these into a :class:`LossTerms` module. A term is a registered
loss (:data:`sciml.registry.LOSSES`) built with its options. Terms compare the prediction with
the target ``batch["y"]`` (``term(pred, y)``), or, when the loss class sets ``uses_batch = True``,
receive the whole batch (``term(pred, batch)``: inputs, coordinates, lead time, PDE parameters,
whatever the task puts in it) — that is how a physics residual reads the input fields. For a
probabilistic model's ``(mean, var)`` output, target-only terms see the mean; batch terms see the
pair (e.g. a Gaussian likelihood).

The value of every term of the last call is kept in :attr:`LossTerms.last`, and the trainer
logs each as its own ``metrics.csv``/TensorBoard column ``loss_<name>`` when there are two or
more terms.

A target-only term with ``space: normalized`` (``h1``, ``relative_lp``) compares
``encode(point prediction)`` with ``encode(y)``, ``encode`` the output normalizer of the model
the trainer binds with :meth:`LossTerms.bind` (:class:`~sciml.models.normalized.NormalizedModel`):
the model still predicts physical fields, only the loss is measured in normalized units, as in
neuraloperator's ``Trainer``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from sciml.models.outputs import point_prediction, with_absent_channels
from sciml.registry import LOSSES, UnknownNameError

LossSpec = str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]]


class LossTerms(nn.Module):
    r""":math:`\mathcal L = \sum_i w_i\, \ell_i(\hat u, \text{batch})`.

    Parameters
    ----------
    terms:
        ``(name, weight, loss)`` triples; ``name`` labels the term's log column.
    """

    def __init__(self, terms: Sequence[tuple[str, float, Callable[..., torch.Tensor]]]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("trainer.loss: at least one loss term is needed")
        self.names = _unique_names([name for name, _, _ in terms])
        self.weights = [float(w) for _, w, _ in terms]
        self.terms = nn.ModuleList(
            fn if isinstance(fn, nn.Module) else _FunctionTerm(fn) for _, _, fn in terms
        )
        self.last: dict[str, torch.Tensor] = {}
        self._normalized = [getattr(fn, "space", "physical") == "normalized" for fn in self.terms]
        self._encode: Callable[[torch.Tensor], torch.Tensor] | None = None

    def bind(self, model: nn.Module) -> None:
        """Give the ``space: normalized`` terms the ``model``'s output normalizer.

        Raises :class:`ValueError` when such a term exists and the model has no
        ``output_normalizer`` (only :class:`~sciml.models.normalized.NormalizedModel` has one).
        """
        if not any(self._normalized):
            return
        normalizer = getattr(model, "output_normalizer", None)
        if normalizer is None:
            names = [n for n, norm in zip(self.names, self._normalized) if norm]
            raise ValueError(
                f"trainer.loss: {names} use space='normalized', but the model "
                f"{type(model).__name__} has no output normalizer; use space='physical'"
            )
        # the bound method, not the module: the normalizer stays the model's (its state_dict)
        self._encode = normalizer.encode

    @property
    def log_columns(self) -> tuple[str, ...]:
        """``metrics.csv`` columns of the individual terms (none for a single term)."""
        return tuple(f"loss_{name}" for name in self.names) if len(self.names) > 1 else ()

    def forward(self, pred: Any, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the terms; ``pred`` a tensor or a ``(mean, var)`` pair, ``batch`` the
        batch dict with at least ``"y"``. A batch with ``channel_mask`` ``(B, C)`` (a
        mixed-family dataset) has the prediction replaced by the label in the channels a sample's
        family lacks, so they add no error (:func:`~sciml.models.outputs.with_absent_channels`)."""
        if "channel_mask" in batch:
            pred = with_absent_channels(pred, batch["y"], batch["channel_mask"])
        total: torch.Tensor | None = None
        last = {}
        for name, weight, term, normalized in zip(
            self.names, self.weights, self.terms, self._normalized
        ):
            if getattr(term, "uses_batch", False):
                value = term(pred, batch)
            elif normalized:
                if self._encode is None:
                    raise RuntimeError(
                        f"loss term {name!r} uses space='normalized': call LossTerms.bind(model) "
                        "first (the trainer does)"
                    )
                value = term(self._encode(point_prediction(pred)), self._encode(batch["y"]))
            else:
                value = term(point_prediction(pred), batch["y"])
            last[f"loss_{name}"] = value.detach()
            total = weight * value if total is None else total + weight * value
        self.last = last
        assert total is not None  # at least one term (checked in __init__)
        return total


class _FunctionTerm(nn.Module):
    """A plain function ``fn(pred, target)`` as a module term."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn
        self.uses_batch = bool(getattr(fn, "uses_batch", False))

    def forward(self, *args: Any) -> torch.Tensor:
        return self.fn(*args)


def _unique_names(names: list[str]) -> list[str]:
    """``["h1", "mse", "h1"]`` → ``["h1", "mse", "h1_2"]``."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def loss_term_configs(spec: LossSpec) -> list[tuple[str, float, dict[str, Any]]]:
    """Normalize a ``trainer.loss`` value to ``[(name, weight, options), ...]``.

    Raises :class:`ValueError` naming the offending entry (``trainer.loss.1: ...``).
    """
    entries = [spec] if isinstance(spec, (str, Mapping)) else list(spec)
    single = isinstance(spec, (str, Mapping))
    out = []
    for i, entry in enumerate(entries):
        where = "trainer.loss" if single else f"trainer.loss.{i}"
        if isinstance(entry, str):
            out.append((entry, 1.0, {}))
            continue
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"{where}: expected a loss name or a mapping {{name: ..., weight: ..., options}}, "
                f"got {entry!r}"
            )
        options = dict(entry)
        if "name" not in options:
            raise ValueError(f"{where}: 'name' is missing (the registered loss to use)")
        name = options.pop("name")
        weight = options.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"{where}.weight: expected a number >= 0, got {weight!r}")
        out.append((str(name), float(weight), options))
    if not out:
        raise ValueError("trainer.loss: at least one loss term is needed")
    return out


def build_loss(spec: LossSpec) -> LossTerms:
    """The :class:`LossTerms` a ``trainer.loss`` value describes.

    Raises :class:`ValueError` with the entry's key path for an unknown loss name, a bad weight,
    or options the loss does not take (the registered constructor's message lists the valid
    ones).
    """
    configs = loss_term_configs(spec)
    single = isinstance(spec, (str, Mapping))
    terms = []
    for i, (name, weight, options) in enumerate(configs):
        where = "trainer.loss" if single else f"trainer.loss.{i}"
        try:
            ctor = LOSSES.get(name)
        except UnknownNameError as err:
            raise ValueError(f"{where}: {err}") from None
        try:
            terms.append((name, weight, ctor(**options)))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None
    return LossTerms(terms)

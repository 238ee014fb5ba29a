"""Fine-tuning: start a model from another run's weights.

:func:`initialize_from` copies every tensor of a trained ``state_dict`` whose name and shape match
the new model's, leaves the rest as initialized (a new embedding or recovery head for other
channels, a new output layer), re-initializes on request the modules whose names match
``reinit`` patterns, and freezes the parameters matching ``freeze`` patterns. What was fitted on
the new training data (normalizer statistics, by default) is never overwritten. It returns a
:class:`InitReport` saying which is which, so a run can print and record it.

Poseidon's fine-tuning (Herde et al. 2024) re-initializes the embedding and recovery for new
channels and trains everything else from the pretrained weights; that is ``init_from`` with the
default settings when only those modules' shapes differ.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

#: state-dict entries fitted on the new run's own data, never copied from the old run
FITTED_PATTERN = r"(^|\.)(input|output)_normalizer\."


@dataclass
class InitReport:
    """What :func:`initialize_from` did, by state-dict name."""

    loaded: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    reinitialized: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    kept_fitted: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per category with the names (for the console and ``model.json``)."""
        lines = [f"loaded {len(self.loaded)} tensors from the pretrained run"]
        for label, names in (
            ("kept as initialized (other shape)", self.shape_mismatch),
            ("re-initialized (init_from.reinit)", self.reinitialized),
            ("not in the pretrained run", self.missing),
            ("frozen", self.frozen),
        ):
            if names:
                lines.append(f"{label}: {', '.join(names)}")
        return "\n".join(lines)


def _compile(patterns: Sequence[str], key: str) -> list[re.Pattern[str]]:
    out = []
    for i, pattern in enumerate(patterns):
        try:
            out.append(re.compile(pattern))
        except re.error as err:
            raise ValueError(f"init_from.{key}.{i}: invalid regex {pattern!r}: {err}") from None
    return out


def initialize_from(
    model: nn.Module,
    pretrained: Mapping[str, torch.Tensor],
    *,
    reinit: Sequence[str] = (),
    freeze: Sequence[str] = (),
    keep_fitted: str = FITTED_PATTERN,
) -> InitReport:
    """Copy matching tensors of ``pretrained`` into ``model`` (in place).

    Parameters
    ----------
    pretrained:
        A ``state_dict`` of the trained model.
    reinit:
        Regular expressions (``re.search`` on state-dict names): matching entries keep the new
        model's initialization even when the shapes match.
    freeze:
        Regular expressions on parameter names: matching parameters get ``requires_grad=False``.
    keep_fitted:
        Entries matching this are the new run's own fitted statistics and are not copied.

    Raises :class:`ValueError` for an invalid expression or a ``reinit``/``freeze`` pattern that
    matches nothing (a typo would silently change what is trained).
    """
    reinit_patterns = _compile(reinit, "reinit")
    freeze_patterns = _compile(freeze, "freeze")
    fitted = re.compile(keep_fitted)
    report = InitReport()
    own = model.state_dict()
    update = {}
    for name, value in own.items():
        if fitted.search(name):
            report.kept_fitted.append(name)
        elif any(p.search(name) for p in reinit_patterns):
            report.reinitialized.append(name)
        elif name not in pretrained:
            report.missing.append(name)
        elif tuple(pretrained[name].shape) != tuple(value.shape):
            report.shape_mismatch.append(name)
        else:
            update[name] = pretrained[name]
            report.loaded.append(name)
    for i, pattern in enumerate(reinit_patterns):
        if not any(pattern.search(n) for n in own):
            raise ValueError(f"init_from.reinit.{i}: {pattern.pattern!r} matches no tensor")
    model.load_state_dict(update, strict=False)
    for i, pattern in enumerate(freeze_patterns):
        hits = [n for n, p in model.named_parameters() if pattern.search(n)]
        if not hits:
            raise ValueError(f"init_from.freeze.{i}: {pattern.pattern!r} matches no parameter")
        for n, p in model.named_parameters():
            if n in hits:
                p.requires_grad_(False)
                if n not in report.frozen:
                    report.frozen.append(n)
    return report

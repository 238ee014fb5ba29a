"""sciml: differentiable PDE solvers, neural operators and physics constraints on one data layer.

Public API (imported lazily, so ``import sciml`` stays fast)::

    sciml.load_spec(path, overrides)     YAML spec → validated Spec
    sciml.train(spec, run_dir)           train; returns the run directory and best loss
    sciml.evaluate(run_dir)              metrics.json, metrics.md and figures
    sciml.load(run_dir)                  trained Surrogate (nn.Module, physical units in/out)
    sciml.export(run_dir, out)           a file that loads without sciml
    sciml.generate(recipe, out, params)  make a benchmark dataset with our solvers
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = {
    "load_spec": ("sciml.spec", "load_spec"),
    "train": ("sciml.workflow", "train"),
    "resume": ("sciml.workflow", "resume"),
    "evaluate": ("sciml.workflow", "evaluate"),
    "load": ("sciml.tasks", "load"),
    "Surrogate": ("sciml.embed", "Surrogate"),
    "export": ("sciml.tasks", "export"),
    "generate": ("sciml.data.recipes.base", "generate"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sciml' has no attribute {name!r}")

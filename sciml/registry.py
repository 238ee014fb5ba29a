"""Name → constructor registries for models, datasets, recipes, losses and metrics.

Each registry maps a lower-case name to a callable. Modules register themselves with a decorator::

    from sciml.registry import MODELS

    @MODELS.register("fno")
    def build_fno(**config) -> nn.Module: ...

Look-ups of unknown names raise :class:`UnknownNameError`, whose message lists the registered names
and the closest match, so a typo in a YAML spec is answered with the valid choices.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])

# Modules that register entries on import. Importing them lazily keeps `import sciml` fast and keeps the
# registry module free of imports from higher layers (it is imported by every layer).
_PLUGIN_MODULES: dict[str, tuple[str, ...]] = {
    "model": ("sciml.models",),
    "recipe": ("sciml.data.recipes",),
    "dataset": (
        "sciml.data.grid",
        "sciml.data.pdebench",
        "sciml.data.particle_states",
        "sciml.data.particles",
        "sciml.data.space_time",
        "sciml.data.point_sets",
        "sciml.data.mixture",
    ),
    "loss": ("sciml.training.losses", "sciml.training.neural_process"),
    "metric": ("sciml.evaluation.metrics",),
    "equation": ("sciml.solvers.spectral",),
    "constraint": ("sciml.constraints",),
    "task": ("sciml.tasks",),
}


#: Model constructor keywords the workflow fills in from the data, never written in a spec.
MODEL_DATA_KEYS = ("in_channels", "out_channels", "n_dims", "spatial_shape", "simulation")


class UnknownNameError(KeyError):
    """A name that is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain sentence
        return str(self.args[0])


class Registry(Generic[T]):
    """A named collection of constructors.

    Parameters
    ----------
    kind:
        What the entries are (``"model"``, ``"recipe"``, ...), used in error messages and to find the
        modules that populate this registry.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name → module that registers it when imported
        self._loaded = False

    @property
    def plural(self) -> str:
        return self.kind + ("es" if self.kind.endswith("s") else "s")

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering ``fn`` under ``name`` (case-insensitive, unique)."""
        key = name.lower()

        def decorator(fn: T) -> T:
            if key in self._entries and self._entries[key] is not fn:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[key] = fn
            return fn

        return decorator

    def register_lazy(self, name: str, module: str) -> None:
        """Announce ``name`` without importing ``module`` (which registers it when imported).

        For entries with heavy dependencies (e.g. torch-geometric): they are listed by
        :meth:`names` but cost nothing until :meth:`get` asks for them.
        """
        key = name.lower()
        if key in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._lazy[key] = module

    def _load_plugins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in _PLUGIN_MODULES.get(self.kind, ()):
                importlib.import_module(module)

    def get(self, name: str) -> T:
        """The constructor registered as ``name``; :class:`UnknownNameError` lists the valid names."""
        self._load_plugins()
        key = name.lower()
        if key not in self._entries and key in self._lazy:
            importlib.import_module(self._lazy[key])
            if key not in self._entries:
                raise RuntimeError(f"{self._lazy[key]} did not register {self.kind} {name!r}")
        if key not in self._entries:
            names = self.names()
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Registered {self.plural}: {', '.join(names)}"
            )
        return self._entries[key]

    def names(self) -> list[str]:
        """Sorted registered names."""
        self._load_plugins()
        return sorted({*self._entries, *self._lazy})

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return isinstance(name, str) and name.lower() in {*self._entries, *self._lazy}

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


MODELS: Registry[Callable[..., Any]] = Registry("model")
RECIPES: Registry[Callable[..., Any]] = Registry("recipe")
DATASETS: Registry[Callable[..., Any]] = Registry("dataset")
LOSSES: Registry[Callable[..., Any]] = Registry("loss")
METRICS: Registry[Callable[..., Any]] = Registry("metric")
#: Constraints: layers that make any model's physical-units output satisfy a physical law
#: (``sciml.constraints``); a spec's ``constraint:`` section names one.
CONSTRAINTS: Registry[Callable[..., Any]] = Registry("constraint")
#: Problem kinds (``sciml.tasks``): field operator, time-conditioned operator, learned particle
#: simulator, probabilistic field, ...; a spec's ``task:`` (or its ``data.kind``) selects one.
TASKS: Registry[Any] = Registry("task")
#: Pseudo-spectral equations (``SpectralEquation`` subclasses) that solver presets name.
EQUATIONS: Registry[Callable[..., Any]] = Registry("equation")

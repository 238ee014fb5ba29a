"""The shipped preset catalogs: ``sciml/catalog/<group>/<name>.yaml``.

Groups: ``models`` (model constructor arguments), ``datasets`` (recipe parameters) and ``solvers``
(ready-made solver configurations, :mod:`sciml.solvers.presets`). Presets are read with YAML 1.2
floats (``1e-3`` is a number, as a user expects, not PyYAML's string). This module sits below
every layer: the spec resolves ``preset:`` entries with it, the solvers build their presets.
"""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

GROUPS = ("datasets", "models", "solvers")


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: ``1e-3`` is a float, not the string "1e-3"."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse ``text`` with :class:`YamlLoader`."""
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - a SafeLoader subclass


class PresetError(ValueError):
    """An unknown preset name (the message lists the available ones) or a malformed preset file."""


def catalog_dir(group: str) -> Path:
    """Folder of the shipped presets of ``group`` (one of :data:`GROUPS`)."""
    if group not in GROUPS:
        raise ValueError(f"unknown preset group {group!r}; expected one of {list(GROUPS)}")
    return Path(str(resources.files("sciml") / "catalog" / group))


def preset_names(group: str) -> list[str]:
    """Sorted names of the presets of ``group``."""
    d = catalog_dir(group)
    return sorted(p.stem for p in d.glob("*.yaml")) if d.exists() else []


def read_preset(group: str, name: str) -> dict[str, Any]:
    """The mapping stored in ``catalog/<group>/<name>.yaml``.

    Raises :class:`PresetError` naming the available presets (and the closest one) for an unknown
    name, or naming the file for one that does not hold a YAML mapping.
    """
    path = catalog_dir(group) / f"{name}.yaml"
    if not path.exists():
        names = preset_names(group)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PresetError(
            f"unknown {group[:-1]} preset {name!r}.{hint} Available: {', '.join(names)}"
        )
    try:
        data = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise PresetError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PresetError(f"{path}: a preset must be a mapping")
    return data

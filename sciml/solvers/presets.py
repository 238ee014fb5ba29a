"""Solver presets: ready-made solver configurations, ``sciml/catalog/solvers/<name>.yaml``.

A preset holds everything needed to build a steppable solver, e.g. ``ns2d-kolmogorov.yaml``::

    family: spectral
    equation: navier_stokes2d          # a name in sciml.registry.EQUATIONS
    shape: [256, 256]                  # solver grid points per axis
    length: 6.283185307179586          # periodic box [0, L)^d
    parameters: {nu: 1.0e-3, drag: 0.1, forcing: kolmogorov, forcing_wavenumber: 4}
    dt: 1.0e-3
    scheme: etdrk4

and is built, with any field overridden by keyword, by :func:`build_solver`::

    solver = build_solver("ns2d-kolmogorov", shape=(64, 64), nu=1e-4, device="cuda")
    w = solver.rollout(w0, 100, save_every=10)      # w0: (B, 1, 64, 64) vorticity

A dataset recipe whose published setup is a preset names it (``Config.SOLVER_PRESET``): with
``paper=true`` the recipe takes its grid, step and scheme from the preset, and the tests check that
it then solves with exactly the preset's solver. Families: ``spectral``
(:class:`~sciml.solvers.spectral.SpectralSolver`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sciml.catalog import PresetError, catalog_dir, read_preset
from sciml.devices import resolve_device
from sciml.registry import EQUATIONS, UnknownNameError
from sciml.solvers.spectral import Grid, SpectralEquation, SpectralSolver

__all__ = ["FAMILIES", "build_solver", "equation_parameters", "load_solver_preset"]

FAMILIES = ("spectral",)
#: Keys of a spectral preset besides ``family``, ``equation`` and ``parameters``.
SPECTRAL_KEYS = ("shape", "length", "dt", "scheme")
_REQUIRED = ("family", "equation", "shape", "dt")


def load_solver_preset(name: str) -> dict[str, Any]:
    """The checked mapping of the shipped preset ``name`` (:class:`PresetError` if unknown or
    malformed, naming the file)."""
    return _checked(read_preset("solvers", name), str(_preset_path(name)))


def _preset_path(name: str) -> Path:
    return catalog_dir("solvers") / f"{name}.yaml"


def equation_parameters(equation: type[SpectralEquation]) -> list[str]:
    """Keyword parameters of ``equation``'s constructor besides the grid (those of
    :class:`SpectralEquation`, e.g. ``dealias``, included when it forwards ``**kwargs``)."""
    names: list[str] = []
    for cls in (equation, SpectralEquation):
        params = list(inspect.signature(cls.__init__).parameters.values())
        names += [
            p.name
            for p in params
            if p.kind is not p.VAR_KEYWORD and p.name not in ("self", "grid", *names)
        ]
        if all(p.kind is not p.VAR_KEYWORD for p in params):
            break
    return names


def build_solver(
    preset: str | Mapping[str, Any],
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    **overrides: Any,
) -> SpectralSolver:
    """A solver from a shipped preset name or a preset mapping, on ``device`` in ``dtype``.

    ``overrides`` replace ``shape``, ``length``, ``dt``, ``scheme`` or any equation parameter (by
    its constructor name, e.g. ``nu=1e-4``). An unknown key raises :class:`PresetError` naming
    the allowed ones.
    """
    if isinstance(preset, str):
        config, source = load_solver_preset(preset), str(_preset_path(preset))
    else:
        source = "solver preset mapping"
        config = _checked(dict(preset), source)
    equation_cls = EQUATIONS.get(config["equation"])
    allowed = equation_parameters(equation_cls)
    parameters = dict(config.get("parameters") or {})
    for key, value in overrides.items():
        if key in SPECTRAL_KEYS:
            config[key] = value
        else:
            parameters[key] = value
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise PresetError(
            f"{source}: {config['equation']} has no parameter {unknown[0]!r}; allowed: "
            f"{', '.join([*SPECTRAL_KEYS, *allowed])}"
        )
    shape = config["shape"]
    length = {"length": config["length"]} if "length" in config else {}  # else Grid's 2π
    grid = Grid(
        shape if isinstance(shape, int) else tuple(shape),
        **length,
        dtype=dtype,
        device=None if device is None else resolve_device(device),
    )
    return SpectralSolver(
        equation_cls(grid, **parameters), float(config["dt"]), config.get("scheme", "etdrk4")
    )


def _checked(config: dict[str, Any], source: str) -> dict[str, Any]:
    """``config`` if it has the keys of its family and a registered equation."""
    missing = [key for key in _REQUIRED if key not in config]
    if missing:
        raise PresetError(
            f"{source}: missing key {missing[0]!r} (a preset needs {list(_REQUIRED)})"
        )
    if config["family"] not in FAMILIES:
        raise PresetError(f"{source}: family {config['family']!r} is not one of {list(FAMILIES)}")
    extra = sorted(set(config) - {"family", "equation", "parameters", *SPECTRAL_KEYS})
    if extra:
        raise PresetError(
            f"{source}: unknown key {extra[0]!r}; allowed: family, equation, parameters, "
            f"{', '.join(SPECTRAL_KEYS)}"
        )
    if not isinstance(config.get("parameters") or {}, Mapping):
        raise PresetError(f"{source}: 'parameters' must be a mapping of equation arguments")
    try:
        EQUATIONS.get(str(config["equation"]))
    except UnknownNameError as err:
        raise PresetError(f"{source}: {err}") from None
    return config

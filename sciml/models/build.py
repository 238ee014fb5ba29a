"""Build a model (and its normalizers) from a name, its spec keywords and the data's shapes.

The one place that turns a run's ``model.json`` description into modules, used both when training
starts (``sciml.workflow``) and when a trained run is restored (``sciml.embed.load``), so the two can
never disagree.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from sciml.data.transforms import (
    IdentityNormalizer,
    Normalizer,
    RangeNormalizer,
    UnitGaussianNormalizer,
)
from sciml.models.normalized import NormalizedModel
from sciml.registry import MODELS

NORMALIZERS: dict[str, type[Normalizer]] = {
    "gaussian": UnitGaussianNormalizer,
    "range": RangeNormalizer,
    "none": IdentityNormalizer,
}


def make_normalizer(kind: str, *, pointwise: bool = False, eps: float | None = None) -> Normalizer:
    """An unfitted normalizer: ``"gaussian"``, ``"range"`` or ``"none"``; per channel or
    pointwise; ``eps`` the normalizer's own (``None``: its default; ``"none"`` has none)."""
    if kind not in NORMALIZERS:
        raise ValueError(f"unknown normalizer {kind!r}; choose one of {sorted(NORMALIZERS)}")
    dims = "pointwise" if pointwise else "channel"
    if eps is None or kind == "none":
        return NORMALIZERS[kind](dims=dims)
    return NORMALIZERS[kind](dims=dims, eps=float(eps))


def build_model(
    name: str,
    kwargs: Mapping[str, Any],
    *,
    in_channels: int,
    out_channels: int,
    n_dims: int,
    spatial_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Call the constructor registered as ``name`` with the spec keywords and the data's shapes.

    ``spatial_shape`` is passed only to constructors that take it (e.g. DeepONet, whose branch
    input size is ``in_channels · prod(spatial_shape)``).
    """
    ctor = MODELS.get(name)
    params = inspect.signature(ctor).parameters
    shapes: dict[str, Any] = {
        "in_channels": in_channels,
        "out_channels": out_channels,
        "n_dims": n_dims,
    }
    if "spatial_shape" in params and spatial_shape is not None:
        shapes["spatial_shape"] = tuple(int(s) for s in spatial_shape)
    return ctor(**shapes, **dict(kwargs))


def build_normalized_model(
    info: Mapping[str, Any], wrap: Callable[[nn.Module], nn.Module] | None = None
) -> NormalizedModel:
    """The (unfitted, untrained) :class:`NormalizedModel` described by a run's ``model.json``.

    ``info`` keys: ``name``, ``kwargs``, ``in_channels``, ``out_channels``, ``n_dims``,
    ``spatial_shape``, ``normalize`` (``{"inputs", "outputs", "pointwise", "eps"}``). ``wrap`` is
    applied to the registered model inside the normalizers (e.g. lead-time scaling).
    """
    model = build_model(
        info["name"],
        info.get("kwargs", {}),
        in_channels=int(info["in_channels"]),
        out_channels=int(info["out_channels"]),
        n_dims=int(info["n_dims"]),
        spatial_shape=info.get("spatial_shape"),
    )
    if wrap is not None:
        model = wrap(model)
    norm = info.get("normalize", {})
    pointwise = bool(norm.get("pointwise", False))
    eps = norm.get("eps")
    return NormalizedModel(
        model,
        make_normalizer(norm.get("inputs", "gaussian"), pointwise=pointwise, eps=eps),
        make_normalizer(norm.get("outputs", "gaussian"), pointwise=pointwise, eps=eps),
    )


def build_simulator(info: Mapping[str, Any]) -> nn.Module:
    """The (untrained) learned simulator described by a run's ``model.json``: the constructor
    registered as ``info["name"]`` called with ``info["kwargs"]`` (which hold the data's
    ``simulation`` settings)."""
    return MODELS.get(info["name"])(**dict(info.get("kwargs", {})))

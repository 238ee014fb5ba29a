"""Import arrays from someone else's files into a sciml dataset file (``sciml import``).

Sources: a NumPy ``.npz`` (DeepXDE's antiderivative and PDE sets are ``X``/``y`` archives) or a
torch ``.pt`` / ``.pth`` holding a dict of tensors (neuraloperator's small Darcy and Burgers
sets are ``{"x": (N, 16, 16), "y": (N, 16, 16)}``), read with ``weights_only=True``. A key may
index into an object array or tuple with dots: DeepXDE's ``X.0`` is the branch input ``(N, m)``,
``X.1`` the trunk grid ``(m, 1)``.

Every field is a sample-major array ``(N, *S)`` on one cartesian grid (steady data: no time
axis). The grid comes from keys of the source (``--coord x=X.1``; a column ``(m, 1)`` is
squeezed) or is uniform on ``[0, 1]`` per axis. The file is written atomically and records where
it came from; ``data.dataset`` in a spec that trains on it can stay unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciml.data.format import DataFileError, DatasetLayout, FieldLayout, write_dataset

__all__ = ["import_arrays", "read_source"]

AXES = ("x", "y", "z")


def read_source(path: str | os.PathLike) -> dict[str, Any]:
    """The arrays of an ``.npz`` or torch ``.pt``/``.pth`` file, by key (not yet converted)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=True) as archive:  # DeepXDE stores tuples as objects
                return {k: archive[k] for k in archive.files}
        if suffix in (".pt", ".pth"):
            data = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(data, Mapping):
                raise DataFileError(path, f"expected a dict of tensors, got {type(data).__name__}")
            return dict(data)
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataFileError(path, f"cannot read it: {exc}") from None
    raise DataFileError(path, f"unknown file type {suffix!r}: give an .npz or a torch .pt/.pth")


def _lookup(source: Mapping[str, Any], key: str, path: Path) -> np.ndarray:
    """``source[key]``, with ``a.0`` indexing into object arrays and tuples."""
    head, *rest = key.split(".")
    if head not in source:
        raise DataFileError(path, f"no key {head!r}; the file holds {sorted(source)}", key)
    value = source[head]
    for part in rest:
        try:
            value = value[int(part)]
        except (ValueError, IndexError, TypeError, KeyError):
            raise DataFileError(path, f"cannot index {key!r} at {part!r}", key) from None
    array = np.asarray(value.numpy() if isinstance(value, torch.Tensor) else value)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise DataFileError(
            path, f"{key!r} is not a numeric array (dtype {array.dtype}); index into it", key
        )
    return array.astype(np.float64)


def import_arrays(
    source: str | os.PathLike,
    out: str | os.PathLike,
    fields: Mapping[str, str],
    *,
    coords: Mapping[str, str] | None = None,
    periodic: bool = False,
    name: str | None = None,
) -> Path:
    """Write the arrays ``fields`` (``{field name: source key}``) of ``source`` as a sciml file.

    Parameters
    ----------
    fields:
        Each key of ``source`` is an ``(N, *S)`` array with the same ``N`` and ``S``.
    coords:
        ``{axis name: source key}`` of the grid coordinates, one per spatial axis in order;
        default: uniform on ``[0, 1]`` (end point included unless ``periodic``).
    periodic:
        Boundary of every axis (``PERIODIC`` or ``WALL``), for zero-shot subsampling and FFT
        models.
    name:
        Dataset name recorded in the file (default: the source's stem).
    """
    path = Path(source)
    data = read_source(path)
    if not fields:
        raise DataFileError(path, "no fields to import: give --field NAME=KEY")
    arrays = {field: _lookup(data, key, path) for field, key in fields.items()}
    shapes = {field: a.shape for field, a in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise DataFileError(path, f"fields have different shapes {shapes}: need (N, *S) each")
    n, *spatial = next(iter(shapes.values()))
    if not spatial or len(spatial) > 3:
        raise DataFileError(path, f"fields of shape {shapes}: need (N, *S) with 1 to 3 axes")
    axis_names: Sequence[str] = list(coords) if coords else AXES[: len(spatial)]
    if len(axis_names) != len(spatial):
        raise DataFileError(path, f"{len(axis_names)} coordinate axes for fields {shapes}")
    grid = {}
    for axis, size in zip(axis_names, spatial):
        if coords:
            values = _lookup(data, coords[axis], path).reshape(-1)
            if values.shape != (size,):
                raise DataFileError(
                    path, f"coordinates {coords[axis]!r} have {values.size} values, the fields "
                    f"{size} points along axis {axis!r}", coords[axis],
                )  # fmt: skip
        else:
            values = np.linspace(0.0, 1.0, size, endpoint=not periodic)
        grid[axis] = values
    layout = DatasetLayout(
        dataset_name=name or path.stem,
        n_trajectories=n,
        time=np.array([0.0]),
        coords=grid,
        fields=[FieldLayout(field, time_varying=False) for field in arrays],
        boundary={axis: "PERIODIC" if periodic else "WALL" for axis in grid},
        config={"imported_from": str(path), "fields": dict(fields), "coords": dict(coords or {})},
        generator="sciml import",
    )
    return write_dataset(out, layout, arrays)

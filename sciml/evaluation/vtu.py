"""Evaluated predictions as ParaView files (``sciml evaluate RUN --vtu N``).

* :func:`write_grid_samples` — field predictions on a grid: one ``.vtu`` per sample (cartesian
  grids as line / quad / hexahedron cells between the grid points, scattered points as a point
  cloud) with point data ``prediction``, ``truth`` and ``error`` (``prediction − truth``), each
  ``(P, C)`` over the output channels, and a ``samples.pvd`` collection that steps through the
  samples (its "time" is the sample number);
* :func:`write_particle_rollout` — a particle rollout and its ground truth as two time series
  (``prediction.pvd``, ``truth.pvd``; :func:`sciml.data.particle_vtu.write_particle_series`) with
  ``displacement`` (m, from the first frame given as ``reference``) and, on the prediction,
  ``error`` (‖x − x_true‖ per particle, m).

Values are written as float64 in the units of the data file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sciml.data.mesh import write_point_cloud_vtu, write_pvd_collection, write_vtu
from sciml.data.particle_vtu import write_particle_series

__all__ = ["grid_cells", "write_grid_samples", "write_particle_rollout"]


def grid_cells(shape: Sequence[int]) -> np.ndarray:
    """Connectivity of the cells between the points of a cartesian grid of ``shape``
    (points numbered in C order, as ``coords.reshape(d, -1)``).

    Returns ``(E, 2)`` lines (1D), ``(E, 4)`` quads (2D, counter-clockwise when axis 0 is x and
    axis 1 is y) or ``(E, 8)`` hexahedra (3D, VTK's node order).
    """
    shape = tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 2:
        raise ValueError(f"a grid of 1-3 axes with at least 2 points each is needed, got {shape}")
    index = np.arange(int(np.prod(shape))).reshape(shape)
    # corner offsets of a cell, in VTK's order for line / quad / hexahedron
    corners = {
        1: [(0,), (1,)],
        2: [(0, 0), (1, 0), (1, 1), (0, 1)],
        3: [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],
    }[len(shape)]
    nodes = [
        index[tuple(slice(o, s - 1 + o) for o, s in zip(offset, shape, strict=True))].reshape(-1)
        for offset in corners
    ]
    return np.stack(nodes, axis=1)


def write_grid_samples(
    directory: str | os.PathLike,
    pred: torch.Tensor,
    target: torch.Tensor,
    coords: torch.Tensor,
    *,
    scattered: bool = False,
) -> Path:
    """Write ``pred`` and ``target`` ``(N, C, *S)`` at the points ``coords`` ``(d, *S)`` of a
    cartesian grid (or, ``scattered``, ``(d, P)`` points of an unstructured set, written as a
    point cloud) as ``sample_0000.vtu …`` and ``samples.pvd`` in ``directory`` (created).
    Returns the ``.pvd`` path."""
    if pred.shape != target.shape or pred.dim() < 3:
        raise ValueError(
            f"pred and target must be the same (N, C, *S), got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    spatial = tuple(pred.shape[2:])
    if tuple(coords.shape[1:]) != spatial:
        raise ValueError(f"coords {tuple(coords.shape)} do not match the fields' grid {spatial}")
    points = coords.reshape(coords.shape[0], -1).T.double().numpy()
    cells = None if scattered else grid_cells(spatial)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(pred.shape[0]):
        # (C, *S) -> (P, C)
        p, t = (a[k].reshape(a.shape[1], -1).T.double().numpy() for a in (pred, target))
        data = {"prediction": p, "truth": t, "error": p - t}
        files.append(out / f"sample_{k:04d}.vtu")
        if cells is None:
            write_point_cloud_vtu(files[-1], points, data)
        else:
            write_vtu(files[-1], points, cells, data)
    return write_pvd_collection(out / "samples.pvd", files, np.arange(len(files)))


def write_particle_rollout(
    directory: str | os.PathLike,
    pred: torch.Tensor,
    truth: torch.Tensor,
    times: torch.Tensor,
    reference: torch.Tensor,
) -> dict[str, Path]:
    """Write one trajectory's rollout ``pred`` and its ground truth ``truth`` ``(T, P, d)`` (m)
    at ``times`` ``(T,)`` (s) as the series ``prediction`` and ``truth`` in ``directory``;
    ``reference`` ``(P, d)`` is the configuration displacements are measured from (frame 0).
    Returns ``{series: .pvd path}``."""
    if pred.shape != truth.shape or pred.dim() != 3:
        raise ValueError(
            f"pred and truth must be the same (T, P, d), got {tuple(pred.shape)} and "
            f"{tuple(truth.shape)}"
        )
    pred, truth, ref = pred.double().cpu(), truth.double().cpu(), reference.double().cpu()
    particle = torch.arange(pred.shape[1], dtype=torch.int32)
    return {
        "prediction": write_particle_series(
            directory,
            pred,
            times=times,
            point_data={
                "displacement": pred - ref,
                "error": (pred - truth).norm(dim=-1),
                "particle": particle,
            },
            name="prediction",
        ),
        "truth": write_particle_series(
            directory,
            truth,
            times=times,
            point_data={"displacement": truth - ref, "particle": particle},
            name="truth",
        ),
    }

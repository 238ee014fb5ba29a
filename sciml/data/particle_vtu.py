"""Particle trajectories ⇄ a ParaView time series: one ``.vtu`` point cloud per frame + a ``.pvd``.

A rollout of a particle simulator (MPM data, a GNS or GIOROM rollout, its dense reconstruction)
is ``(T, P, d)`` positions. :func:`write_particle_series` writes frame ``k`` as
``<name>_<k:04d>.vtu`` (``vertex`` cells at the particle positions,
:func:`sciml.data.mesh.write_point_cloud_vtu`) with point data, and a ParaView collection
``<name>.pvd`` that lists the frames with their physical times, so ParaView opens the whole
series as one animated data set (*File → Open → <name>.pvd*). :func:`read_particle_series`
reads it back through meshio.

The ``.pvd`` format (VTK XML "Collection"): ``<VTKFile type="Collection"><Collection>`` with one
``<DataSet timestep="t" part="0" file="frame.vtu"/>`` per frame, file names relative to the
``.pvd``. VTK stores 3D points: 2D positions are written with ``z = 0`` and read back as
``(T, P, 3)``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sciml.data.format import DataFileError
from sciml.data.mesh import read_mesh, write_point_cloud_vtu, write_pvd_collection

__all__ = ["read_particle_series", "write_particle_series"]


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def write_particle_series(
    directory: str | os.PathLike,
    positions: Any,
    *,
    times: Sequence[float] | Any | None = None,
    point_data: Mapping[str, Any] | None = None,
    name: str = "particles",
) -> Path:
    """Write a particle trajectory as ``name_0000.vtu …`` and the collection ``name.pvd``.

    Parameters
    ----------
    directory:
        Output folder (created).
    positions:
        ``(T, P, d)`` positions (m), ``d`` in 1–3 (NumPy array or tensor).
    times:
        ``(T,)`` physical times (s) of the frames; default ``0, 1, …, T−1``.
    point_data:
        ``{field: (T, P, ...)}`` values per frame and particle, or ``{field: (P, ...)}`` for a
        field constant in time (e.g. a particle index or a sampled-particle flag).
    name:
        Stem of the files.

    Returns
    -------
    Path
        The ``.pvd`` file.
    """
    x = _np(positions)
    if x.ndim != 3 or x.shape[-1] not in (1, 2, 3):
        raise ValueError(f"positions must be (T, P, d) with d in 1..3, got {x.shape}")
    n_frames, n_particles = x.shape[:2]
    t = np.arange(n_frames, dtype=np.float64) if times is None else _np(times).astype(np.float64)
    if t.shape != (n_frames,):
        raise ValueError(f"times must hold one value per frame ({n_frames}), got shape {t.shape}")
    fields: dict[str, tuple[np.ndarray, bool]] = {}  # name -> (values, varies in time)
    for key, value in (point_data or {}).items():
        v = _np(value)
        if v.ndim >= 2 and v.shape[:2] == (n_frames, n_particles):
            fields[key] = (v, True)
        elif v.ndim >= 1 and v.shape[0] == n_particles:
            fields[key] = (v, False)
        else:
            raise ValueError(
                f"point_data[{key!r}] must be (T, P, ...) = ({n_frames}, {n_particles}, ...) or "
                f"(P, ...) = ({n_particles}, ...), got {v.shape}"
            )
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(n_frames):
        files.append(out / f"{name}_{k:04d}.vtu")
        data = {key: (v[k] if varies else v) for key, (v, varies) in fields.items()}
        write_point_cloud_vtu(files[-1], x[k], data)
    return write_pvd_collection(out / f"{name}.pvd", files, t)


def read_particle_series(
    pvd: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Read a series written by :func:`write_particle_series` (any ``.pvd`` of point clouds).

    Returns
    -------
    times:
        ``(T,)`` the ``timestep`` of each data set (s).
    positions:
        ``(T, P, 3)`` (VTK points are 3D).
    point_data:
        ``{field: (T, P, ...)}``.
    """
    pvd = Path(pvd)
    try:
        root = ET.parse(pvd).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DataFileError(pvd, f"not a readable .pvd collection: {exc}") from None
    entries = root.findall("./Collection/DataSet")
    if root.get("type") != "Collection" or not entries:
        raise DataFileError(pvd, "not a VTK Collection with <DataSet> entries")
    times, frames, data = [], [], []
    for entry in entries:
        times.append(float(entry.get("timestep", "nan")))
        points, _, point_data, _ = read_mesh(pvd.parent / entry.get("file", ""))
        frames.append(points)
        data.append(point_data)
    fields = {key: np.stack([d[key] for d in data]) for key in data[0]}
    return np.asarray(times), np.stack(frames), fields

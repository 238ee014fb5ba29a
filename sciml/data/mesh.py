"""Unstructured fields and point clouds ⇄ meshio files (VTU, XDMF time series, MSH, ...).

Results on meshes and particle sets are written in formats ParaView opens:

* :func:`write_vtu` — one mesh with point and cell data (``.vtu``, VTK XML unstructured grid);
* :func:`write_point_cloud_vtu` — particles as ``vertex`` cells (MPM, GNS/GIROM point clouds);
* :func:`write_pvd_collection` — a ParaView collection (``.pvd``) of ``.vtu`` files, one per time
  (or per sample), so ParaView opens them as one animated data set;
* :func:`write_xdmf_series` — one mesh, point data at many times (``.xdmf`` plus a sidecar ``.h5``
  holding the arrays; keep the two files together);
* :func:`read_mesh` / :func:`read_xdmf_series` — read them back (any format meshio reads).

Arrays may be NumPy arrays or torch tensors (moved to the CPU). ``cells`` is either one
``(E, k)`` connectivity array, whose cell type follows from ``k`` and the dimension
(2 line, 3 triangle, 4 quad in 2D / tetra in 3D, 8 hexahedron), or a dict
``{meshio cell type: (E, k)}``; ``cell_data`` values follow the same form (one ``(E, ...)`` array,
or ``{cell type: (E, ...)}``). VTK stores 3D points: 2D points are written with ``z = 0`` and
read back as ``(P, 3)``.

Writes are atomic (temporary file + :func:`os.replace`), so a crash never leaves a half-written
file at the final path. Errors name the file and the offending key.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import meshio
import numpy as np

from sciml.data.format import DataFileError

__all__ = [
    "write_vtu",
    "write_point_cloud_vtu",
    "write_pvd_collection",
    "write_xdmf_series",
    "read_mesh",
    "read_xdmf_series",
]

Cells = Any  # (E, k) array or {cell type: (E, k)}
_TYPE_BY_NODES = {1: "vertex", 2: "line", 3: "triangle", 8: "hexahedron"}


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _points(path: Path, points: Any) -> np.ndarray:
    p = _np(points).astype(np.float64)
    if p.ndim != 2 or p.shape[1] not in (1, 2, 3):
        raise ValueError(f"{path}: points must have shape (P, d) with d in 1..3, got {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{path}: points contain NaN/Inf")
    # VTK readers (ParaView) expect 3D points
    return np.pad(p, ((0, 0), (0, 3 - p.shape[1])))


def _cell_blocks(path: Path, cells: Cells, dim: int, n_points: int) -> dict[str, np.ndarray]:
    if isinstance(cells, Mapping):
        blocks = {str(k): _np(v).astype(np.int64) for k, v in cells.items()}
    else:
        c = _np(cells).astype(np.int64)
        if c.ndim != 2:
            raise ValueError(f"{path}: cells must have shape (E, k), got {c.shape}")
        k = c.shape[1]
        cell_type = ("quad" if dim == 2 else "tetra") if k == 4 else _TYPE_BY_NODES.get(k)
        if cell_type is None:
            raise ValueError(
                f"{path}: cannot infer the cell type of {k}-node cells; pass cells as "
                "{meshio cell type: (E, k)}, e.g. {'triangle6': cells}"
            )
        blocks = {cell_type: c}
    for cell_type, c in blocks.items():
        if c.ndim != 2 or (c.size and (c.min() < 0 or c.max() >= n_points)):
            raise ValueError(
                f"{path}: cells[{cell_type!r}] must be (E, k) indices into the {n_points} points"
            )
    return blocks


def _point_data(path: Path, data: Mapping[str, Any] | None, n: int, what: str) -> dict:
    out = {}
    for name, values in (data or {}).items():
        v = _np(values)
        if v.ndim == 0 or v.shape[0] != n:
            raise ValueError(
                f"{path}: {what}[{name!r}] has shape {v.shape}, expected ({n}, ...) "
                f"(one value per {'point' if what == 'point_data' else 'cell'})"
            )
        out[name] = v
    return out


def _cell_data(
    path: Path, data: Mapping[str, Any] | None, blocks: Mapping[str, np.ndarray], single: bool
) -> dict[str, list[np.ndarray]]:
    out = {}
    for name, values in (data or {}).items():
        per_type = (
            {next(iter(blocks)): values} if single and not isinstance(values, Mapping) else values
        )
        if not isinstance(per_type, Mapping) or set(per_type) != set(blocks):
            raise ValueError(
                f"{path}: cell_data[{name!r}] must give values for the cell blocks "
                f"{sorted(blocks)} as {{cell type: (E, ...)}}"
            )
        out[name] = [
            _point_data(path, {name: per_type[t]}, len(c), "cell_data")[name]
            for t, c in blocks.items()
        ]
    return out


def _atomic_write(path: Path, write: Any) -> Path:
    """Run ``write(tmp_path)`` and move the result to ``path`` (same folder, so same filesystem)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise DataFileError(path, f"output folder {path.parent} does not exist")
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise DataFileError(path, f"cannot write the file: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_vtu(
    path: str | os.PathLike,
    points: Any,
    cells: Cells,
    point_data: Mapping[str, Any] | None = None,
    cell_data: Mapping[str, Any] | None = None,
) -> Path:
    """Write a mesh with point and cell data to a ``.vtu`` file (atomic).

    Parameters
    ----------
    points:
        ``(P, d)`` node coordinates, ``d`` in 1..3.
    cells:
        ``(E, k)`` connectivity or ``{cell type: (E, k)}`` (see module docstring).
    point_data:
        ``{name: (P,) or (P, c)}``.
    cell_data:
        ``{name: (E,) or (E, c)}`` for one cell block, ``{name: {cell type: ...}}`` otherwise.
    """
    path = Path(path)
    pts = _points(path, points)
    blocks = _cell_blocks(path, cells, _np(points).shape[1], len(pts))
    mesh = meshio.Mesh(
        pts,
        list(blocks.items()),
        point_data=_point_data(path, point_data, len(pts), "point_data"),
        cell_data=_cell_data(path, cell_data, blocks, not isinstance(cells, Mapping)),
    )
    return _atomic_write(path, lambda tmp: meshio.write(tmp, mesh, file_format="vtu"))


def write_point_cloud_vtu(
    path: str | os.PathLike, positions: Any, point_data: Mapping[str, Any] | None = None
) -> Path:
    """Write particles ``(P, d)`` with ``{name: (P, ...)}`` data as ``vertex`` cells (``.vtu``)."""
    n = _np(positions).shape[0] if _np(positions).ndim else 0
    return write_vtu(path, positions, {"vertex": np.arange(n)[:, None]}, point_data)


def write_pvd_collection(
    path: str | os.PathLike, files: Sequence[str | os.PathLike], times: Sequence[float] | Any
) -> Path:
    """Write the ParaView collection ``path`` (``.pvd``, atomic) that lists ``files`` (``.vtu``)
    at ``times`` (one value per file; physical time in s, or a sample number).

    The format (VTK XML "Collection"): ``<VTKFile type="Collection"><Collection>`` with one
    ``<DataSet timestep="t" part="0" file="…"/>`` per file, the names relative to the ``.pvd``.
    """
    path = Path(path)
    t = _np(times).astype(np.float64).reshape(-1)
    if len(t) != len(files):
        raise ValueError(f"{path}: {len(files)} files but {len(t)} times")
    collection = ET.Element("VTKFile", type="Collection", version="0.1", byte_order="LittleEndian")
    datasets = ET.SubElement(collection, "Collection")
    for file, time in zip(files, t, strict=True):
        name = os.path.relpath(Path(file), path.parent)
        ET.SubElement(
            datasets, "DataSet", timestep=repr(float(time)), group="", part="0", file=name
        )
    ET.indent(collection)
    text = '<?xml version="1.0"?>\n' + ET.tostring(collection, encoding="unicode") + "\n"
    return _atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


class _SidecarWriter(meshio.xdmf.TimeSeriesWriter):
    """meshio's XDMF time-series writer with its ``.h5`` next to the ``.xdmf`` file.

    meshio 5.3 opens the sidecar in the current working directory (``filename.stem + ".h5"``)
    while the XDMF refers to it relative to the ``.xdmf`` folder; writing both into one folder
    keeps the reference valid wherever the caller runs.
    """

    def __enter__(self) -> _SidecarWriter:
        self.h5_filename = str(self.filename.with_suffix(".h5"))
        self.h5_file = h5py.File(self.h5_filename, "w")
        return self


def write_xdmf_series(
    path: str | os.PathLike,
    points: Any,
    cells: Cells,
    times: Sequence[float] | Any,
    point_data_series: Mapping[str, Any],
) -> Path:
    """Write point data on a fixed mesh at many times as XDMF (``path``) + HDF5 (``path.h5``).

    Parameters
    ----------
    path:
        The ``.xdmf`` file; the arrays go to the sidecar with the same stem and suffix ``.h5``.
    points, cells:
        The mesh (as in :func:`write_vtu`).
    times:
        ``(n_t,)`` physical times.
    point_data_series:
        ``{name: (n_t, P) or (n_t, P, c)}``.

    Both files are written into a temporary folder next to ``path`` and moved into place
    (the ``.h5`` first), so neither final path ever holds a partial file.
    """
    path = Path(path)
    if path.suffix != ".xdmf":
        raise ValueError(f"{path}: an XDMF time series needs the suffix .xdmf")
    pts = _points(path, points)
    blocks = _cell_blocks(path, cells, _np(points).shape[1], len(pts))
    t = _np(times).astype(np.float64).reshape(-1)
    series = {}
    for name, values in point_data_series.items():
        v = _np(values)
        if v.ndim < 2 or v.shape[:2] != (len(t), len(pts)):
            raise ValueError(
                f"{path}: point_data_series[{name!r}] has shape {v.shape}, expected "
                f"(n_t={len(t)}, P={len(pts)}, ...)"
            )
        series[name] = v
    if not path.parent.is_dir():
        raise DataFileError(path, f"output folder {path.parent} does not exist")
    try:
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    except OSError as exc:
        raise DataFileError(path, f"cannot write to the output folder: {exc}") from exc
    try:
        with _SidecarWriter(tmp_dir / path.name) as writer:
            writer.write_points_cells(pts, list(blocks.items()))
            for k, time in enumerate(t):
                writer.write_data(float(time), point_data={n: v[k] for n, v in series.items()})
        sidecar = path.with_suffix(".h5")
        os.replace(tmp_dir / sidecar.name, sidecar)
        os.replace(tmp_dir / path.name, path)
    except OSError as exc:
        raise DataFileError(path, f"cannot write the file: {exc}") from exc
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


_READ_ERRORS = (meshio.ReadError, OSError, ValueError, KeyError, IndexError, ET.ParseError)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DataFileError(path, "file not found")


def read_mesh(
    path: str | os.PathLike,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, dict]]:
    """Read a mesh file (VTU, MSH, XDMF, ... anything meshio reads).

    Returns
    -------
    points:
        ``(P, 3)`` for VTK files (``(P, d)`` as stored otherwise).
    cells:
        ``{cell type: (E, k)}``.
    point_data:
        ``{name: (P, ...)}``.
    cell_data:
        ``{name: {cell type: (E, ...)}}``.
    """
    path = Path(path)
    _require_file(path)
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            mesh = meshio.read(path)
    except (*_READ_ERRORS, SystemExit) as exc:
        # meshio 5.3 prints the reader's error and calls sys.exit(1) when no reader accepts a file
        detail = " ".join(log.getvalue().split()) or str(exc)
        problem = f"not a readable mesh file (corrupt or unknown format?): {detail}"
        raise DataFileError(path, problem) from None
    return mesh.points, mesh.cells_dict, dict(mesh.point_data), mesh.cell_data_dict


def read_xdmf_series(
    path: str | os.PathLike,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Read a series written by :func:`write_xdmf_series`.

    Returns ``points (P, 3)``, ``cells {type: (E, k)}``, ``times (n_t,)`` and
    ``{name: (n_t, P, ...)}``.
    """
    path = Path(path)
    _require_file(path)
    sidecar = path.with_suffix(".h5")
    try:
        with meshio.xdmf.TimeSeriesReader(path) as reader:
            points, cells = reader.read_points_cells()
            steps = [reader.read_data(k) for k in range(reader.num_steps)]
    except _READ_ERRORS as exc:
        missing = "" if sidecar.exists() else f" (its data file {sidecar.name} is missing)"
        raise DataFileError(path, f"not a readable XDMF time series{missing}: {exc}") from exc
    times = np.array([t for t, _, _ in steps])
    names = steps[0][1].keys() if steps else []
    data = {n: np.stack([pd[n] for _, pd, _ in steps]) for n in names}
    return points, {c.type: c.data for c in cells}, times, data

"""Read PDEBench's HDF5 files as they are, lazily, and convert them to our format.

PDEBench (Takamoto et al., NeurIPS 2022 D&B) ships three layouts. Its own loader picks one by
the file extension (``.hdf5`` vs ``.h5``, a known source of confusion, PDEBench issue #24); we
detect the layout from the keys instead:

``single`` — one array per file (1D advection, Burgers, reaction–diffusion; 2D Darcy)::

    tensor        (N, T, X[, Y])   the solution u; Darcy: (N, 1, X, Y)
    nu            (N, X, Y)        Darcy only: the input coefficient a(x) (not a viscosity)
    x-coordinate  (X,)   y-coordinate (Y,)   z-coordinate (Z,)
    t-coordinate  (T + 1,)         one more point than T: we use the first T

``cfd`` — compressible Navier–Stokes (1D/2D/3D)::

    density, pressure, Vx[, Vy[, Vz]]   each (N, T, X[, Y[, Z]]);  coordinates as above

``per_seed`` — one group per sample (1D diffusion–sorption, 2D diffusion–reaction, 2D SWE)::

    "0000"/data   (T, X[, Y], C)    grid/x (X,)  grid/y (Y,)  grid/t (T,)   ... "NNNN"/

:func:`read_pdebench` returns a :class:`PDEBenchFile`: fields (``tensor``, ``nu``, ``density``,
..., ``data``), each with ``C`` channels (1 except per-seed ``data``), coordinates and times, read
lazily with h5py (PDEBench's loaders read whole files into memory; the files are 4 GB – 2.3 TB).

:class:`PDEBenchPairDataset` and :class:`PDEBenchWindowDataset` return the sample dicts of
:mod:`sciml.data.grid` (``x``, ``y``, ``coords`` and ``t``). **Split convention: PDEBench's** —
the *first* ``test_fraction = 0.1`` of the samples are the test set (``data[:test_idx]`` in
PDEBench's loaders), the opposite of our files. A missing ``t-coordinate`` (steady Darcy files)
gives the times ``0, 1, ..., T-1``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import h5py
import numpy as np

from sciml.data.format import (
    DataFileError,
    DatasetLayout,
    DatasetWriter,
    FieldLayout,
    LazyH5File,
)
from sciml.data.grid import GridPairDataset, TimeWindowDataset
from sciml.registry import DATASETS

__all__ = [
    "PDEBenchField",
    "PDEBenchFile",
    "read_pdebench",
    "PDEBenchPairDataset",
    "PDEBenchWindowDataset",
    "convert_pdebench",
]

CFD_FIELDS = ("density", "pressure", "Vx", "Vy", "Vz")
_AXES = ("x", "y", "z")


@dataclass(frozen=True)
class PDEBenchField:
    """A field of a PDEBench file: HDF5 ``key`` (per-seed: inside each group), channels."""

    name: str
    key: str
    time_varying: bool
    n_channels: int


class PDEBenchFile(LazyH5File):
    """A validated, lazily read PDEBench file (any of the three layouts; see module docstring).

    Attributes
    ----------
    layout:
        ``"single"``, ``"cfd"`` or ``"per_seed"``.
    fields:
        ``{name: PDEBenchField}``.
    coords:
        ``{"x": (X,), ...}`` physical coordinates; ``spatial_dims`` their names in axis order.
    time:
        ``(T,)`` times of the stored frames.
    spatial_shape:
        ``(X[, Y[, Z]])``.

    The h5py handle is opened on first read in each process, so an instance can be used by
    ``DataLoader(num_workers > 0)`` workers.
    """

    grid_type = "cartesian"
    scalars: ClassVar[dict[str, np.ndarray]] = {}  # PDE parameters live in PDEBench file names

    def __init__(self, path: str | os.PathLike, *, check_finite: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataFileError(self.path, "file not found")
        self._validate(check_finite)

    # -- validation -------------------------------------------------------------------------------
    def _read_header(self, f: h5py.File) -> None:
        keys = sorted(f.keys())
        if "tensor" in f:
            self.layout = "single"
            self._inspect_arrays(f, ["tensor"])
            if "nu" in f:
                expected = (self.n_trajectories, *self.spatial_shape)
                if tuple(f["nu"].shape) != expected:
                    raise DataFileError(
                        self.path, f"shape {f['nu'].shape}, expected (N, *S) = {expected}", "nu"
                    )
                self.fields["nu"] = PDEBenchField("nu", "nu", False, 1)
        elif "density" in f:
            self.layout = "cfd"
            n_dims = f["density"].ndim - 2
            names = list(CFD_FIELDS[: 2 + max(n_dims, 1)])
            for name in names:
                if name not in f:
                    raise DataFileError(
                        self.path,
                        f"missing compressible-CFD field of a {n_dims}D file (expected {names})",
                        name,
                    )
            self._inspect_arrays(f, names)
        elif keys and all(isinstance(f[k], h5py.Group) and "data" in f[k] for k in keys):
            self.layout = "per_seed"
            self._inspect_seeds(f, keys)
        else:
            raise DataFileError(
                self.path,
                "not a PDEBench file: expected 'tensor' (single-array layout), 'density', "
                "'pressure', 'Vx', ... (compressible CFD) or per-sample groups '0000'/data; "
                f"found keys {keys[:10]}",
            )

    def _inspect_arrays(self, f: h5py.File, names: Sequence[str]) -> None:
        """Single-array and CFD layouts: every field ``(N, T, *S)``, coordinates in the root."""
        shape = tuple(f[names[0]].shape)
        if len(shape) < 3 or len(shape) > 5:
            raise DataFileError(self.path, f"shape {shape}, expected (N, T, X[, Y[, Z]])", names[0])
        for name in names[1:]:
            if tuple(f[name].shape) != shape:
                raise DataFileError(
                    self.path, f"shape {f[name].shape} differs from {names[0]} {shape}", name
                )
        self.n_trajectories, n_t = shape[0], shape[1]
        self.spatial_shape = shape[2:]
        self.spatial_dims = list(_AXES[: len(self.spatial_shape)])
        self.coords = {
            d: self._axis(f, f"{d}-coordinate", n) for d, n in zip(self.spatial_dims, shape[2:])
        }
        self.time = self._times(f, "t-coordinate", n_t)
        self.fields = {n: PDEBenchField(n, n, True, 1) for n in names}
        self._seeds: list[str] = []

    def _inspect_seeds(self, f: h5py.File, seeds: list[str]) -> None:
        """Per-seed layout: ``<seed>/data (T, *S, C)`` with ``<seed>/grid/{x,y,z,t}``."""
        first = f[seeds[0]]
        shape = tuple(first["data"].shape)
        if len(shape) < 3 or len(shape) > 5:
            raise DataFileError(
                self.path, f"shape {shape}, expected (T, X[, Y[, Z]], C)", f"{seeds[0]}/data"
            )
        for seed in seeds[1:]:
            if tuple(f[seed]["data"].shape) != shape:
                raise DataFileError(
                    self.path,
                    f"shape {f[seed]['data'].shape} differs from {seeds[0]}/data {shape}",
                    f"{seed}/data",
                )
        self.n_trajectories = len(seeds)
        self.spatial_shape = shape[1:-1]
        self.spatial_dims = list(_AXES[: len(self.spatial_shape)])
        self.coords = {
            d: self._axis(f, f"{seeds[0]}/grid/{d}", n)
            for d, n in zip(self.spatial_dims, self.spatial_shape)
        }
        self.time = self._times(f, f"{seeds[0]}/grid/t", shape[0])
        self.fields = {"data": PDEBenchField("data", "data", True, shape[-1])}
        self._seeds = seeds

    def _axis(self, f: h5py.File, key: str, n: int) -> np.ndarray:
        if key not in f:
            raise DataFileError(self.path, f"missing coordinate axis of length {n}", key)
        a = np.asarray(f[key][...], dtype=np.float64).reshape(-1)
        if len(a) != n:
            raise DataFileError(self.path, f"length {len(a)}, expected {n} (the data axis)", key)
        return a

    def _times(self, f: h5py.File, key: str, n_t: int) -> np.ndarray:
        if key not in f:
            return np.arange(n_t, dtype=np.float64)
        t = np.asarray(f[key][...], dtype=np.float64).reshape(-1)
        if len(t) not in (n_t, n_t + 1):
            raise DataFileError(self.path, f"length {len(t)}, expected {n_t} or {n_t + 1}", key)
        return t[:n_t]

    def _check_finite(self, f: h5py.File) -> None:
        for i in range(self.n_trajectories):
            for name, info in self.fields.items():
                key = f"{self._seeds[i]}/{info.key}" if self._seeds else info.key
                a = f[key][...] if self._seeds else f[key][i]
                if not np.isfinite(a).all():
                    raise DataFileError(
                        self.path, f"non-finite value (NaN/Inf) in sample {i} of {name}", key
                    )

    # -- lazy access ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.n_trajectories

    def read(
        self, name: str, i: int, times: int | slice = slice(None), space: tuple[slice, ...] = ()
    ) -> np.ndarray:
        """Field ``name`` of sample ``i``, channels first.

        Returns ``(C, *S)`` for one time index (or a field constant in time) and ``(n_t, C, *S)``
        for a slice of times; ``space`` slices the spatial axes (e.g. strides).
        """
        if name not in self.fields:
            raise DataFileError(
                self.path, f"no field {name!r}; fields in this file: {sorted(self.fields)}", name
            )
        info = self.fields[name]
        if self._seeds:
            a = self.handle[self._seeds[i]][info.key][(times, *space, slice(None))]
            return np.moveaxis(a, -1, a.ndim - len(self.spatial_shape) - 1)
        t_index = (times,) if info.time_varying else ()
        a = self.handle[info.key][(i, *t_index, *space)]
        lead = 1 if info.time_varying and isinstance(times, slice) else 0
        return np.expand_dims(a, lead)

    def trajectory(self, i: int) -> dict[str, np.ndarray]:
        """Every field of sample ``i``: ``(T, C, *S)`` or, constant in time, ``(C, *S)``."""
        if not -self.n_trajectories <= i < self.n_trajectories:
            raise IndexError(f"{self.path}: sample {i} out of range for {self.n_trajectories}")
        return {name: self.read(name, i % self.n_trajectories) for name in self.fields}

    def __repr__(self) -> str:
        return (
            f"PDEBenchFile({str(self.path)!r}, layout={self.layout!r}, N={self.n_trajectories}, "
            f"T={len(self.time)}, spatial={self.spatial_shape}, fields={sorted(self.fields)})"
        )


def read_pdebench(path: str | os.PathLike, *, check_finite: bool = False) -> PDEBenchFile:
    """Open a PDEBench file of any layout (validated, lazy); see :class:`PDEBenchFile`."""
    return PDEBenchFile(path, check_finite=check_finite)


class _PDEBenchSource:
    """Mixin making a :mod:`sciml.data.grid` dataset read a PDEBench file with its split."""

    test_first: ClassVar[bool] = True
    default_test_fraction: ClassVar[float] = 0.1
    file: PDEBenchFile
    _space: tuple[slice, ...]

    def _open(self, path: str | os.PathLike, check_finite: bool) -> PDEBenchFile:
        return read_pdebench(path, check_finite=check_finite)

    trajectories: range

    def _read_channels(self, name: str, traj: int, times: int | slice) -> np.ndarray:
        return self.file.read(name, traj, times, self._space)

    def _read_split(self, name: str) -> np.ndarray:
        return np.stack(
            [self.file.read(name, i, slice(None), self._space) for i in self.trajectories]
        )


@DATASETS.register("pdebench_pair")
class PDEBenchPairDataset(_PDEBenchSource, GridPairDataset):
    """:class:`~sciml.data.grid.GridPairDataset` over a PDEBench file (PDEBench's split).

    E.g. Darcy: ``PDEBenchPairDataset(path, ["nu"], ["tensor"])``; Burgers initial condition to
    final state: ``PDEBenchPairDataset(path, ["tensor"], ["tensor"])``. Sample
    ``{"x": (C_in, *S), "y": (C_out, *S), "coords": (d, *S)}``. ``check_finite`` defaults to
    ``False`` here (a scan of a multi-GB file).
    """

    def __init__(self, path: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("check_finite", False)
        super().__init__(path, *args, **kwargs)


@DATASETS.register("pdebench_window")
class PDEBenchWindowDataset(_PDEBenchSource, TimeWindowDataset):
    """:class:`~sciml.data.grid.TimeWindowDataset` over a PDEBench file (PDEBench's split).

    PDEBench's autoregressive baselines use ``n_input_steps=10`` (``initial_step``) and time
    stride ``reduced_resolution_t`` (``stride``). Sample ``{"x": (n_in*C, *S),
    "y": (n_out*C, *S), "coords": (d, *S), "t": ()}``.
    """

    def __init__(self, path: str | os.PathLike, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("check_finite", False)
        super().__init__(path, *args, **kwargs)


def convert_pdebench(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    dataset_name: str | None = None,
    block_size: int = 64,
) -> Path:
    """Convert a PDEBench file into our format (atomic, resumable, streamed in blocks).

    Field names are kept (``tensor``, ``nu``, ``density``, ...); a per-seed ``data`` with ``C > 1``
    channels becomes the scalar fields ``data_0 ... data_{C-1}``. Times and coordinates are copied;
    the sample order is kept, so PDEBench's test set stays the *first* 10 % (pass
    ``n_test``/``n_train`` accordingly, or use :class:`PDEBenchPairDataset` directly).
    """
    pb = read_pdebench(src)
    outputs: list[tuple[str, str, int]] = []  # (our name, pdebench field, channel)
    for name, info in pb.fields.items():
        if info.n_channels == 1:
            outputs.append((name, name, 0))
        else:
            outputs.extend((f"{name}_{c}", name, c) for c in range(info.n_channels))
    layout = DatasetLayout(
        dataset_name=dataset_name or pb.path.stem,
        n_trajectories=pb.n_trajectories,
        time=pb.time,
        coords=pb.coords,
        fields=[FieldLayout(o, time_varying=pb.fields[f].time_varying) for o, f, _ in outputs],
        config={"source": str(pb.path), "pdebench_layout": pb.layout},
        generator="sciml.data.pdebench.convert_pdebench",
    )
    n_space = len(pb.spatial_shape)
    with DatasetWriter(dst, layout) as writer:
        for start in range(writer.n_done, pb.n_trajectories, block_size):
            stop = min(start + block_size, pb.n_trajectories)
            samples = [pb.trajectory(i) for i in range(start, stop)]
            # channels first, (T, C, *S) or (C, *S) -> our (T, *S) or (*S), one field per channel
            block = {
                ours: np.stack([np.take(s[f], c, axis=s[f].ndim - n_space - 1) for s in samples])
                for ours, f, c in outputs
            }
            writer.write(start, block)
    pb.close()
    return Path(dst)

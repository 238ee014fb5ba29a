"""The on-disk HDF5 schema of sciml datasets: one place that knows the key names.

The layout follows *The Well* (Ohana et al., NeurIPS 2024 D&B) so that ``the_well``'s
``WellDataset`` opens a file we write (tested in ``tests/data/test_format.py``); see
``docs/data-format.md`` for the full description. In short, one file holds ``N`` trajectories::

    /                       attrs: dataset_name, grid_type, n_spatial_dims, n_trajectories,
                                   simulation_parameters, sciml_format, sciml_version, generator,
                                   config (JSON), seed, complete
    dimensions/             attrs: spatial_dims = ["x", "y", ...]
        time   (T,)          attrs: sample_varying, time_varying
        x      (X,)  y (Y,)  coordinates of a cartesian grid (grid_type="cartesian"), or
        points (P, d)        node coordinates of an unstructured mesh / particle set
                             (grid_type="unstructured"; then fields have one node axis P)
    boundary_conditions/<name>/   attrs: bc_type (PERIODIC|WALL|OPEN), associated_dims, ...
        mask   (X,)         True on the boundary points of that dimension
    scalars/                attrs: field_names
        <name>  (N,)  constant per trajectory,  attrs: sample_varying, time_varying
                (N, T) a time series ("series")
    t0_fields/              attrs: field_names         scalar fields
        <name>  (N, T, *S)  or constant (N, *S)  attrs: dim_varying, sample_varying, time_varying
    t1_fields/              vector fields (..., d),  t2_fields/  tensor fields (..., d, d)
    mesh/cells (E, k)       cell connectivity when grid_type="unstructured" (optional)

``*S`` is ``(X, Y, ...)`` on a cartesian grid and ``(P,)`` on an unstructured one.

Writing goes through :class:`DatasetWriter`: it writes ``<path>.partial`` (chunked, gzip-compressed),
records how many trajectories are complete after each block, and renames to ``<path>`` with
:func:`os.replace` only when all are written. A killed run leaves a ``.partial`` file that
:class:`DatasetWriter` resumes from (when the config matches), so a resumed generation produces the
same arrays and attributes as an uninterrupted one (not the same bytes: compressed chunks are laid
out anew on reopening). Reading goes through :class:`DatasetFile`, which validates the
file on open and raises :class:`DataFileError` naming the file, the key and what was expected.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_VERSION = 1
FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")
BC_TYPES = ("PERIODIC", "WALL", "OPEN")
GRID_TYPES = ("cartesian", "unstructured")
_PARTIAL_SUFFIX = ".partial"
_SKIP_FINITE_HINT = (
    " (to use the file anyway, open it with check_finite=False; in a spec: "
    "data.options: {check_finite: false})"
)


class DataFileError(ValueError):
    """A dataset file that is missing, corrupt, truncated or not what the caller expected."""

    def __init__(self, path: str | os.PathLike, problem: str, key: str | None = None) -> None:
        where = f"{path}" + (f" [{key}]" if key else "")
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.key = key
        self.problem = problem


def _sciml_version() -> str:
    from sciml import __version__

    return __version__


@dataclass(frozen=True)
class FieldLayout:
    """Declaration of one field to be written.

    Parameters
    ----------
    name:
        Field name, e.g. ``"u"`` or ``"velocity"``.
    order:
        Tensor order: 0 scalar (stored in ``t0_fields``), 1 vector (``t1_fields``, trailing ``d``),
        2 tensor (``t2_fields``, trailing ``d, d``).
    time_varying:
        ``True``: shape ``(N, T, *S, ...)``; ``False``: constant in time, shape ``(N, *S, ...)``.
    """

    name: str
    order: int = 0
    time_varying: bool = True


@dataclass
class DatasetLayout:
    """Everything about a file except the field values: grid, time axis, fields, metadata.

    Parameters
    ----------
    dataset_name:
        Name of the benchmark (``"burgers1d"``, ...).
    n_trajectories:
        ``N``, number of samples in the file.
    time:
        ``(T,)`` output times in physical units. Steady problems use a single time ``[0.0]``.
    coords:
        Cartesian grid: ``{"x": (X,), "y": (Y,)}`` in order of the array axes. Unstructured:
        ``{"points": (P, d)}`` and ``spatial_dims`` lists the coordinate names.
    fields:
        The fields to write.
    spatial_dims:
        Names of the spatial dimensions; defaults to the keys of ``coords`` on a cartesian grid.
    boundary:
        ``{dim: "PERIODIC" | "WALL" | "OPEN"}`` for each spatial dimension.
    scalars:
        Per-trajectory constant scalars (PDE parameters), each ``(N,)``, written before the fields.
    series:
        Names of per-trajectory time series (diagnostics such as a front position), each
        ``(N, T)``, stored as ``scalars/<name>`` with ``time_varying = True`` (The Well's
        time-varying scalars) and written block by block with the fields.
    cells:
        ``(E, k)`` cell connectivity for unstructured meshes.
    config:
        Full generator configuration (JSON-serializable), recorded in the file.
    seed, generator:
        Seed and name of the code that produced the file.
    """

    dataset_name: str
    n_trajectories: int
    time: np.ndarray
    coords: Mapping[str, np.ndarray]
    fields: Sequence[FieldLayout]
    spatial_dims: Sequence[str] | None = None
    boundary: Mapping[str, str] = field(default_factory=dict)
    scalars: Mapping[str, np.ndarray] = field(default_factory=dict)
    series: Sequence[str] = ()
    cells: np.ndarray | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    generator: str = "sciml"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.grid_type == "unstructured":
            return
        axes = {}
        for name, values in self.coords.items():
            a = np.asarray(values)
            if a.ndim != 1 and sum(n > 1 for n in a.shape) == 1:
                a = a.reshape(-1)  # an axis given as a column, e.g. DeepXDE's (m, 1) trunk grid
            if a.ndim != 1:
                raise ValueError(
                    f"coords[{name!r}] must be the 1-D coordinates of one grid axis, got shape "
                    f"{a.shape}; scattered points go in coords={{'points': (P, d)}}"
                )
            axes[name] = a
        self.coords = axes

    @property
    def grid_type(self) -> str:
        return "unstructured" if "points" in self.coords else "cartesian"

    @property
    def dims(self) -> list[str]:
        if self.spatial_dims is not None:
            return list(self.spatial_dims)
        if self.grid_type == "unstructured":
            d = np.asarray(self.coords["points"]).shape[-1]
            return ["x", "y", "z"][:d]
        return list(self.coords)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        if self.grid_type == "unstructured":
            return (int(np.asarray(self.coords["points"]).shape[0]),)
        return tuple(len(self.coords[d]) for d in self.dims)

    def field_shape(self, f: FieldLayout) -> tuple[int, ...]:
        """Full on-disk shape of field ``f``: ``(N, [T,] *S, [d, [d]])``."""
        d = len(self.dims)
        time = (len(self.time),) if f.time_varying else ()
        return (self.n_trajectories, *time, *self.spatial_shape, *([d] * f.order))

    def datasets(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        """``{name: (key, full shape)}`` of the fields ``(N, [T,] *S, ...)`` and series ``(N, T)``.

        These are the arrays :meth:`DatasetWriter.write` fills block by block.
        """
        out = {
            fl.name: (f"{FIELD_GROUPS[fl.order]}/{fl.name}", self.field_shape(fl))
            for fl in self.fields
        }
        for name in self.series:
            out[name] = (f"scalars/{name}", (self.n_trajectories, len(self.time)))
        return out


def _config_json(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


class DatasetWriter:
    """Atomic, resumable writer of a dataset file.

    Usage::

        with DatasetWriter(path, layout) as w:
            for start in range(w.n_done, layout.n_trajectories, block):
                arrays = make_block(start, block)          # {"u": (b, T, X)}
                w.write(start, arrays)
        # <path> now exists; <path>.partial is gone

    If ``<path>.partial`` exists from a killed run with the same ``config`` and ``seed``,
    :attr:`n_done` tells where to continue. A different config, or a partial file lacking a
    declared field or series, starts over — or, with ``resume=True``, is refused (as is a missing
    partial file), so that a user who asked to continue never silently starts again. If the
    ``with`` block raises, the partial file is kept (it is valid up to :attr:`n_done`) and
    ``<path>`` is untouched, except when the disk filled up: then the partial file is deleted
    (it holds the space the user needs back) and :class:`DataFileError` says so.
    """

    def __init__(
        self, path: str | os.PathLike, layout: DatasetLayout, *, resume: bool = False
    ) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + _PARTIAL_SUFFIX)
        self.layout = layout
        self.resume = resume
        self._file: h5py.File | None = None
        self._disk_full = False
        self.n_done = 0

    # -- opening -----------------------------------------------------------------------------
    def __enter__(self) -> DatasetWriter:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataFileError(self.path, f"cannot create the output folder: {exc}") from None
        if not os.access(parent, os.W_OK):
            raise DataFileError(self.path, f"output folder {parent} is not writable")
        mismatch = self._resume_mismatch() if self.partial.exists() else "it does not exist"
        if self.resume and mismatch is not None:
            raise DataFileError(
                self.partial,
                f"cannot resume: {mismatch}; run without --resume to start over",
            )
        try:
            if mismatch is None:
                self._file = h5py.File(self.partial, "r+")
                self.n_done = int(self._file.attrs["n_complete"])
            else:
                self._create()
        except OSError as exc:
            if self._file is None:  # nothing worth keeping was written
                self.partial.unlink(missing_ok=True)
            raise DataFileError(self.partial, f"cannot write the file: {exc}") from None
        return self

    def _resume_mismatch(self) -> str | None:
        """Why the partial file cannot be continued with this layout, or ``None`` if it can."""
        try:
            with h5py.File(self.partial, "r") as f:
                if f.attrs.get("config") != _config_json(self.layout.config):
                    return "it was written with other parameters"
                if int(f.attrs.get("seed", -1)) != self.layout.seed:
                    return f"it was written with seed {int(f.attrs.get('seed', -1))}"
                if int(f.attrs.get("n_trajectories", -1)) != self.layout.n_trajectories:
                    return f"it holds {int(f.attrs.get('n_trajectories', -1))} trajectories"
                for key, shape in self.layout.datasets().values():
                    if key not in f or f[key].shape != shape:
                        return f"its {key} is not {shape}"
                return None
        except (OSError, KeyError) as exc:
            return f"it is too damaged to read ({exc})"

    def _create(self) -> None:
        lay = self.layout
        if lay.grid_type not in GRID_TYPES:
            raise ValueError(f"grid_type must be one of {GRID_TYPES}")
        taken = [fl.name for fl in lay.fields] + list(lay.scalars)
        for i, name in enumerate(lay.series):
            if name in taken or name in lay.series[:i]:
                raise ValueError(f"series {name!r} repeats the name of a field, scalar or series")
        f = h5py.File(self.partial, "w")
        self._file = f
        f.attrs["dataset_name"] = lay.dataset_name
        f.attrs["grid_type"] = lay.grid_type
        f.attrs["n_spatial_dims"] = len(lay.dims)
        f.attrs["n_trajectories"] = lay.n_trajectories
        f.attrs["simulation_parameters"] = list(lay.scalars)
        for name, values in lay.scalars.items():
            v = np.asarray(values)
            if v.ndim == 0 or np.all(v == v.flat[0]):
                f.attrs[name] = v.flat[0]
        f.attrs["sciml_format"] = FORMAT_VERSION
        f.attrs["sciml_version"] = _sciml_version()
        f.attrs["generator"] = lay.generator
        f.attrs["config"] = _config_json(lay.config)
        f.attrs["seed"] = lay.seed
        f.attrs["complete"] = False
        f.attrs["n_complete"] = 0

        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = lay.dims
        t = dims.create_dataset("time", data=np.asarray(lay.time, dtype=lay.dtype))
        t.attrs["sample_varying"] = False
        t.attrs["time_varying"] = True
        for name, values in lay.coords.items():
            ds = dims.create_dataset(name, data=np.asarray(values, dtype=lay.dtype))
            ds.attrs["sample_varying"] = False
            ds.attrs["time_varying"] = False

        bcs = f.create_group("boundary_conditions")
        for dim, bc_type in lay.boundary.items():
            bc_type = bc_type.upper()
            if bc_type not in BC_TYPES:
                raise ValueError(f"boundary type {bc_type!r} for {dim!r} not in {BC_TYPES}")
            if lay.grid_type != "cartesian" or dim not in lay.coords:
                raise ValueError(f"boundary conditions need a cartesian dimension, got {dim!r}")
            g = bcs.create_group(f"{dim}_{bc_type.lower()}")
            g.attrs["bc_type"] = bc_type
            g.attrs["associated_dims"] = [dim]
            g.attrs["associated_fields"] = []
            g.attrs["sample_varying"] = False
            g.attrs["time_varying"] = False
            n = len(lay.coords[dim])
            mask = np.zeros(n, dtype=bool)
            mask[[0, -1]] = True
            g.create_dataset("mask", data=mask)
            g.create_dataset("values", data=np.zeros(0, dtype=lay.dtype))

        sc = f.create_group("scalars")
        sc.attrs["field_names"] = [*lay.scalars, *lay.series]
        for name, values in lay.scalars.items():
            v = np.broadcast_to(np.asarray(values, dtype=lay.dtype), (lay.n_trajectories,))
            ds = sc.create_dataset(name, data=v)
            ds.attrs["sample_varying"] = True
            ds.attrs["time_varying"] = False
        for name in lay.series:
            ds = sc.create_dataset(name, shape=(lay.n_trajectories, len(lay.time)), dtype=lay.dtype)
            ds.attrs["sample_varying"] = True
            ds.attrs["time_varying"] = True

        groups = {g: f.create_group(g) for g in FIELD_GROUPS}
        for g in groups.values():
            g.attrs["field_names"] = []
        for fl in lay.fields:
            if fl.order not in (0, 1, 2):
                raise ValueError(f"field {fl.name!r}: tensor order must be 0, 1 or 2")
            g = groups[FIELD_GROUPS[fl.order]]
            shape = lay.field_shape(fl)
            per_sample = shape[1:]
            ds = g.create_dataset(
                fl.name,
                shape=shape,
                dtype=lay.dtype,
                chunks=(1, *per_sample),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            ds.attrs["dim_varying"] = [True] * len(lay.spatial_shape)
            ds.attrs["sample_varying"] = True
            ds.attrs["time_varying"] = fl.time_varying
            g.attrs["field_names"] = [*g.attrs["field_names"], fl.name]
        if lay.cells is not None:
            f.create_group("mesh").create_dataset("cells", data=np.asarray(lay.cells, np.int64))
        f.flush()

    # -- writing -----------------------------------------------------------------------------
    def write(self, start: int, arrays: Mapping[str, Any]) -> None:
        """Write trajectories ``start : start + b`` of every field and series; mark them complete.

        ``arrays`` maps each declared field name to an array (or tensor) of shape
        ``(b, *field_shape[1:])`` and each declared series name to one of shape ``(b, T)``. Blocks
        must be written in order (``start == n_done``). Non-finite values are refused, so a NaN
        from a diverging solver never reaches a dataset.
        """
        assert self._file is not None, "use DatasetWriter as a context manager"
        if start != self.n_done:
            raise ValueError(f"blocks must be written in order: expected start={self.n_done}")
        datasets = self.layout.datasets()
        if set(arrays) != set(datasets):
            fields = sorted(fl.name for fl in self.layout.fields)
            series = f" and series {sorted(self.layout.series)}" if self.layout.series else ""
            raise DataFileError(
                self.path, f"expected arrays for fields {fields}{series}, got {sorted(arrays)}"
            )
        b = None
        for name, (key, shape) in datasets.items():
            a = np.asarray(_to_numpy(arrays[name]), dtype=self.layout.dtype)
            expected = shape[1:]
            if a.shape[1:] != expected or (b is not None and a.shape[0] != b):
                steady = len(self.layout.time) == 1 and a.shape[1:] == expected[1:]
                hint = (
                    "; for steady data without a time axis declare the field with "
                    "FieldLayout(name, time_varying=False)"
                    if steady
                    else ""
                )
                raise DataFileError(
                    self.path,
                    f"got shape {a.shape}, expected (b, {', '.join(map(str, expected))}){hint}",
                    key,
                )
            if not np.isfinite(a).all():
                bad = np.argwhere(~np.isfinite(a))[0]
                raise DataFileError(
                    self.path,
                    f"non-finite value in trajectory {start + bad[0]} "
                    f"(index {tuple(int(i) for i in bad[1:])}); refusing to write it",
                    key,
                )
            b = a.shape[0]
            if start + b > self.layout.n_trajectories:
                raise DataFileError(
                    self.path,
                    f"block {start}+{b} overruns the {self.layout.n_trajectories} trajectories",
                    key,
                )
            self._store(key, start, a)
        try:
            self._file.attrs["n_complete"] = start + (b or 0)
            self._file.flush()
        except OSError as exc:
            self._write_failed(exc, "n_complete")
        self.n_done = start + (b or 0)

    def _store(self, key: str, start: int, a: np.ndarray) -> None:
        assert self._file is not None
        try:
            self._file[key][start : start + len(a)] = a
        except OSError as exc:
            self._write_failed(exc, key)

    def _write_failed(self, exc: OSError, key: str) -> None:
        """Raise :class:`DataFileError` for a failed write; remember a full disk for ``__exit__``."""
        text = str(exc)
        self._disk_full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or (
            "No space left" in text or "errno = 28" in text or "Disk quota" in text
        )
        if self._disk_full:
            raise DataFileError(
                self.path,
                f"the disk is full ({self.n_done} of {self.layout.n_trajectories} trajectories "
                f"were written); the unfinished {self.partial.name} was deleted to give the space "
                "back: free some space and run again",
                key,
            ) from None
        raise DataFileError(self.partial, f"cannot write: {exc}", key) from None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._file is not None
        if exc_type is None and self.n_done != self.layout.n_trajectories:
            self._file.close()
            raise ValueError(
                f"{self.path}: only {self.n_done} of {self.layout.n_trajectories} trajectories "
                "were written; the partial file is kept for resuming"
            )
        try:
            if exc_type is None:
                self._file.attrs["complete"] = True
            self._file.close()
        except OSError as exc_close:
            if exc_type is None:
                self._write_failed(exc_close, "complete")
        finally:
            if self._disk_full:
                self.partial.unlink(missing_ok=True)
        if exc_type is None:
            try:
                os.replace(self.partial, self.path)
            except OSError as err:
                raise DataFileError(
                    self.path,
                    f"cannot move the finished {self.partial.name} into place ({err.strerror}); "
                    f"the complete data is in {self.partial}",
                ) from None


def _to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def write_dataset(
    path: str | os.PathLike, layout: DatasetLayout, arrays: Mapping[str, Any]
) -> Path:
    """Write a whole dataset in one call (atomic). ``arrays`` as in :meth:`DatasetWriter.write`."""
    writer = DatasetWriter(path, layout)
    try:
        with writer as w:
            w.write(0, arrays)
    except BaseException:
        # one call, nothing to resume: a failed write leaves no .partial behind
        with contextlib.suppress(OSError):
            writer.partial.unlink(missing_ok=True)
        raise
    return Path(path)


class LazyH5File(ABC):
    """A read-only HDF5 file, validated once on open and reopened lazily in every process.

    Subclasses set ``self.path`` (check that it exists first, with their own hint) and call
    :meth:`_validate`, which opens the file once, runs :meth:`_read_header` and, optionally,
    :meth:`_check_finite`, and turns h5py's errors for truncated or corrupt files into a
    :class:`DataFileError`. The h5py handle is opened on first use in each process (and dropped
    when pickled), so an instance can be handed to ``DataLoader(num_workers>0)`` workers.
    """

    path: Path
    _handle: h5py.File | None = None
    _pid: int | None = None

    def _validate(self, check_finite: bool) -> None:
        try:
            with h5py.File(self.path, "r") as f:
                self._read_header(f)
                if check_finite:
                    self._check_finite(f)
        except DataFileError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise DataFileError(
                self.path, f"not a readable HDF5 file (truncated or corrupt?): {exc}"
            ) from exc

    @abstractmethod
    def _read_header(self, f: h5py.File) -> None:
        """Check the layout and read the metadata; raise :class:`DataFileError` naming the key."""

    @abstractmethod
    def _check_finite(self, f: h5py.File) -> None:
        """Raise :class:`DataFileError` at the first NaN/Inf in the data."""

    @property
    def handle(self) -> h5py.File:
        """The open h5py file of this process (reopened after a fork)."""
        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._handle

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"] = None  # h5py handles do not pickle; each worker reopens
        return state


class DatasetFile(LazyH5File):
    """A validated, lazily read dataset file.

    Opening checks the schema (root attributes, groups, field shapes against ``dimensions``) and,
    with ``check_finite=True``, scans every field for NaN/Inf block by block. The h5py handle is
    opened on first access in each process, so an instance can be handed to
    ``DataLoader(num_workers>0)`` workers (each opens its own handle).

    Parameters
    ----------
    path:
        The ``.h5`` file.
    check_finite:
        Scan the data for non-finite values on open (cost: one pass over the file).

    After opening, ``scalars`` maps the names of the constant scalars of ``scalars/`` to their
    values (``(N,)``, or ``()`` in files of other writers) and ``series`` those of the
    time-varying ones to ``(N, T)`` arrays; both are read into memory, the fields are read lazily.
    """

    def __init__(self, path: str | os.PathLike, *, check_finite: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            partial = self.path.with_name(self.path.name + _PARTIAL_SUFFIX)
            extra = (
                f" (an unfinished {partial.name} exists: rerun the generator to resume it)"
                if partial.exists()
                else ""
            )
            raise DataFileError(self.path, f"file not found{extra}")
        self._validate(check_finite)

    # -- validation ----------------------------------------------------------------------------
    def _require(self, f: h5py.File, key: str, what: str) -> Any:
        if key not in f:
            raise DataFileError(self.path, f"missing {what}", key)
        return f[key]

    def _read_header(self, f: h5py.File) -> None:
        for attr in ("dataset_name", "grid_type", "n_spatial_dims", "n_trajectories"):
            if attr not in f.attrs:
                raise DataFileError(
                    self.path, "missing root attribute (is this a sciml / The Well file?)", attr
                )
        if not bool(f.attrs.get("complete", True)):
            raise DataFileError(self.path, "file is marked incomplete (an interrupted write?)")
        self.dataset_name = str(f.attrs["dataset_name"])
        self.grid_type = str(f.attrs["grid_type"])
        self.n_trajectories = int(f.attrs["n_trajectories"])
        if self.n_trajectories < 1:
            raise DataFileError(
                self.path, f"the file holds no samples (n_trajectories = {self.n_trajectories})"
            )
        self.attrs = {k: _attr(v) for k, v in f.attrs.items()}
        self.config: dict[str, Any] = json.loads(f.attrs.get("config", "{}"))
        dims = self._require(f, "dimensions", "group of coordinates")
        if "spatial_dims" not in dims.attrs:
            raise DataFileError(
                self.path,
                "missing attribute listing the spatial dimensions",
                "dimensions.attrs[spatial_dims]",
            )
        self.spatial_dims = [str(d) for d in dims.attrs["spatial_dims"]]
        if len(self.spatial_dims) != int(f.attrs["n_spatial_dims"]):
            raise DataFileError(
                self.path,
                f"n_spatial_dims={int(f.attrs['n_spatial_dims'])} but dimensions/spatial_dims "
                f"lists {self.spatial_dims}",
            )
        self.time = np.asarray(self._require(f, "dimensions/time", "time axis")[...])
        if self.grid_type == "unstructured":
            pts = self._require(f, "dimensions/points", "node coordinates (P, d)")
            self.coords = {"points": np.asarray(pts[...])}
            self.spatial_shape: tuple[int, ...] = (pts.shape[0],)
        else:
            self.coords = {
                d: np.asarray(self._require(f, f"dimensions/{d}", "coordinate axis")[...])
                for d in self.spatial_dims
            }
            self.spatial_shape = tuple(len(self.coords[d]) for d in self.spatial_dims)
        self.cells = np.asarray(f["mesh/cells"][...]) if "mesh/cells" in f else None
        if self.cells is not None and self.grid_type == "unstructured":
            self._check_cells(self.cells)
        #: ``{dim: "PERIODIC" | "WALL" | "OPEN"}`` for the dimensions the file gives one
        self.boundary: dict[str, str] = {}
        for group in f["boundary_conditions"].values() if "boundary_conditions" in f else ():
            for dim in group.attrs.get("associated_dims", []):
                self.boundary[str(dim)] = str(group.attrs.get("bc_type", "")).upper()
        self.scalars: dict[str, np.ndarray] = {}
        self.series: dict[str, np.ndarray] = {}
        if "scalars" in f:
            for name in f["scalars"].attrs.get("field_names", []):
                key = f"scalars/{name}"
                ds = self._require(f, key, "scalar")
                if not bool(ds.attrs.get("time_varying", False)):
                    self.scalars[str(name)] = np.asarray(ds[...])
                    continue
                expected = (self.n_trajectories, len(self.time))
                if tuple(ds.shape) != expected:
                    raise DataFileError(
                        self.path,
                        f"time-varying scalar of shape {tuple(ds.shape)}, expected {expected} "
                        "(N, T)",
                        key,
                    )
                self.series[str(name)] = np.asarray(ds[...])
        self.fields: dict[str, FieldInfo] = {}
        d = len(self.spatial_dims)
        for order, gname in enumerate(FIELD_GROUPS):
            if gname not in f:
                continue
            for name in f[gname].attrs.get("field_names", []):
                key = f"{gname}/{name}"
                ds = self._require(f, key, "field listed in field_names")
                self._check_field_dtype_and_count(ds, key)
                tv = bool(ds.attrs.get("time_varying", True))
                expected = (
                    self.n_trajectories,
                    *((len(self.time),) if tv else ()),
                    *self.spatial_shape,
                    *([d] * order),
                )
                if tuple(ds.shape) != expected:
                    raise DataFileError(
                        self.path,
                        f"shape {tuple(ds.shape)} does not match the file's dimensions: expected "
                        f"{expected} (N, {'T, ' if tv else ''}{', '.join(self.spatial_dims) if self.grid_type == 'cartesian' else 'P'}"
                        f"{', d' * order})",
                        key,
                    )
                self.fields[str(name)] = FieldInfo(str(name), key, order, tv, tuple(ds.shape))
        if not self.fields:
            raise DataFileError(self.path, "no fields in t0_fields/t1_fields/t2_fields")

    def _check_field_dtype_and_count(self, ds: h5py.Dataset, key: str) -> None:
        """A field holds real floating-point values, one sample per trajectory."""
        kind = ds.dtype.kind
        if kind == "c":
            raise DataFileError(
                self.path,
                f"complex dtype {ds.dtype} is not supported: store the real and imaginary parts "
                "as two real fields",
                key,
            )
        if kind != "f":
            raise DataFileError(
                self.path,
                f"dtype {ds.dtype} is not a floating-point type (float16, float32 or float64)",
                key,
            )
        if ds.ndim == 0 or ds.shape[0] != self.n_trajectories:
            count = ds.shape[0] if ds.ndim else "no"
            raise DataFileError(
                self.path,
                f"holds {count} samples but the file has n_trajectories = "
                f"{self.n_trajectories} (every field needs one sample per trajectory)",
                key,
            )

    def _check_cells(self, cells: np.ndarray) -> None:
        """Mesh connectivity ``(E, k)`` of integer indices into the ``P`` nodes."""
        n = self.spatial_shape[0]
        if cells.ndim != 2 or cells.dtype.kind not in "iu":
            raise DataFileError(
                self.path,
                f"expected (E, k) integer node indices, got {cells.dtype} {cells.shape}",
                "mesh/cells",
            )
        if cells.size and (cells.min() < 0 or cells.max() >= n):
            e = int(np.nonzero(((cells < 0) | (cells >= n)).any(axis=1))[0][0])
            raise DataFileError(
                self.path,
                f"cell {e} has node indices {cells[e].tolist()} outside [0, {n}) (the file has "
                f"{n} nodes)",
                "mesh/cells",
            )

    def _check_finite(self, f: h5py.File) -> None:
        for info in self.fields.values():
            ds = f[info.key]
            step = max(1, int(2**22 // max(1, int(np.prod(ds.shape[1:])))))
            for i in range(0, ds.shape[0], step):
                block = ds[i : i + step]
                if not np.isfinite(block).all():
                    bad = np.argwhere(~np.isfinite(block))[0]
                    raise DataFileError(
                        self.path,
                        f"non-finite value (NaN/Inf) in trajectory {i + int(bad[0])} at index "
                        f"{tuple(int(j) for j in bad[1:])}{_SKIP_FINITE_HINT}",
                        info.key,
                    )
        for name, values in self.series.items():
            if not np.isfinite(values).all():
                bad = np.argwhere(~np.isfinite(values))[0]
                raise DataFileError(
                    self.path,
                    f"non-finite value (NaN/Inf) in trajectory {int(bad[0])} at time index "
                    f"{int(bad[1])}{_SKIP_FINITE_HINT}",
                    f"scalars/{name}",
                )

    # -- lazy access ---------------------------------------------------------------------------
    def field(self, name: str) -> h5py.Dataset:
        """The h5py dataset of field ``name`` (slice it to read)."""
        if name not in self.fields:
            raise DataFileError(
                self.path, f"no field {name!r}; fields in this file: {sorted(self.fields)}"
            )
        return self.handle[self.fields[name].key]

    def read(self, name: str, index: Any = ()) -> np.ndarray:
        """Read ``field[index]`` as a NumPy array."""
        return np.asarray(self.field(name)[index])

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __repr__(self) -> str:
        return (
            f"DatasetFile({str(self.path)!r}, name={self.dataset_name!r}, N={self.n_trajectories}, "
            f"T={len(self.time)}, spatial={self.spatial_shape}, fields={sorted(self.fields)})"
        )


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies the contents of the HDF5 file at ``path`` without reading its arrays:
    the root attributes (for our files: dataset name, generator, version, full config, seed) and
    the name, shape and dtype of every dataset. Two generations with other parameters, seed or
    size differ here; the comparison costs only metadata reads. ``{}`` if there is no file.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    arrays: dict[str, list[Any]] = {}
    with h5py.File(path, "r") as f:
        attrs = {k: _attr(v) for k, v in sorted(f.attrs.items())}

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                arrays[name] = [list(obj.shape), str(obj.dtype)]

        f.visititems(visit)
    return {"attrs": attrs, "arrays": arrays}


def identity_difference(before: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """The first difference between two :func:`file_identity` results, in words, or ``None``."""
    if not now:
        return "the file is gone"
    for part, what in (("attrs", "attribute"), ("arrays", "array")):
        old, new = before.get(part, {}), now.get(part, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return f"{what} {key!r} was {old.get(key)!r}, is {new.get(key)!r}"
    return None


@dataclass(frozen=True)
class FieldInfo:
    """Where and how a field is stored: ``key`` in the file, tensor ``order``, full ``shape``."""

    name: str
    key: str
    order: int
    time_varying: bool
    shape: tuple[int, ...]


def _attr(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_attr(x) for x in v.tolist()]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v

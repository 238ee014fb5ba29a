"""Torch datasets over gridded fields stored in our HDF5 format (:mod:`sciml.data.format`).

Three views of one file, each registered in :data:`sciml.registry.DATASETS`:

=============================  ====================================================================
``grid_pair`` (GridPairDataset)    input fields at one time → output fields at another (operator
                                   learning: Darcy a → u, Poisson f → u, antiderivative v → u)
``time_window`` (TimeWindowDataset)  ``n_input_steps`` consecutive states → the next
                                   ``n_output_steps`` (autoregressive training)
``all2all`` (AllToAllDataset)      every pair of times ``t_i → t_j`` with ``i <= j`` of a trajectory
                                   and its lead time (Poseidon's all2all training)
=============================  ====================================================================

**Samples** are dicts of tensors (a ``DataLoader`` adds a leading batch axis ``B``)::

    x       (C_in, *S)     input channels          y    (C_out, *S)   target channels
    coords  (d, *S)        physical coordinates of every grid point (x, y, z order);
                           unstructured files: (d, P) node coordinates
    t / dt  ()             time of the first output / lead time t_j - t_i (time_window / all2all)

``*S`` is the spatial shape ``(X, Y, ...)`` after ``subsample`` (stride on every spatial axis).
Channels: a scalar field gives 1 channel, a vector field ``d`` (its components), a tensor field
``d*d`` (row-major), in the order the fields are listed. Fields constant in time are read without a
time index; names of per-trajectory scalars (``scalars/``, PDE parameters) listed as inputs become
constant channels.

**Splits** (:func:`split_range`): the *last* ``test_fraction`` of the trajectories (or the last
``n_test``) are the test set, the first ``n_train`` of the rest the training samples, so train and
test never overlap whatever the sizes. The last ``n_val`` of the training samples form the
validation split (``"val"``, for model selection), the others the ``"train"`` split; with
``n_val = 0`` there is no separate validation split and ``"val"`` is the training split.
(PDEBench files use the opposite convention, see :mod:`sciml.data.pdebench`.)

Files are opened lazily per process (:class:`~sciml.data.format.DatasetFile`), so the datasets work
with ``DataLoader(num_workers > 0)``; ``in_memory=True`` keeps every trajectory once read (for
small datasets).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate

from sciml.data.format import DataFileError, DatasetFile
from sciml.registry import DATASETS

__all__ = [
    "split_range",
    "GridDatasetBase",
    "GridPairDataset",
    "TimeWindowDataset",
    "AllToAllDataset",
    "InMemoryDataset",
]

SPLITS = ("train", "val", "test", "all")


def split_range(
    n_total: int,
    split: str,
    *,
    test_fraction: float = 0.2,
    n_train: int | None = None,
    n_test: int | None = None,
    n_val: int = 0,
    test_first: bool = False,
    path: str | os.PathLike = "<dataset>",
) -> range:
    """Trajectory indices of ``split`` in a file of ``n_total`` trajectories.

    The test block holds ``n_test`` trajectories (default ``round(test_fraction * n_total)``) at
    the end of the file (``test_first=False``, our convention) or at its start (``test_first=True``,
    PDEBench's). The training samples are the first ``n_train`` (default: all) of the remaining
    ones; ``split="val"`` is the last ``n_val`` of them and ``split="train"`` the rest (with
    ``n_val = 0``, both are all the training samples). ``split="all"`` is every trajectory.
    """
    if split not in SPLITS:
        raise ValueError(f"{path}: split must be one of {SPLITS}, got {split!r}")
    if split == "all":
        return range(n_total)
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"{path}: test_fraction must be in [0, 1), got {test_fraction}")
    n_te = round(test_fraction * n_total) if n_test is None else int(n_test)
    n_tr = n_total - n_te if n_train is None else int(n_train)
    if n_te < 0 or n_tr < 0 or n_tr + n_te > n_total:
        raise DataFileError(
            path,
            f"n_train={n_tr} + n_test={n_te} exceeds the {n_total} trajectories in the file",
            "n_trajectories",
        )
    if n_val < 0 or (n_val and n_val >= n_tr):
        raise DataFileError(
            path,
            f"n_val={n_val} validation trajectories leave none of the n_train={n_tr} training "
            f"ones to fit on; choose n_val in [0, {max(n_tr - 1, 0)}]",
            "n_trajectories",
        )
    if split == "test":
        return range(0, n_te) if test_first else range(n_total - n_te, n_total)
    start = n_te if test_first else 0
    if split == "val" and n_val:
        return range(start + n_tr - n_val, start + n_tr)
    return range(start, start + n_tr - (n_val if split == "train" else 0))


def _spatial_slices(subsample: int | Sequence[int], n_dims: int, path: Any) -> tuple[slice, ...]:
    steps = (subsample,) * n_dims if isinstance(subsample, int) else tuple(subsample)
    if len(steps) != n_dims or min(steps) < 1:
        raise ValueError(f"{path}: subsample must be {n_dims} positive ints, got {subsample}")
    return tuple(slice(None, None, int(s)) for s in steps)


class GridDatasetBase(Dataset):
    """Shared machinery: file, split, subsampling, coordinates, reading fields as channels.

    Subclasses for other file layouts (:mod:`sciml.data.pdebench`) override :meth:`_open` (an
    object with the attributes of :class:`~sciml.data.format.DatasetFile` that the datasets use:
    ``path, n_trajectories, time, grid_type, spatial_dims, coords, fields, scalars``),
    :meth:`_read_channels`, :meth:`_read_split`, and the split convention (:attr:`test_first`,
    :attr:`default_test_fraction`).
    """

    #: whether the test block is at the start of the file (PDEBench) instead of the end (ours)
    test_first: ClassVar[bool] = False
    #: ``test_fraction`` when the caller gives none
    default_test_fraction: ClassVar[float] = 0.2

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        split: str,
        test_fraction: float | None,
        n_train: int | None,
        n_test: int | None,
        n_val: int,
        subsample: int | Sequence[int],
        in_memory: bool,
        check_finite: bool,
        dtype: torch.dtype,
    ) -> None:
        self.file = self._open(path, check_finite)
        self.path = self.file.path
        self.dtype = dtype
        self.trajectories = split_range(
            self.file.n_trajectories,
            split,
            test_fraction=self.default_test_fraction if test_fraction is None else test_fraction,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            test_first=self.test_first,
            path=self.path,
        )
        unstructured = self.file.grid_type == "unstructured"
        if unstructured and subsample not in (1, (1,)):
            raise ValueError(f"{self.path}: subsample is only defined on cartesian grids")
        n_space = 1 if unstructured else len(self.file.spatial_dims)
        self._space = _spatial_slices(subsample, n_space, self.path)
        self._check_periodic_strides()
        self.coords = self._coordinates()
        self.spatial_shape = tuple(self.coords.shape[1:])
        self.time = torch.as_tensor(self.file.time, dtype=torch.float64)
        self._in_memory = in_memory
        self._cache: dict[str, np.ndarray] = {}

    def _open(self, path: str | os.PathLike, check_finite: bool) -> Any:
        """The validated, lazily read file."""
        return DatasetFile(path, check_finite=check_finite)

    def _check_periodic_strides(self) -> None:
        """A stride must divide the points of a periodic axis: otherwise the subsampled grid
        is not uniform across the wrap-around (its last gap is shorter), which an FFT-based
        model would silently treat as uniform."""
        boundary = getattr(self.file, "boundary", {})
        for axis, (dim, piece) in enumerate(zip(self.file.spatial_dims, self._space)):
            n, stride = self.file.spatial_shape[axis], piece.step or 1
            if boundary.get(dim) == "PERIODIC" and n % stride:
                divisors = [k for k in range(1, n + 1) if n % k == 0]
                raise DataFileError(
                    self.path,
                    f"subsample {stride} does not divide the {n} points of the periodic axis "
                    f"{dim!r} (the subsampled grid would not be uniform); use one of "
                    f"{divisors[:8]}{' ...' if len(divisors) > 8 else ''}",
                    f"dimensions/{dim}",
                )

    def _coordinates(self) -> Tensor:
        if self.file.grid_type == "unstructured":
            return torch.as_tensor(self.file.coords["points"], dtype=self.dtype).T.contiguous()
        axes = [
            torch.as_tensor(self.file.coords[d][s], dtype=self.dtype)
            for d, s in zip(self.file.spatial_dims, self._space)
        ]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"))

    def _check_names(self, names: Sequence[str], role: str, *, allow_scalars: bool) -> list[str]:
        names = list(names)
        if not names:
            raise ValueError(f"{self.path}: no {role} fields given")
        available = sorted(self.file.fields) + (sorted(self.file.scalars) if allow_scalars else [])
        for name in names:
            if name not in available:
                raise DataFileError(
                    self.path, f"no {role} field {name!r}; available: {available}", name
                )
        return names

    def _require_time_varying(self, names: Sequence[str], role: str) -> None:
        for name in names:
            if not self.file.fields[name].time_varying:
                raise DataFileError(
                    self.path,
                    f"{role} field {name!r} is constant in time; this dataset needs fields "
                    "with a time axis",
                    self.file.fields[name].key,
                )

    def _check_time_index(self, index: int, role: str) -> int:
        n_t = len(self.file.time)
        if not -n_t <= index < n_t:
            raise DataFileError(
                self.path, f"{role}={index} out of range for {n_t} time steps", "dimensions/time"
            )
        return index % n_t

    def _channels(self, names: Sequence[str], traj: int, times: int | slice) -> Tensor:
        """Fields as channels: ``(C, *S)`` at one time, ``(n_t, C, *S)`` for a time slice.

        A slice needs time-varying fields (checked by the datasets that use one); at one time,
        constant fields are read as they are and scalars broadcast to a constant channel.
        """
        lead = 1 if isinstance(times, slice) else 0
        parts = []
        for name in names:
            if name not in self.file.fields:
                value = np.asarray(self.file.scalars[name]).reshape(-1)
                v = value[traj] if value.size > 1 else value[0]
                parts.append(np.full((1, *self.spatial_shape), v))
                continue
            parts.append(self._field_channels(name, traj, times))
        return torch.as_tensor(np.concatenate(parts, axis=lead), dtype=self.dtype)

    def _field_channels(self, name: str, traj: int, times: int | slice) -> np.ndarray:
        """Field ``name`` as ``(C, *S)`` (one time) or ``(n_t, C, *S)`` (a slice of times).

        With ``in_memory`` the whole split of a field is read on first use and kept.
        """
        if not self._in_memory:
            return self._read_channels(name, traj, times)
        if name not in self._cache:
            self._cache[name] = self._read_split(name)
        a = self._cache[name][traj - self.trajectories.start]
        return a[times] if self.file.fields[name].time_varying else a

    def _read_channels(self, name: str, traj: int, times: int | slice) -> np.ndarray:
        """Read field ``name`` from the file as ``(C, *S)`` or ``(n_t, C, *S)``, subsampled."""
        info = self.file.fields[name]
        t_index = (times,) if info.time_varying else ()
        lead = 1 if info.time_varying and isinstance(times, slice) else 0
        # whole chunks are decompressed anyway: striding in NumPy beats an HDF5 strided selection
        a = self.file.field(name)[(traj, *t_index)]
        return self._to_channels(a, lead, info.order)

    def _read_split(self, name: str) -> np.ndarray:
        """All trajectories of the split in one read: ``(n, [T,] C, *S)``."""
        info = self.file.fields[name]
        rows = self.file.field(name)[self.trajectories.start : self.trajectories.stop]
        return self._to_channels(rows, 1 + int(info.time_varying), info.order)

    def _to_channels(self, a: np.ndarray, lead: int, order: int) -> np.ndarray:
        """``(*lead, *S_full, d^order)`` → subsampled ``(*lead, C, *S)``."""
        a = a[(slice(None),) * lead + self._space]
        if order:
            a = a.reshape(*a.shape[: lead + len(self.spatial_shape)], -1)
        else:
            a = a[..., None]
        return np.ascontiguousarray(np.moveaxis(a, -1, lead))

    def trajectory(self, k: int, times: slice = slice(None)) -> Tensor:
        """The ``fields`` of trajectory ``k`` of the split at ``times``: ``(n_t, C, *S)``
        (datasets of a state: time windows, all2all pairs).

        Used for rollouts, which start from the first states and compare with the rest.
        """
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        return self._channels(self.fields, self.trajectories[k], times)

    def _sample(self, **tensors: Tensor) -> dict[str, Tensor]:
        return {**tensors, "coords": self.coords}

    def tensors(self) -> dict[str, Tensor]:
        """Every sample stacked into one batch ``{key: (len(self), ...)}``.

        For small datasets trained full-batch (e.g. antiderivative: 150 samples), where indexing
        tensors directly is much cheaper than a ``DataLoader`` collating samples every step.
        """
        return default_collate([self[i] for i in range(len(self))])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, n={len(self)})"


class InMemoryDataset(Dataset):
    """Samples held as stacked tensors ``{key: (N, ...)}``, with batched indexing.

    ``__getitems__`` returns a whole batch by one index per tensor, instead of ``batch_size`` calls
    of ``__getitem__`` followed by stacking; for small models this is most of a training step.
    Build it from any dataset of sample dicts with :meth:`from_dataset`.
    """

    def __init__(self, tensors: dict[str, Tensor]) -> None:
        lengths = {k: len(v) for k, v in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"all tensors need the same first dimension, got {lengths}")
        self.tensors = tensors
        self._n = next(iter(lengths.values()))

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> InMemoryDataset:
        """Stack every sample of ``dataset`` (which must fit in memory)."""
        return cls(default_collate([dataset[i] for i in range(len(dataset))]))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {k: v[i] for k, v in self.tensors.items()}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return {k: v[index] for k, v in self.tensors.items()}


@DATASETS.register("grid_pair")
class GridPairDataset(GridDatasetBase):
    """Input fields at one time → output fields at another time, one sample per trajectory.

    Sample: ``{"x": (C_in, *S), "y": (C_out, *S), "coords": (d, *S)}`` (see the module docstring
    for channels, coordinates and splits).

    Parameters
    ----------
    path:
        Dataset file written by :mod:`sciml.data.format`.
    inputs, outputs:
        Field names (``t0/t1/t2_fields``); ``inputs`` may also name per-trajectory scalars.
    split, test_fraction, n_train, n_test, n_val:
        Which trajectories (:func:`split_range`; the last ``test_fraction``, default 0.2, are
        the test set; ``split`` one of ``"train"``, ``"val"``, ``"test"``, ``"all"``).
    time_index_in, time_index_out:
        Time steps of the inputs and outputs (negative counts from the end). Ignored for fields
        constant in time.
    subsample:
        Stride on every spatial axis (an int) or per axis (a tuple).
    in_memory:
        Keep each trajectory in memory once read (fast epochs for small datasets).
    check_finite:
        Scan the file for NaN/Inf on open.
    dtype:
        Dtype of the returned tensors.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        inputs: Sequence[str],
        outputs: Sequence[str],
        *,
        split: str = "train",
        test_fraction: float | None = None,
        n_train: int | None = None,
        n_test: int | None = None,
        n_val: int = 0,
        time_index_in: int = 0,
        time_index_out: int = -1,
        subsample: int | Sequence[int] = 1,
        in_memory: bool = False,
        check_finite: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            path,
            split=split,
            test_fraction=test_fraction,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            subsample=subsample,
            in_memory=in_memory,
            check_finite=check_finite,
            dtype=dtype,
        )
        self.inputs = self._check_names(inputs, "input", allow_scalars=True)
        self.outputs = self._check_names(outputs, "output", allow_scalars=False)
        self.time_index_in = self._check_time_index(time_index_in, "time_index_in")
        self.time_index_out = self._check_time_index(time_index_out, "time_index_out")

    def __len__(self) -> int:
        return len(self.trajectories)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        traj = self.trajectories[i]
        return self._sample(
            x=self._channels(self.inputs, traj, self.time_index_in),
            y=self._channels(self.outputs, traj, self.time_index_out),
        )


@DATASETS.register("time_window")
class TimeWindowDataset(GridDatasetBase):
    """Windows of consecutive states for autoregressive training.

    A window starting at time index ``s`` has inputs at ``s, s + stride, ...`` (``n_input_steps``
    states) and outputs at the ``n_output_steps`` states that follow, with the same stride. Every
    start ``s = 0, 1, ...`` that fits is a sample, so a trajectory of ``T`` steps gives
    ``T - (n_input_steps + n_output_steps - 1) * stride`` samples.

    Sample: ``{"x": (n_in * C, *S), "y": (n_out * C, *S), "coords": (d, *S), "t": ()}`` with
    the channels time-major (all fields at the first step, then the next step, ...) and ``t`` the
    physical time of the first output.

    Parameters
    ----------
    fields:
        Time-varying fields forming the state (input and output).
    n_input_steps, n_output_steps, stride:
        Window shape, in stored time steps.
    split, test_fraction, n_train, n_test, n_val, subsample, in_memory, check_finite, dtype:
        As in :class:`GridPairDataset`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fields: Sequence[str],
        *,
        n_input_steps: int = 1,
        n_output_steps: int = 1,
        stride: int = 1,
        split: str = "train",
        test_fraction: float | None = None,
        n_train: int | None = None,
        n_test: int | None = None,
        n_val: int = 0,
        subsample: int | Sequence[int] = 1,
        in_memory: bool = False,
        check_finite: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            path,
            split=split,
            test_fraction=test_fraction,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            subsample=subsample,
            in_memory=in_memory,
            check_finite=check_finite,
            dtype=dtype,
        )
        self.fields = self._check_names(fields, "state", allow_scalars=False)
        self._require_time_varying(self.fields, "state")
        if min(n_input_steps, n_output_steps, stride) < 1:
            raise ValueError(
                f"{self.path}: n_input_steps, n_output_steps and stride must be >= 1, got "
                f"{n_input_steps}, {n_output_steps}, {stride}"
            )
        self.n_input_steps, self.n_output_steps, self.stride = n_input_steps, n_output_steps, stride
        span = (n_input_steps + n_output_steps - 1) * stride
        self.windows_per_trajectory = len(self.time) - span
        if self.windows_per_trajectory < 1:
            raise DataFileError(
                self.path,
                f"a window of {n_input_steps}+{n_output_steps} steps with stride {stride} needs "
                f"{span + 1} time steps, the file has {len(self.time)}",
                "dimensions/time",
            )

    def __len__(self) -> int:
        return len(self.trajectories) * self.windows_per_trajectory

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} windows")
        k, start = divmod(i % len(self), self.windows_per_trajectory)
        traj = self.trajectories[k]
        n_in, n_out, s = self.n_input_steps, self.n_output_steps, self.stride
        mid = start + n_in * s
        x = self._channels(self.fields, traj, slice(start, mid, s))
        y = self._channels(self.fields, traj, slice(mid, mid + n_out * s, s))
        return self._sample(
            x=x.reshape(-1, *self.spatial_shape),
            y=y.reshape(-1, *self.spatial_shape),
            t=self.time[mid].to(self.dtype),
        )


@DATASETS.register("all2all")
class AllToAllDataset(GridDatasetBase):
    """All ordered time pairs ``t_i → t_j`` (``i <= j``) of every trajectory.

    Poseidon's all2all training (Herde et al., NeurIPS 2024, §3) uses every such pair of a
    trajectory, with the lead time as a conditioning input; ``i == j`` (lead time 0) is included.
    A trajectory of ``T`` steps gives ``T (T + 1) / 2`` samples (``max_lead`` limits ``j - i``).

    Sample: ``{"x": (C + C_c, *S), "y": (C, *S), "dt": (), "coords": (d, *S)}``,
    ``dt = t_j - t_i``; ``x`` is the state at ``t_i`` followed by the ``C_c`` channels of the
    ``constant_inputs`` (e.g. a forcing, Poseidon's FNS-KF "forcing as an extra input channel"),
    which the model reads but does not predict.

    Parameters
    ----------
    fields:
        Time-varying fields forming the state.
    max_lead:
        Largest ``j - i`` in stored steps (default: all).
    constant_inputs:
        Time-constant fields or scalars appended to ``x`` as channels (default none); a scalar
        gives one constant channel. :meth:`constants` returns them for a rollout.
    split, test_fraction, n_train, n_test, n_val, subsample, in_memory, check_finite, dtype:
        As in :class:`GridPairDataset`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fields: Sequence[str],
        *,
        max_lead: int | None = None,
        constant_inputs: Sequence[str] = (),
        split: str = "train",
        test_fraction: float | None = None,
        n_train: int | None = None,
        n_test: int | None = None,
        n_val: int = 0,
        subsample: int | Sequence[int] = 1,
        in_memory: bool = False,
        check_finite: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            path,
            split=split,
            test_fraction=test_fraction,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            subsample=subsample,
            in_memory=in_memory,
            check_finite=check_finite,
            dtype=dtype,
        )
        self.fields = self._check_names(fields, "state", allow_scalars=False)
        self._require_time_varying(self.fields, "state")
        n_t = len(self.time)
        lead = n_t - 1 if max_lead is None else int(max_lead)
        if lead < 0:
            raise ValueError(f"{self.path}: max_lead must be >= 0, got {max_lead}")
        self.pairs = [(i, j) for i in range(n_t) for j in range(i, min(n_t, i + lead + 1))]
        if isinstance(constant_inputs, str):
            raise ValueError(
                f"{self.path}: constant_inputs must be a list of field names, got "
                f"{constant_inputs!r}"
            )
        self.constant_inputs = list(constant_inputs)
        if self.constant_inputs:
            self._check_names(self.constant_inputs, "constant input", allow_scalars=True)
            for name in self.constant_inputs:
                if name in self.fields:
                    raise ValueError(
                        f"{self.path}: constant input {name!r} is also a state field {self.fields}"
                    )
                if name in self.file.fields and self.file.fields[name].time_varying:
                    raise DataFileError(
                        self.path,
                        f"constant input {name!r} varies in time; constant_inputs takes fields "
                        "without a time axis or scalars (a time-varying field belongs to the state)",
                        self.file.fields[name].key,
                    )

    def constants(self, k: int) -> Tensor:
        """The ``constant_inputs`` of trajectory ``k`` of the split: ``(C_c, *S)`` (``C_c = 0``
        without them)."""
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        if not self.constant_inputs:
            return torch.zeros((0, *self.spatial_shape), dtype=self.dtype)
        return self._channels(self.constant_inputs, self.trajectories[k], 0)

    def __len__(self) -> int:
        return len(self.trajectories) * len(self.pairs)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        if not -len(self) <= k < len(self):
            raise IndexError(f"index {k} out of range for {len(self)} pairs")
        n, p = divmod(k % len(self), len(self.pairs))
        traj = self.trajectories[n]
        i, j = self.pairs[p]
        x = self._channels(self.fields, traj, i)
        if self.constant_inputs:
            x = torch.cat([x, self._channels(self.constant_inputs, traj, i)])
        return self._sample(
            x=x,
            y=self._channels(self.fields, traj, j),
            dt=(self.time[j] - self.time[i]).to(self.dtype),
        )

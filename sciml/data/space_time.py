"""Whole trajectories as fields on the space-time grid: inputs at ``t_0`` → the solution at every time.

The view a space-time model needs, e.g. the basis network of a hard PDE constraint (PI-HC,
Chalapathi et al., ICLR 2024, §4.1: the initial condition broadcast over ``t`` plus the ``(t, x)``
grid → ``u(t, x)``) or a probabilistic model of a parametric family whose conservation law is
imposed per time slice (ProbConserv, Hansen et al., ICML 2023: the parameter → ``u(t, x)``).

Sample (one per trajectory)::

    x       (C_in, T, *S)       the input fields at the first time (scalars: constant channels),
                                repeated at every time
    y       (C_out, T, *S)      the output fields at every (strided) time
    coords  (1 + d, T, *S)      (t, x, y, ...) of every space-time point, time first

Time is the first grid axis, so a grid model with ``n_dims = 1 + d`` takes the sample as it is.
Splits, subsampling and in-memory reading are those of :class:`~sciml.data.grid.GridDatasetBase`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

from sciml.data.format import DataFileError
from sciml.data.grid import GridDatasetBase
from sciml.registry import DATASETS

__all__ = ["SpaceTimeDataset"]


@DATASETS.register("space_time")
class SpaceTimeDataset(GridDatasetBase):
    """Input fields at ``t_0`` (broadcast over time) → output fields on the space-time grid.

    Parameters
    ----------
    path:
        Dataset file written by :mod:`sciml.data.format`.
    inputs, outputs:
        Field names; ``inputs`` may name per-trajectory scalars (PDE parameters), ``outputs``
        must vary in time.
    time_stride:
        Keep every ``time_stride``-th stored time (the first is always kept).
    split, test_fraction, n_train, n_test, n_val, subsample, in_memory, check_finite, dtype:
        As in :class:`~sciml.data.grid.GridPairDataset`.
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
        time_stride: int = 1,
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
        if self.file.grid_type == "unstructured":
            raise DataFileError(self.path, "space_time needs a cartesian grid", "grid_type")
        if isinstance(time_stride, bool) or not isinstance(time_stride, int) or time_stride < 1:
            raise ValueError(
                f"{self.path}: time_stride must be an integer >= 1, got {time_stride!r}"
            )
        self.inputs = self._check_names(inputs, "input", allow_scalars=True)
        self.outputs = self._check_names(outputs, "output", allow_scalars=False)
        self._require_time_varying(self.outputs, "output")
        self._times = slice(None, None, time_stride)
        self.time = self.time[self._times]
        if len(self.time) < 2:
            raise DataFileError(
                self.path,
                f"time_stride {time_stride} leaves {len(self.time)} time; a space-time field "
                "needs at least 2",
                "dimensions/time",
            )
        self.space_coords = self.coords  # (d, *S)
        n_t, space = len(self.time), tuple(self.space_coords.shape[1:])
        t = self.time.to(self.dtype).reshape(1, n_t, *([1] * len(space))).expand(1, n_t, *space)
        xs = self.space_coords.unsqueeze(1).expand(-1, n_t, *space)
        self.coords = torch.cat([t, xs]).contiguous()  # (1 + d, T, *S)

    def __len__(self) -> int:
        return len(self.trajectories)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        traj = self.trajectories[i]
        n_t = len(self.time)
        x0 = self._channels(self.inputs, traj, 0)  # (C_in, *S)
        y = self._channels(self.outputs, traj, self._times)  # (T, C_out, *S)
        x = x0.unsqueeze(1).expand(-1, n_t, *x0.shape[1:]).contiguous()
        return self._sample(x=x, y=y.movedim(0, 1).contiguous())

"""Several files of one state as one all2all dataset (mixed-family pretraining).

Poseidon (Herde et al., NeurIPS 2024, §3) pretrains one model on the union of several operators'
trajectories (NS-Sines, NS-Gauss, ...), all with the same channels and time grid. The dataset kind
``all2all_mixture`` is that union: the spec's ``data.path`` and every file of
``data.options.files``, each opened as an :class:`~sciml.data.grid.AllToAllDataset` with the same
fields and options, concatenated (samples of the first file first).

Splits are taken **per file**: ``n_train``, ``n_test`` (or ``test_fraction``) apply to every file,
so each family keeps its own test trajectories at its end. ``n_val`` is the total number of
validation trajectories, shared out as evenly as possible, the first files taking one more. With
``n_val = 0`` the ``"val"`` split is the training split, as for a single file.

The files must agree on the stored times and the spatial grid (one model sees all of them); any
difference is refused naming the file.

Sample: as :class:`~sciml.data.grid.AllToAllDataset`, ``{"x", "y", "dt", "coords"}`` (``x`` with
the ``constant_inputs`` channels, an option every file gets).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset

from sciml.data.format import DataFileError
from sciml.data.grid import AllToAllDataset
from sciml.registry import DATASETS

__all__ = ["AllToAllMixture", "share_out"]


def share_out(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` non-negative counts differing by at most one, larger first."""
    return [total // parts + (k < total % parts) for k in range(parts)]


@DATASETS.register("all2all_mixture")
class AllToAllMixture(ConcatDataset):
    """The all2all pairs of ``path`` and of every file in ``files`` (see the module docstring).

    Parameters
    ----------
    path:
        The first file (the spec's ``data.path``).
    fields:
        Time-varying fields forming the state, present in every file.
    files:
        The other files (``data.options.files``), at least one.
    split, n_train, n_test, test_fraction:
        Per file, as in :class:`~sciml.data.grid.AllToAllDataset`.
    n_val:
        Validation trajectories in all, shared out over the files.
    **options:
        Passed to every :class:`~sciml.data.grid.AllToAllDataset` (``max_lead``, ``subsample``,
        ``in_memory``, ``dtype``, ...).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fields: Sequence[str],
        *,
        files: Sequence[str | os.PathLike] | None = None,
        split: str = "train",
        n_val: int = 0,
        **options: Any,
    ) -> None:
        if isinstance(files, (str, os.PathLike)) or not files:
            raise ValueError(
                f"data.options.files: give a list of one or more further files, got {files!r}"
            )
        paths = [path, *files]
        shares = share_out(int(n_val), len(paths))
        parts = []
        for p, share in zip(paths, shares):
            if split == "val" and n_val and not share:
                continue  # this file holds no validation trajectory
            parts.append(AllToAllDataset(p, fields, split=split, n_val=share, **options))
        first = parts[0]
        for part in parts[1:]:
            if part.time.shape != first.time.shape or not torch.equal(part.time, first.time):
                raise DataFileError(
                    part.path,
                    f"stored times {part.time.tolist()} differ from those of {first.path} "
                    f"({first.time.tolist()}); a mixture needs one time grid",
                    "dimensions/time",
                )
            if part.spatial_shape != first.spatial_shape:
                raise DataFileError(
                    part.path,
                    f"spatial shape {part.spatial_shape} differs from {first.spatial_shape} of "
                    f"{first.path}; a mixture needs one grid",
                    "dimensions",
                )
        super().__init__(parts)
        self.parts: list[AllToAllDataset] = parts
        self.path = first.path
        self.file = first.file
        self.fields = first.fields
        self.constant_inputs = first.constant_inputs
        self.time = first.time
        self.pairs = first.pairs
        self.coords = first.coords
        self.spatial_shape = first.spatial_shape
        #: ``(file index, trajectory index in that file)`` of every trajectory, in order
        self.trajectories = [(k, t) for k, part in enumerate(parts) for t in part.trajectories]
        self._starts = [0]
        for part in parts[:-1]:
            self._starts.append(self._starts[-1] + len(part.trajectories))

    def trajectory(self, k: int, times: slice = slice(None)) -> Tensor:
        """The state of trajectory ``k`` of the mixture at ``times``: ``(n_t, C, *S)``."""
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        part = bisect.bisect_right(self._starts, k) - 1
        return self.parts[part].trajectory(k - self._starts[part], times)

    def constants(self, k: int) -> Tensor:
        """The ``constant_inputs`` of trajectory ``k`` of the mixture: ``(C_c, *S)``."""
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        part = bisect.bisect_right(self._starts, k) - 1
        return self.parts[part].constants(k - self._starts[part])

    def __repr__(self) -> str:
        names = ", ".join(repr(str(p.path)) for p in self.parts)
        return f"{type(self).__name__}([{names}], n={len(self)})"

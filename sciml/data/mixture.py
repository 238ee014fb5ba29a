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

**Families with other fields (per-family channel masks).** ``fields`` is the union of the state
fields; a file may lack some of them (NS-Sines has ``velocity``, a tracer family ``velocity`` and
``tracer``), but every file must have at least one, and each field the same number of channels
wherever it is stored. A lacking field's channels are filled with a constant (``fill: {field:
value}``, default 0; Poseidon stores ρ ≡ 1 and p ≡ 0 for its incompressible families) in ``x`` and
``y``, and every sample carries ``channel_mask`` ``(C,)`` (true where its file has the channel).
The task layer replaces the prediction by the label where the mask is false before the loss
(:class:`~sciml.training.loss_terms.LossTerms`), the metrics and the rollouts
(:func:`~sciml.models.outputs.with_absent_channels`), as Poseidon's masked channels: they add no
error. A mixture whose files all have every field has no mask.

Sample: as :class:`~sciml.data.grid.AllToAllDataset`, ``{"x", "y", "dt", "coords"}`` (``x`` with
the ``constant_inputs`` channels, an option every file gets), plus ``channel_mask`` when a file
lacks a field.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset

from sciml.data.format import DataFileError, DatasetFile
from sciml.data.grid import AllToAllDataset
from sciml.registry import DATASETS

__all__ = ["AllToAllMixture", "share_out"]


def share_out(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` non-negative counts differing by at most one, larger first."""
    return [total // parts + (k < total % parts) for k in range(parts)]


class _FamilyChannels(Dataset):
    """One file's all2all samples in the mixture's channel layout: its state channels put at
    their places among all ``C``, the fields it lacks filled with constants, and its
    ``channel_mask`` ``(C,)``."""

    def __init__(self, part: AllToAllDataset, index: Tensor, filled: Tensor) -> None:
        self.part = part
        self.index = index  # (C_part,) positions of the file's channels among all C
        self.filled = filled  # (C,) the fill value of every channel (overwritten where present)
        self.mask = torch.zeros(len(filled), dtype=torch.bool)
        self.mask[index] = True

    def pad(self, state: Tensor) -> Tensor:
        """``(..., C_part, *S)`` → ``(..., C, *S)``; the channel axis is ``-1 - len(S)``."""
        axis = state.dim() - 1 - len(self.part.spatial_shape)
        shape = [1] * state.dim()
        shape[axis] = len(self.filled)
        full = list(state.shape)
        full[axis] = len(self.filled)
        out = self.filled.to(state.dtype).reshape(shape).expand(full).clone()
        return out.index_copy_(axis, self.index, state)

    def __len__(self) -> int:
        return len(self.part)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        sample = dict(self.part[k])
        n_state = len(self.index)
        x = sample["x"]
        sample["x"] = torch.cat([self.pad(x[:n_state]), x[n_state:]])
        sample["y"] = self.pad(sample["y"])
        sample["channel_mask"] = self.mask
        return sample


def _channel_layout(
    paths: Sequence[str | os.PathLike], fields: Sequence[str], fill: dict[str, float]
) -> tuple[list[list[str]], dict[str, int] | None]:
    """The fields of ``fields`` each file has, and (when some file lacks one) the number of
    channels of every field; refuses a file with none of them, a field no file has, and a
    field stored with different channel counts."""
    unknown = sorted(set(fill) - set(fields))
    if unknown:
        raise ValueError(
            f"data.options.fill: {unknown} are not state fields; allowed: {list(fields)}"
        )
    present, widths, where = [], {}, {}
    for p in paths:
        file = DatasetFile(p, check_finite=False)
        have = [f for f in fields if f in file.fields]
        if not have:
            raise DataFileError(
                p, f"none of the state fields {list(fields)}; available: {sorted(file.fields)}"
            )
        n_space = 1 if file.grid_type == "unstructured" else len(file.spatial_dims)
        for name in have:
            info = file.fields[name]
            # (trajectory, [time,] *space, components...) → channels
            lead = 1 + int(info.time_varying) + n_space
            width = int(torch.tensor(info.shape[lead:]).prod()) if info.order else 1
            if widths.setdefault(name, width) != width:
                raise DataFileError(
                    p,
                    f"field {name!r} has {width} channels here but {widths[name]} in "
                    f"{where[name]}; a mixture needs one channel layout",
                    info.key,
                )
            where.setdefault(name, p)
        present.append(have)
    missing = [f for f in fields if f not in widths]
    if missing:
        raise DataFileError(paths[0], f"no file of the mixture has the state field(s) {missing}")
    complete = all(len(have) == len(fields) for have in present)
    return present, None if complete else widths


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
    fill:
        ``{field: value}``: the constant that stands for a state field in a file that lacks it
        (default 0; see the module docstring).
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
        fill: dict[str, float] | None = None,
        **options: Any,
    ) -> None:
        if isinstance(files, (str, os.PathLike)) or not files:
            raise ValueError(
                f"data.options.files: give a list of one or more further files, got {files!r}"
            )
        paths = [path, *files]
        fill = dict(fill or {})
        present, widths = _channel_layout(paths, fields, fill)
        shares = share_out(int(n_val), len(paths))
        parts = []
        for p, have, share in zip(paths, present, shares):
            if split == "val" and n_val and not share:
                continue  # this file holds no validation trajectory
            parts.append(AllToAllDataset(p, have, split=split, n_val=share, **options))
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
        self.families: list[_FamilyChannels] | None = None
        if widths is not None:
            offsets = torch.tensor([0] + [widths[f] for f in fields]).cumsum(0).tolist()
            starts = dict(zip(fields, offsets))
            filled = torch.cat([torch.full((widths[f],), float(fill.get(f, 0.0))) for f in fields])
            self.families = [
                _FamilyChannels(
                    part,
                    torch.cat(
                        [torch.arange(starts[f], starts[f] + widths[f]) for f in part.fields]
                    ),
                    filled,
                )
                for part in parts
            ]
        super().__init__(self.families or parts)
        self.parts: list[AllToAllDataset] = parts
        self.path = first.path
        self.file = first.file
        self.fields = list(fields)
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
        state = self.parts[part].trajectory(k - self._starts[part], times)
        return state if self.families is None else self.families[part].pad(state)

    def channel_mask(self, k: int) -> Tensor | None:
        """``(C,)``: which state channels trajectory ``k``'s file has (``None`` when every file
        has every field)."""
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        if self.families is None:
            return None
        return self.families[bisect.bisect_right(self._starts, k) - 1].mask

    def constants(self, k: int) -> Tensor:
        """The ``constant_inputs`` of trajectory ``k`` of the mixture: ``(C_c, *S)``."""
        if not 0 <= k < len(self.trajectories):
            raise IndexError(f"trajectory {k} out of range for {len(self.trajectories)}")
        part = bisect.bisect_right(self._starts, k) - 1
        return self.parts[part].constants(k - self._starts[part])

    def __repr__(self) -> str:
        names = ", ".join(repr(str(p.path)) for p in self.parts)
        return f"{type(self).__name__}([{names}], n={len(self)})"

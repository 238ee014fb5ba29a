"""Windows of particle trajectories for learned particle simulators (GNS, Sanchez-Gonzalez 2020).

A learned simulator predicts the next acceleration of every particle from its last ``H``
velocities. Velocities and accelerations are finite differences of positions in units of the
frame step ``s`` (``stride`` saved frames), as in GNS — no time step appears anywhere:

.. math::

    v_t = x_t − x_{t−s},\\qquad a_t = x_{t+s} − 2x_t + x_{t−s}
    \\quad(\\text{position units per frame, per frame}^2).

One sample is one window ending at frame ``t`` of one trajectory:

======= ================ ====================================================================
key     shape            meaning
======= ================ ====================================================================
``x``   ``(P, H+1, d)``  positions at frames ``t − Hs, …, t − s, t`` (file units, m)
``y``   ``(P, d)``       normalized target acceleration ``(a_t − μ_a) / σ_a``
======= ================ ====================================================================

Every ``t`` with ``Hs ≤ t < T − s`` gives a window (windows overlap: a stride of ``s`` frames
does not discard the frames in between).

**Sparse (reduced-order) windows** (GIOROM, Viswanath et al., arXiv 2407.03925):
:class:`ParticleWindowSplit` with a ``sampler`` keeps ``M`` of the ``P`` particles of every
trajectory, chosen once on its reference frame (frame 0) *before* windowing, so every window of a
trajectory holds the same particles; ``x``, ``y`` and the statistics are those of the sparse
set. With ``pairs=True`` a sample also holds the sparse→dense reconstruction pair of its last
input frame ``t``:

================ ========== ==========================================================
key              shape      meaning (m)
================ ========== ==========================================================
``sparse_ref``   ``(M, d)`` sampled particles at frame 0 (reference configuration)
``sparse_pos``   ``(M, d)`` sampled particles at frame ``t``
``dense_ref``    ``(P, d)`` every particle at frame 0
``dense``        ``(P, d)`` every particle at frame ``t`` (the reconstruction's target)
================ ========== ========================================================== :class:`ParticleStats` holds the normalization
statistics ``μ, σ`` of velocities and accelerations; they are fitted on the training windows
and handed to the model (which keeps them as buffers, so they are saved with it) and to the
validation dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

from sciml.data.format import DataFileError, DatasetFile
from sciml.data.particle_states import ParticleTrajectoryDataset
from sciml.registry import DATASETS

__all__ = [
    "ParticleStats",
    "ParticleWindowDataset",
    "ParticleWindowSplit",
    "particle_spacing",
    "read_positions",
    "sparse_positions",
]


def read_positions(
    path: str | os.PathLike,
    trajectories: Sequence[int] | None = None,
    n_frames: int | None = None,
) -> Tensor:
    """``(N, T, P, d)`` float64 positions of an ``mpm2d``/``mpm3d`` file (field ``position``).

    Parameters
    ----------
    trajectories:
        Indices of the trajectories to read (default: all).
    n_frames:
        Keep only the first ``n_frames`` frames (default: all).
    """
    f = DatasetFile(path)
    if "position" not in f.fields:
        raise DataFileError(path, f"no field 'position'; fields: {sorted(f.fields)}")
    idx = list(range(f.n_trajectories)) if trajectories is None else list(trajectories)
    bad = [i for i in idx if not 0 <= i < f.n_trajectories]
    if bad or not idx:
        raise DataFileError(
            path, f"trajectories {bad or idx} out of range (file holds {f.n_trajectories})"
        )
    frames = slice(None) if n_frames is None else slice(0, n_frames)
    x = torch.stack([torch.from_numpy(f.read("position", (i, frames))) for i in idx])
    return x.to(torch.float64)


def sparse_positions(positions: Tensor, indices: Tensor) -> Tensor:
    """``(N, T, M, d)`` trajectories of the sampled particles: ``positions[n][:, indices[n]]``.

    ``positions``: ``(N, T, P, d)``; ``indices``: ``(N, M)`` long indices into the particle axis
    (e.g. :func:`sciml.models.giorom.sparse_indices` on frame 0).
    """
    n, t, _, d = positions.shape
    if indices.shape[0] != n or indices.dim() != 2:
        raise ValueError(
            f"indices must be (N={n}, M), got {tuple(indices.shape)} for positions "
            f"{tuple(positions.shape)}"
        )
    index = indices[:, None, :, None].expand(n, t, indices.shape[1], d)
    return torch.gather(positions, 2, index)


@dataclass(frozen=True)
class ParticleStats:
    """Per-component mean and standard deviation of finite-difference velocities and accelerations.

    Attributes
    ----------
    velocity_mean, velocity_std:
        ``(d,)`` statistics of ``v_t = x_t − x_{t−s}`` (position units per frame).
    acceleration_mean, acceleration_std:
        ``(d,)`` statistics of ``a_t = x_{t+s} − 2x_t + x_{t−s}`` (per frame²).
    """

    velocity_mean: Tensor
    velocity_std: Tensor
    acceleration_mean: Tensor
    acceleration_std: Tensor

    @classmethod
    def fit(cls, positions: Tensor, stride: int = 1, noise_std: float = 0.0) -> ParticleStats:
        """Statistics of all velocities and accelerations of ``positions`` ``(..., T, P, d)``.

        ``noise_std`` is the standard deviation of the training noise on the last input
        velocity; it is added in quadrature to both standard deviations (GNS reference code),
        so normalized noisy inputs and targets stay of unit scale.
        """
        if positions.dim() < 3:
            raise ValueError(f"positions must be (..., T, P, d), got {tuple(positions.shape)}")
        n_frames = positions.shape[-3]
        if n_frames < 2 * stride + 1:
            raise ValueError(
                f"need at least {2 * stride + 1} frames for stride {stride}, got {n_frames}"
            )
        x = positions.to(torch.float64).movedim(-3, 0)  # (T, ..., P, d)
        d = x.shape[-1]
        v = (x[stride:] - x[:-stride]).reshape(-1, d)
        a = (x[2 * stride :] - 2 * x[stride:-stride] + x[: -2 * stride]).reshape(-1, d)
        extra = noise_std**2

        def std(z: Tensor) -> Tensor:
            return (z.var(0, correction=0) + extra).sqrt().clamp_min(torch.finfo(z.dtype).tiny)

        return cls(v.mean(0), std(v), a.mean(0), std(a))


class ParticleWindowDataset(Dataset):
    """History windows of particle trajectories with normalized target accelerations.

    See the module docstring for the sample keys. All trajectories must have the same particle
    count (true of every ``mpm2d``/``mpm3d`` file), so samples stack into batches
    ``x: (B, P, H+1, d)``, ``y: (B, P, d)``. Indexing with a list of indices
    (``__getitems__``) returns a whole batch at once.

    Parameters
    ----------
    positions:
        ``(N, T, P, d)`` particle positions (``T`` saved frames).
    history:
        ``H``, the number of past velocities in a window (GNS: 5).
    stride:
        ``s``, saved frames per model step.
    stats:
        Normalization statistics; fitted on ``positions`` (with ``noise_std``) if ``None``.
        Pass the training set's :attr:`stats` to a validation set.
    noise_std:
        Training noise level, used only when fitting the statistics.
    """

    def __init__(
        self,
        positions: Tensor,
        history: int = 5,
        stride: int = 1,
        stats: ParticleStats | None = None,
        noise_std: float = 0.0,
    ) -> None:
        if positions.dim() != 4 or positions.shape[-1] not in (2, 3):
            raise ValueError(
                f"positions must have shape (N, T, P, d) with d in (2, 3), "
                f"got {tuple(positions.shape)}"
            )
        if history < 1 or stride < 1:
            raise ValueError(f"need history >= 1 and stride >= 1, got {history}, {stride}")
        n, T = positions.shape[:2]
        per_traj = T - (history + 1) * stride
        if per_traj < 1:
            raise ValueError(
                f"trajectories of {T} frames are too short for history {history} and stride "
                f"{stride} (need more than {(history + 1) * stride})"
            )
        self.positions = positions
        self.history = history
        self.stride = stride
        self.stats = ParticleStats.fit(positions, stride, noise_std) if stats is None else stats
        self._per_traj = per_traj
        self._n = n
        self._offsets = stride * torch.arange(-history, 1)  # (H+1,) frames relative to t

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        trajectories: Sequence[int] | None = None,
        n_frames: int | None = None,
        **kwargs: object,
    ) -> ParticleWindowDataset:
        """Windows of ``trajectories`` (first ``n_frames`` frames) of a particle file;
        ``kwargs`` go to the constructor."""
        return cls(read_positions(path, trajectories, n_frames), **kwargs)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self._n * self._per_traj

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Tensor]:
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        if bool(((idx < 0) | (idx >= len(self))).any()):
            raise IndexError(f"index out of range for {len(self)} windows")
        traj = idx // self._per_traj
        t = idx % self._per_traj + self.history * self.stride  # last input frame
        frames = t[:, None] + self._offsets  # (B, H+1)
        x = self.positions[traj[:, None], frames]  # (B, H+1, P, d)
        nxt = self.positions[traj, t + self.stride]
        acc = nxt - 2 * x[:, -1] + x[:, -2]
        s = self.stats
        mean = s.acceleration_mean.to(acc)
        std = s.acceleration_std.to(acc)
        return {"x": x.transpose(1, 2), "y": (acc - mean) / std}

    def set_stats(self, stats: ParticleStats) -> None:
        """Normalize targets with ``stats`` (a validation set takes the training set's)."""
        self.stats = stats

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if index < 0:
            index += len(self)
        return {k: v[0] for k, v in self.__getitems__([index]).items()}


@DATASETS.register("particle_window")
class ParticleWindowSplit(ParticleWindowDataset):
    """GNS windows of the ``split`` trajectories of an ``mpm2d``/``mpm3d`` file.

    Trajectories and horizons are chosen as by
    :class:`~sciml.data.particle_states.ParticleTrajectoryDataset` (a one-trajectory file is
    both the training and the test trajectory; ``n_frames`` limits the training and validation
    horizon, the test split has the whole file). ``history``, ``stride``, ``stats`` and
    ``noise_std`` as in :class:`ParticleWindowDataset`.

    Positions are read and the windows and statistics computed in float64 (as
    :func:`read_positions`); windows come out in ``dtype``. Attributes ``file``, ``path``,
    ``dim``, ``time`` (s, of the split's frames) and ``trajectories`` describe the source.

    Sparse windows (module docstring): ``sampler`` maps the reference frames ``(N, P, d)``
    (float64, m) of the split's trajectories to ``(N, M)`` indices of the particles kept; the
    windows, targets and statistics are then those of the sampled particles, the dense positions
    stay in :attr:`dense` ``(N, T, P, d)`` and the indices in :attr:`indices`. ``pairs=True``
    adds the reconstruction pair keys to every sample (needs a ``sampler``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        split: str = "train",
        n_train: int | None = None,
        n_test: int | None = None,
        n_val: int = 0,
        test_fraction: float | None = None,
        n_frames: int | None = None,
        history: int = 5,
        stride: int = 1,
        noise_std: float = 0.0,
        stats: ParticleStats | None = None,
        dtype: torch.dtype = torch.float32,
        check_finite: bool = True,
        subsample: int = 1,
        sampler: Callable[[Tensor], Tensor] | None = None,
        pairs: bool = False,
    ) -> None:
        if pairs and sampler is None:
            raise ValueError("pairs=True (reconstruction pairs) needs a sampler")
        source = ParticleTrajectoryDataset(
            path,
            split=split,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            test_fraction=test_fraction,
            n_frames=n_frames,
            dtype=torch.float64,
            check_finite=check_finite,
            subsample=subsample,
        )
        self.dtype = dtype
        self.file, self.path, self.dim = source.file, source.path, source.dim
        self.time, self.trajectories = source.time, source.trajectories
        positions = source.positions()
        self.dense: Tensor | None = None
        self.indices: Tensor | None = None
        self.pairs = pairs
        if sampler is not None:
            # chosen once per trajectory, on its reference frame, before any window is cut
            self.indices = sampler(positions[:, 0]).to(torch.long)
            self.dense = positions
            positions = sparse_positions(positions, self.indices)
        super().__init__(
            positions, history=history, stride=stride, stats=stats, noise_std=noise_std
        )

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Tensor]:
        batch = super().__getitems__(indices)
        if self.pairs:
            assert self.dense is not None  # pairs need a sampler (checked in __init__)
            idx = torch.as_tensor(list(indices), dtype=torch.long)
            traj = idx // self._per_traj
            t = idx % self._per_traj + self.history * self.stride  # last input frame
            batch["sparse_ref"] = self.positions[traj, 0]
            batch["sparse_pos"] = self.positions[traj, t]
            batch["dense_ref"] = self.dense[traj, 0]
            batch["dense"] = self.dense[traj, t]
        return {k: v.to(self.dtype) for k, v in batch.items()}


def particle_spacing(x: Tensor, block: int = 1024) -> float:
    """Median nearest-neighbour distance of the points ``x`` ``(P, d)`` (blocks of rows, so
    memory stays ``O(block · P)``)."""
    nearest = []
    for start in range(0, x.shape[0], block):
        d = torch.cdist(x[start : start + block], x)
        nearest.append(d.topk(2, dim=1, largest=False).values[:, 1])
    return float(torch.cat(nearest).median())

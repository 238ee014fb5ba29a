"""Whole particle trajectories with their full MPM state, for simulators trained through time.

A learned constitutive law (NCLaw) is trained by running the differentiable MPM simulator from a
ground-truth state and comparing particle positions frame by frame; with teacher forcing the
simulated state is reset to the ground truth every few frames. One sample is therefore one whole
trajectory of an ``mpm2d``/``mpm3d`` file (``sciml.data.recipes``) with every field the reset needs:

=============== ================== ==============================================================
key             shape              meaning (SI units)
=============== ================== ==============================================================
``position``    ``(T, P, d)``      particle positions (m) at the saved frames
``velocity``    ``(T, P, d)``      velocities (m/s)
``affine``      ``(T_s, P, d, d)`` APIC affine velocity ``C`` (1/s)
``deformation`` ``(T_s, P, d, d)`` deformation gradient ``F``
``mass``        ``(P,)``           particle mass (kg; kg per metre of depth in 2D)
``volume``      ``(P,)``           reference particle volume (m³; m² in 2D)
``y``           ``(T − 1, P, d)``  the target: positions of frames ``1 … T−1``
=============== ================== ==============================================================

``T_s = T`` when the file was generated with ``save_state=true``; otherwise only the first frame's
state is known (``C = 0``, ``F = I``, how every recipe trajectory starts) and ``T_s = 1`` — enough
to evaluate a free rollout, not to train with teacher forcing (the model says so).

Splits follow :func:`sciml.data.grid.split_range`, except that a file holding a single trajectory
(NCLaw's setting: one training trajectory) is both the training and the test split; ``n_frames``
limits the training horizon; the test (and "all") split always uses the whole horizon of the file,
so a model trained on the first ``n_frames`` frames is tested on a longer one.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from sciml.data.format import DataFileError, DatasetFile
from sciml.data.grid import split_range
from sciml.registry import DATASETS

__all__ = ["ParticleTrajectoryDataset", "STATE_KEYS"]

#: the batch keys a learned MPM simulator reads, in the order of its ``forward``
STATE_KEYS = ("position", "velocity", "affine", "deformation", "mass", "volume")


@DATASETS.register("particle_trajectory")
class ParticleTrajectoryDataset(Dataset):
    """Trajectories of an MPM particle file as samples (see the module docstring for the keys).

    Parameters
    ----------
    path:
        An ``mpm2d``/``mpm3d`` file (fields ``position``, ``velocity``, ``mass``, ``volume`` and,
        with ``save_state=true``, ``affine`` and ``deformation``).
    split:
        ``"train"``, ``"val"``, ``"test"`` or ``"all"``.
    n_train, n_test, n_val, test_fraction:
        Trajectory split (:func:`sciml.data.grid.split_range`; test block at the end of the file).
        A one-trajectory file has no separate validation trajectory (``n_val`` must be 0).
    n_frames:
        Use only the first ``n_frames`` frames for training (``None``: all). The ``"test"`` and
        ``"all"`` splits always have the whole horizon of the file.
    dtype:
        Floating dtype of the returned tensors.
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
        dtype: torch.dtype = torch.float32,
        check_finite: bool = True,
        subsample: int = 1,
    ) -> None:
        self.file = DatasetFile(path, check_finite=check_finite)
        self.path = self.file.path
        if subsample != 1:
            raise ValueError(f"{self.path}: particle trajectories cannot be subsampled in space")
        missing = [k for k in ("position", "velocity", "mass", "volume") if k not in self.file]
        if missing:
            raise DataFileError(
                self.path,
                f"not an MPM particle file: fields {missing} missing (have "
                f"{sorted(self.file.fields)}); generate one with `sciml generate mpm2d`",
                missing[0],
            )
        n_total = self.file.n_trajectories
        if n_total == 1 and split != "all":
            # NCLaw's setup: the one trajectory trains (first n_frames) and tests (whole horizon)
            for name, value, allowed in (
                ("n_train", n_train, (None, 1)),
                ("n_test", n_test, (None, 1)),
                ("n_val", n_val, (0,)),
            ):
                if value not in allowed:
                    raise DataFileError(
                        self.path,
                        f"{name}={value}, but the file holds one trajectory, which is both the "
                        "training (first n_frames frames) and the test trajectory; leave "
                        f"{name} unset or {allowed[-1]}",
                        "n_trajectories",
                    )
            self.trajectories = range(1)
        else:
            self.trajectories = split_range(
                n_total,
                split,
                test_fraction=0.2 if test_fraction is None else test_fraction,
                n_train=n_train,
                n_test=n_test,
                n_val=n_val,
                path=self.path,
            )
        if len(self.trajectories) == 0:
            raise DataFileError(self.path, f"the {split} split holds no trajectory")
        n_time = len(self.file.time)
        if n_frames is not None and not 2 <= n_frames <= n_time:
            raise DataFileError(
                self.path, f"n_frames={n_frames} must be in [2, {n_time}] (frames in the file)"
            )
        # validation selects on the training horizon: the longer horizon is the test
        training = split in ("train", "val")
        self.n_frames = n_frames if n_frames is not None and training else n_time
        self.has_state = "affine" in self.file and "deformation" in self.file
        self.dtype = dtype
        self.time = torch.as_tensor(self.file.time[: self.n_frames], dtype=torch.float64)
        self.dim = int(self.file.field("position").shape[-1])

    def __len__(self) -> int:
        return len(self.trajectories)

    def _read(self, name: str, traj: int, frames: int | None) -> Tensor:
        field = self.file.field(name)
        a = field[traj] if frames is None else field[traj, :frames]
        return torch.as_tensor(np.asarray(a), dtype=self.dtype)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} trajectories")
        traj = self.trajectories[i]
        t = self.n_frames
        x = self._read("position", traj, t)
        sample = {
            "position": x,
            "velocity": self._read("velocity", traj, t),
            "mass": self._read("mass", traj, None),
            "volume": self._read("volume", traj, None),
            "y": x[1:],
        }
        if self.has_state:
            sample["affine"] = self._read("affine", traj, t)
            sample["deformation"] = self._read("deformation", traj, t)
        else:
            p, d = x.shape[1], x.shape[2]
            sample["affine"] = torch.zeros(1, p, d, d, dtype=self.dtype)
            sample["deformation"] = torch.eye(d, dtype=self.dtype).expand(1, p, d, d).clone()
        return sample

    def positions(self) -> Tensor:
        """``(len(self), n_frames, P, d)`` positions of every trajectory of the split (m)."""
        return torch.stack([self._read("position", t, self.n_frames) for t in self.trajectories])

    def tensors(self) -> dict[str, Tensor]:
        """Every trajectory stacked ``{key: (len(self), ...)}`` (all share ``P`` and ``T``)."""
        samples = [self[i] for i in range(len(self))]
        return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}

    def __repr__(self) -> str:
        return (
            f"ParticleTrajectoryDataset({str(self.path)!r}, n={len(self)}, frames={self.n_frames}, "
            f"state={'full' if self.has_state else 'initial only'})"
        )

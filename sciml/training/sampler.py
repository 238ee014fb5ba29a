"""A seeded, resumable, rank-aware batch sampler.

Epoch ``e`` visits the permutation ``randperm(n, generator=seed + e)`` in global batches of
``batch_size`` indices. With ``world_size`` ranks, rank ``r`` takes the ``r``-th strided share of
each global batch, so the union over ranks of every batch equals the single-process batch: a
DDP run with global batch ``B`` sees exactly the samples a 1-process run with batch ``B`` sees,
step by step. The order depends only on ``(seed, epoch)``, never on the global RNG, and
:meth:`EpochBatchSampler.set_epoch` can start mid-epoch, which is what makes resuming an
interrupted epoch bit-identical.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices, one list per (per-rank) batch.

    Parameters
    ----------
    n_samples:
        Dataset length.
    batch_size:
        Global batch size (summed over ranks); must be divisible by ``world_size``.
    seed:
        Base seed; epoch ``e`` uses ``seed + e``.
    shuffle:
        ``False`` visits ``0..n-1`` in order (validation).
    rank, world_size:
        This process's share. With more than one rank a short last batch is dropped, because
        ranks with unequal (or empty) shares would make DDP average gradients unevenly or hang.
    """

    def __init__(
        self,
        n_samples: int,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if n_samples < 1:
            raise ValueError("the dataset is empty: a sampler needs at least one sample")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size % world_size != 0:
            raise ValueError(
                f"global batch_size {batch_size} is not divisible by the world size {world_size}; "
                "each rank must get the same number of samples per batch"
            )
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside [0, {world_size})")
        if world_size > 1 and n_samples < batch_size:
            raise ValueError(
                f"the dataset has {n_samples} samples, fewer than one global batch of {batch_size}"
            )
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Global batches in a full epoch (the last may be short, with a single rank only)."""
        if self.world_size > 1:
            return self.n_samples // self.batch_size
        return math.ceil(self.n_samples / self.batch_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first ``start_batch`` batches."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch {start_batch} outside [0, {self.batches_per_epoch}]")
        self.epoch = epoch
        self.start_batch = start_batch

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n_samples)
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.n_samples, generator=generator)

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        for b in range(self.start_batch, self.batches_per_epoch):
            batch = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield batch[self.rank :: self.world_size].tolist()

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch

"""Epoch batch sampler: seeded order, resumable mid-epoch, rank shares that union to the batch."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sciml.training.sampler import EpochBatchSampler


def test_order_depends_only_on_seed_and_epoch() -> None:
    a, b = EpochBatchSampler(20, 4, seed=7), EpochBatchSampler(20, 4, seed=7)
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)


def test_every_sample_is_visited_once_per_epoch() -> None:
    sampler = EpochBatchSampler(10, 4, seed=0)
    batches = list(sampler)
    assert [len(b) for b in batches] == [4, 4, 2] and len(sampler) == 3
    assert sorted(i for b in batches for i in b) == list(range(10))


def test_starting_mid_epoch_skips_the_done_batches() -> None:
    sampler = EpochBatchSampler(12, 3, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=2)
    assert list(sampler) == full[2:] and len(sampler) == 2


def test_rank_shares_union_to_the_single_process_batches() -> None:
    single = EpochBatchSampler(16, 8, seed=5)
    ranks = [EpochBatchSampler(16, 8, seed=5, rank=r, world_size=2) for r in range(2)]
    for share_a, share_b, whole in zip(*ranks, single):
        assert len(share_a) == len(share_b) == 4
        assert sorted(share_a + share_b) == sorted(whole)


def test_short_last_batch_is_dropped_with_several_ranks() -> None:
    sampler = EpochBatchSampler(10, 4, world_size=2, rank=1)
    assert [len(b) for b in sampler] == [2, 2]


def test_unequal_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="batch_size 6 is not divisible by the world size 4"):
        EpochBatchSampler(20, 6, world_size=4)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((0, 4), {}, "dataset is empty"),
        ((8, 0), {}, "batch_size must be >= 1"),
        ((8, 4), {"rank": 2, "world_size": 2}, r"rank 2 outside \[0, 2\)"),
        ((3, 4), {"world_size": 2}, "fewer than one global batch"),
    ],
)
def test_bad_sampler_arguments_are_refused(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EpochBatchSampler(*args, **kwargs)


def test_start_batch_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="start_batch 5 outside"):
        EpochBatchSampler(8, 2).set_epoch(0, start_batch=5)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    per_rank=st.integers(1, 8),
    world=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    epoch=st.integers(0, 5),
)
def test_ranks_together_see_each_global_batch_once(
    n: int, per_rank: int, world: int, seed: int, epoch: int
) -> None:
    batch = per_rank * world
    assume(world == 1 or n >= batch)
    single = EpochBatchSampler(n, batch, seed=seed)
    single.set_epoch(epoch)
    expected = list(single)
    if world > 1:
        expected = expected[: n // batch]  # several ranks drop a short last batch
    shares = []
    for rank in range(world):
        sampler = EpochBatchSampler(n, batch, seed=seed, rank=rank, world_size=world)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
        assert len(shares[-1]) == len(sampler) == len(expected)
    for k, whole in enumerate(expected):
        parts = [shares[r][k] for r in range(world)]
        assert sorted(i for part in parts for i in part) == sorted(whole)
        assert len({len(part) for part in parts}) == 1
    visited = [i for whole in expected for i in whole]
    assert len(set(visited)) == len(visited)

"""The memory lower bound before the first step, and its warning."""

from __future__ import annotations

import warnings

import pytest
import torch

from sciml.training.memory import (
    MemoryEstimateWarning,
    available_memory,
    memory_lower_bound,
    warn_if_too_large,
)


def test_lower_bound_counts_weights_gradients_adam_states_and_one_batch():
    model = torch.nn.Linear(100, 50)  # 5050 float32 parameters
    sample = {"x": torch.zeros(3, 64, 64), "y": torch.zeros(1, 64, 64), "name": "not a tensor"}
    bound = memory_lower_bound(model, sample, batch_size=10)
    assert bound == 4 * 5050 * 4 + 10 * (4 * 64 * 64 * 4)
    model64 = torch.nn.Linear(100, 50).double()
    assert memory_lower_bound(model64, {}, 1, optimizer_states=0) == 2 * 5050 * 8


def test_warns_only_when_the_bound_exceeds_the_free_memory():
    model = torch.nn.Linear(1000, 1000)  # ~4 MB of weights, ~16 MB with grads and Adam
    sample = {"x": torch.zeros(1, 1000)}
    with pytest.warns(
        MemoryEstimateWarning,
        match=r"needs at least 0\.01 GiB on cpu \(1,001,000 "
        r"parameters.*activations not counted\) but 0\.00 GiB are free",
    ):
        need = warn_if_too_large(model, sample, 8, "cpu", available=1_000_000)
    assert need == memory_lower_bound(model, sample, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_too_large(model, sample, 8, "cpu", available=10**12)


def test_the_free_host_memory_is_read():
    free = available_memory("cpu")
    assert free is None or free > 0

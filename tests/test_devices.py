"""Device names are resolved against this machine with one-line reasons."""

from __future__ import annotations

import pytest
import torch

from sciml.devices import resolve_device


def test_cpu_resolves_from_a_name_or_a_device() -> None:
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", ""])
def test_a_string_that_names_no_device_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"device={name!r} is not a torch device name"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_cuda_is_refused() -> None:
    with pytest.raises(ValueError, match="device='cuda:0' but CUDA is not available"):
        resolve_device("cuda:0")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_index_past_the_last_device_is_refused() -> None:
    n = torch.cuda.device_count()
    assert resolve_device("cuda:0").type == "cuda"
    with pytest.raises(ValueError, match=f"this machine has {n} CUDA device"):
        resolve_device(f"cuda:{n}")

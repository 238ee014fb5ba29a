"""PeriodicConvNet: periodic shift equivariance, zero start, dtypes, argument errors."""

from __future__ import annotations

import pytest
import torch

from sciml.hybrid import PeriodicConvNet, markdown_table, median_time


@pytest.mark.parametrize("n_dims", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_commutes_with_periodic_shifts(n_dims, dtype):
    torch.manual_seed(0)
    net = PeriodicConvNet(n_dims, 2, hidden=4, zero_last=False, dtype=dtype)
    u = torch.randn(2, 2, *([12] * n_dims), dtype=dtype)
    dims = tuple(range(2, 2 + n_dims))
    shifts = (3,) * n_dims
    out = net(torch.roll(u, shifts, dims))
    assert out.dtype == dtype
    torch.testing.assert_close(out, torch.roll(net(u), shifts, dims))


def test_zero_last_outputs_zero():
    net = PeriodicConvNet(1, out_channels=3)
    out = net(torch.randn(2, 1, 8))
    assert out.shape == (2, 3, 8) and (out == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_dims": 3}, "n_dims must be 1 or 2"),
        ({"n_dims": 1, "kernel_size": 4}, "kernel_size must be an odd"),
        ({"n_dims": 1, "n_layers": 1}, "n_layers must be an integer >= 2"),
        ({"n_dims": 1, "hidden": 0}, "hidden must be an integer >= 1"),
        ({"n_dims": 1, "dtype": torch.float16}, "dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PeriodicConvNet(**kwargs)


def test_bad_input_shape():
    with pytest.raises(ValueError, match=r"expects \(B, 1, \*N\) with 1 spatial"):
        PeriodicConvNet(1)(torch.zeros(2, 1, 4, 4))


def test_median_time_and_table():
    calls = []
    t = median_time(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and t.repeats == 5 and t.wall >= 0 and t.cpu >= 0
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        median_time(lambda: None, repeats=0)
    table = markdown_table(["a", "b"], [["x", 0.012345], ["y", 3]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 0.0123 |", "| y | 3 |"]
    with pytest.raises(ValueError, match="2 cells"):
        markdown_table(["a", "b"], [["x"]])

"""Surrogate: an input with other channels than the trained ones gets a one-line error naming
them (the fields, then a time-conditioned run's constant inputs); the right count passes."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from sciml.embed import Surrogate


class _Scale(nn.Module):
    input_keys = ("x", "dt")

    def forward(self, x: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        return x[:, :2] * dt[:, None, None, None]


def _surrogate(**info: Any) -> Surrogate:
    base = {"n_dims": 2, "in_channels": 3, "out_channels": 2, "input_fields": ["velocity"]}
    return Surrogate(_Scale(), {**base, **info}, None)


def test_missing_constant_input_names_the_expected_channels() -> None:
    surrogate = _surrogate(constant_inputs=["forcing"])
    message = (
        "input has 2 channels, expected 3: the fields ['velocity'] (2) then the constant inputs "
        "['forcing'] (1), concatenated along the channel axis (the constant inputs ['forcing'] "
        "are missing)"
    )
    with pytest.raises(ValueError) as err:
        surrogate(torch.zeros(4, 2, 8, 8), 0.5)
    assert str(err.value) == message and "\n" not in message
    with pytest.raises(ValueError, match=r"^input has 2 channels, expected 3: .*\(the constant"):
        surrogate(torch.zeros(2, 8, 8), 0.5)  # a single sample too
    assert surrogate(torch.ones(4, 3, 8, 8), 0.5).shape == (4, 2, 8, 8)


def test_wrong_channel_count_without_constant_inputs() -> None:
    surrogate = _surrogate(input_fields=["velocity", "tracer"], out_channels=3)
    with pytest.raises(ValueError, match=r"^input has 2 channels, expected 3: the fields "
                       r"\['velocity', 'tracer'\]$"):  # fmt: skip
        surrogate(torch.zeros(1, 2, 8, 8), 0.5)
    with pytest.raises(ValueError, match=r"^input has 4 channels, expected 3"):
        _surrogate(constant_inputs=["forcing"])(torch.zeros(1, 4, 8, 8), 0.5)

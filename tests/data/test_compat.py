"""check_model_fits: a trained model is refused data of another dimension, layout or grid."""

from __future__ import annotations

import pytest
import torch

from sciml.data.compat import check_model_fits
from sciml.data.format import DataFileError

TRAINED = {
    "input_fields": ["f"],
    "output_fields": ["u"],
    "in_channels": 1,
    "out_channels": 1,
    "n_dims": 2,
    "spatial_shape": [16, 16],
}


def sample(c_in: int = 1, c_out: int = 1, shape: tuple[int, ...] = (16, 16)) -> dict:
    return {"x": torch.zeros(c_in, *shape), "y": torch.zeros(c_out, *shape)}


def test_the_training_layout_fits_and_an_invariant_model_takes_other_grids():
    check_model_fits("d.h5", TRAINED, sample(), resolution_invariant=False)
    check_model_fits("d.h5", TRAINED, sample(shape=(32, 32)), resolution_invariant=True)


def test_another_dimension_is_named():
    with pytest.raises(
        DataFileError,
        match=r"d\.h5: the model was trained on 2D fields of shape "
        r"\(16, 16\); this data is 1D, of shape \(64,\)",
    ):
        check_model_fits("d.h5", TRAINED, sample(shape=(64,)), resolution_invariant=True)


@pytest.mark.parametrize(("c_in", "c_out", "what"), [(2, 1, "input"), (1, 3, "output")])
def test_other_channel_counts_are_named(c_in, c_out, what):
    with pytest.raises(
        DataFileError,
        match=rf"takes 1 {what} channel\(s\) \(fields \['[fu]'\]\); "
        rf"this data gives {max(c_in, c_out)}",
    ):
        check_model_fits("d.h5", TRAINED, sample(c_in, c_out), resolution_invariant=True)


def test_another_resolution_is_refused_for_a_model_with_a_fixed_grid():
    with pytest.raises(
        DataFileError,
        match=r"trained at resolution \(16, 16\) and cannot take "
        r"another \(it is not resolution invariant\); this data is \(32, 32\)",
    ):
        check_model_fits("d.h5", TRAINED, sample(shape=(32, 32)), resolution_invariant=False)

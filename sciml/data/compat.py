"""Will a trained model take this data? One check before evaluating a run on another file.

``sciml evaluate RUN --data OTHER.h5`` feeds the model samples of a file it was not trained on.
When the file's fields have another number of channels, another spatial dimension, or another
resolution that the model cannot take (fixed sensors, a fixed-size dense layer), the model would
fail deep inside its forward pass with a shape error. :func:`check_model_fits` compares one
sample with what the run recorded at training time (its ``model.json``) and raises
:class:`~sciml.data.format.DataFileError` saying which of the three differs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sciml.data.format import DataFileError

__all__ = ["check_model_fits"]


def check_model_fits(
    path: str | os.PathLike,
    trained: Mapping[str, Any],
    sample: Mapping[str, Any],
    *,
    resolution_invariant: bool,
) -> None:
    """Raise :class:`DataFileError` when ``sample`` is not what the trained model takes.

    Parameters
    ----------
    path:
        The data file (named in the message).
    trained:
        What the run recorded about its training data (``model.json``): ``input_fields``,
        ``output_fields``, ``in_channels``, ``out_channels``, ``n_dims``, ``spatial_shape``.
    sample:
        One sample of the data to evaluate: ``x`` ``(C_in, *S)``, ``y`` ``(C_out, *S)``.
    resolution_invariant:
        Whether the model takes another ``S`` than the one it was trained on (FNO and other
        neural operators do; DeepONet's fixed sensors do not).
    """
    x, y = sample["x"], sample["y"]
    shape, trained_shape = tuple(int(s) for s in x.shape[1:]), tuple(trained["spatial_shape"])
    if len(shape) != int(trained["n_dims"]):
        raise DataFileError(
            path,
            f"the model was trained on {trained['n_dims']}D fields of shape {trained_shape}; "
            f"this data is {len(shape)}D, of shape {shape}",
        )
    for what, tensor, key, fields in (
        ("input", x, "in_channels", "input_fields"),
        ("output", y, "out_channels", "output_fields"),
    ):
        if int(tensor.shape[0]) != int(trained[key]):
            raise DataFileError(
                path,
                f"the model takes {trained[key]} {what} channel(s) (fields "
                f"{list(trained[fields])}); this data gives {int(tensor.shape[0])}: another "
                "field layout (e.g. a vector field where a scalar was trained)",
            )
    if shape != trained_shape and not resolution_invariant:
        raise DataFileError(
            path,
            f"the model was trained at resolution {trained_shape} and cannot take another "
            f"(it is not resolution invariant); this data is {shape}: evaluate on data at "
            f"{trained_shape} (generate it so, or subsample a finer file)",
        )

"""``data.normalize.eps`` reaches the normalizers that ``model.json`` describes."""

from __future__ import annotations

import pytest
import torch

from sciml.models.build import build_normalized_model, make_normalizer
from sciml.spec import SpecError


def _info(normalize: dict) -> dict:
    return {
        "name": "fno",
        "kwargs": {"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1},
        "in_channels": 1,
        "out_channels": 1,
        "n_dims": 2,
        "normalize": normalize,
    }


def test_eps_from_model_json_is_the_one_encode_divides_by() -> None:
    model = build_normalized_model(_info({"inputs": "none", "outputs": "gaussian", "eps": 0.5}))
    y = torch.tensor([1.0, 3.0], dtype=torch.float64).reshape(2, 1, 1, 1).expand(2, 1, 4, 4)
    out = model.output_normalizer.fit(y)  # mean 2, population std 1
    assert out.eps == 0.5
    torch.testing.assert_close(
        out.encode(y)[:, 0, 0, 0], torch.tensor([-1.0, 1.0]) / 1.5, check_dtype=False
    )
    torch.testing.assert_close(out.decode(out.encode(y)), y)


def test_default_eps_stays_each_normalizers_own() -> None:
    model = build_normalized_model(_info({"inputs": "range", "outputs": "gaussian"}))
    assert model.output_normalizer.eps == 1e-5 and model.input_normalizer.eps == 1e-12
    assert make_normalizer("range", eps=1e-3).eps == 1e-3
    make_normalizer("none", eps=1e-3)  # an identity has no eps and ignores it


def test_spec_takes_eps_and_refuses_a_negative_one(tmp_path) -> None:
    from sciml.spec import load_spec

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\ndata: {dataset: darcy2d, inputs: [coeff], outputs: [u], "
        "normalize: {outputs: gaussian, eps: 1.0e-7}}\nmodel: {name: fno, n_modes: [4, 4]}\n"
    )
    assert load_spec(path).data.normalize.eps == 1e-7
    path.write_text(path.read_text().replace("1.0e-7", "-1"))
    with pytest.raises(SpecError, match="eps"):
        load_spec(path)

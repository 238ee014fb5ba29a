"""``space: normalized`` loss terms: the loss of the normalized prediction and target."""

from __future__ import annotations

import pytest
import torch

from sciml.data.transforms import IdentityNormalizer, UnitGaussianNormalizer
from sciml.models.normalized import NormalizedModel
from sciml.training.loss_terms import build_loss
from sciml.training.losses import H1Loss, RelativeLpLoss


class _Pointwise(torch.nn.Module):
    input_keys = ("x",)

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * x


def _model(dtype: torch.dtype = torch.float64) -> NormalizedModel:
    g = torch.Generator().manual_seed(0)
    y = 3.0 + 2.0 * torch.randn(16, 2, 8, 8, generator=g, dtype=torch.float64)
    out = UnitGaussianNormalizer(eps=1e-7).fit(y)
    return NormalizedModel(_Pointwise(), IdentityNormalizer().fit(y), out).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "entry, reference",
    [
        (
            {"name": "h1", "space": "normalized", "periodic": False, "reduction": "sum"},
            H1Loss(periodic=False, reduction="sum"),
        ),
        ({"name": "h1", "space": "normalized"}, H1Loss()),
        ({"name": "relative_lp", "space": "normalized"}, RelativeLpLoss()),
    ],
)
def test_normalized_space_equals_the_loss_of_the_normalized_tensors(entry, reference, dtype):
    model = _model(dtype)
    g = torch.Generator().manual_seed(1)
    pred = (3.0 + 2.0 * torch.randn(4, 2, 8, 8, generator=g, dtype=torch.float64)).to(dtype)
    y = (3.0 + 2.0 * torch.randn(4, 2, 8, 8, generator=g, dtype=torch.float64)).to(dtype)
    loss = build_loss(entry)
    loss.bind(model)
    enc = model.output_normalizer
    expected = reference(enc.encode(pred), enc.encode(y))
    got = loss(pred, {"y": y})
    torch.testing.assert_close(got, expected)
    # and it is a different number from the physical-space loss (the mean shift changes it)
    assert not torch.allclose(got, reference(pred, y))


def test_normalized_space_uses_the_fitted_statistics_by_hand() -> None:
    model = _model()
    out = model.output_normalizer
    mean, std = out.mean.squeeze(0), out.std.squeeze(0)  # per channel, (C, 1, 1)
    g = torch.Generator().manual_seed(2)
    pred, y = (torch.randn(3, 2, 8, 8, generator=g, dtype=torch.float64) for _ in range(2))
    loss = build_loss({"name": "relative_lp", "space": "normalized"})
    loss.bind(model)
    zp, zy = (pred - mean) / (std + 1e-7), (y - mean) / (std + 1e-7)
    per_sample = (zp - zy).flatten(1).norm(dim=1) / zy.flatten(1).norm(dim=1)
    torch.testing.assert_close(loss(pred, {"y": y}), per_sample.mean())


def test_gradients_reach_the_model_through_the_normalized_loss() -> None:
    model = _model()
    loss = build_loss({"name": "h1", "space": "normalized"})
    loss.bind(model)
    x = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    y = torch.randn(2, 2, 8, 8, dtype=torch.float64)
    loss(model(x), {"y": y}).backward()
    assert model.model.scale.grad is not None and model.model.scale.grad != 0


def test_unbound_or_normalizer_less_models_are_refused_with_the_way_out() -> None:
    loss = build_loss({"name": "h1", "space": "normalized"})
    with pytest.raises(RuntimeError, match="bind"):
        loss(torch.zeros(1, 1, 4, 4), {"y": torch.ones(1, 1, 4, 4)})
    with pytest.raises(ValueError, match="no output normalizer; use space='physical'"):
        loss.bind(_Pointwise())
    build_loss("h1").bind(_Pointwise())  # physical terms need nothing


def test_a_bad_space_names_the_option_and_the_allowed_values() -> None:
    with pytest.raises(
        ValueError, match=r"space='latent' is not one of \['physical', 'normalized'\]"
    ):
        build_loss({"name": "h1", "space": "latent"})


def test_the_trainer_binds_the_model_and_logs_the_normalized_loss(tmp_path) -> None:
    from tiny_run import DEFAULTS, SyntheticDataset, TinyMLP

    from sciml.training import Trainer, TrainerConfig

    torch.manual_seed(0)
    data = SyntheticDataset(32, seed=1)
    out = UnitGaussianNormalizer(eps=1e-7).fit(100.0 + 10.0 * data.y)

    class _Shifted(SyntheticDataset):
        def __getitem__(self, i):
            s = super().__getitem__(i)
            return {"x": s["x"], "y": 100.0 + 10.0 * s["y"]}

    model = NormalizedModel(TinyMLP(0.0), IdentityNormalizer().fit(data.x), out)
    loss = build_loss({"name": "relative_lp", "space": "normalized"})
    config = TrainerConfig(**{**DEFAULTS, "epochs": 1, "eval_every": 100})
    trainer = Trainer(model, loss, _Shifted(32, seed=1), _Shifted(8, seed=2), config, tmp_path)
    batch = {"x": data.x[:8], "y": 100.0 + 10.0 * data.y[:8]}
    z = lambda t: (t - out.mean.squeeze(0)) / (out.std.squeeze(0) + 1e-7)  # noqa: E731
    with torch.no_grad():
        expected = RelativeLpLoss()(z(model(batch["x"])), z(batch["y"]))
        torch.testing.assert_close(trainer.loss_fn(model(batch["x"]), batch), expected)
    trainer.fit()

"""The probabilistic-field task: a (mean, var) model trained with the Gaussian likelihood,
evaluated with log-likelihood and calibration, loaded and exported as a pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import sciml
from sciml.models.outputs import GaussianOutput
from sciml.spec import SpecError


def _spec(data: Path, *extra: str):
    text = f"""\
name: ensemble_poisson
task: probabilistic_field
data:
  dataset: poisson2d
  path: {data}
  inputs: [f]
  outputs: [u]
  n_train: 16
  n_test: 8
  subsample: 2
model:
  name: gaussian_ensemble
  n_members: 2
  base_options: {{n_modes: [4, 4], hidden_channels: 8, n_layers: 2}}
trainer:
  loss: gaussian_nll
  epochs: 2
  batch_size: 8
  progress: false
evaluation:
  metrics: [relative_l2]
  resolutions: [16]
"""
    return sciml.load_spec(text=text, overrides=list(extra))


@pytest.fixture(scope="module")
def prob_run(poisson_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "prob"
    sciml.train(_spec(poisson_file), run_dir, progress=False)
    return run_dir


def test_train_evaluate_load_export_a_mean_and_variance(prob_run: Path, tmp_path):
    assert json.loads((prob_run / "model.json").read_text())["task"] == "probabilistic_field"
    report = sciml.evaluate(prob_run, out_dir=tmp_path / "eval")
    for section in ("test", "test@16"):
        metrics = report.sections[section]
        assert torch.isfinite(torch.tensor(metrics["log_likelihood"]))
        assert 0 <= metrics["calibration_error"] <= 1
        assert 0 < metrics["relative_l2"] < 10
    surrogate = sciml.load(prob_run)
    f = torch.randn(3, 1, 8, 8)
    out = surrogate(f)
    assert isinstance(out, GaussianOutput) and out.mean.shape == out.var.shape == (3, 1, 8, 8)
    assert bool((out.var > 0).all())
    single = surrogate(f[0])
    torch.testing.assert_close(single.mean, out.mean[0])
    path = sciml.export(prob_run, tmp_path / "s.pt2", batch_size=3)
    mean, var = torch.export.load(path).module()(f)
    torch.testing.assert_close(mean, out.mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(var, out.var, rtol=1e-5, atol=1e-6)


def test_the_variance_is_decoded_to_physical_units(prob_run: Path):
    surrogate = sciml.load(prob_run)
    normalized = surrogate.model
    f = torch.randn(2, 1, 8, 8)
    raw = normalized.model(normalized.input_normalizer.encode(f))
    std = normalized.output_normalizer.decode(torch.ones(1)) - normalized.output_normalizer.decode(
        torch.zeros(1)
    )
    torch.testing.assert_close(surrogate(f).var, raw.var * std.square())


def test_a_loss_that_never_sees_the_variance_is_refused(poisson_file: Path, tmp_path):
    spec = _spec(poisson_file, "trainer.loss=relative_lp")
    with pytest.raises(SpecError, match=r"needs a term that sees the predicted variance"):
        sciml.train(spec, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_gaussian_nll_on_a_point_model_says_what_to_use():
    from sciml.training.losses import GaussianNLLLoss

    with pytest.raises(ValueError, match=r"needs a probabilistic model's \(mean, var\) output"):
        GaussianNLLLoss()(torch.zeros(2, 3), {"y": torch.zeros(2, 3)})


def test_gaussian_nll_equals_torch_gaussian_nll_loss_with_full_constant():
    from sciml.training.losses import GaussianNLLLoss

    torch.manual_seed(0)
    mean, y, var = torch.randn(4, 5), torch.randn(4, 5), torch.rand(4, 5) + 0.1
    ours = GaussianNLLLoss()((mean, var), {"y": y})
    ref = torch.nn.GaussianNLLLoss(full=True, eps=0.0)(mean, y, var)
    torch.testing.assert_close(ours, ref)

"""The constraint seam: a spec's `constraint:` wraps any model in physical units, in training,
evaluation, load and export; mass_projection is the template constraint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sciml
from sciml.constraints.mass_projection import MassProjection
from sciml.constraints.wrap import Constrained, build_constraint
from sciml.models.outputs import GaussianOutput
from sciml.spec import SpecError


def _spec(data: Path, *extra: str):
    text = f"""\
name: fno_burgers_mass
data:
  dataset: burgers1d
  path: {data}
  kind: time_window
  inputs: [u]
  outputs: [u]
  n_test: 2
model:
  name: fno
  n_modes: [4]
  hidden_channels: 8
  n_layers: 2
constraint:
  name: mass_projection
trainer:
  epochs: 2
  batch_size: 16
  progress: false
evaluation:
  metrics: [relative_l2, conservation_error]
"""
    return sciml.load_spec(text=text, overrides=list(extra))


def test_projection_makes_the_mass_exact_and_never_increases_the_error():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 32)
    truth = x + 0.1 * torch.randn(6, 2, 32)
    truth = truth - truth.mean(-1, keepdim=True) + x.mean(-1, keepdim=True)  # conserves mass
    pred = truth + 0.3 * torch.randn(6, 2, 32) + 0.5  # a biased, mass-violating model
    out = MassProjection(2, 2)(pred, {"x": x})
    torch.testing.assert_close(out.mean(-1), x.mean(-1), rtol=0, atol=1e-6)
    error = lambda p: (p - truth).flatten(1).norm(dim=1)  # noqa: E731
    assert bool((error(out) <= error(pred) + 1e-6).all())


def test_projection_keeps_the_variance_of_a_gaussian_output():
    x, mean, var = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    out = MassProjection(1, 1)(GaussianOutput(mean, var), {"x": x})
    assert isinstance(out, GaussianOutput) and out.var is var
    torch.testing.assert_close(out.mean.mean((2, 3)), x.mean((2, 3)))


def test_the_projection_is_differentiable_in_float64():
    x = torch.randn(2, 1, 6, dtype=torch.float64)
    pred = torch.randn(2, 1, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: MassProjection(1, 1)(p, {"x": x}), (pred,))


def test_constrained_training_conserves_mass_in_evaluation_load_and_export(
    burgers_file: Path, tmp_path
):
    run_dir = tmp_path / "run"
    sciml.train(_spec(burgers_file), run_dir, progress=False)
    surrogate = sciml.load(run_dir)
    assert isinstance(surrogate.model, Constrained)
    u0 = torch.randn(4, 1, 32)
    torch.testing.assert_close(surrogate(u0).mean(-1), u0.mean(-1), rtol=0, atol=1e-5)
    report = sciml.evaluate(run_dir, out_dir=tmp_path / "eval")
    test = report.sections["test"]
    assert test["conservation_error"] < 1e-5
    # the report says what the constraint changed: the law's defect with and without it, and the
    # wrapped model's own error (projecting onto the fields of the true mass never increases it)
    assert test["constraint_defect_max"] < 1e-5 < test["unconstrained_defect_max"]
    assert test["relative_l2"] <= test["unconstrained_relative_l2"] + 1e-7
    path = sciml.export(run_dir, tmp_path / "s.pt2", batch_size=4)
    exported = torch.export.load(path).module()(u0)
    torch.testing.assert_close(exported.mean(-1), u0.mean(-1), rtol=0, atol=1e-5)


def test_constraint_errors_name_the_key_and_the_allowed_values(burgers_file: Path):
    with pytest.raises(SpecError, match=r"constraint\.name: unknown constraint 'mass_projektion'"):
        _spec(burgers_file, "constraint.name=mass_projektion")
    with pytest.raises(ValueError, match=r"as many input as output channels"):
        build_constraint({"name": "mass_projection"}, {"in_channels": 2, "out_channels": 1})
    with pytest.raises(ValueError, match=r"constraint 'mass_projection': .*unexpected keyword"):
        build_constraint(
            {"name": "mass_projection", "weight": 2}, {"in_channels": 1, "out_channels": 1}
        )


def test_the_projection_defect_is_the_mass_difference_per_channel():
    x = torch.tensor([[[1.0, 3.0]], [[0.0, 2.0]]])
    pred = torch.tensor([[[2.0, 4.0]], [[1.0, 1.0]]])
    projection = MassProjection(1, 1)
    torch.testing.assert_close(projection.defect(pred, {"x": x}), torch.tensor([[1.0], [0.0]]))
    assert projection.defect(projection(pred, {"x": x}), {"x": x}).abs().max() == 0

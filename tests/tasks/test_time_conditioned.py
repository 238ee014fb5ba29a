"""The time-conditioned task: all2all pairs with the lead time as a model input, trained,
evaluated by direct-jump and autoregressive rollouts, loaded as surrogate(x, dt), exported."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import sciml
from sciml.models.lead_time import LeadTime
from sciml.registry import MODELS


def _spec(data: Path, *extra: str):
    text = f"""\
name: fno_time_burgers
data:
  dataset: burgers1d
  path: {data}
  kind: all2all
  inputs: [u]
  outputs: [u]
  n_test: 2
model:
  name: fno_time
  n_modes: [4]
  hidden_channels: 8
  n_layers: 2
trainer:
  epochs: 2
  batch_size: 16
  progress: false
evaluation:
  metrics: [relative_l2]
"""
    return sciml.load_spec(text=text, overrides=list(extra))


def test_the_task_of_all2all_data_is_time_conditioned(burgers_file: Path):
    from sciml.tasks import task_for

    assert task_for(_spec(burgers_file)).name == "time_conditioned"


@pytest.fixture(scope="module")
def time_run(burgers_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "time"
    sciml.train(_spec(burgers_file), run_dir, progress=False)
    return run_dir


def test_train_evaluate_load_export_with_a_lead_time(time_run: Path, tmp_path):
    info = json.loads((time_run / "model.json").read_text())
    assert info["task"] == "time_conditioned"
    assert info["horizon"] == pytest.approx(1.0)  # t_end of the recipe: 6 times on [0, 1]
    report = sciml.evaluate(time_run, out_dir=tmp_path / "eval")
    test = report.sections["test"]
    for key in ("direct_relative_l2_final", "autoregressive_relative_l2_final", "relative_l2"):
        assert 0 < test[key] < 10, key
    assert (tmp_path / "eval" / "rollout_error.png").is_file()

    surrogate = sciml.load(time_run)
    u0 = torch.randn(3, 1, 32)
    near, far = surrogate(u0, 0.2), surrogate(u0, torch.tensor([0.2, 0.6, 1.0]))
    assert near.shape == far.shape == (3, 1, 32)
    torch.testing.assert_close(near[0], far[0])  # the same lead time, the same prediction
    assert not torch.allclose(near[2], far[2])  # another lead time, another prediction
    with pytest.raises(ValueError, match=r"takes \['x', 'dt'\]: call surrogate\(x, dt\)"):
        surrogate(u0)

    path = sciml.export(time_run, tmp_path / "s.pt2", batch_size=2)
    program = torch.export.load(path).module()
    x, dt = torch.randn(2, 1, 32), torch.tensor([0.3, 0.9])
    torch.testing.assert_close(program(x, dt), surrogate(x, dt), rtol=1e-5, atol=1e-6)


def test_a_lead_time_outside_the_trained_range_warns(time_run: Path):
    surrogate = sciml.load(time_run)
    with pytest.warns(UserWarning, match=r"lead time 2 s is beyond the trained horizon 1 s"):
        surrogate(torch.randn(1, 32), 2.0)
    with pytest.warns(
        UserWarning, match=r"lead time -0.5 s is negative: outside the trained range"
    ):
        surrogate(torch.randn(1, 32), -0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        surrogate(torch.randn(1, 32), 1.0)
        surrogate(torch.randn(1, 32), 0.0)


def test_lead_time_is_divided_by_the_horizon_before_the_model():
    seen = {}

    class Probe(torch.nn.Module):
        input_keys = ("x", "t")

        def forward(self, x, t):
            seen["t"] = t
            return x

    wrapped = LeadTime(Probe(), horizon=4.0)
    assert wrapped.input_keys == ("x", "dt")
    wrapped(torch.zeros(2, 1, 3), torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(seen["t"], torch.tensor([0.25, 0.5]))
    with pytest.raises(ValueError, match=r"takes \(x, t\)"):
        LeadTime(MODELS.get("fno")(in_channels=1, out_channels=1, n_dims=1, n_modes=2), 1.0)


def test_max_lead_one_is_the_one_step_ablation(burgers_file: Path):
    from sciml.tasks import task_for

    spec = _spec(burgers_file, "data.options={max_lead: 1}")
    train = task_for(spec).dataset("train")
    assert all(j - i <= 1 for i, j in train.pairs)
    assert len(train.pairs) == 6 + 5  # (i, i) and (i, i + 1) of 6 stored times

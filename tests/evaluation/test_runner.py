"""Evaluation runner: predictions, metric aggregation, rollouts, reports and figures."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from sciml.evaluation.plots import plot_rollout_error, plot_samples
from sciml.evaluation.runner import (
    autoregressive_rollout,
    compute_metrics,
    predict,
    time_inference,
    write_report,
)


class Scale(nn.Module):
    input_keys = ("x",)

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class Pairs(Dataset):
    def __init__(self, n: int = 10, shape: tuple[int, ...] = (16,)) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 1, *shape, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": 2.0 * self.x[i]}


def test_predict_returns_all_samples_in_order():
    out = predict(Scale(2.0), Pairs(10), batch_size=3)
    assert out["pred"].shape == (10, 1, 16)
    torch.testing.assert_close(out["pred"], out["target"])


def test_metrics_of_a_uniformly_scaled_prediction_are_exact():
    data = Pairs(6)
    out = predict(Scale(2.2), data)  # prediction = 1.1 × target
    metrics = compute_metrics(out["pred"], out["target"], ["relative_l2", "max_error"])
    assert metrics["relative_l2"] == pytest.approx(0.1, rel=1e-5)
    assert metrics["max_error"] == pytest.approx(
        float((0.1 * out["target"]).abs().amax(dim=(1, 2)).mean()), rel=1e-5
    )


def test_missing_model_input_is_named():
    class NeedsCoords(Scale):
        input_keys = ("x", "coords")

    with pytest.raises(ValueError, match=r"needs batch entries \['x', 'coords'\]"):
        predict(NeedsCoords(1.0), Pairs(2))


def test_inference_time_is_positive():
    assert time_inference(Scale(1.0), Pairs(4), batch_size=4, repeats=3) > 0


def test_rollout_of_an_exact_one_step_map_reproduces_the_trajectory():
    # model: u_{n+1} = 0.9 u_n, with two input frames (uses the last one)
    class Decay(nn.Module):
        input_keys = ("x",)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 0.9 * x[:, 1:2]

    u0 = torch.randn(3, 1, 1, 8)
    frames = torch.cat([u0 * 0.9**k for k in range(7)], dim=1)  # (3, 7, 1, 8)
    pred = autoregressive_rollout(Decay(), frames[:, :2], 5, n_input_steps=2)
    torch.testing.assert_close(pred, frames[:, 2:])
    with pytest.raises(ValueError, match="initial has 2 frames, the model takes 1"):
        autoregressive_rollout(Decay(), frames[:, :2], 5, n_input_steps=1)


def test_report_is_written_as_json_and_markdown(tmp_path):
    report = {"test": {"relative_l2": 0.01, "nrmse": 0.02}, "test@64": {"relative_l2": 0.015}}
    json_path, md_path = write_report(report, tmp_path / "eval")
    assert json.loads(json_path.read_text()) == report
    md = md_path.read_text().splitlines()
    assert md[0] == "| split | relative_l2 | nrmse |"
    assert md[2] == "| test | 0.01 | 0.02 |"
    assert md[3] == "| test@64 | 0.015 |  |"
    assert not list((tmp_path / "eval").glob(".*tmp*"))


@pytest.mark.parametrize("shape", [(32,), (16, 16)])
def test_sample_figures_are_written_for_1d_and_2d(tmp_path, shape):
    pred = torch.randn(2, 1, *shape).numpy()
    path = plot_samples(pred, pred * 1.1, tmp_path / "s.png")
    assert path.stat().st_size > 1000
    with pytest.raises(ValueError, match="expected matching"):
        plot_samples(pred, pred[:1], tmp_path / "bad.png")


def test_rollout_figure_is_written(tmp_path):
    path = plot_rollout_error(torch.rand(5, 10).numpy() + 1e-3, tmp_path / "r.png")
    assert path.stat().st_size > 1000

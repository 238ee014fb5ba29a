"""Fine-tuning from another run: matching weights loaded, the rest re-initialized and named,
frozen groups stay fixed, fitted statistics kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import sciml
from sciml.spec import SpecError
from sciml.training.finetune import initialize_from


class Net(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_in, 8)
        self.body = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
        self.head = nn.Linear(8, n_out)


def test_matching_tensors_load_and_other_shapes_keep_their_initialization():
    torch.manual_seed(0)
    old, new = Net(3, 2), Net(5, 2)  # other input channels: a new embedding
    before = {k: v.clone() for k, v in new.state_dict().items()}
    report = initialize_from(new, old.state_dict(), reinit=["^head\\."], freeze=["^body\\."])
    assert report.shape_mismatch == ["embed.weight"]  # embed.bias (8,) matches and loads
    assert report.reinitialized == ["head.weight", "head.bias"]
    assert torch.equal(new.body[0].weight, old.body[0].weight)
    assert torch.equal(new.embed.bias, old.embed.bias)
    assert torch.equal(new.embed.weight, before["embed.weight"])
    assert torch.equal(new.head.weight, before["head.weight"])
    assert not new.body[0].weight.requires_grad and new.head.weight.requires_grad
    assert set(report.frozen) == {"body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reinit": ["decoder"]}, r"init_from.reinit.0: 'decoder' matches no tensor"),
        ({"freeze": ["("]}, r"init_from.freeze.0: invalid regex"),
    ],
)
def test_patterns_that_select_nothing_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        initialize_from(Net(3, 2), Net(3, 2).state_dict(), **kwargs)


def test_fine_tuning_a_run_keeps_the_new_normalizers_and_records_what_it_loaded(
    tiny_run: Path, tiny_spec_file: Path, tmp_path, capsys
):
    spec = sciml.load_spec(
        tiny_spec_file,
        [f"init_from={tiny_run}", "trainer.epochs=1", "data.n_train=8"],
    )
    sciml.train(spec, tmp_path / "ft", progress=False)
    info = json.loads((tmp_path / "ft" / "model.json").read_text())
    assert info["init_from"]["run"] == str(tiny_run)
    assert "loaded" in info["init_from"]["summary"]
    assert "loaded" in capsys.readouterr().err
    pre = torch.load(tiny_run / "checkpoints/best.pt", weights_only=True)["model"]
    ft = torch.load(tmp_path / "ft/checkpoints/last.pt", weights_only=True)["model"]
    # the normalizers are the new run's own, fitted on its 8 samples, not the old run's 14
    fitted = [k for k in ft if "normalizer" in k]
    assert fitted and all(not torch.equal(ft[k], pre[k]) for k in fitted)


def test_freezing_everything_but_the_projection_trains_only_it(
    tiny_run: Path, tiny_spec_file: Path, tmp_path
):
    spec = sciml.load_spec(
        tiny_spec_file,
        [
            f"init_from={{run: {tiny_run}, freeze: ['^model\\.net\\.(lifting|fno_blocks)']}}",
            "trainer.epochs=1",
        ],
    )
    sciml.train(spec, tmp_path / "ft", progress=False)
    pre = torch.load(tiny_run / "checkpoints/best.pt", weights_only=True)["model"]
    ft = torch.load(tmp_path / "ft/checkpoints/last.pt", weights_only=True)["model"]
    frozen = [k for k in ft if k.startswith(("model.net.lifting", "model.net.fno_blocks"))]
    assert frozen and all(torch.equal(ft[k], pre[k]) for k in frozen)
    moved = [k for k in ft if k.startswith("model.net.projection")]
    assert moved and any(not torch.equal(ft[k], pre[k]) for k in moved)


def test_init_from_a_folder_without_checkpoints_is_one_clear_error(tiny_spec_file: Path, tmp_path):
    spec = sciml.load_spec(tiny_spec_file, [f"init_from={tmp_path}"])
    with pytest.raises(SpecError, match=r"init_from: .*best\.pt: checkpoint not found"):
        sciml.train(spec, tmp_path / "ft", progress=False)

"""PI-HC-MoE (``hard_pde``) from a YAML spec, through the task layer's constraint seam: the
constraint asks the task for ``N`` basis channels, the trainer logs the Levenberg–Marquardt
statistics per log window, and the example spec trains, evaluates and loads; ``sciml export``
(torch.export, ``max_iter`` masked LM iterations) gives the loaded run's field, TorchScript is
refused with the reason. (ProbConserv from a spec: ``test_probconserv_spec.py``.)
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import sciml
from sciml.constraints.hard import NotExportableError
from sciml.constraints.wrap import Constrained, build_constrained
from sciml.models.build import build_normalized_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

TINY_HC = [
    "data.n_test=2",
    "data.n_val=1",
    "model.n_modes=[4,4]",
    "model.hidden_channels=8",
    "model.n_layers=2",
    "constraint.n_basis=6",
    "trainer.max_steps=4",
    "trainer.log_every=2",
    "trainer.eval_every=2",
    "trainer.progress=false",
]


@pytest.fixture(scope="module")
def ds_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 diffusion–sorption trajectories, 32 cells, 11 times on [0, 500] s (FV reference)."""
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("ds") / "ds.h5"
    overrides = {"n_samples": 6, "batch_size": 6, "n_x": 32, "n_t": 11}
    generate("diffusion_sorption", path, overrides, progress=False)
    return path


@pytest.fixture(scope="module")
def hc_run(ds_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = sciml.load_spec(
        EXAMPLES / "hcmoe_diffusion_sorption.yaml", [f"data.path={ds_file}", *TINY_HC]
    )
    run_dir = tmp_path_factory.mktemp("runs") / "hcmoe"
    sciml.train(spec, run_dir, progress=False)
    return run_dir


def test_the_constraint_sets_the_backbone_channels_and_a_plain_model_keeps_the_targets():
    info = {
        "name": "fno",
        "kwargs": {"n_modes": [4, 4], "hidden_channels": 8, "n_layers": 2},
        "in_channels": 1,
        "out_channels": 1,
        "n_dims": 2,
        "normalize": {"inputs": "none", "outputs": "none"},
        "constraint": {"name": "hard_pde", "n_basis": 5, "n_points": None, "experts": [1, 2]},
    }
    model = build_constrained(info, build_normalized_model)
    assert isinstance(model, Constrained)
    u0 = 0.1 * torch.rand(2, 16)
    x = u0[:, None, None, :].expand(2, 1, 6, 16)
    assert model.model(x).shape == (2, 5, 6, 16)  # N basis functions, not the 1 target channel
    assert model(x).shape == (2, 1, 6, 16)  # u = b . w
    plain = build_constrained({**info, "constraint": None}, build_normalized_model)
    assert not isinstance(plain, Constrained) and plain(x).shape == (2, 1, 6, 16)


def test_pi_hc_moe_from_the_example_spec_logs_lm_statistics_per_window(hc_run: Path):
    with open(hc_run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    # 4 steps logged every 2; the training split has 6 - 2 test - 1 val = 3 samples (one batch
    # of 3 per step), so each window solves 2 steps x 3 samples x 4 experts LM problems
    assert [int(r["step"]) for r in rows] == [2, 4]
    for row in rows:
        solves = float(row["lm_solves"])
        assert solves == 2 * 3 * 4
        assert 1 <= float(row["lm_iterations"]) / solves <= 50
        assert 0 <= float(row["lm_not_converged"]) <= solves
        assert float(row["lm_residual"]) > 0
        assert float(row["loss_pde_residual"]) >= 0 and float(row["loss_pde_conditions"]) >= 0


def test_pi_hc_moe_evaluates_and_loads_as_the_constrained_field(hc_run: Path, ds_file, tmp_path):
    report = sciml.evaluate(hc_run, out_dir=tmp_path / "eval")
    test = report.sections["test"]
    assert test["n_samples"] == 2 and 0 < test["relative_l2"] < 10
    surrogate = sciml.load(hc_run, dtype=torch.float64)
    constraint = surrogate.model.constraint
    assert constraint.n_basis == 6 and constraint.experts == [1, 4] and not constraint.training
    from sciml.registry import DATASETS

    data = DATASETS.get("space_time")(ds_file, ["u"], ["u"], split="test", n_test=2)
    x = torch.stack([data[i]["x"] for i in range(2)]).double()
    y = torch.stack([data[i]["y"] for i in range(2)]).double()
    u = surrogate(x)
    assert u.shape == y.shape == (2, 1, 11, 32)
    error = ((u - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()
    torch.testing.assert_close(error, torch.tensor(test["relative_l2"], dtype=torch.float64))
    # the expert weights of the last solve give the field: u = b . w_k(x)
    basis = surrogate.model.model(x)
    w = constraint.last_result.solution.reshape(2, 4, 6)
    blocks = torch.arange(32) * 4 // 32
    expected = (basis * w[:, blocks].permute(0, 2, 1)[:, :, None]).sum(1, keepdim=True)
    torch.testing.assert_close(u, expected)


@pytest.mark.slow
def test_a_hard_constraint_exports_with_torch_export_and_matches_the_loaded_run(
    hc_run: Path, ds_file: Path, tmp_path: Path
):
    from sciml.registry import DATASETS

    path = sciml.export(hc_run, tmp_path / "s.pt2", batch_size=2)
    data = DATASETS.get("space_time")(ds_file, ["u"], ["u"], split="test", n_test=2)
    x = torch.stack([data[i]["x"] for i in range(2)])
    exported = torch.export.load(path).module()(x)
    # traced on random inputs (example_input), run on data: the trace holds no iteration count
    torch.testing.assert_close(exported, sciml.load(hc_run)(x), rtol=1e-6, atol=1e-7)


def test_torchscript_export_of_a_hard_constraint_is_refused(hc_run: Path, tmp_path: Path):
    with pytest.raises(NotExportableError, match=r"hard_pde cannot be exported to TorchScript"):
        sciml.export(hc_run, tmp_path / "s.ts", format="torchscript", batch_size=1)
    assert not (tmp_path / "s.ts").exists()

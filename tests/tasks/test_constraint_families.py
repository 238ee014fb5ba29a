"""The two constraint families from a YAML spec, through the task layer's constraint seam:

* PI-HC-MoE (``hard_pde``): the constraint asks the task for ``N`` basis channels, the trainer logs
  the Levenberg–Marquardt statistics per log window, and the example spec trains, evaluates and
  loads (export is refused with a clear message);
* ProbConserv (``probconserv``) on a probabilistic backbone: the conservation error on the test
  split drops to round-off while the unconstrained run's does not, and the variance shrinks by
  the update's rank-one correction.
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


def test_exporting_a_hard_constraint_is_refused_with_the_reason(hc_run: Path, tmp_path):
    with pytest.raises(NotExportableError, match=r"hard_pde cannot be exported.*sciml.load"):
        sciml.export(hc_run, tmp_path / "s.pt2", batch_size=1)
    assert not (tmp_path / "s.pt2").exists()


# ------------------------------------------------------------------------------ ProbConserv
TINY_PC = [
    "data.n_test=4",
    "data.n_val=2",
    "trainer.epochs=2",
    "trainer.batch_size=6",
    "model.n_members=2",
    "model.base_options={n_modes: [4, 8], hidden_channels: 8, n_layers: 2}",
    "trainer.progress=false",
]


@pytest.fixture(scope="module")
def pme_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 porous-medium functions, m ~ U[1, 6], on 11 times x 33 points (closed form)."""
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("pme") / "pme.h5"
    overrides = {"n_samples": 12, "batch_size": 12, "n_x": 33, "n_t": 11, "split": "train"}
    generate("gpme_pme", path, overrides, progress=False)
    return path


def _pc_spec(pme_file: Path, *, constrained: bool):
    import yaml

    raw = yaml.safe_load((EXAMPLES / "probconserv_pme_ensemble.yaml").read_text())
    if not constrained:
        raw.pop("constraint")
    return sciml.load_spec(text=yaml.safe_dump(raw), overrides=[f"data.path={pme_file}", *TINY_PC])


@pytest.fixture(scope="module")
def pc_runs(pme_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pc_runs")
    runs = {"probconserv": root / "pc", "unconstrained": root / "raw"}
    for name, run_dir in runs.items():
        sciml.train(_pc_spec(pme_file, constrained=name == "probconserv"), run_dir, progress=False)
    return runs


def _pme_test_split(
    pme_file: Path,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs ``(4, 1, 11, 33)``, grid ``x`` ``(33,)``, the exact mass ``U(t)`` ``(4, 1, 11)``
    from the closed form, and the file's ``mass`` series of the same trajectories."""
    from sciml.data.format import DatasetFile
    from sciml.registry import DATASETS
    from sciml.solvers.gpme import total_mass

    data = DATASETS.get("space_time")(
        pme_file, ["m"], ["u"], split="test", n_test=4, dtype=torch.float64
    )
    x = torch.stack([data[i]["x"] for i in range(4)])
    t, grid = data.coords[0][:, 0], data.coords[1][0]
    exact = total_mass("pme", t, x[:, 0, 0, 0, None])[:, None]
    stored = torch.as_tensor(DatasetFile(pme_file).series["mass"][-4:], dtype=torch.float64)
    return x, grid, exact, stored[:, None]


def test_probconserv_from_a_spec_conserves_the_mass_of_the_test_split_to_round_off(
    pc_runs: dict[str, Path], pme_file: Path, tmp_path
):
    from sciml.evaluation.metrics import mass_error

    x, grid, exact, stored = _pme_test_split(pme_file)
    # the target the constraint computes from the input m is the data's conserved mass (the file
    # stores it, its times and m in float32)
    torch.testing.assert_close(exact, stored, rtol=1e-6, atol=1e-7)
    ce = {
        name: mass_error(sciml.load(run, dtype=torch.float64)(x).mean, grid, exact).abs().max()
        for name, run in pc_runs.items()
    }
    assert ce["probconserv"] < 1e-12 < 1e-4 < ce["unconstrained"]
    # the same through evaluation and export (float32: round-off of float32)
    report = sciml.evaluate(pc_runs["probconserv"], out_dir=tmp_path / "eval")
    assert report.sections["test"]["n_samples"] == 4
    # the report gives the conservation defect with and without the update (float32 evaluation)
    defects = report.sections["test"]
    assert defects["constraint_defect_max"] < 1e-5 < 1e-4 < defects["unconstrained_defect_max"]
    assert torch.isfinite(torch.tensor(report.sections["test"]["log_likelihood"]))
    path = sciml.export(pc_runs["probconserv"], tmp_path / "pc.pt2", batch_size=4)
    mean, var = torch.export.load(path).module()(x.float())
    assert mass_error(mean.double(), grid, exact).abs().max() < 1e-5 and bool((var > 0).all())


def test_probconserv_shrinks_the_variance_by_the_rank_one_update(
    pc_runs: dict[str, Path], pme_file: Path
):
    from sciml.constraints.probconserv import trapezoid_weights

    x, grid, _, _ = _pme_test_split(pme_file)
    surrogate = sciml.load(pc_runs["probconserv"], dtype=torch.float64)
    with torch.no_grad():
        constrained = surrogate(x)
        mean, var = surrogate.model.model(x)  # the ensemble's own (mean, var), physical units
    g = trapezoid_weights(grid)
    # per time slice: var_i - (var_i g_i)^2 / sum_j g_j^2 var_j (Hansen et al. 2023, Eq. 4)
    expected = var - (var * g).square() / (g.square() * var).sum(-1, keepdim=True)
    torch.testing.assert_close(constrained.var, expected, rtol=1e-10, atol=1e-14)
    assert bool((constrained.var <= var).all()) and bool((constrained.var > 0).all())
    assert float((var - constrained.var).max()) > 0
    # the mean moves along var * g only: the correction over var * g is one number per slice
    ratio = (mean - constrained.mean) / (var * g)
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio), rtol=1e-8, atol=1e-10)


def test_post_hoc_probconserv_trains_on_the_models_own_output(pc_runs: dict[str, Path]):
    surrogate = sciml.load(pc_runs["probconserv"], dtype=torch.float64)
    wrapper = surrogate.model
    assert isinstance(wrapper, Constrained) and not wrapper.in_training
    x = torch.full((2, 1, 11, 33), 3.0, dtype=torch.float64)
    wrapper.train()
    raw = wrapper(x)
    torch.testing.assert_close(raw.mean, wrapper.model(x).mean)
    wrapper.eval()
    assert not torch.allclose(wrapper(x).mean, raw.mean)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"in_training": "no"}, r"constraint.in_training: expected true or false, got 'no'"),
        (
            {"parameter_channel": 0},
            r"time_index and parameter_channel give the target of a problem",
        ),
        ({"problem": "pme", "time_index": 5}, r"time_index=5 is not a component of coords with 2"),
    ],
)
def test_bad_constraint_options_name_the_option(options: dict, message: str):
    info = {
        "name": "fno",
        "kwargs": {"n_modes": [2, 2], "hidden_channels": 4, "n_layers": 1},
        "in_channels": 1,
        "out_channels": 1,
        "n_dims": 2,
        "coords": torch.stack(
            torch.meshgrid(torch.linspace(0, 1, 3), torch.linspace(0, 1, 4), indexing="ij")
        ).tolist(),
        "constraint": {"name": "probconserv", **options},
    }
    with pytest.raises(ValueError, match=message):
        build_constrained(info, build_normalized_model)

"""ProbConserv from a YAML spec on a probabilistic backbone (a Gaussian-head FNO ensemble on the
PME, ``examples/probconserv_pme_ensemble.yaml``), through the task layer's constraint seam: the
conservation error on the test split drops to round-off while the unconstrained run's does not,
in evaluation, load and export; the variance shrinks by the update's rank-one correction; post hoc
(``in_training: false``) the model trains on its own output, with ``in_training: true`` on the
constrained one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sciml
from sciml.constraints.wrap import Constrained, build_constrained
from sciml.models.build import build_normalized_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
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


def _pc_spec(pme_file: Path, *extra: str, constrained: bool):
    import yaml

    raw = yaml.safe_load((EXAMPLES / "probconserv_pme_ensemble.yaml").read_text())
    if not constrained:
        raw.pop("constraint")
    overrides = [f"data.path={pme_file}", *TINY_PC, *extra]
    return sciml.load_spec(text=yaml.safe_dump(raw), overrides=overrides)


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


def test_in_training_probconserv_trains_on_the_constrained_output(pme_file: Path, tmp_path):
    from sciml.evaluation.metrics import mass_error

    spec = _pc_spec(pme_file, "constraint.in_training=true", "trainer.epochs=1", constrained=True)
    sciml.train(spec, tmp_path / "run", progress=False)
    wrapper = sciml.load(tmp_path / "run", dtype=torch.float64).model
    assert isinstance(wrapper, Constrained) and wrapper.in_training
    x, grid, exact, _ = _pme_test_split(pme_file)
    with torch.no_grad():
        out = wrapper.train()(x)  # what the loss sees in training: the constrained Gaussian
        raw = wrapper.model(x)
    assert float(mass_error(out.mean, grid, exact).abs().max()) < 1e-12
    assert float(mass_error(raw.mean, grid, exact).abs().max()) > 1e-4


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

"""The ANP from a spec (task point_set_process): ELBO training on point sets, evaluation on the
full (t, x) grid with the ProbConserv update post hoc, and the module sciml.load returns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sciml
from sciml.constraints.probconserv import ProbConserv
from sciml.evaluation.metrics import mass_error
from sciml.models.anp import ELBOOutput
from sciml.registry import DATASETS
from sciml.solvers.gpme import total_mass
from sciml.spec import SpecError
from sciml.tasks.point_set_process import PointSetModel

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "probconserv_stefan_anp.yaml"
TINY = [
    "data.n_test=3",
    "data.n_val=2",
    "data.options.context_points=[3,4]",
    "data.options.target_points=[3,4]",
    "model.hidden=8",
    "model.latent=8",
    "model.n_heads=2",
    "model.n_samples=3",
    "trainer.max_steps=6",
    "trainer.batch_size=4",
    "trainer.eval_every=3",
    "trainer.log_every=3",
    "trainer.progress=false",
    "evaluation.plots=true",
    "evaluation.n_plot_samples=2",
]


@pytest.fixture(scope="module")
def stefan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 Stefan functions, u* ~ U[0.55, 0.7], on 9 times x 21 points (closed form)."""
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("stefan") / "stefan.h5"
    overrides = {"n_samples": 12, "batch_size": 12, "n_x": 21, "n_t": 9, "split": "train"}
    generate("gpme_stefan", path, overrides, progress=False)
    return path


def _spec(stefan_file: Path, *extra: str):
    return sciml.load_spec(EXAMPLE, [f"data.path={stefan_file}", *TINY, *extra])


@pytest.fixture(scope="module")
def run(stefan_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("anp_run") / "run"
    sciml.train(_spec(stefan_file), run_dir, progress=False)
    return run_dir


def _test_batch(stefan_file: Path) -> dict[str, torch.Tensor]:
    data = DATASETS.get("space_time_points")(
        stefan_file, ["u_star"], ["u"], split="test", n_test=3, dtype=torch.float64,
        context_points=(3, 4),
    )  # fmt: skip
    return {k: torch.stack([data[i][k] for i in range(3)]) for k in data[0]}


def test_training_sees_the_targets_and_returns_the_elbo_parts(stefan_file: Path):
    from sciml.tasks import task_for

    spec = _spec(stefan_file)
    task = task_for(spec)
    assert task.name == "point_set_process"  # the default task of data.kind space_time_points
    train = task.dataset("train", n_val=2)
    info = {"name": "anp", "kwargs": spec.model_kwargs, **task.describe(train)}
    model = task.build(info)
    assert isinstance(model, PointSetModel)
    assert info["bounds"] == [[0.0, pytest.approx(0.1)], [0.0, 1.0]]  # t, x ranges of the grid
    batch = {k: torch.stack([train[i][k] for i in range(2)]) for k in train[0]}
    inputs = [batch[k] for k in model.input_keys]
    parts = model.train()(*inputs)
    assert isinstance(parts, ELBOOutput) and parts.kl.shape == (2,)
    pred = model.eval()(*inputs)  # evaluation: the predictive Gaussian, y unused
    assert not isinstance(pred, ELBOOutput) and pred.mean.shape == batch["y"].shape
    assert bool((pred.var > 0).all())


def test_evaluation_on_the_grid_conserves_the_mass_to_round_off(run: Path, stefan_file: Path):
    report = sciml.evaluate(run)
    test = report.sections["test"]
    assert test["n_samples"] == 3 and test["n_points"] == 9 * 21
    assert test["constraint_defect_max"] < 1e-12 < 1e-4 < test["unconstrained_defect_max"]
    assert [p.name for p in report.figures] == ["samples_test.png"] and report.figures[0].is_file()
    for key in ("relative_l2", "log_likelihood", "mse", "unconstrained_relative_l2"):
        assert torch.isfinite(torch.tensor(test[key]))


def test_paraview_output_is_refused_with_the_reason(run: Path, tmp_path: Path):
    with pytest.raises(SpecError, match="--vtu: the 'point_set_process' task predicts values"):
        sciml.evaluate(run, out_dir=tmp_path, vtu=1)


def test_load_gives_a_module_on_context_and_target_points_and_on_the_grid(
    run: Path, stefan_file: Path
):
    model = sciml.load(run, dtype=torch.float64).requires_grad_(False)
    batch = _test_batch(stefan_file)
    torch.manual_seed(0)
    points = model(batch["context_x"], batch["context_y"], batch["target_x"][:, :7])
    assert points.mean.shape == (3, 7, 1) and bool((points.var > 0).all())
    # the grid prediction is the pointwise one reshaped to (B, C, T, X), t-major
    torch.manual_seed(1)
    grid = model.predict_grid(batch["context_x"], batch["context_y"], batch["coords"])
    torch.manual_seed(1)
    flat = model(batch["context_x"], batch["context_y"], batch["target_x"])
    assert grid.mean.shape == (3, 1, 9, 21)
    torch.testing.assert_close(grid.mean[:, 0].reshape(3, -1), flat.mean[..., 0])
    # the run's constraint (exact limit) and HardC given in its place: CE(t) = 0 at every slice
    x, t = batch["coords"][0, 1, 0], batch["coords"][0, 0, :, 0]
    mass = total_mass("stefan", t, batch["u_star"][:, None])[:, None]
    conditions = {"u_star": batch["u_star"]}
    hardc = ProbConserv("hardc", problem="stefan", parameter_key="u_star", coord_index=1)
    for constraint in (None, hardc):
        out = model.constrain(grid, batch["coords"], conditions, constraint)
        assert out.mean.dtype == torch.float64
        assert float(mass_error(out.mean, x, mass).abs().max()) < 1e-12
    assert float(mass_error(grid.mean, x, mass).abs().max()) > 1e-4
    # HardC leaves the variance unchanged; the exact-limit update shrinks it
    torch.testing.assert_close(
        model.constrain(grid, batch["coords"], conditions, hardc).var, grid.var
    )
    assert bool((model.constrain(grid, batch["coords"], conditions).var <= grid.var + 1e-15).all())


def test_bad_spec_options_and_export_are_refused_with_the_reason(run: Path, stefan_file: Path):
    from sciml.tasks import task_for

    with pytest.raises(SpecError, match="set `loss: neural_process_elbo`"):
        task_for(_spec(stefan_file, "trainer.loss=gaussian_nll")).loss()
    spec = _spec(stefan_file, "constraint.in_training=true")
    with pytest.raises(SpecError, match="constraint.in_training: .* post hoc"):
        task_for(spec).describe(task_for(spec).dataset("train"))
    spec = _spec(stefan_file, "data.kind=space_time", "task=point_set_process")
    with pytest.raises(SpecError, match="data.kind: .* use kind 'space_time_points'"):
        task_for(spec).dataset("train")
    with pytest.raises(ValueError, match="are not exported"):
        sciml.export(run)
    with pytest.raises(ValueError, match=r"coords must be \(B, 2, T, \*S\)"):
        sciml.load(run).predict_grid(torch.zeros(1, 3, 2), torch.zeros(1, 3, 1), torch.zeros(3, 4))


def test_validation_draws_are_seeded_by_the_run_seed(stefan_file: Path, tmp_path: Path):
    from sciml.tasks import task_for

    # an evaluation-mode call draws its latents from a generator seeded with the run's seed:
    # the global random stream changes nothing, another seed changes the draws
    preds = []
    for seed, global_seed in ((0, 0), (0, 1), (1, 0)):
        spec = _spec(stefan_file, f"seed={seed}")
        task = task_for(spec)
        train = task.dataset("train", n_val=2)
        torch.manual_seed(0)  # the same initial weights for every seed
        model = task.build({"name": "anp", "kwargs": spec.model_kwargs, **task.describe(train)})
        assert model.draw_seed == seed
        batch = {k: torch.stack([train[i][k] for i in range(2)]) for k in train[0]}
        torch.manual_seed(global_seed)
        preds.append(model.eval()(*[batch[k] for k in model.input_keys]).mean)
    torch.testing.assert_close(preds[0], preds[1], rtol=0, atol=0)
    assert not torch.equal(preds[0], preds[2])
    # validating does not advance the stream training draws from: validating every 3 steps or
    # only at the end gives the same weights and the same validation loss after 6 steps
    runs = {}
    for every in (3, 6):
        run_dir = tmp_path / f"every{every}"
        sciml.train(_spec(stefan_file, f"trainer.eval_every={every}"), run_dir, progress=False)
        runs[every] = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)
    assert runs[3]["val_loss"] == runs[6]["val_loss"]
    for key, value in runs[3]["model"].items():
        torch.testing.assert_close(value, runs[6]["model"][key], rtol=0, atol=0)

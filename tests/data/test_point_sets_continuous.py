"""space_time_points with sampling="continuous": sets drawn in the domain, valued by the closed form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.data.format import DataFileError, DatasetFile
from sciml.registry import DATASETS
from sciml.solvers.gpme import exact_solution


def _generate(tmp_path_factory: pytest.TempPathFactory, recipe: str) -> Path:
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("psc") / f"{recipe}.h5"
    overrides = {"n_samples": 6, "batch_size": 6, "n_x": 17, "n_t": 12, "split": "train"}
    generate(recipe, path, overrides, progress=False)
    return path


@pytest.fixture(scope="module")
def stefan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory, "gpme_stefan")


def _open(path: Path, inputs: tuple[str, ...] = ("u_star",), **options_: object):
    options = {"split": "train", "n_test": 2, "dtype": torch.float64, "sampling": "continuous"}
    return DATASETS.get("space_time_points")(path, list(inputs), ["u"], **{**options, **options_})


def test_points_are_stratified_in_the_domain_off_the_grid_and_valued_by_the_closed_form(
    stefan_file: Path,
):
    data = _open(stefan_file, context_points=(4, 5), target_points=(3, 30))
    file = DatasetFile(stefan_file)
    sample = data[1]
    assert sample["context_x"].shape == (20, 2) and sample["target_x"].shape == (90, 2)
    assert sample["y"].shape == (90, 1)
    points = sample["context_x"].reshape(4, 5, 2)
    t, x = points[:, 0, 0], points[0, :, 1]
    # one time in each quarter of [0, 0.1]; sorted positions in [0, 1], the same at every time
    assert ((t // 0.025).long() == torch.arange(4)).all()
    assert (x >= 0).all() and (x <= 1).all() and (x.diff() > 0).all()
    assert torch.equal(points[..., 1], x.expand(4, 5))
    # off the file's grid (17 positions, 12 times)
    grid_x = torch.as_tensor(np.asarray(file.coords["x"]), dtype=torch.float64)
    assert (x[:, None] - grid_x).abs().min() > 0
    u_star = float(file.scalars["u_star"][1])
    assert float(sample["u_star"]) == pytest.approx(u_star)
    for kind, values in (("context_x", "context_y"), ("target_x", "y")):
        pts = sample[kind]
        expected = exact_solution("stefan", pts[:, :1], pts[:, 1:], u_star)
        torch.testing.assert_close(sample[values], expected, rtol=0, atol=0)


def test_draws_are_reproducible_per_seed_and_cover_the_domain(stefan_file: Path):
    data = _open(stefan_file, context_points=(10, 10))
    again = _open(stefan_file, context_points=(10, 10))
    for i in range(len(data)):
        for key in ("context_x", "context_y", "target_x", "y"):
            assert torch.equal(data[i][key], again[i][key])
    assert not torch.equal(_open(stefan_file, seed=1)[0]["context_x"], data[0]["context_x"])
    x = torch.cat([data[i]["context_x"][:, 1] for i in range(len(data))])
    # 4 functions x 10 positions, uniform on [0, 1]: every fifth of the domain is hit
    assert torch.histc(x, bins=5, min=0, max=1).min() > 0
    assert data[0]["context_x"].dtype == torch.float64


def test_grid_targets_stay_the_files_grid_with_a_continuous_context(stefan_file: Path):
    data = _open(stefan_file, split="test")
    sample = data[0]
    u = torch.as_tensor(np.asarray(DatasetFile(stefan_file).field("u")[4]), dtype=torch.float64)
    torch.testing.assert_close(sample["y"].reshape(12, 17), u)
    assert sample["coords"].shape == (2, 12, 17) and sample["context_x"].shape == (100, 2)
    grid = DATASETS.get("space_time_points")(
        stefan_file, ["u_star"], ["u"], split="test", n_test=2, dtype=torch.float64
    )[0]
    assert torch.equal(grid["target_x"], sample["target_x"])
    assert not torch.equal(grid["context_x"], sample["context_x"])


@pytest.mark.parametrize(
    ("recipe", "problem", "param"), [("gpme_heat", "heat", "k"), ("gpme_pme", "pme", "m")]
)
def test_heat_and_pme_sets_are_their_closed_forms(
    tmp_path_factory: pytest.TempPathFactory, recipe: str, problem: str, param: str
):
    path = _generate(tmp_path_factory, recipe)
    data = _open(path, inputs=(param,))
    sample = data[2]
    pts = sample["target_x"]
    expected = exact_solution(problem, pts[:, :1], pts[:, 1:], float(sample[param]))
    torch.testing.assert_close(sample["y"], expected, rtol=0, atol=0)
    file = DatasetFile(path)
    t0, t1 = float(file.time[0]), float(file.time[-1])
    x0, x1 = float(np.min(file.coords["x"])), float(np.max(file.coords["x"]))
    assert (pts[:, 0] >= t0).all() and (pts[:, 0] <= t1).all()
    assert (pts[:, 1] >= x0).all() and (pts[:, 1] <= x1).all()


def test_bad_sampling_options_name_the_option(stefan_file: Path, tmp_path: Path):
    with pytest.raises(ValueError, match=r"sampling must be one of \['grid', 'continuous'\]"):
        _open(stefan_file, sampling="uniform")
    # more positions than the file has: fine when continuous, not on the grid
    assert _open(stefan_file, context_points=(20, 40)).context_points == (20, 40)
    with pytest.raises(ValueError, match=r"context_points must be \[n_t, n_s\], positive"):
        _open(stefan_file, context_points=(0, 4))
    from sciml.data.recipes.base import generate

    other = tmp_path / "burgers.h5"
    generate("burgers1d", other, {"n_samples": 3, "batch_size": 3}, progress=False)
    with pytest.raises(DataFileError, match="no closed form for dataset"):
        DATASETS.get("space_time_points")(other, [], ["u"], n_test=1, sampling="continuous")


def test_the_spec_option_reaches_the_tasks_train_and_validation_sets(stefan_file: Path):
    import sciml
    from sciml.tasks import task_for

    example = Path(__file__).resolve().parents[2] / "examples" / "probconserv_stefan_anp.yaml"
    spec = sciml.load_spec(
        example, [f"data.path={stefan_file}", "data.n_test=2", "data.options.sampling=continuous"]
    )
    task = task_for(spec)
    for split in ("train", "val"):
        data = task.dataset(split, n_val=2)
        sample = data[0]
        assert data.sampling == "continuous" and data.seed == spec.seed
        pts = sample["target_x"].double()
        expected = exact_solution("stefan", pts[:, :1], pts[:, 1:], float(sample["u_star"]))
        torch.testing.assert_close(sample["y"].double(), expected, rtol=1e-6, atol=1e-7)

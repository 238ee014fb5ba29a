"""diffusion_sorption recipe: file contents, determinism, resume, PDEBench layout cross-check."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sciml.data.format import DatasetFile
from sciml.data.pdebench import PDEBenchPairDataset, convert_pdebench, read_pdebench
from sciml.data.recipes.base import RecipeError, default_parameters, generate, make_config
from sciml.data.recipes.diffusion_sorption import export_pdebench
from sciml.registry import RECIPES

TINY = {"n_samples": 3, "batch_size": 2, "n_x": 16, "n_t": 5, "substeps": 1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DatasetFile:
    path = tmp_path_factory.mktemp("ds") / "ds.h5"
    return DatasetFile(generate("diffusion_sorption", path, TINY, progress=False))


def test_file_has_u_on_cell_centres_and_the_time_axis(tiny: DatasetFile) -> None:
    u = tiny.read("u")
    assert u.shape == (3, 5, 16) and tiny.fields["u"].time_varying
    np.testing.assert_allclose(tiny.coords["x"], (np.arange(16) + 0.5) / 16)
    np.testing.assert_allclose(tiny.time, np.linspace(0, 500, 5))
    assert tiny.dataset_name == "diffusion_sorption" and tiny.config["n_x"] == 16


def test_initial_data_are_uniform_and_the_column_fills_from_the_left(tiny: DatasetFile) -> None:
    u = tiny.read("u")
    assert u[:, 0].min() >= 0 and u[:, 0].max() <= 0.2
    assert u.min() >= 0 and u.max() <= 1
    assert (u[:, -1, 0] > u[:, 0, 0]).all() and (u[:, -1, 0] > 0.8).all()


def test_same_seed_same_file_other_seed_differs(tiny: DatasetFile, tmp_path: Path) -> None:
    again = DatasetFile(generate("diffusion_sorption", tmp_path / "a.h5", TINY, progress=False))
    other = DatasetFile(
        generate("diffusion_sorption", tmp_path / "b.h5", TINY | {"seed": 1}, progress=False)
    )
    np.testing.assert_array_equal(again.read("u"), tiny.read("u"))
    assert not np.allclose(other.read("u"), tiny.read("u"))


def test_resume_after_a_crash_gives_the_same_file(
    tiny: DatasetFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[RECIPES.get("diffusion_sorption").generate.__module__]
    real = module.generate_in_blocks

    def crash(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise RuntimeError("simulated crash")
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    out = tmp_path / "r.h5"
    monkeypatch.setattr(module, "generate_in_blocks", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate("diffusion_sorption", out, TINY, progress=False)
    monkeypatch.setattr(module, "generate_in_blocks", real)
    resumed = DatasetFile(generate("diffusion_sorption", out, TINY, progress=False))
    np.testing.assert_array_equal(resumed.read("u"), tiny.read("u"))


def test_pdebench_layout_export_is_read_back_by_our_pdebench_reader(
    tiny: DatasetFile, tmp_path: Path
) -> None:
    pb_path = export_pdebench(tiny.path, tmp_path / "1D_diff-sorp_NA_NA.h5")
    pb = read_pdebench(pb_path)
    assert pb.layout == "per_seed" and pb.n_trajectories == 3 and pb.spatial_shape == (16,)
    np.testing.assert_allclose(pb.coords["x"], tiny.coords["x"], rtol=1e-6)
    np.testing.assert_allclose(pb.time, tiny.time, rtol=1e-6)
    np.testing.assert_allclose(pb.read("data", 1)[:, 0], tiny.read("u")[1], rtol=1e-6)
    back = DatasetFile(convert_pdebench(pb_path, tmp_path / "back.h5"))
    np.testing.assert_allclose(back.read("data"), tiny.read("u"), rtol=1e-6)
    # PDEBench's split: the first 10 % are the test set
    pairs = PDEBenchPairDataset(pb_path, ["data"], ["data"], split="test", test_fraction=0.34)
    assert len(pairs) == 1


def test_catalog_preset_is_the_ci_default_and_paper_gives_pdebench_sizes() -> None:
    preset = default_parameters("diffusion_sorption")
    assert make_config("diffusion_sorption", preset) == make_config("diffusion_sorption", {})
    paper = make_config("diffusion_sorption", {**preset, "paper": True})
    assert (paper.n_samples, paper.n_x, paper.n_t) == (10000, 1024, 101)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"ic_low": 0.3}, "ic_low=0.3 must be < ic_high=0.2"),
        ({"porosity": 1.0}, "porosity: Input should be less than 1"),
        ({"n_t": 1}, "n_t: Input should be greater than or equal to 2"),
    ],
)
def test_invalid_values_are_refused(overrides: dict, reason: str) -> None:
    with pytest.raises(RecipeError, match=reason):
        make_config("diffusion_sorption", overrides)

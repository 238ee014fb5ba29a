"""The kolmogorov2d recipe: seeded, resumable, validated config, physically sane output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import RecipeError, make_config
from sciml.data.recipes.kolmogorov2d import Kolmogorov2D
from sciml.spec import catalog_dir

NAME = "kolmogorov2d"
SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "n_fine": 16,
    "n_x": 8,
    "t_end": 0.2,
    "n_t": 3,
    "t_warmup": 0.1,
    "dt": 0.05,
}


def generate(config, path: Path) -> Path:
    return Kolmogorov2D().generate(config, path, progress=False)


def read(path: Path) -> np.ndarray:
    return DatasetFile(path).read("vorticity")


def test_same_seed_gives_identical_arrays_and_other_seed_differs(tmp_path: Path) -> None:
    a = read(generate(make_config(NAME, SMALL), tmp_path / "a.h5"))
    b = read(generate(make_config(NAME, SMALL), tmp_path / "b.h5"))
    c = read(generate(make_config(NAME, {**SMALL, "seed": 1}), tmp_path / "c.h5"))
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.isfinite(a).all()


def test_resumed_run_after_crash_equals_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(NAME, SMALL)
    full = read(generate(config, tmp_path / "full.h5"))
    original = Kolmogorov2D.make_block
    calls: list[int] = []

    def crash_after_first_block(self, config, start, size, device):
        calls.append(start)
        if start > 0:
            raise RuntimeError("simulated crash")
        return original(self, config, start, size, device)

    monkeypatch.setattr(Kolmogorov2D, "make_block", crash_after_first_block)
    out = tmp_path / "resumed.h5"
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(config, out)
    assert not out.exists() and out.with_name("resumed.h5.partial").exists()
    monkeypatch.setattr(Kolmogorov2D, "make_block", lambda *a: calls.append(a[2]) or original(*a))
    calls.clear()
    generate(config, out)
    assert 0 not in calls  # the first block was not recomputed
    assert np.array_equal(read(out), full)


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['n_sampels'\]. Valid: n_samples"):
        make_config(NAME, {"n_sampels": 3})


def test_stored_grid_must_divide_solver_grid() -> None:
    with pytest.raises(RecipeError, match="must be even and divide n_fine"):
        make_config(NAME, {**SMALL, "n_x": 12})


def test_catalog_preset_is_ci_sized_and_paper_sizes_are_one_flag_away() -> None:
    preset = yaml.safe_load((catalog_dir("datasets") / f"{NAME}.yaml").read_text())
    assert make_config(NAME, preset) == make_config(NAME, {})
    paper = make_config(NAME, {**preset, "paper": True})
    assert paper.n_fine == 256
    assert make_config(NAME, {"paper": True, "seed": 3}).seed == 3


def test_mean_vorticity_decays_at_the_drag_rate(tmp_path: Path) -> None:
    w = read(generate(make_config(NAME, SMALL), tmp_path / "a.h5"))
    mean = w.mean(axis=(-2, -1)).astype(np.float64)
    # the forcing has zero mean and advection conserves it: d<w>/dt = -drag <w>
    assert np.allclose(mean[:, 1:], mean[:, :-1] * np.exp(-0.1 * 0.1), atol=1e-6)

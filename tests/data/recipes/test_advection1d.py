"""The advection1d recipe: seeded, resumable, validated config, physically sane output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from sciml.data.format import DatasetFile
from sciml.data.recipes.advection1d import Advection1D
from sciml.data.recipes.base import RecipeError, make_config
from sciml.spec import catalog_dir

NAME = "advection1d"
SMALL = {
    "n_samples": 5,
    "batch_size": 2,
    "n_fine": 32,
    "n_x": 32,
    "t_end": 1.0,
    "n_t": 3,
    "dt": 0.5,
    "beta": 0.5,
}


def generate(config, path: Path) -> Path:
    return Advection1D().generate(config, path, progress=False)


def read(path: Path) -> np.ndarray:
    return DatasetFile(path).read("u")


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
    original = Advection1D.make_block
    calls: list[int] = []

    def crash_after_first_block(self, config, start, size, device):
        calls.append(start)
        if start > 0:
            raise RuntimeError("simulated crash")
        return original(self, config, start, size, device)

    monkeypatch.setattr(Advection1D, "make_block", crash_after_first_block)
    out = tmp_path / "resumed.h5"
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(config, out)
    assert not out.exists() and out.with_name("resumed.h5.partial").exists()
    monkeypatch.setattr(Advection1D, "make_block", lambda *a: calls.append(a[2]) or original(*a))
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
    assert paper.n_t == 201
    assert make_config(NAME, {"paper": True, "seed": 3}).seed == 3


def test_profile_is_translated_by_beta_times_t(tmp_path: Path) -> None:
    u = read(generate(make_config(NAME, SMALL), tmp_path / "a.h5"))
    # beta * t = 0.5 at the last frame: a shift by half the domain, i.e. 16 of 32 points
    assert np.allclose(u[:, 2], np.roll(u[:, 0], 16, axis=-1), atol=1e-6)
    assert np.allclose(u[:, 1], np.roll(u[:, 0], 8, axis=-1), atol=1e-6)


def test_dt_must_match_the_time_axis() -> None:
    with pytest.raises(RecipeError, match="dt must be t_end/\\(n_t-1\\)"):
        make_config(NAME, {**SMALL, "dt": 0.1})

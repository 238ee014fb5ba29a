"""The burgers1d recipe: seeded, resumable, validated configuration, and physically sane output."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from sciml.data.format import DatasetFile
from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import RecipeError, block_generator, make_config
from sciml.data.recipes.burgers1d import Burgers1D
from sciml.spec import catalog_dir

NAME = "burgers1d"
SMALL = {
    "n_samples": 5,
    "batch_size": 2,
    "n_fine": 64,
    "n_x": 32,
    "t_end": 0.1,
    "n_t": 3,
    "dt": 0.005,
}


def generate(config, path: Path) -> Path:
    return Burgers1D().generate(config, path, progress=False)


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
    original = Burgers1D.make_block
    calls: list[int] = []

    def crash_after_first_block(self, config, start, size, device):
        calls.append(start)
        if start > 0:
            raise RuntimeError("simulated crash")
        return original(self, config, start, size, device)

    monkeypatch.setattr(Burgers1D, "make_block", crash_after_first_block)
    out = tmp_path / "resumed.h5"
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(config, out)
    assert not out.exists() and out.with_name("resumed.h5.partial").exists()
    monkeypatch.setattr(Burgers1D, "make_block", lambda *a: calls.append(a[2]) or original(*a))
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
    assert paper.n_fine == 8192
    assert make_config(NAME, {"paper": True, "seed": 3}).seed == 3


def test_mean_is_conserved_and_first_frame_is_the_subsampled_grf(tmp_path: Path) -> None:
    cfg = make_config(NAME, SMALL)
    u = read(generate(cfg, tmp_path / "a.h5"))
    mean = u.mean(axis=-1)
    assert np.abs(mean - mean[:, :1]).max() < 1e-5
    u0 = gaussian_random_field(
        2,
        (64,),
        alpha=2.0,
        tau=5.0,
        sigma=25.0,
        generator=block_generator(0, 0),
        dtype=torch.float64,
    )
    # the recipe removes the Nyquist mode of the fine grid
    u0_hat = torch.fft.rfft(u0)
    u0_hat[:, -1] = 0
    u0 = torch.fft.irfft(u0_hat, n=64)
    assert np.allclose(u[:2, 0], u0[:, ::2].float().numpy(), atol=1e-6)
    with h5py.File(tmp_path / "a.h5") as f:
        assert np.allclose(f["scalars/nu"][...], 0.1)

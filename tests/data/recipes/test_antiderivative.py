"""The antiderivative recipe: exact integration, layout, seeding and resumable generation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import antiderivative
from sciml.data.recipes.base import RecipeError, make_config
from sciml.testing import assert_convergence_order

SMALL = {"n_samples": 12, "batch_size": 5, "n_sensors": 40}


def _generate(path, **overrides):
    config = make_config("antiderivative", SMALL | overrides)
    return antiderivative.Antiderivative().generate(config, path, progress=False)


def test_file_has_sensor_grid_and_time_constant_v_u(tmp_path):
    f = DatasetFile(_generate(tmp_path / "a.h5"))
    assert f.dataset_name == "antiderivative" and f.n_trajectories == 12
    np.testing.assert_allclose(f.coords["x"], np.linspace(0, 1, 40), atol=1e-7)
    np.testing.assert_array_equal(f.time, [0.0])
    for name in ("v", "u"):
        assert f.fields[name].shape == (12, 40) and not f.fields[name].time_varying
    assert f.config["length_scale"] == 0.2 and f.attrs["seed"] == 0


def test_u_is_the_antiderivative_of_v_by_simpsons_rule(tmp_path):
    f = DatasetFile(_generate(tmp_path / "a.h5", n_sensors=101))
    v, u = f.read("v").astype(np.float64), f.read("u").astype(np.float64)
    h = 1.0 / 100
    assert np.abs(u[:, 0]).max() == 0.0
    # Simpson on two sensor intervals: error h^5 max|v''''| / 90 ~ 1e-10 for l = 0.2
    simpson = h / 3 * (v[:, :-2] + 4 * v[:, 1:-1] + v[:, 2:])
    assert np.abs(u[:, 2:] - u[:, :-2] - simpson).max() < 2e-6


def test_cumulative_trapezoid_converges_at_second_order():
    errors, steps = [], []
    for n in (33, 65, 129, 257):
        x = torch.linspace(0, 1, n, dtype=torch.float64)
        u = antiderivative.cumulative_trapezoid(torch.cos(3 * x), 1.0 / (n - 1))
        errors.append(float((u - torch.sin(3 * x) / 3).abs().max()))
        steps.append(1.0 / (n - 1))
    assert_convergence_order(steps, errors, 2.0, tol=0.1)


def test_v_has_unit_variance_and_rbf_correlation(tmp_path):
    f = DatasetFile(_generate(tmp_path / "a.h5", n_samples=400, batch_size=200, n_sensors=21))
    v = f.read("v").astype(np.float64)
    cov = v.T @ v / len(v)
    x = np.linspace(0, 1, 21)
    kernel = np.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * 0.2**2))
    assert np.abs(cov - kernel).max() < 0.25  # 400 samples: standard error ~ 0.07


def test_same_seed_gives_identical_arrays_and_another_seed_differs(tmp_path):
    a = DatasetFile(_generate(tmp_path / "a.h5")).read("v")
    b = DatasetFile(_generate(tmp_path / "b.h5")).read("v")
    c = DatasetFile(_generate(tmp_path / "c.h5", seed=1)).read("v")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_resume_after_a_crash_gives_the_same_file(tmp_path, monkeypatch):
    real = antiderivative.generate_in_blocks

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if start > 0:
                raise KeyboardInterrupt  # as a kill between blocks
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(antiderivative, "generate_in_blocks", crash_after_first_block)
    with pytest.raises(KeyboardInterrupt):
        _generate(tmp_path / "r.h5")
    assert (tmp_path / "r.h5.partial").exists() and not (tmp_path / "r.h5").exists()
    monkeypatch.setattr(antiderivative, "generate_in_blocks", real)
    resumed = DatasetFile(_generate(tmp_path / "r.h5"))
    whole = DatasetFile(_generate(tmp_path / "w.h5"))
    for name in ("v", "u"):
        np.testing.assert_array_equal(resumed.read(name), whole.read(name))
    # gzip-compressed chunks are re-allocated on resume, so the bytes may differ; content may not
    assert resumed.attrs == whole.attrs


def test_unknown_parameter_is_refused_with_the_valid_ones():
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['sensors'\]. Valid: .*n_sensors"):
        make_config("antiderivative", {"sensors": 50})
    with pytest.raises(RecipeError, match=r"length_scale: Input should be greater than 0"):
        make_config("antiderivative", {"length_scale": -1.0})


def test_defaults_are_deepxde_setup():
    config = make_config("antiderivative")
    assert (config.n_samples, config.n_sensors, config.length_scale) == (1150, 100, 0.2)
    assert math.isclose(config.length_scale, 0.2)

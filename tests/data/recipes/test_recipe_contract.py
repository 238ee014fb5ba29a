"""What every dataset recipe promises, checked on a tiny configuration of each.

The file has the announced fields and shapes; the same seed gives identical arrays and another seed
different ones; a run killed or failing between blocks leaves a ``.partial`` file from which the
next run resumes, without recomputing finished blocks, to the file of an uninterrupted run; unknown
parameters and invalid values are refused with the reason; catalog presets are valid; where the
equation conserves the spatial mean, the stored field does. Physics checks specific to one recipe
live in its own ``test_<recipe>.py``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from recipe_defaults import config_defaults

from sciml.cli import main as cli_main
from sciml.data.format import DatasetFile
from sciml.data.recipes.base import RecipeError, default_parameters, generate, make_config
from sciml.registry import RECIPES
from sciml.spec import load_preset


@dataclass(frozen=True)
class Case:
    name: str
    #: overrides giving a few trajectories written in more than one block
    tiny: dict[str, Any]
    #: stored fields and their shapes in the tiny file
    fields: dict[str, tuple[int, ...]]
    #: a parameter the recipe does not have
    unknown: str
    #: the fields that vary in time
    over_time: frozenset[str] = field(default_factory=frozenset)
    #: a seed whose arrays must differ from those of the default seed 0
    other_seed: int = 1


def _spectral(name: str, field_name: str, shape: tuple[int, ...], **tiny: Any) -> Case:
    fields = {field_name: shape}
    return Case(name, tiny, fields, unknown="n_sampels", over_time=frozenset(fields))


CASES = [
    _spectral(
        "advection1d", "u", (5, 3, 32), n_samples=5, batch_size=2, n_fine=32, n_x=32,
        t_end=1.0, n_t=3, dt=0.5, beta=0.5,
    ),
    _spectral(
        "burgers1d", "u", (5, 3, 32), n_samples=5, batch_size=2, n_fine=64, n_x=32,
        t_end=0.1, n_t=3, dt=0.005,
    ),
    _spectral(
        "kdv1d", "u", (3, 3, 32), n_samples=3, batch_size=2, n_fine=64, n_x=32,
        t_end=0.5, n_t=3, dt=0.05,
    ),
    _spectral(
        "ks1d", "u", (3, 3, 32), n_samples=3, batch_size=2, n_fine=64, n_x=32,
        t_end=2.0, n_t=3, t_warmup=1.0, dt=0.2,
    ),
    _spectral(
        "ns2d", "vorticity", (3, 3, 8, 8), n_samples=3, batch_size=2, n_fine=16, n_x=8,
        t_end=0.2, n_t=3, dt=0.05,
    ),
    _spectral(
        "kolmogorov2d", "vorticity", (3, 3, 8, 8), n_samples=3, batch_size=2, n_fine=16, n_x=8,
        t_end=0.2, n_t=3, t_warmup=0.1, dt=0.05,
    ),
    Case("antiderivative", {"n_samples": 12, "batch_size": 5, "n_sensors": 40},
         {"v": (12, 40), "u": (12, 40)}, unknown="sensors"),
    Case("poisson1d", {"n_samples": 6, "batch_size": 4, "resolution": 32},
         {"f": (6, 32), "u": (6, 32)}, unknown="res", other_seed=9),
    Case("poisson2d", {"n_samples": 6, "batch_size": 4, "resolution": 32},
         {"f": (6, 32, 32), "u": (6, 32, 32)}, unknown="res"),
    Case("darcy2d", {"n_samples": 5, "batch_size": 2, "resolution": 17},
         {"coeff": (5, 17, 17), "u": (5, 17, 17)}, unknown="kappa", other_seed=4),
    Case("darcy_unstructured", {"n_samples": 5, "batch_size": 2, "n_cells": 8},
         {"coeff": (5, 81), "u": (5, 81)}, unknown="domian"),
    Case("heat2d", {"n_samples": 3, "batch_size": 2, "resolution": 9, "t_end": 0.1, "dt": 0.01,
                    "n_t": 3},
         {"coeff": (3, 9, 9), "u": (3, 3, 9, 9)}, unknown="nu", over_time=frozenset({"u"})),
    Case("elasticity_plate", {"n_samples": 3, "batch_size": 2, "n_cells": 12},
         {"young": (3, 163), "u": (3, 163, 2)}, unknown="E"),
    Case("mpm2d", {"n_samples": 6, "batch_size": 2, "particles_per_side": 6, "grid_n": 16,
                   "dt": 5e-4, "n_steps": 10, "save_every": 10},
         {"position": (6, 2, 36, 2), "velocity": (6, 2, 36, 2), "mass": (6, 36),
          "volume": (6, 36)}, unknown="n_particles",
         over_time=frozenset({"position", "velocity"})),
    Case("mpm3d", {"n_samples": 4, "batch_size": 2, "particles_per_side": 3, "grid_n": 10,
                   "dt": 5e-4, "n_steps": 10, "save_every": 10},
         {"position": (4, 2, 27, 3), "velocity": (4, 2, 27, 3), "mass": (4, 27),
          "volume": (4, 27)}, unknown="n_particles",
         over_time=frozenset({"position", "velocity"})),
    *(Case(name, {"n_samples": 3, "batch_size": 2, "lattice": [4, 4], "grid_n": 16, "dt": 1e-3,
                  "n_steps": 40, "save_every": 20},
           {"position": (3, 3, 16, 2), "velocity": (3, 3, 16, 2), "mass": (3, 16),
            "volume": (3, 16)}, unknown="aspect",
           over_time=frozenset({"position", "velocity"}))
      for name in ("dam_break", "column_collapse")),
]  # fmt: skip
TINY = {case.name: case.tiny for case in CASES}
SPECTRAL = ["advection1d", "burgers1d", "kdv1d", "ks1d", "ns2d", "kolmogorov2d"]

#: (recipe, overrides, reason in the error): values each recipe refuses when configured
INVALID = [
    *((name, {**TINY[name], "n_x": 12}, "must be even and divide n_fine") for name in SPECTRAL),
    ("advection1d", {**TINY["advection1d"], "dt": 0.1}, r"dt must be t_end/\(n_t-1\)"),
    ("antiderivative", {"length_scale": -1.0}, "length_scale: Input should be greater than 0"),
    ("poisson1d", {"resolution": 2}, "resolution: Input should be greater than or equal"),
    ("darcy2d", {"resolution": 30, "solve_resolution": 40}, "must be a multiple of resolution - 1"),
    ("darcy2d", {"low": 0.0}, "low: Input should be greater than 0"),
    (
        "darcy_unstructured",
        {"domain": "disk"},
        "domain: Input should be 'square', 'l_shape' or 'plate'",
    ),
    ("heat2d", {"t_end": 0.1, "dt": 0.01, "n_t": 4}, "must be an integer multiple of n_t - 1 = 3"),
    ("heat2d", {"theta": 2.0}, "theta: Input should be less than or equal to 1"),
    ("elasticity_plate", {"poisson": 0.5}, "poisson: Input should be less than 0.5"),
    ("mpm2d", {"materials": ["rubber"]}, "materials"),
    ("mpm3d", {"center": [0.5, 0.5]}, "center: needs 3 components"),
    ("dam_break", {"aspect_range": [1.0, 9.0]}, "the tallest column .* does not fit"),
    ("column_collapse", {"lattice": [1, 8]}, "lattice needs at least 2 particles per axis"),
]

#: recipes whose equation conserves the spatial mean of the stored field
CONSERVED_MEAN = ["burgers1d", "kdv1d", "ks1d", "ns2d"]

#: (recipe, parameter, its value with paper=True) for the recipes whose preset is the CI default
PAPER = [
    ("advection1d", "n_t", 201),
    ("burgers1d", "n_fine", 8192),
    ("kdv1d", "n_fine", 512),
    ("ks1d", "n_samples", 1024),
    ("ns2d", "n_fine", 256),
    ("kolmogorov2d", "n_fine", 256),
]

#: parameters of the paper-sized catalog presets (each also has at least 1000 samples)
PRESETS = {
    "darcy2d": {"resolution": 85, "fine_resolution": 421},
    "darcy_unstructured": {"n_cells": 64},
    "elasticity_plate": {"degree": 2},
    "heat2d": {"resolution": 65},
}


def _name(case: Case) -> str:
    return case.name


each_recipe = pytest.mark.parametrize("case", CASES, ids=_name)


def _generate(case: Case, path: Path, **overrides: Any) -> DatasetFile:
    params = config_defaults(case.name, case.tiny | overrides)
    return DatasetFile(generate(case.name, path, params, progress=False))


@each_recipe
def test_file_has_the_expected_fields_shapes_and_header(case: Case, generated) -> None:
    f = generated(case.name, case.tiny)
    assert {name: f.fields[name].shape for name in f.fields} == case.fields
    for name in case.fields:
        assert f.fields[name].time_varying == (name in case.over_time), name
        assert f.read(name).shape == case.fields[name]
    assert f.dataset_name == case.name and f.n_trajectories == case.tiny["n_samples"]
    assert f.attrs["seed"] == 0
    assert all(f.config[key] == value for key, value in case.tiny.items())


@each_recipe
def test_same_seed_gives_identical_arrays_and_another_seed_differs(
    case: Case, generated, tmp_path: Path
) -> None:
    a = generated(case.name, case.tiny)
    b = _generate(case, tmp_path / "b.h5")
    c = _generate(case, tmp_path / "c.h5", seed=case.other_seed)
    for name in case.fields:
        np.testing.assert_array_equal(a.read(name), b.read(name))
        assert not np.allclose(a.read(name), c.read(name)), name
        assert np.isfinite(a.read(name)).all(), name


@each_recipe
def test_resume_after_a_kill_and_a_failure_gives_the_same_file(
    case: Case, generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[RECIPES.get(case.name).generate.__module__]
    real = module.generate_in_blocks
    crashes: list[BaseException] = [KeyboardInterrupt(), RuntimeError("simulated crash")]
    starts: list[int] = []

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            starts.append(start)
            if crashes and start > 0:
                raise crashes[0]
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(module, "generate_in_blocks", crash_after_first_block)
    out, partial = tmp_path / "r.h5", tmp_path / "r.h5.partial"
    with pytest.raises(KeyboardInterrupt):  # as a kill between blocks
        _generate(case, out)
    assert partial.exists() and not out.exists()
    crashes.pop(0)
    starts.clear()
    with pytest.raises(RuntimeError, match="simulated crash"):  # a block that fails
        _generate(case, out)
    assert 0 not in starts  # the first block was not recomputed
    assert partial.exists() and not out.exists()
    crashes.pop(0)
    starts.clear()
    resumed = _generate(case, out)
    assert 0 not in starts
    assert not partial.exists()
    whole = generated(case.name, case.tiny)
    for name in case.fields:
        np.testing.assert_array_equal(resumed.read(name), whole.read(name))
    for name in whole.coords:
        np.testing.assert_array_equal(resumed.coords[name], whole.coords[name])
    # gzip-compressed chunks are re-allocated on resume, so the bytes may differ; content may not
    assert resumed.attrs == whole.attrs


@each_recipe
def test_unknown_parameter_is_refused_listing_every_valid_one(case: Case) -> None:
    expected = rf"no parameter\(s\) \[{re.escape(repr(case.unknown))}\]\. Valid: n_samples"
    with pytest.raises(RecipeError, match=expected) as error:
        make_config(case.name, {case.unknown: 3})
    for name in RECIPES.get(case.name).Config.model_fields:
        assert f"{name} (default" in str(error.value)


@pytest.mark.parametrize("case", [c for c in CASES if c.name in CONSERVED_MEAN], ids=_name)
def test_spatial_mean_is_conserved(case: Case, generated) -> None:
    (name,) = case.fields
    u = generated(case.name, case.tiny).read(name)  # (N, T, *space)
    mean = u.mean(axis=tuple(range(2, u.ndim)))
    assert np.abs(mean - mean[:, :1]).max() < 1e-5


@pytest.mark.parametrize(("name", "overrides", "reason"), INVALID)
def test_invalid_value_is_refused_with_the_reason(name: str, overrides: dict, reason: str) -> None:
    with pytest.raises(RecipeError, match=reason):
        make_config(name, overrides)


@pytest.mark.parametrize("name", RECIPES.names())
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        # a field bound where the recipe declares one, else the base config's check
        (
            {"n_samples": 0},
            "n_samples( must be >= 1, got 0|: Input should be greater than or equal to 1)",
        ),
        (
            {"batch_size": 0},
            "batch_size( must be >= 1, got 0|: Input should be greater than or equal to 1)",
        ),
        ({"seed": -1}, "seed must be >= 0, got -1"),
    ],
)
def test_every_recipe_refuses_empty_sizes_and_negative_seeds(
    name: str, overrides: dict, reason: str
) -> None:
    with pytest.raises(RecipeError, match=f"recipe {name!r}: {reason}"):
        make_config(name, overrides)


def test_a_device_this_machine_lacks_is_refused_before_writing(tmp_path: Path) -> None:
    out = tmp_path / "x.h5"
    with pytest.raises(RecipeError, match="device='gpu' is not a torch device name"):
        generate("poisson1d", out, device="gpu", progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(RecipeError, match="CUDA is not available"):
            generate("poisson1d", out, device="cuda", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "parameter", "paper_value"), PAPER)
def test_catalog_preset_is_ci_sized_and_paper_sizes_are_one_flag_away(
    name: str, parameter: str, paper_value: int
) -> None:
    preset = default_parameters(f"{name}")
    assert make_config(name, preset) == make_config(name, {})
    paper = make_config(name, {**preset, "paper": True})
    assert getattr(paper, parameter) == paper_value
    assert make_config(name, {"paper": True, "seed": 3}).seed == 3


@pytest.mark.parametrize(("name", "expected"), PRESETS.items(), ids=list(PRESETS))
def test_catalog_preset_is_a_valid_paper_sized_configuration(name: str, expected: dict) -> None:
    config = make_config(name, load_preset("datasets", name))
    assert config.n_samples >= 1000
    assert {key: getattr(config, key) for key in expected} == expected


@pytest.mark.parametrize("name", RECIPES.names())
def test_catalog_preset_holds_only_what_differs_from_the_config_defaults(name: str) -> None:
    fields = RECIPES.get(name).Config.model_fields
    preset = default_parameters(name)
    assert set(preset) <= set(fields)
    config = make_config(name)
    restated = [
        key
        for key, spec in fields.items()
        if key in preset and not spec.is_required() and getattr(config, key) == spec.default
    ]
    assert restated == [], f"{name}: the preset restates the Config defaults of {restated}"


def test_the_python_api_and_the_cli_write_the_same_file(tmp_path: Path) -> None:
    """Both start from the recipe's catalog preset (poisson1d: 256 points, not Config's 64)."""
    api, cli = tmp_path / "api.h5", tmp_path / "cli.h5"
    generate("poisson1d", api, {"n_samples": 3}, progress=False)
    argv = ["generate", "poisson1d", "--set", "n_samples=3", "--out", str(cli), "--quiet"]
    assert cli_main(argv) == 0
    assert make_config("poisson1d", {"n_samples": 3}).resolution == 256
    assert _contents(api) == _contents(cli)


def _contents(path: Path) -> dict[str, Any]:
    """Every group's and dataset's attributes and every dataset's bytes, by HDF5 path."""
    out: dict[str, Any] = {}
    with h5py.File(path) as f:

        def visit(name: str, obj: Any) -> None:
            attrs = {k: np.asarray(v).tobytes() for k, v in obj.attrs.items()}
            data = obj[()].tobytes() if isinstance(obj, h5py.Dataset) else None
            out[name] = (attrs, data)

        visit("/", f)
        f.visititems(visit)
    return out

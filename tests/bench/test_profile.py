"""Bench profiles: the shipped ones are valid down to every cell's spec and recipe parameters;
a bad profile is refused with the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_profile import TINY_PROFILE, write_profile

from sciml.bench import load_profile, profile_names
from sciml.bench.cells import Cell, cell_spec, model_section
from sciml.data.recipes.base import make_config
from sciml.spec import SpecError


@pytest.mark.parametrize("name", ["ci", "full"])
def test_every_cell_of_a_shipped_profile_is_a_valid_spec(name):
    profile = load_profile(name)
    assert name in profile_names()
    for bench_name, bench in profile.benchmarks.items():
        make_config(bench.recipe, bench.generate)  # RecipeError on a bad parameter
        for family in profile.models:
            spec = cell_spec(
                profile, Cell(bench_name, family, 0), Path("x.h5"), steps=3, device="cpu"
            )
            assert spec.model_name == family
            assert spec.trainer.max_steps == 3
            assert spec.evaluation.resolutions == bench.zero_shot


def test_model_options_come_from_the_profile_then_the_catalog_then_the_defaults(tmp_path):
    profile = write_profile(tmp_path)
    profile.benchmarks["poisson"].models["fno"] = {"n_modes": 2}
    assert model_section(profile, "poisson", "fno") == {
        "hidden_channels": 4,
        "n_layers": 1,
        "n_modes": 2,  # the benchmark's override
        "name": "fno",
    }
    # not in the profile: its catalog preset of the same name, else the constructor defaults
    assert model_section(profile, "poisson", "mgno") == {"preset": "mgno"}
    assert model_section(profile, "poisson", "nclaw") == {"name": "nclaw"}


def test_a_preset_of_another_family_is_refused(tmp_path):
    profile = write_profile(tmp_path)
    profile.models["fno"] = {"preset": "mgno"}
    with pytest.raises(SpecError, match="models.fno: its preset is a model of family 'mgno'"):
        cell_spec(profile, Cell("poisson", "fno", 0), Path("x.h5"), steps=3, device="cpu")


def test_a_misspelt_model_option_is_a_profile_error_not_a_skip(tmp_path):
    profile = write_profile(tmp_path)
    profile.models["fno"] = {"n_mode": 4}
    with pytest.raises(SpecError, match="model.n_mode: unknown key for model 'fno'"):
        cell_spec(profile, Cell("poisson", "fno", 0), Path("x.h5"), steps=3, device="cpu")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("budget: {steps: 5}", "budget: {}"), "exactly one of budget.steps"),
        (
            lambda t: t.replace("budget: {steps: 5}", "budget: {steps: 5, seconds: 3}"),
            "exactly one of budget.steps",
        ),
        (
            lambda t: t.replace("eval_every: 5}", "eval_every: 5, max_steps: 9}"),
            r"trainer: \['max_steps'\] are set by budget",
        ),
        (lambda t: t.replace("seeds: [0]", "seed: [0]"), "seed: Extra inputs are not permitted"),
        (
            lambda t: t.replace("recipe: poisson2d", "recipe: poisson2d\n    data: {}"),
            "poisson.data: duplicate key",
        ),
    ],
)
def test_a_bad_profile_is_refused_naming_the_file_and_key(tmp_path, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(TINY_PROFILE.format(budget="{steps: 5}")))
    with pytest.raises(SpecError, match=message) as err:
        load_profile(path)
    assert str(path) in str(err.value)


def test_an_unknown_profile_name_lists_the_shipped_ones():
    with pytest.raises(SpecError, match="unknown profile; shipped profiles: ci, full"):
        load_profile("cii")

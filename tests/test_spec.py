"""The YAML spec: presets, overrides, and one clear message per kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sciml.spec import SpecError, load_spec, parse_override, save_spec

VALID = """\
name: tiny
seed: 3
data:
  dataset: poisson2d
  path: data/p.h5
  inputs: [f]
  outputs: [u]
  n_train: 8
model:
  preset: fno
  n_modes: [4, 4]
trainer:
  epochs: 2
  batch_size: 4
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_spec_merges_model_preset_and_keeps_overrides(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert spec.model_name == "fno"
    assert spec.model["n_modes"] == [4, 4]  # spec key overrides the preset
    assert spec.model["n_layers"] == 4  # from the preset
    assert spec.trainer.epochs == 2 and spec.seed == 3


def test_set_overrides_are_parsed_as_yaml_and_applied_last(tmp_path):
    spec = load_spec(write(tmp_path, VALID), ["trainer.epochs=7", "model.hidden_channels=8"])
    assert spec.trainer.epochs == 7
    assert spec.model["hidden_channels"] == 8
    assert parse_override("optimizer.lr=1e-4") == (["optimizer", "lr"], 1e-4)


def test_resolved_spec_round_trips_through_save(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    out = tmp_path / "resolved.yaml"
    save_spec(spec, out)
    assert load_spec(out) == spec


def test_unknown_nested_key_names_file_line_path_and_suggestion(tmp_path):
    path = write(tmp_path, VALID.replace("  epochs: 2", "  epoch: 2"))
    with pytest.raises(
        SpecError,
        match=r"spec\.yaml:13: trainer\.epoch: unknown key\. Did you mean 'epochs'\? Allowed: epochs, max_steps",
    ):
        load_spec(path)


def test_unknown_top_level_key_lists_sections(tmp_path):
    path = write(tmp_path, VALID + "optimiser:\n  lr: 0.1\n")
    with pytest.raises(
        SpecError, match=r"spec\.yaml:15: optimiser: unknown key\. Did you mean 'optimizer'\?"
    ):
        load_spec(path)


def test_wrong_type_names_expected_type(tmp_path):
    path = write(tmp_path, VALID.replace("epochs: 2", "epochs: two"))
    with pytest.raises(SpecError, match=r"spec\.yaml:13: trainer\.epochs: .*expected int.*'two'"):
        load_spec(path)


def test_out_of_range_value_names_the_bound(tmp_path):
    path = write(tmp_path, VALID + "optimizer:\n  lr: -0.1\n")
    with pytest.raises(SpecError, match=r"spec\.yaml:16: optimizer\.lr: .*> 0\.0"):
        load_spec(path)


def test_invalid_choice_lists_allowed_values(tmp_path):
    path = write(tmp_path, VALID + "scheduler:\n  name: cosinus\n")
    with pytest.raises(
        SpecError,
        match=r"scheduler\.name: .*'none', 'cosine', 'step', 'plateau', 'exponential' or 'onecycle'",
    ):
        load_spec(path)


def test_unknown_model_name_lists_registered_models(tmp_path):
    path = write(tmp_path, VALID.replace("  preset: fno\n", "  name: fnoo\n"))
    with pytest.raises(
        SpecError,
        match=r"spec\.yaml:10: model\.name: unknown model 'fnoo'\. Did you mean 'fno'\? Registered models: .*deeponet.*fno",
    ):
        load_spec(path)


def test_unknown_model_key_lists_the_models_options(tmp_path):
    text = VALID.replace("  n_modes: [4, 4]\n", "  n_modes: [4, 4]\n  widht: 8\n")
    path = write(tmp_path, text)
    with pytest.raises(
        SpecError,
        match=r"model\.widht: unknown key for model 'fno'\. Did you mean 'width'\? Allowed: .*n_modes",
    ):
        load_spec(path)


def test_unknown_dataset_lists_recipes(tmp_path):
    path = write(tmp_path, VALID.replace("dataset: poisson2d", "dataset: poison2d"))
    with pytest.raises(
        SpecError,
        match=r"spec\.yaml:4: data\.dataset: unknown recipe 'poison2d'\. Did you mean 'poisson2d'\? Registered recipes: .*antiderivative",
    ):
        load_spec(path)


def test_unknown_loss_and_metric_list_registered_names(tmp_path):
    path = write(tmp_path, VALID + "  loss: l2\n")
    with pytest.raises(
        SpecError, match=r"trainer\.loss: unknown loss 'l2'.*Registered losses: .*relative_lp"
    ):
        load_spec(path)
    path = write(tmp_path, VALID + "evaluation:\n  metrics: [relative_l2, nrsme]\n")
    with pytest.raises(
        SpecError,
        match=r"spec\.yaml:16: evaluation\.metrics\.1: unknown metric 'nrsme'\. Did you mean 'nrmse'\?",
    ):
        load_spec(path)


def test_missing_required_key_is_named(tmp_path):
    path = write(tmp_path, VALID.replace("  outputs: [u]\n", ""))
    with pytest.raises(SpecError, match=r"data\.outputs: required key is missing"):
        load_spec(path)


def test_model_without_name_or_preset_is_refused(tmp_path):
    path = write(tmp_path, VALID.replace("  preset: fno\n", ""))
    with pytest.raises(SpecError, match=r"spec\.yaml:9: model\.name: required key is missing"):
        load_spec(path)


def test_unknown_preset_lists_available_presets(tmp_path):
    path = write(tmp_path, VALID.replace("preset: fno", "preset: fn0"))
    with pytest.raises(
        SpecError, match=r"unknown model preset 'fn0'\. Did you mean 'fno'\? Available: .*fno"
    ):
        load_spec(path)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, VALID.replace("  batch_size: 4", "  batch_size: [4"))
    with pytest.raises(SpecError, match=r"spec\.yaml:\d+: invalid YAML"):
        load_spec(path)


def test_spec_must_be_a_mapping_and_must_exist(tmp_path):
    with pytest.raises(SpecError, match="a spec must be a YAML mapping"):
        load_spec(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(SpecError, match="nope.yaml: spec file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_malformed_set_override_is_explained(tmp_path):
    with pytest.raises(SpecError, match=r"--set 'trainer\.epochs': expected KEY\.PATH=VALUE"):
        load_spec(write(tmp_path, VALID), ["trainer.epochs"])
    with pytest.raises(SpecError, match=r"--set trainer\.epochs\.x: 'epochs' is not a section"):
        load_spec(write(tmp_path, VALID), ["trainer.epochs.x=1"])


def test_the_anchors_training_setup_is_expressible_and_reaches_the_trainer_config(tmp_path):
    text = VALID + textwrap.dedent(
        """\
        optimizer: {name: adamw, lr: 0.01, eps: 1.0e-6, betas: [0.8, 0.99],
                    param_groups: [{match: norm, weight_decay: 0.0}]}
        scheduler: {name: cosine, interval: epoch, horizon: 30}
        """
    )
    text = text.replace("  outputs: [u]\n", "  outputs: [u]\n  shuffle: false\n")
    text = text.replace(
        "trainer:\n", "trainer:\n  loss: [mse, {name: h1, periodic: false, weight: 0.1}]\n"
    )
    spec = load_spec(write(tmp_path, text))
    config = spec.trainer_config()
    assert (config.optimizer, config.lr, config.eps, config.betas) == (
        "adamw",
        0.01,
        1e-6,
        (0.8, 0.99),
    )
    assert config.param_groups == ({"match": "norm", "weight_decay": 0.0},)
    assert (config.scheduler, config.interval, config.horizon) == ("cosine", "epoch", 30)
    assert config.shuffle is False and config.seed == 3
    assert spec.trainer.loss == ["mse", {"name": "h1", "periodic": False, "weight": 0.1}]


def test_trainer_defaults_have_one_source():
    from sciml.spec import Spec
    from sciml.training.config import TrainerConfig

    spec = Spec.model_validate(
        {"data": {"dataset": "x", "inputs": ["a"], "outputs": ["b"]}, "model": {"name": "fno"}}
    )
    assert spec.trainer_config() == TrainerConfig()


def test_a_loss_option_typo_names_the_line_and_the_valid_options(tmp_path):
    path = write(
        tmp_path, VALID.replace("trainer:\n", "trainer:\n  loss: {name: h1, periodc: false}\n")
    )
    with pytest.raises(
        SpecError, match=r"spec\.yaml:\d+: trainer\.loss: unknown h1 option.*'periodic'"
    ):
        load_spec(path)

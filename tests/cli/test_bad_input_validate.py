"""`sciml validate` (and every command that reads a spec) with a bad spec or a bad --set."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from bad_input import Case, run

SPEC = """\
name: tiny
data:
  dataset: poisson2d
  path: p.h5
  inputs: [f]
  outputs: [u]
model:
  name: fno
  n_modes: [4, 4]
  hidden_channels: 8
  n_layers: 2
trainer:
  epochs: 3
  batch_size: 8
"""

NOT_FOUND = Case(
    "sciml validate",
    "the spec file does not exist",
    "sciml validate nope.yaml",
    "sciml validate: error: nope.yaml: spec file not found",
)
A_FOLDER = Case(
    "sciml validate",
    "the spec path is a folder",
    "sciml validate specs",
    "sciml validate: error: specs: is a folder, not a spec file",
)
TOO_LARGE = Case(
    "sciml validate",
    "a 100 MB document (refused before it is read)",
    "sciml validate huge.yaml",
    "sciml validate: error: huge.yaml: 100.0 MB is too large for a spec (limit 1 MB); is this "
    "the right file?",
)
ALIAS_BOMB = Case(
    "sciml validate",
    "a YAML alias bomb (billion laughs)",
    "sciml validate bomb.yaml",
    "sciml validate: error: bomb.yaml: the YAML expands to 12,345,679,021 nodes through aliases "
    "(*name); a spec may have at most 100,000 (an alias bomb?)",
)
DUPLICATE_KEY = Case(
    "sciml validate",
    "a key given twice (YAML would keep the last one silently)",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:15: trainer.epochs: duplicate key (first at line 13); "
    "YAML would keep only the last one, so remove one of them",
)
INVALID_YAML = Case(
    "sciml validate",
    "a YAML syntax error",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:15: invalid YAML: expected ',' or ']', but got '<stream "
    "end>'",
)
NOT_TEXT = Case(
    "sciml validate",
    "a binary file given as the spec",
    "sciml validate model.pt",
    "sciml validate: error: model.pt: not a UTF-8 text file (byte 0: invalid start byte)",
)
NAME_ESCAPES = Case(
    "sciml validate",
    "name: ../../x would put the run outside runs/",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:1: name: '../../x' is not a plain name: it becomes the "
    "folder runs/<name>, so use up to 128 letters, digits and . _ + - (no '/', '\\', '..' or "
    "spaces), e.g. 'fno-darcy'; got '../../x'",
)
PRESET_TYPO = Case(
    "sciml validate",
    "preste: instead of preset: in the model section",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:8: model.preste: unknown key. Did you mean 'preset'? (the "
    "model section needs name: (a model: …) or preset: (one of …fno…))",
)
DATA_PRESET_TYPO = Case(
    "sciml validate",
    "preste: instead of preset: in the data section",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:3: data.preste: unknown key. Did you mean 'preset'? "
    "Allowed: dataset, path, …, preset",
)
UNKNOWN_KEY = Case(
    "sciml validate",
    "a misspelt key",
    "sciml validate spec.yaml",
    "sciml validate: error: spec.yaml:13: trainer.epoch: unknown key. Did you mean 'epochs'? "
    "Allowed: epochs, …",
)
SET_LIST_INDEX = Case(
    "sciml validate",
    "--set into a list index past its end",
    "sciml validate spec.yaml --set model.n_modes.2=8",
    "sciml validate: error: --set model.n_modes.2: model.n_modes is a list of 2 items; index it "
    "with 0..1, or set the whole list: --set model.n_modes=[...]",
)
SET_ONTO_SECTION = Case(
    "sciml validate",
    "--set a value onto a whole section",
    "sciml validate spec.yaml --set trainer=5",
    "sciml validate: error: --set trainer=5: trainer is a section (keys: epochs, …), not a "
    "value; set one of its keys, e.g. --set trainer.epochs=...",
)
SET_THROUGH_VALUE = Case(
    "sciml validate",
    "--set a key below a value",
    "sciml validate spec.yaml --set trainer.epochs.x=1",
    "sciml validate: error: --set trainer.epochs.x: 'epochs' is not a section: trainer.epochs "
    "holds the value 3; set it with --set trainer.epochs=VALUE",
)
SET_BAD_YAML = Case(
    "sciml validate",
    "--set with a value that is broken YAML",
    "sciml validate spec.yaml --set 'model.n_modes=[8,8'",
    "sciml validate: error: --set 'model.n_modes=[8,8': value is not valid YAML (expected ',' or "
    "']', but got '<stream end>'); for a list write [8, 8], for text that looks like YAML quote "
    "it: model.n_modes='\"...\"'",
)
SET_UNKNOWN_KEY = Case(
    "sciml validate",
    "--set a misspelt key (the message points at the --set, not the file)",
    "sciml validate spec.yaml --set trainer.epoch=5",
    "sciml validate: error: --set trainer.epoch=5: trainer.epoch: unknown key. Did you mean "
    "'epochs'? Allowed: epochs, …",
)
SET_WRONG_TYPE = Case(
    "sciml validate",
    "--set a value of the wrong type",
    "sciml validate spec.yaml --set trainer.batch_size=big",
    "sciml validate: error: --set trainer.batch_size=big: trainer.batch_size: Input should be a "
    "valid integer, unable to parse string as an integer (expected int (≥ 1)); got 'big'",
)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_spec(folder: Path, text: str = SPEC) -> str:
    (folder / "spec.yaml").write_text(text)
    return "spec.yaml"


def test_missing_folder_and_binary_spec_files(capsys, in_tmp):
    NOT_FOUND.check(*run(capsys, "validate", "nope.yaml")[::2])
    (in_tmp / "specs").mkdir()
    A_FOLDER.check(*run(capsys, "validate", "specs")[::2])
    (in_tmp / "model.pt").write_bytes(b"\x80\x02}q\x00" * 10)
    NOT_TEXT.check(*run(capsys, "validate", "model.pt")[::2])


def test_a_100_mb_document_is_refused_before_it_is_read(capsys, in_tmp):
    with open(in_tmp / "huge.yaml", "wb") as fh:
        fh.truncate(100_000_000)  # sparse: the size is what is checked
    started = time.perf_counter()
    code, _, err = run(capsys, "validate", "huge.yaml")
    assert time.perf_counter() - started < 1.0
    TOO_LARGE.check(code, err)


def test_an_alias_bomb_is_refused_quickly(capsys, in_tmp):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    (in_tmp / "bomb.yaml").write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    code, _, err = run(capsys, "validate", "bomb.yaml")
    assert time.perf_counter() - started < 1.0
    ALIAS_BOMB.check(code, err)


def test_a_repeated_key_is_an_error_not_last_wins(capsys, in_tmp):
    write_spec(in_tmp, SPEC + "  epochs: 30\n")
    DUPLICATE_KEY.check(*run(capsys, "validate", "spec.yaml")[::2])


def test_yaml_syntax_error_names_the_line(capsys, in_tmp):
    write_spec(in_tmp, SPEC.replace("  batch_size: 8", "  batch_size: [8"))
    INVALID_YAML.check(*run(capsys, "validate", "spec.yaml")[::2])


def test_a_name_that_leaves_runs_is_refused_and_nothing_is_written(capsys, in_tmp, poisson_file):
    shutil.copy(poisson_file, in_tmp / "p.h5")
    write_spec(in_tmp, SPEC.replace("name: tiny", "name: ../../x"))
    NAME_ESCAPES.check(*run(capsys, "validate", "spec.yaml")[::2])
    code, _, err = run(capsys, "train", "spec.yaml", "--quiet")
    assert code == 2 and "is not a plain name" in err
    assert sorted(p.name for p in in_tmp.iterdir()) == ["p.h5", "spec.yaml"]
    assert not (in_tmp.parent.parent / "x").exists()


@pytest.mark.parametrize("name", ["a/b", "..", "with space", "/abs", "x" * 129, ".hidden"])
def test_other_non_plain_names_are_refused(capsys, in_tmp, name):
    write_spec(in_tmp, SPEC.replace("name: tiny", f"name: '{name}'"))
    code, _, err = run(capsys, "validate", "spec.yaml")
    assert code == 2 and "is not a plain name" in err and "Traceback" not in err


def test_preset_typos_suggest_preset(capsys, in_tmp):
    write_spec(in_tmp, SPEC.replace("  name: fno\n", "  preste: fno\n"))
    PRESET_TYPO.check(*run(capsys, "validate", "spec.yaml")[::2])
    write_spec(in_tmp, SPEC.replace("  dataset: poisson2d\n", "  preste: poisson2d\n"))
    DATA_PRESET_TYPO.check(*run(capsys, "validate", "spec.yaml")[::2])


def test_misspelt_key_suggests_the_right_one(capsys, in_tmp):
    write_spec(in_tmp, SPEC.replace("  epochs: 3", "  epoch: 3"))
    UNKNOWN_KEY.check(*run(capsys, "validate", "spec.yaml")[::2])


@pytest.mark.parametrize(
    ("case", "override"),
    [
        (SET_LIST_INDEX, "model.n_modes.2=8"),
        (SET_ONTO_SECTION, "trainer=5"),
        (SET_THROUGH_VALUE, "trainer.epochs.x=1"),
        (SET_BAD_YAML, "model.n_modes=[8,8"),
        (SET_UNKNOWN_KEY, "trainer.epoch=5"),
        (SET_WRONG_TYPE, "trainer.batch_size=big"),
    ],
)
def test_bad_set_overrides(capsys, in_tmp, case, override):
    write_spec(in_tmp)
    case.check(*run(capsys, "validate", "spec.yaml", "--set", override)[::2])


def test_set_takes_yaml_lists_and_list_indices_even_into_a_preset(capsys, in_tmp):
    from sciml.spec import load_preset, load_spec

    write_spec(in_tmp)
    spec = load_spec("spec.yaml", ["model.n_modes=[8,8]", "data.inputs.0=u"])
    assert spec.model["n_modes"] == [8, 8] and spec.data.inputs == ["u"]
    # the preset's list is there to index: presets are resolved before the other overrides
    write_spec(in_tmp, SPEC.replace("  name: fno\n  n_modes: [4, 4]\n", "  preset: fno\n"))
    spec = load_spec("spec.yaml", ["model.n_modes.1=2"])
    assert spec.model["n_modes"] == [load_preset("models", "fno")["n_modes"][0], 2]

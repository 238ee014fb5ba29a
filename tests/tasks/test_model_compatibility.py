"""Which model families a task can train: ``Task.model_problem`` (the constructor takes the
keywords the data fills) and ``Task.check_inputs`` (the built model takes only inputs the task's
batches hold), the seam ``sciml bench`` uses to skip a family with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import sciml
from sciml.spec import SpecError
from sciml.tasks import task_for


def _spec(data: Path, kind: str, model: str, **options: object):
    lines = "".join(f"\n  {k}: {v}" for k, v in options.items())
    text = f"""\
data:
  dataset: burgers1d
  path: {data}
  kind: {kind}
  inputs: [u]
  outputs: [u]
  n_test: 2
model:
  name: {model}{lines}
trainer: {{epochs: 1, batch_size: 4, progress: false}}
"""
    return sciml.load_spec(text=text)


def test_a_field_task_accepts_grid_families_and_names_what_others_lack(burgers_file: Path):
    task = task_for(_spec(burgers_file, "grid_pair", "fno", n_modes="[4]"))
    assert task.model_problem("fno") is None
    assert task.model_problem("gaussian_ensemble") is None
    reason = task.model_problem("nclaw")
    assert reason is not None
    assert "'nclaw' constructor takes no in_channels, out_channels, n_dims" in reason


def test_a_model_with_inputs_the_task_lacks_is_refused_when_built(burgers_file: Path):
    from sciml import workflow

    # fno_time takes (x, t): a grid_pair batch has no lead time
    spec = _spec(burgers_file, "grid_pair", "fno_time", n_modes="[4]", hidden_channels=4)
    with pytest.raises(SpecError, match=r"takes the inputs \['x', 't'\].*'field_operator'"):
        workflow.check(spec)
    # the same family on all2all pairs (lead time dt) builds
    ok = _spec(burgers_file, "all2all", "fno_time", n_modes="[4]", hidden_channels=4)
    assert workflow.check(ok)["n_parameters"] > 0


def test_a_model_without_a_lead_time_input_is_refused_by_the_time_conditioned_task(
    burgers_file: Path,
):
    from sciml import workflow

    spec = _spec(burgers_file, "all2all", "fno", n_modes="[4]", hidden_channels=4)
    with pytest.raises(SpecError, match="takes \\(x, t\\)"):
        workflow.check(spec)


@pytest.mark.parametrize(
    ("kind", "inputs", "fits", "refused"),
    [
        ("particle_window", "[position]", "gns", "'fno' constructor takes no dim, bounds"),
        (
            "particle_trajectory",
            "[position, velocity, affine, deformation, mass, volume]",
            "learned_mpm",
            "'gns' constructor takes no simulation",
        ),
    ],
)
def test_a_learned_simulator_takes_the_families_built_from_its_particle_data(
    tmp_path, kind, inputs, fits, refused
):
    text = f"""\
data: {{path: {tmp_path / "p.h5"}, kind: {kind}, inputs: {inputs}, outputs: [position]}}
model: {{name: {fits}}}
"""
    task = task_for(sciml.load_spec(text=text, check_names=False))
    assert task.name == "learned_simulator"
    assert task.model_problem(fits) is None
    other = refused.split("'")[1]
    assert refused in task.model_problem(other)

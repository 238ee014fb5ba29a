"""LearnedMPM: teacher-forced and free rollouts, the reset schedule, optimizer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.data.particle_states import STATE_KEYS, ParticleTrajectoryDataset
from sciml.data.recipes.base import generate
from sciml.models.learned_mpm import LearnedMPM, build_learned_mpm, simulation_settings
from sciml.solvers.mpm.materials import make_material

E_JELLY = 2e4


@pytest.fixture(scope="module")
def jelly_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two jelly trajectories with the full state saved every second step (8 frames)."""
    path = tmp_path_factory.mktemp("mpm") / "jelly.h5"
    config = {
        "n_samples": 2,
        "materials": ["jelly"],
        "e_scale_range": [E_JELLY / 1e5, E_JELLY / 1e5],
        "particles_per_side": 5,
        "grid_n": 16,
        "dt": 1e-3,
        "n_steps": 14,
        "save_every": 2,
        "save_state": True,
    }
    return generate("mpm2d", path, config, progress=False)


def _batch(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    ds = ParticleTrajectoryDataset(path, split="all", dtype=torch.float64)
    return ds.tensors(), simulation_settings(ds.file.config, ds.dim)


@pytest.mark.parametrize("interval", [1, 3, 7])
def test_teacher_forcing_with_the_true_law_reproduces_the_data(jelly_file: Path, interval: int):
    """With the generating law, every reset segment retraces the ground truth: the batched
    segments are cut, started and reassembled in the right places."""
    batch, sim = _batch(jelly_file)
    model = LearnedMPM(make_material("jelly", E=E_JELLY), sim).double().train()
    model.reset_interval = interval
    pred = model(*[batch[k] for k in STATE_KEYS])
    assert pred.shape == batch["y"].shape == (2, 7, 25, 2)
    # the file stores float32: the states the segments start from are rounded to ~1e-7 m
    torch.testing.assert_close(pred, batch["y"], rtol=0, atol=1e-6)


def test_free_rollout_in_eval_mode_starts_from_the_first_frame_only(jelly_file: Path):
    batch, sim = _batch(jelly_file)
    model = LearnedMPM(make_material("jelly", E=E_JELLY), sim).double().eval()
    inputs = [batch[k] for k in STATE_KEYS]
    inputs[0] = inputs[0].clone()
    inputs[0][:, 1:] += 1.0  # later frames must not be read
    torch.testing.assert_close(model(*inputs), batch["y"], rtol=0, atol=1e-6)


def test_a_wrong_law_does_not_reproduce_the_data(jelly_file: Path):
    batch, sim = _batch(jelly_file)
    model = LearnedMPM(make_material("jelly", E=4 * E_JELLY), sim).double().eval()
    assert (model(*[batch[k] for k in STATE_KEYS]) - batch["y"]).abs().max() > 1e-5


def test_reset_interval_follows_a_cosine_from_start_to_end():
    model = build_learned_mpm(
        {"dim": 2, "grid_n": 16, "dt": 1e-3, "substeps": 1}, teacher_forcing=(25, 200)
    )
    seen = []
    for fraction in (0.0, 0.5, 1.0, 2.0):
        model.set_training_progress(fraction)
        seen.append(model.reset_interval)
    assert seen == [25, 112, 200, 200]


def test_plastic_network_gets_a_scaled_learning_rate():
    model = build_learned_mpm(
        {"dim": 2, "grid_n": 16, "dt": 1e-3, "substeps": 1},
        law_options={"plastic": True},
        plastic_lr_scale=0.1,
    )
    groups = model.parameter_groups(1.0)
    assert [g["lr"] for g in groups] == [1.0, 0.1]
    plastic = {id(p) for p in model.law.plastic.parameters()}
    assert {id(p) for p in groups[1]["params"]} == plastic
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_teacher_forcing_without_saved_state_says_how_to_get_it(tmp_path: Path):
    path = generate(
        "mpm2d",
        tmp_path / "plain.h5",
        {
            "n_samples": 1,
            "particles_per_side": 3,
            "grid_n": 16,
            "n_steps": 4,
            "save_every": 1,
            "dt": 1e-3,
        },
        progress=False,
    )
    batch, sim = _batch(path)
    model = build_learned_mpm(sim, law_options={"plastic": False}).double().train()
    with pytest.raises(ValueError, match="save_state=true"):
        model(*[batch[k] for k in STATE_KEYS])


def test_gradient_of_the_rollout_loss_reaches_the_law(jelly_file: Path):
    batch, sim = _batch(jelly_file)
    model = build_learned_mpm(sim, law_options={"plastic": False}, checkpoint_every=3)
    model = model.double().train()
    model.reset_interval = 4
    loss = (model(*[batch[k] for k in STATE_KEYS]) - batch["y"]).square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0

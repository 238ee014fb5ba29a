"""LearnedMPM: teacher-forced and free rollouts, the reset schedule, optimizer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

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


class _LawBreakingWhenStretched(nn.Module):
    """Jelly with a learnable stiffness factor whose stress is NaN wherever ``F₀₀ > 1.5``."""

    def __init__(self) -> None:
        super().__init__()
        self.jelly = make_material("jelly", E=E_JELLY)
        self.scale = nn.Parameter(torch.tensor(1.0))

    def stress(self, F: torch.Tensor) -> torch.Tensor:
        tau = self.scale * self.jelly.stress(F)
        return torch.where(F[..., :1, :1] > 1.5, torch.nan, tau)

    def project(self, F: torch.Tensor) -> torch.Tensor:
        return F


@pytest.mark.parametrize("diverged_segments", ["stop", "skip"])
def test_diverged_segments_stop_the_step_or_are_skipped_and_counted(
    jelly_file: Path, diverged_segments: str
):
    """Segments start at frames 0, 3, 6; the ground-truth F of scene 0 at frame 3 is made one the
    law cannot simulate, so exactly that segment blows up."""
    batch, sim = _batch(jelly_file)
    deformation = batch["deformation"].clone()
    deformation[0, 3, :, 0, 0] = 2.0
    batch["deformation"] = deformation
    model = (
        LearnedMPM(_LawBreakingWhenStretched(), sim, diverged_segments=diverged_segments)
        .double()
        .train()
    )
    model.reset_interval = 3
    pred = model(*[batch[k] for k in STATE_KEYS])
    if diverged_segments == "stop":
        assert torch.isnan(pred).any()
        assert model.training_statistics() == {"skipped_segments": 0.0}
        return
    assert model.training_statistics() == {"skipped_segments": 1.0}
    assert model.training_statistics() == {"skipped_segments": 0.0}  # counts since the last call
    # the skipped segment (frames 4..6 of scene 0 = outputs 3..5) is the detached ground truth
    assert torch.equal(pred[0, 3:6], batch["y"][0, 3:6])
    # every other segment was simulated with the (true) law
    torch.testing.assert_close(pred, batch["y"], rtol=0, atol=1e-6)
    (g_skip,) = torch.autograd.grad((pred - batch["y"]).square().sum(), model.law.scale)
    assert torch.isfinite(g_skip) and g_skip != 0
    # the gradient is that of the kept segments alone: the same frames of a clean run, with the
    # broken segment's frames left out of the loss by hand
    clean = LearnedMPM(_LawBreakingWhenStretched(), sim).double().train()
    clean.reset_interval = 3
    full = clean(*[_batch(jelly_file)[0][k] for k in STATE_KEYS])
    mask = torch.ones_like(full)
    mask[0, 3:6] = 0
    (g_kept,) = torch.autograd.grad(((full - batch["y"]).square() * mask).sum(), clean.law.scale)
    torch.testing.assert_close(g_skip, g_kept, rtol=1e-10, atol=0)


def test_unknown_diverged_segments_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"diverged_segments must be one of \['stop', 'skip'\]"):
        build_learned_mpm(
            {"dim": 2, "grid_n": 16, "dt": 1e-3, "substeps": 1}, diverged_segments="nan"
        )

"""GNS through the learned-simulator task: trains, evaluates and loads from a spec, bit-identical
to training it by hand (examples/nclaw/baselines.py, the direct path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml

import sciml
from sciml.data.particles import ParticleStats, particle_spacing, read_positions
from sciml.models.gns import GNS
from sciml.spec import SpecError

EXAMPLES = Path(__file__).parents[2] / "examples"
GENERATE = {
    "n_samples": 1,
    "materials": ["jelly"],
    "particles_per_side": 4,
    "grid_n": 16,
    "dt": 1e-3,
    "n_steps": 24,
    "save_every": 1,
    "e_scale_range": [0.2, 0.2],
}


@pytest.fixture(scope="module")
def jelly_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gns") / "jelly.h5"
    sciml.generate("mpm2d", path, GENERATE, progress=False)
    return path


def _spec(data: Path, radius: float, noise: float, *extra: str):
    spec = yaml.safe_load((EXAMPLES / "gns_jelly.yaml").read_text())
    spec["data"].update(path=str(data), generate=GENERATE)
    spec["data"]["options"]["n_frames"] = 16
    spec["model"].update(radius=radius, noise_std=noise, latent=8, n_message_passing=1)
    spec["trainer"].update(max_steps=6, log_every=1, eval_every=3, checkpoint_every=6)
    spec["trainer"]["progress"] = False
    return sciml.load_spec(text=yaml.safe_dump(spec), overrides=list(extra))


def test_gns_from_a_spec_matches_the_direct_path_bit_for_bit(jelly_file: Path, tmp_path):
    sys.path.insert(0, str(EXAMPLES / "nclaw"))
    try:
        from baselines import gns_position_mse, train_gns
    finally:
        sys.path.remove(str(EXAMPLES / "nclaw"))
    positions = read_positions(jelly_file, [0], 16)
    radius = 3.0 * particle_spacing(positions[0, 0])
    noise = 0.1 * float(ParticleStats.fit(positions, 1).acceleration_std.mean())
    direct = train_gns(
        jelly_file, tmp_path / "direct", steps=6, seed=0, n_frames=16, latent=8,
        n_message_passing=1,
    )  # fmt: skip
    sciml.train(_spec(jelly_file, radius, noise), tmp_path / "spec", progress=False)

    ours = torch.load(tmp_path / "spec/checkpoints/last.pt", weights_only=True)["model"]
    theirs = torch.load(tmp_path / "direct/checkpoints/last.pt", weights_only=True)["model"]
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key

    loaded = sciml.load(tmp_path / "spec", checkpoint="last")
    assert isinstance(loaded, GNS) and not loaded.training
    report = sciml.evaluate(tmp_path / "spec", checkpoint="last", out_dir=tmp_path / "eval")
    test = report.sections["test"]
    assert test["rollout_frames"] == 25 - 6  # the whole horizon after the 6 history frames
    assert test["position_mse"] == pytest.approx(
        gns_position_mse(direct, jelly_file, 0, 25), rel=1e-6
    )
    assert (tmp_path / "eval" / "position_mse.csv").is_file()


def test_particle_windows_need_position_in_and_out(jelly_file: Path, tmp_path):
    spec = _spec(jelly_file, 0.1, 0.0, "data.inputs=[position, velocity]")
    with pytest.raises(SpecError, match=r"use inputs: \['position'\] and outputs: \['position'\]"):
        sciml.train(spec, tmp_path / "run", progress=False)


def test_a_gns_run_cannot_be_exported_and_says_why(jelly_file: Path, tmp_path):
    sciml.train(_spec(jelly_file, 0.1, 0.0), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match=r"learned_simulator' task cannot be exported"):
        sciml.export(tmp_path / "run")


def test_a_constraint_on_particle_data_is_refused_not_ignored(jelly_file: Path, tmp_path):
    spec = _spec(jelly_file, 0.1, 0.0, "constraint={name: mass_projection}")
    with pytest.raises(SpecError, match=r"constraint: task 'learned_simulator' steps particle"):
        sciml.train(spec, tmp_path / "run", progress=False)

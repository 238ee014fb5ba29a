"""Spec → train → evaluate → load for a learned simulator (NCLaw on MPM particle trajectories)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import sciml
from sciml.data.format import DataFileError
from sciml.data.particle_vtu import read_particle_series
from sciml.models.learned_mpm import LearnedMPM
from sciml.solvers.mpm import MPMSimulator, MPMState
from sciml.spec import SpecError

SPEC = {
    "name": "nclaw_tiny",
    "seed": 0,
    "data": {
        "dataset": "mpm2d",
        "generate": {
            "n_samples": 1,
            "materials": ["jelly"],
            "particles_per_side": 4,
            "grid_n": 16,
            "dt": 1e-3,
            "n_steps": 12,
            "save_every": 1,
            "e_scale_range": [0.2, 0.2],
            "save_state": True,
        },
        "kind": "particle_trajectory",
        "inputs": ["position", "velocity", "affine", "deformation", "mass", "volume"],
        "outputs": ["position"],
        "options": {"n_frames": 7},
    },
    "model": {
        "name": "learned_mpm",
        "law": "nclaw",
        "law_options": {"plastic": True},
        "teacher_forcing": [2, 6],
        "checkpoint_every": 3,
    },
    "optimizer": {"lr": 1.0},
    "scheduler": {"name": "cosine"},
    "trainer": {
        "epochs": 4,
        "batch_size": 1,
        "loss": "trajectory_mse",
        "grad_clip": 0.1,
        "dtype": "float64",
        "eval_every": 2,
        "checkpoint_every": 2,
        "progress": False,
    },
    "evaluation": {"metrics": ["position_mse"]},
}


@pytest.fixture(scope="module")
def nclaw_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nclaw")
    spec = json.loads(json.dumps(SPEC))
    spec["data"]["path"] = str(root / "jelly.h5")
    sciml.generate("mpm2d", spec["data"]["path"], spec["data"]["generate"], progress=False)
    spec_file = root / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    run_dir = root / "run"
    sciml.train(sciml.load_spec(spec_file), run_dir, progress=False)
    return run_dir


def test_training_writes_a_run_with_the_simulation_settings_of_the_data(nclaw_run: Path):
    info = json.loads((nclaw_run / "model.json").read_text())
    assert info["kwargs"]["simulation"] == {
        "dim": 2,
        "grid_n": 16,
        "dt": 1e-3,
        "substeps": 1,
        "walls": "separate",
        "gravity": None,
    }
    rows = (nclaw_run / "metrics.csv").read_text().splitlines()
    assert len(rows) > 1 and (nclaw_run / "checkpoints" / "best.pt").exists()
    # the model's training statistics are a column of the log (none skipped in "stop" mode)
    assert rows[0].endswith(",skipped_segments")
    assert all(row.endswith(",0.0") for row in rows[1:])


def test_evaluation_reports_free_rollout_position_errors_over_the_whole_horizon(nclaw_run: Path):
    report = sciml.evaluate(nclaw_run)
    test = report.sections["test"]
    assert test["rollout_frames"] == test["finite_frames"] == 12  # trained on 7 of 13 frames
    assert test["final_position_mse"] > 0 and test["position_mse"] < 1.0
    assert {p.name for p in report.figures} == {"position_mse.png", "particles.png"}
    assert "position_mse" in report.markdown_path.read_text()
    rows = (nclaw_run / "eval" / "position_mse.csv").read_text().splitlines()
    assert rows[0] == "frame,time,position_mse" and len(rows) == 13
    assert rows[-1].startswith("12,0.012,")


def test_evaluation_writes_the_rollouts_for_paraview(nclaw_run: Path, tmp_path: Path):
    sciml.evaluate(nclaw_run, out_dir=tmp_path, vtu=1)
    folder = tmp_path / "vtu" / "trajectory_000"
    times, x, data = read_particle_series(folder / "prediction.pvd")
    _, truth, _ = read_particle_series(folder / "truth.pvd")
    assert x.shape == truth.shape and x.shape[0] == 12  # the 12 rollout frames
    np.testing.assert_allclose(times, 1e-3 * np.arange(1, 13), rtol=1e-6)
    np.testing.assert_allclose(
        data["error"], np.linalg.norm(x - truth, axis=-1), rtol=1e-5, atol=1e-9
    )


def test_load_gives_a_simulator_that_steps_new_states(nclaw_run: Path):
    model = sciml.load(nclaw_run, dtype=torch.float64)
    assert isinstance(model, LearnedMPM) and not model.training
    assert isinstance(model.simulator, MPMSimulator)
    # another body: more particles, another place, at rest
    x = 0.4 + 0.2 * torch.rand(1, 50, 2, dtype=torch.float64)
    state = MPMState.create(x, density=1e3, particle_volume=1e-4)
    out = model.simulator.rollout(state, 5, dt=1e-3)
    assert out.x.shape == (1, 6, 50, 2) and torch.isfinite(out.x).all()


def test_wrong_inputs_for_a_learned_simulator_are_refused(tmp_path: Path):
    spec = json.loads(json.dumps(SPEC))
    spec["data"]["inputs"] = ["position"]
    spec["data"]["path"] = str(tmp_path / "none.h5")
    (tmp_path / "none.h5").write_bytes(b"")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match=r"data\.inputs/outputs: .*particle_trajectory"):
        sciml.train(sciml.load_spec(spec_file), tmp_path / "run", progress=False)


def test_a_test_file_simulated_differently_is_refused(nclaw_run: Path, tmp_path: Path):
    other = dict(SPEC["data"]["generate"], dt=5e-4)
    path = sciml.generate("mpm2d", tmp_path / "other.h5", other, progress=False)
    with pytest.raises(DataFileError, match=r"other MPM settings .*'dt': \(0\.001, 0\.0005\)"):
        sciml.evaluate(nclaw_run, data=path, out_dir=tmp_path / "eval")


def test_without_a_best_checkpoint_the_error_points_to_the_last(nclaw_run: Path, tmp_path: Path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(nclaw_run, run)
    (run / "checkpoints" / "best.pt").unlink()
    with pytest.raises(sciml.embed.RunDirError, match=r"use the last checkpoint"):
        sciml.evaluate(run)
    report = sciml.evaluate(run, checkpoint="last")
    assert report.sections["test"]["finite_frames"] == 12

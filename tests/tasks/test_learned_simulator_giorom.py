"""GIOROM through the learned-simulator task: sparse sampling in the data (before windowing), the
stepper and the dense reconstruction trained in one run from a spec, evaluation on the sampled and
on every particle, and the loaded reduced-order simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import sciml
from sciml.data.particle_vtu import read_particle_series
from sciml.data.particles import ParticleWindowSplit, read_positions, sparse_positions
from sciml.models.giorom import GIOROM, ReducedOrderSimulator, make_sampler
from sciml.spec import SpecError

EXAMPLES = Path(__file__).parents[2] / "examples"
GENERATE = {
    "n_samples": 3,
    "materials": ["jelly"],
    "particles_per_side": 8,
    "grid_n": 16,
    "dt": 1e-3,
    "n_steps": 16,
    "save_every": 1,
    "e_scale_range": [0.2, 0.2],
}
SMALL = {
    "radius": 0.3,
    "latent": 8,
    "n_hidden": 1,
    "grid_size": 8,
    "fno_modes": 4,
    "fno_width": 8,
    "fno_layers": 1,
    "gno_kernel_hidden": [8],
    "reconstruction": {"k": 4, "hidden": 8, "lift": 4, "bandwidth": 0.05},
}


@pytest.fixture(scope="module")
def jelly_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("giorom") / "jelly.h5"
    sciml.generate("mpm2d", path, GENERATE, progress=False)
    return path


def _spec(data: Path, *extra: str, model: dict | None = None):
    spec = yaml.safe_load((EXAMPLES / "giorom_jelly.yaml").read_text())
    spec["data"].update(path=str(data), generate=GENERATE, n_train=2, n_test=1, n_val=1)
    spec["data"]["options"]["sampling"] = {"method": "fps", "ratio": 0.25}
    spec["model"] = {"name": "giorom", **spec["model"], **SMALL, **(model or {})}
    spec["trainer"].update(max_steps=4, log_every=1, eval_every=2, checkpoint_every=4)
    spec["trainer"]["progress"] = False
    return sciml.load_spec(text=yaml.safe_dump(spec), overrides=list(extra))


def test_spec_trains_both_parts_evaluates_and_loads(jelly_file: Path, tmp_path) -> None:
    sciml.train(_spec(jelly_file), tmp_path / "run", progress=False)
    log = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert {"loss_stepper", "loss_reconstruction"} <= set(log[0].split(","))

    report = sciml.evaluate(tmp_path / "run", checkpoint="last", out_dir=tmp_path / "eval", vtu=1)
    test = report.sections["test"]
    # --vtu: the reconstructed body, the stepped particles and the dense truth of trajectory 0
    folder = tmp_path / "eval" / "vtu" / "trajectory_000"
    _, dense_x, dense_data = read_particle_series(folder / "dense.pvd")
    _, truth_x, _ = read_particle_series(folder / "truth.pvd")
    _, sparse_x, _ = read_particle_series(folder / "sparse.pvd")
    assert dense_x.shape == truth_x.shape == (11, 64, 3) and sparse_x.shape == (11, 16, 3)
    np.testing.assert_allclose(
        truth_x[..., :2], read_positions(jelly_file, [2])[0, 6:].numpy(), atol=1e-6
    )
    written_mse = ((dense_x - truth_x)[..., :2] ** 2).mean()  # VTK points are 3D (z = 0)
    assert written_mse == pytest.approx(test["dense_position_mse"], rel=1e-3)
    assert dense_data["sampled"][0].sum() == 16
    assert test["n_particles"] == 16 and test["n_dense_particles"] == 64
    assert test["rollout_frames"] == 17 - 6
    for key in ("position_mse", "dense_position_mse", "knn_dense_position_mse", "dense_chamfer"):
        assert 0 < test[key] < 1e-2, key
    # Chamfer (evaluation.metrics asks for it): nearest neighbours are at most the matched
    # particles' distances, so it is at most 2 d x the position MSE (a mean over components)
    bound = 4 * (1 + 1e-5)
    assert 0 < test["chamfer"] <= bound * test["position_mse"]
    assert 0 < test["dense_chamfer"] <= bound * test["dense_position_mse"]
    # the learned reconstruction starts as kernel interpolation: close to kNN's after 4 steps
    assert test["true_sparse_reconstruction_mse"] < 10 * test["true_sparse_knn_mse"]
    header = (tmp_path / "eval" / "position_mse.csv").read_text().splitlines()[0]
    assert header == "frame,time,position_mse,dense_position_mse,knn_dense_position_mse"

    rom = sciml.load(tmp_path / "run", checkpoint="last")
    assert isinstance(rom, ReducedOrderSimulator) and isinstance(rom.stepper, GIOROM)
    assert rom.stepper.reconstruction is not None and not rom.training
    dense = read_positions(jelly_file, [2]).float()  # (1, T, 64, 2), the test trajectory
    out = rom(dense[:, :6], 5)
    assert out.sparse.shape == (1, 5, 16, 2) and out.dense.shape == (1, 5, 64, 2)
    assert torch.isfinite(out.dense).all()
    # the dense rollout's sampled particles are where the reconstruction put them, within a
    # reconstruction error (m) of the stepped sparse positions
    at_sampled = torch.gather(out.dense, 2, out.indices[:, None, :, None].expand(1, 5, 16, 2))
    assert (at_sampled - out.sparse).abs().max() < 0.05
    # the stepper's rollout equals the one evaluation scored (same sampler, same start)
    again = rom.stepper.rollout(sparse_positions(dense[:, :6], out.indices), 5)
    torch.testing.assert_close(again, out.sparse)
    unbatched = rom(dense[0, :6], 2)
    assert unbatched.dense.shape == (2, 64, 2) and unbatched.indices.shape == (16,)

    # the rollout exported for ParaView (.vtu per frame + .pvd) reads back through meshio
    files = out.write_vtu(
        tmp_path / "vtu", dense[:, 0], times=0.01 * torch.arange(6, 11), truth=dense[:, 6:11]
    )
    assert set(files) == {"dense", "sparse", "truth"}
    times, x, data = read_particle_series(files["dense"])
    np.testing.assert_allclose(times, 0.01 * np.arange(6, 11))
    np.testing.assert_allclose(x[..., :2], out.dense[0].numpy(), rtol=0, atol=1e-7)
    assert (x[..., 2] == 0).all()  # VTK points are 3D
    assert data["sampled"].sum(1).tolist() == [16] * 5
    np.testing.assert_array_equal(np.flatnonzero(data["sampled"][0]), out.indices[0].sort()[0])
    np.testing.assert_allclose(
        data["error"], (out.dense[0] - dense[0, 6:11]).norm(dim=-1).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(
        data["displacement"][..., :2], (out.dense[0] - dense[0, 0]).numpy(), atol=1e-7
    )
    _, sparse, sparse_data = read_particle_series(files["sparse"])
    np.testing.assert_allclose(sparse[..., :2], out.sparse[0].numpy(), atol=1e-7)
    assert (sparse_data["particle"] == out.indices[0].numpy()).all()
    _, truth, _ = read_particle_series(files["truth"])
    np.testing.assert_allclose(truth[..., :2], dense[0, 6:11].numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="trajectory=1"):
        out.write_vtu(tmp_path / "vtu", dense[:, 0], trajectory=1)


def test_sampling_happens_once_per_trajectory_before_windowing(jelly_file: Path) -> None:
    sampler = make_sampler("random", 0.25, seed=3)
    kw = {"split": "all", "history": 3, "sampler": sampler, "pairs": True}
    ds = ParticleWindowSplit(jelly_file, **kw)
    again = ParticleWindowSplit(jelly_file, **kw)
    assert torch.equal(ds.indices, again.indices)  # deterministic in the seed
    other = ParticleWindowSplit(jelly_file, **{**kw, "sampler": make_sampler("random", 0.25, 4)})
    assert not torch.equal(ds.indices, other.indices)
    dense = read_positions(jelly_file)
    assert ds.indices.shape == (3, 16)
    per_traj = len(ds) // 3
    for i in range(len(ds)):
        n, t = divmod(i, per_traj)
        t += 3  # last input frame of window i
        sample = ds[i]
        idx = ds.indices[n]
        # every window of trajectory n holds the same particles, those sampled on its frame 0
        torch.testing.assert_close(sample["x"][:, -1].double(), dense[n, t, idx])
        torch.testing.assert_close(sample["sparse_pos"].double(), dense[n, t, idx])
        torch.testing.assert_close(sample["sparse_ref"].double(), dense[n, 0, idx])
        torch.testing.assert_close(sample["dense"].double(), dense[n, t])
    fps = ParticleWindowSplit(jelly_file, split="all", sampler=make_sampler("fps", 0.25))
    assert torch.equal(fps.indices[:, 0], torch.zeros(3, dtype=torch.long))  # FPS from particle 0


def test_sparse_gns_is_the_knn_baseline(jelly_file: Path, tmp_path) -> None:
    model = {"name": "gns", "radius": 0.3, "latent": 8, "n_message_passing": 1}
    spec = yaml.safe_load((EXAMPLES / "giorom_jelly_gns_sparse.yaml").read_text())
    spec["data"].update(path=str(jelly_file), generate=GENERATE, n_train=2, n_test=1, n_val=1)
    spec["data"]["options"]["sampling"] = {"method": "fps", "ratio": 0.25}
    spec["model"] = {**spec["model"], **model}
    spec["trainer"].update(max_steps=2, log_every=1, eval_every=2, checkpoint_every=2)
    spec["trainer"]["progress"] = False
    sciml.train(sciml.load_spec(text=yaml.safe_dump(spec)), tmp_path / "run", progress=False)
    test = sciml.evaluate(tmp_path / "run", checkpoint="last").sections["test"]
    # without a learned reconstruction the dense rollout is the kNN interpolation
    assert test["dense_position_mse"] == test["knn_dense_position_mse"]
    assert test["n_particles"] == 16


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.options.sampling.ratio=1.5", r"sampling\.ratio: sampling ratio must be in \(0, 1\], got 1\.5"),
        ("data.options.sampling.ratio=0", r"sampling\.ratio: sampling ratio must be in \(0, 1\], got 0"),
        ("data.options.sampling.method=grid", r"sampling\.method: sampling method='grid' is not one of \['fps', 'random'\]"),
        ("data.options.sampling.ratios=0.1", r"unknown key\(s\) \['ratios'\]; allowed: \['method', 'ratio', 'seed'\]"),
    ],
)  # fmt: skip
def test_bad_sampling_is_a_clear_error(jelly_file: Path, tmp_path, override, message) -> None:
    with pytest.raises(SpecError, match=message):
        sciml.train(_spec(jelly_file, override), tmp_path / "run", progress=False)


def test_a_reconstruction_without_sampling_is_refused(jelly_file: Path, tmp_path) -> None:
    spec = _spec(jelly_file, "data.options={}")
    with pytest.raises(SpecError, match=r"model.reconstruction: a dense reconstruction needs"):
        sciml.train(spec, tmp_path / "run", progress=False)


def test_a_radius_that_isolates_sampled_particles_is_a_spec_error(jelly_file: Path, tmp_path):
    spec = _spec(jelly_file, "model.radius=0.001")
    with pytest.raises(
        SpecError, match=r"model.radius / data.options.sampling.ratio: radius 0.001"
    ):
        sciml.train(spec, tmp_path / "run", progress=False)


def test_the_3d_spec_trains_evaluates_and_steps_3d_bodies(tmp_path) -> None:
    """examples/giorom_jelly_3d.yaml (mpm3d_large) on a CI-sized 3D file: the stepper, the latent
    grid and the reconstruction run in 3D from the spec, and the loaded simulator steps (B, T, P, 3)."""
    generate = {**GENERATE, "n_samples": 3, "particles_per_side": 4, "grid_n": 16, "n_steps": 12}
    data = tmp_path / "jelly3d.h5"
    sciml.generate("mpm3d", data, generate, progress=False)
    spec = yaml.safe_load((EXAMPLES / "giorom_jelly_3d.yaml").read_text())
    assert spec["data"]["dataset"] == "mpm3d_large" and spec["model"]["grid_size"] == 16
    spec["data"].update(
        dataset="mpm3d", path=str(data), generate=generate, n_train=2, n_test=1, n_val=1
    )
    spec["data"]["options"]["sampling"] = {"method": "fps", "ratio": 0.25}
    spec["model"] = {**spec["model"], **SMALL, "grid_size": 4, "fno_modes": 2}
    spec["trainer"].update(max_steps=2, log_every=1, eval_every=2, checkpoint_every=2)
    spec["trainer"]["progress"] = False
    sciml.train(sciml.load_spec(text=yaml.safe_dump(spec)), tmp_path / "run", progress=False)

    test = sciml.evaluate(tmp_path / "run", out_dir=tmp_path / "eval").sections["test"]
    assert test["n_particles"] == 16 and test["n_dense_particles"] == 64
    assert test["rollout_frames"] == 13 - 6
    for key in ("position_mse", "dense_position_mse", "knn_dense_position_mse", "dense_chamfer"):
        assert 0 < test[key] < 1e-2, key
    rom = sciml.load(tmp_path / "run")
    assert rom.stepper.dim == 3 and rom.stepper.operator.grid.shape == (4**3, 3)
    dense = read_positions(data, [2]).float()  # (1, T, 64, 3)
    out = rom(dense[:, :6], 3)
    assert out.sparse.shape == (1, 3, 16, 3) and out.dense.shape == (1, 3, 64, 3)
    assert torch.isfinite(out.dense).all()

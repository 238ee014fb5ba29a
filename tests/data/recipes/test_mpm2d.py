"""The mpm2d recipe: layout, initial bodies, physical sanity, material presets.

The checks shared by all recipes (seeding, resume, parameters) are in test_recipe_contract.py.
"""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import mpm2d
from sciml.data.recipes.base import make_config

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "particles_per_side": 6,
    "grid_n": 16,
    "dt": 5e-4,
    "n_steps": 40,
    "save_every": 10,
}


def _generate(path, **overrides):
    config = make_config("mpm2d", SMALL | overrides)
    return DatasetFile(mpm2d.MPM2d().generate(config, path, progress=False))


@pytest.fixture
def small_file(generated):
    return generated("mpm2d", SMALL)


def test_file_holds_particle_trajectories_on_an_unstructured_layout(small_file):
    f = small_file
    pos = f.read("position")
    assert f.grid_type == "unstructured" and pos.shape == (3, 5, 36, 2)
    assert f.read("velocity").shape == pos.shape
    np.testing.assert_allclose(f.time, np.arange(5) * 10 * 5e-4, rtol=1e-6)
    assert f.coords["points"].shape == (36, 2)
    assert set(f.scalars) >= {"material", "E", "nu", "spin", "vx", "vy"}
    assert ((pos > 0) & (pos < 1)).all()


def test_initial_frame_is_the_mapped_reference_body_with_rigid_velocity(small_file):
    f = small_file
    s = f.scalars
    ref = torch.as_tensor(f.coords["points"], dtype=torch.float64)
    x0 = torch.as_tensor(f.read("position")[:, 0], dtype=torch.float64)
    v0 = torch.as_tensor(f.read("velocity")[:, 0], dtype=torch.float64)
    for i in range(3):
        r = x0[i] - x0[i].mean(0)
        # The body is an area-preserving map of the reference: its second moment scales by L^4.
        det = torch.linalg.det(r.T @ r) / torch.linalg.det(ref.T @ ref)
        assert float(det) == pytest.approx(s["size"][i] ** 4, rel=1e-4)
        rigid = torch.tensor([s["vx"][i], s["vy"][i]]) + s["spin"][i] * torch.stack(
            [-r[:, 1], r[:, 0]], -1
        )
        assert torch.allclose(v0[i], rigid, atol=1e-5)


def test_vtu_export_writes_one_point_cloud_per_frame(small_file, tmp_path):
    paths = mpm2d.export_vtu(small_file.path, tmp_path / "vtu", trajectory=1)
    assert [p.name for p in paths] == [f"frame_{k:04d}.vtu" for k in range(5)]
    mesh = meshio.read(paths[-1])
    np.testing.assert_allclose(mesh.points[:, :2], small_file.read("position")[1, -1], atol=1e-6)
    np.testing.assert_allclose(mesh.point_data["velocity"], small_file.read("velocity")[1, -1])
    with pytest.raises(ValueError, match="trajectory 7 out of range"):
        mpm2d.export_vtu(small_file.path, tmp_path / "vtu", trajectory=7)


def test_bodies_fall_under_gravity(tmp_path):
    f = _generate(tmp_path / "m.h5", speed_max=0.0, spin_max=0.0, n_samples=2, n_steps=20)
    vy = f.read("velocity")[..., 1].mean(-1)  # (N, T)
    t = f.time
    np.testing.assert_allclose(vy[:, -1], -9.8 * t[-1], rtol=1e-5)  # v = −g n Δt


def test_materials_vary_between_trajectories(generated):
    a = generated("mpm2d", SMALL | {"n_samples": 6, "n_steps": 10})
    assert len(set(a.scalars["material"].tolist())) > 1

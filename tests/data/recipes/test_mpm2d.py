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
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState
from sciml.solvers.mpm.materials import DENSITY, make_material

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
    assert set(f.scalars) >= {"material", "E", "nu", "spin", "vx", "vy", "cx", "cy"}
    assert ((pos > 0) & (pos < 1)).all()
    assert "affine" not in f.fields and "deformation" not in f.fields  # save_state is off


def test_mass_and_volume_are_time_invariant_per_particle_fields(small_file):
    f = small_file
    assert not f.fields["mass"].time_varying and not f.fields["volume"].time_varying
    mass, volume = f.read("mass"), f.read("volume")  # (N, P)
    assert mass.shape == volume.shape == (3, 36)
    np.testing.assert_allclose(mass, DENSITY * volume, rtol=1e-6)
    # The box body is an area-preserving map of the unit square scaled by L: total area L².
    np.testing.assert_allclose(volume.sum(-1), f.scalars["size"] ** 2, rtol=1e-5)


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


def test_fixed_velocity_spin_and_centre_override_the_draws_and_are_recorded(tmp_path):
    f = _generate(tmp_path / "m.h5", velocity=[0.5, -1.0], spin=2.0, center=[0.45, 0.55])
    s = f.scalars
    for key, value in {"vx": 0.5, "vy": -1.0, "spin": 2.0, "cx": 0.45, "cy": 0.55}.items():
        np.testing.assert_allclose(s[key], value, rtol=1e-6)
    x0 = f.read("position")[:, 0]
    np.testing.assert_allclose(x0.mean(1), [[0.45, 0.55]] * 3, atol=1e-6)
    r = x0 - x0.mean(1, keepdims=True)
    rigid = np.array([0.5, -1.0]) + 2.0 * np.stack([-r[..., 1], r[..., 0]], -1)
    np.testing.assert_allclose(f.read("velocity")[:, 0], rigid, atol=1e-5)
    # the other parameters are drawn as without the overrides
    base = _generate(tmp_path / "b.h5")
    np.testing.assert_array_equal(s["size"], base.scalars["size"])


def test_fixed_values_need_two_components():
    with pytest.raises(ValueError, match="needs 2 components"):
        make_config("mpm2d", {"velocity": [1.0, 0.0, 0.0]})


def test_saved_state_resets_the_simulator_to_reproduce_the_next_frame(tmp_path):
    f = _generate(tmp_path / "s.h5", save_state=True)
    assert f.read("affine").shape == f.read("deformation").shape == (3, 5, 36, 2, 2)
    assert f.fields["affine"].time_varying and f.fields["deformation"].time_varying
    np.testing.assert_array_equal(
        f.read("deformation")[:, 0], np.broadcast_to(np.eye(2), (3, 36, 2, 2))
    )
    config = make_config("mpm2d", SMALL)
    k = 2
    as64 = {"dtype": torch.float64}
    for i in range(3):
        frame = {
            name: torch.as_tensor(f.read(name, (slice(i, i + 1), k)), **as64)
            for name in ("position", "velocity", "affine", "deformation")
        }
        state = MPMState(
            x=frame["position"],
            v=frame["velocity"],
            C=frame["affine"],
            F=frame["deformation"],
            mass=torch.as_tensor(f.read("mass", slice(i, i + 1)), **as64),
            volume=torch.as_tensor(f.read("volume", slice(i, i + 1)), **as64),
            time=torch.full((1,), float(f.time[k]), **as64),
        )
        name = config.materials[int(f.scalars["material"][i])]
        law = make_material(name, E=float(f.scalars["E"][i]))
        sim = MPMSimulator(Grid(2, config.grid_n), law)
        with torch.no_grad():
            nxt = sim.rollout(state, config.save_every, dt=config.dt).state
        # The file stores float32: the reset state is exact to ~1e-7 relative, and 10 steps
        # carry that error to the next frame without amplifying it beyond ~1e-5.
        np.testing.assert_allclose(nxt.x[0], f.read("position")[i, k + 1], atol=1e-6)
        np.testing.assert_allclose(nxt.v[0], f.read("velocity")[i, k + 1], atol=1e-5)
        np.testing.assert_allclose(nxt.C[0], f.read("affine")[i, k + 1], atol=1e-3, rtol=1e-5)
        np.testing.assert_allclose(nxt.F[0], f.read("deformation")[i, k + 1], atol=1e-6)

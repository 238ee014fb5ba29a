"""The mpm3d recipe: layout, initial bodies (rotation, ω × r spin), gravity, state round trip, VTU.

The checks shared by all recipes (seeding, resume, parameters) are in test_recipe_contract.py; the
code shared with mpm2d (sciml.data.recipes.mpm_bodies) is also covered by test_mpm2d.py.
"""

from __future__ import annotations

import math

import meshio
import numpy as np
import pytest
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes import mpm3d
from sciml.data.recipes.base import RecipeError, make_config
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState
from sciml.solvers.mpm.materials import DENSITY, make_material

SMALL = {
    "n_samples": 3,
    "batch_size": 2,
    "particles_per_side": 4,
    "grid_n": 12,
    "dt": 5e-4,
    "n_steps": 20,
    "save_every": 10,
}


def _generate(path, **overrides):
    config = make_config("mpm3d", SMALL | overrides)
    return DatasetFile(mpm3d.MPM3d().generate(config, path, progress=False))


@pytest.fixture
def small_file(generated):
    return generated("mpm3d", SMALL)


def test_file_holds_3d_particle_trajectories_with_mass_and_volume(small_file):
    f = small_file
    assert f.grid_type == "unstructured" and f.spatial_dims == ["x", "y", "z"]
    assert f.read("position").shape == f.read("velocity").shape == (3, 3, 64, 3)
    assert f.read("mass").shape == f.read("volume").shape == (3, 64)
    np.testing.assert_allclose(f.read("mass"), DENSITY * f.read("volume"), rtol=1e-6)
    np.testing.assert_allclose(f.read("volume").sum(-1), f.scalars["size"] ** 3, rtol=1e-5)
    assert set(f.scalars) >= {"qw", "qx", "qy", "qz", "cz", "vz", "wx", "wy", "wz"}
    assert f.config["grid_n"] == 12 and f.config["save_every"] == 10  # what LearnedMPM reads


def test_initial_body_is_a_rotated_stretched_cube_with_rigid_velocity(small_file):
    f = small_file
    s = f.scalars
    ref = torch.as_tensor(f.coords["points"], dtype=torch.float64)  # (P, 3)
    x0 = torch.as_tensor(f.read("position")[:, 0], dtype=torch.float64)
    v0 = torch.as_tensor(f.read("velocity")[:, 0], dtype=torch.float64)
    for i in range(3):
        q = torch.tensor([s[k][i] for k in ("qw", "qx", "qy", "qz")], dtype=torch.float64)
        assert float(q.norm()) == pytest.approx(1.0, abs=1e-6) and q[0] >= 0
        c = torch.tensor([s["cx"][i], s["cy"][i], s["cz"][i]], dtype=torch.float64)
        r = x0[i] - c
        # x = c + R S ξ: the least-squares map from ξ to r is R S, whose polar factor is R and
        # whose singular values are the semi-axes L√a, L/√a, L (volume L³).
        A = torch.linalg.lstsq(ref, r).solution.T
        L, a = float(s["size"][i]), float(s["aspect"][i])
        axes = sorted([L * math.sqrt(a), L / math.sqrt(a), L])
        np.testing.assert_allclose(sorted(torch.linalg.svdvals(A).tolist()), axes, rtol=1e-4)
        assert float(torch.linalg.det(A)) > 0  # a proper rotation, no reflection
        w = torch.tensor([s["wx"][i], s["wy"][i], s["wz"][i]], dtype=torch.float64)
        v = torch.tensor([s["vx"][i], s["vy"][i], s["vz"][i]], dtype=torch.float64)
        rigid = v + torch.linalg.cross(w.expand_as(r), r)
        assert torch.allclose(v0[i], rigid, atol=1e-5)


def test_bodies_fall_along_minus_z(tmp_path):
    f = _generate(tmp_path / "m.h5", velocity=[0.0, 0.0, 0.0], spin=[0.0, 0.0, 0.0], n_samples=2)
    v = f.read("velocity").mean(-2)  # (N, T, 3)
    np.testing.assert_allclose(v[:, -1, 2], -9.8 * f.time[-1], rtol=1e-5)
    np.testing.assert_allclose(v[:, -1, :2], 0.0, atol=1e-6)
    np.testing.assert_allclose(f.scalars["wz"], 0.0)


def test_fixed_spin_is_a_vector():
    with pytest.raises(RecipeError, match="spin: Input should be a valid list"):
        make_config("mpm3d", {"spin": 1.0})
    with pytest.raises(RecipeError, match="spin: .*needs 3 components"):
        make_config("mpm3d", {"spin": [1.0, 2.0]})
    with pytest.raises(RecipeError, match="shape: Input should be 'box' or 'ball'"):
        make_config("mpm3d", {"shape": "disk"})


def test_ball_bodies_and_saved_state_reproduce_the_next_frame(tmp_path):
    f = _generate(tmp_path / "b.h5", shape="ball", save_state=True, materials=["plasticine"])
    p = f.coords["points"].shape[0]
    assert f.read("deformation").shape == (3, 3, p, 3, 3)
    np.testing.assert_allclose(
        f.read("volume").sum(-1), math.pi / 6 * f.scalars["size"] ** 3, rtol=1e-5
    )
    config = make_config("mpm3d", SMALL)
    k, as64 = 1, {"dtype": torch.float64}
    state = MPMState(
        x=torch.as_tensor(f.read("position")[:, k], **as64),
        v=torch.as_tensor(f.read("velocity")[:, k], **as64),
        C=torch.as_tensor(f.read("affine")[:, k], **as64),
        F=torch.as_tensor(f.read("deformation")[:, k], **as64),
        mass=torch.as_tensor(f.read("mass"), **as64),
        volume=torch.as_tensor(f.read("volume"), **as64),
        time=torch.full((3,), float(f.time[k]), **as64),
    )
    law = make_material("plasticine", E=torch.as_tensor(f.scalars["E"], **as64))
    with torch.no_grad():
        nxt = MPMSimulator(Grid(3, config.grid_n), law).rollout(state, 10, dt=config.dt).state
    # float32 storage: the reset state is exact to ~1e-7 relative (see test_mpm2d.py)
    np.testing.assert_allclose(nxt.x, f.read("position")[:, k + 1], atol=1e-6)
    np.testing.assert_allclose(nxt.v, f.read("velocity")[:, k + 1], atol=1e-5)
    np.testing.assert_allclose(nxt.F, f.read("deformation")[:, k + 1], atol=1e-6)


def test_vtu_export_writes_3d_point_clouds(small_file, tmp_path):
    paths = mpm3d.export_vtu(small_file.path, tmp_path / "vtu", trajectory=2)
    assert len(paths) == 3
    mesh = meshio.read(paths[-1])
    np.testing.assert_allclose(mesh.points, small_file.read("position")[2, -1], atol=1e-6)
    np.testing.assert_allclose(mesh.point_data["velocity"], small_file.read("velocity")[2, -1])

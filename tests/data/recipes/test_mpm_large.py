"""The large MPM scene recipes (mpm2d_large, mpm3d_large): GIOROM-sized particle clouds."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.mpm_large import MPM2dLargeConfig, MPM3dLargeConfig

SHORT = {"n_steps": 20, "save_every": 10}


@pytest.mark.parametrize(
    ("name", "dim", "minimum"), [("mpm2d_large", 2, 5000), ("mpm3d_large", 3, 10000)]
)
def test_large_scenes_hold_thousands_of_particles_that_move_and_stay_in_the_box(
    generated, name: str, dim: int, minimum: int
) -> None:
    f = generated(name, SHORT)
    x = f.read("position")
    assert x.shape[0] == 2 and x.shape[1] == 3 and x.shape[-1] == dim
    assert x.shape[2] >= minimum
    assert np.isfinite(x).all() and x.min() > 0 and x.max() < 1
    # every body moved: its initial velocity is drawn, and gravity acts
    assert (np.abs(x[:, -1] - x[:, 0]).max(axis=(1, 2)) > 1e-3).all()
    # mass = density × volume, per particle (NCLaw's ρ = 1e3 kg/m³)
    np.testing.assert_allclose(f.read("mass"), 1e3 * f.read("volume"), rtol=1e-5)


def test_large_scenes_default_to_float32_simulation() -> None:
    assert MPM2dLargeConfig().precision == MPM3dLargeConfig().precision == "float32"
    with pytest.raises(ValueError, match="precision"):
        MPM2dLargeConfig(precision="float16")

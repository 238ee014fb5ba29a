"""What the NS recipes with velocity channels (ns_sines, ns_gauss, shear_layer, ns_forced) share:
the file has ``vorticity`` and the vector field ``velocity`` = (u, v) with curl(velocity) =
vorticity and div(velocity) = 0; seeds are reproducible; a killed run resumes to the same file; the
kinetic energy follows dE/dt = <psi f> - 2 nu Z; bad values are refused."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import RecipeError, default_parameters, generate, make_config
from sciml.registry import RECIPES

# stored grid = solver grid, so spectral derivatives of the stored fields are exact
COMMON = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 32, "t_end": 0.1, "n_t": 5,
          "dt": 0.005, "nu": 0.01}  # fmt: skip
TINY = {
    "ns_sines": {**COMMON, "n_modes": 4},
    "ns_gauss": {**COMMON, "n_vortices": 5, "sigma_range": (0.05, 0.1)},
    "shear_layer": {**COMMON, "n_modes": 4, "rho_range": (0.4, 0.5), "delta": 0.1},
    "ns_forced": {**COMMON, "n_modes": 4, "forcing_amplitude": 2.0},
}
NAMES = list(TINY)


def _spectral(field: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FFT over the last two axes and the angular wavenumbers k_x (axis -2), k_y (axis -1)."""
    n = field.shape[-1]
    k = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)
    k[n // 2] = 0.0  # odd derivatives drop the Nyquist mode
    return np.fft.fft2(field.astype(np.float64)), k[:, None], k[None, :]


@pytest.mark.parametrize("name", NAMES)
def test_file_has_vorticity_and_the_velocity_vector_field(name: str, generated) -> None:
    f = generated(name, TINY[name])
    assert f.fields["vorticity"].shape == (3, 5, 32, 32)
    assert f.fields["velocity"].shape == (3, 5, 32, 32, 2)
    assert f.fields["velocity"].order == 1 and f.fields["velocity"].time_varying
    np.testing.assert_allclose(f.time, [0.0, 0.025, 0.05, 0.075, 0.1])
    assert f.dataset_name == name and np.all(f.scalars["nu"] == 0.01)


@pytest.mark.parametrize("name", NAMES)
def test_velocity_is_divergence_free_and_its_curl_is_the_vorticity(name: str, generated) -> None:
    f = generated(name, TINY[name])
    w, vel = f.read("vorticity"), f.read("velocity")
    u_hat, kx, ky = _spectral(vel[..., 0])
    v_hat, _, _ = _spectral(vel[..., 1])
    scale = np.abs(w).max()
    curl = np.real(np.fft.ifft2(1j * kx * v_hat - 1j * ky * u_hat))
    div = np.real(np.fft.ifft2(1j * kx * u_hat + 1j * ky * v_hat))
    assert np.abs(curl - w).max() < 1e-5 * scale
    assert np.abs(div).max() < 1e-5 * scale
    assert np.abs(vel.mean(axis=(2, 3))).max() < 1e-6  # no mean flow


@pytest.mark.parametrize("name", NAMES)
def test_kinetic_energy_follows_the_forcing_power_minus_the_dissipation(
    name: str, generated
) -> None:
    f = generated(name, TINY[name])
    vel, w = f.read("velocity").astype(np.float64), f.read("vorticity").astype(np.float64)
    energy = 0.5 * (vel**2).sum(-1).mean(axis=(2, 3))  # (N, T)
    rate = -2 * 0.01 * 0.5 * (w**2).mean(axis=(2, 3))  # -2 nu Z
    if "forcing" in f.fields:  # + <psi f>, with -Lap psi = w
        w_hat, kx, ky = _spectral(w)
        k2 = kx**2 + ky**2
        psi = np.real(np.fft.ifft2(np.where(k2 > 0, w_hat / np.where(k2 > 0, k2, 1), 0)))
        rate += (psi * f.read("forcing")[:, None]).mean(axis=(2, 3))
    else:
        assert (np.diff(energy, axis=1) < 0).all()
    # E(t_end) - E(0) = \int rate dt, by composite Simpson on the five snapshots
    integral = (
        0.025 / 3 * (rate[:, 0] + 4 * rate[:, 1] + 2 * rate[:, 2] + 4 * rate[:, 3] + rate[:, 4])
    )
    np.testing.assert_allclose(energy[:, -1] - energy[:, 0], integral, rtol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_is_identical_another_differs_and_a_killed_run_resumes_to_the_same_file(
    name: str, generated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = generated(name, TINY[name])
    other = DatasetFile(
        generate(name, tmp_path / "o.h5", {**TINY[name], "seed": 1}, progress=False)
    )
    assert not np.allclose(whole.read("vorticity"), other.read("vorticity"))
    module = sys.modules[RECIPES.get(name).generate.__module__]
    real = module.generate_in_blocks
    crash = [True]

    def crash_after_first_block(out_path, layout, make_block, **kwargs):
        def make(start, size):
            if crash[0] and start > 0:
                raise KeyboardInterrupt
            return make_block(start, size)

        return real(out_path, layout, make, **kwargs)

    monkeypatch.setattr(module, "generate_in_blocks", crash_after_first_block)
    out = tmp_path / "r.h5"
    with pytest.raises(KeyboardInterrupt):
        generate(name, out, TINY[name], progress=False)
    assert (tmp_path / "r.h5.partial").exists() and not out.exists()
    crash[0] = False
    resumed = DatasetFile(generate(name, out, TINY[name], progress=False))
    for field in ("vorticity", "velocity"):
        np.testing.assert_array_equal(resumed.read(field), whole.read(field))


@pytest.mark.parametrize("name", NAMES)
def test_catalog_preset_is_ci_sized_and_poseidon_sizes_are_one_flag_away(name: str) -> None:
    preset = default_parameters(f"{name}")
    assert make_config(name, preset) == make_config(name, {})
    paper = make_config(name, {**preset, "paper": True})
    assert (paper.n_x, paper.n_t, paper.t_end) == (128, 21, 1.0)
    assert paper.n_samples == (40360 if name == "shear_layer" else 20360)


@pytest.mark.parametrize("name", NAMES)
def test_random_field_parameters_and_unknown_keys_are_refused(name: str) -> None:
    with pytest.raises(RecipeError, match=r"alpha, tau: Gaussian-random-field parameters are not"):
        make_config(name, {"alpha": 3.0, "tau": 2.0})
    with pytest.raises(RecipeError, match=r"no parameter\(s\) \['viscosity'\]\. Valid: n_samples"):
        make_config(name, {"viscosity": 1e-3})
    with pytest.raises(RecipeError, match=r"nu: Input should be greater than 0"):
        make_config(name, {"nu": 0.0})

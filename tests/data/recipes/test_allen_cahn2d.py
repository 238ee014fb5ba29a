"""allen_cahn2d: the Ginzburg-Landau free energy never increases (Allen-Cahn is its L2 gradient
flow), data starting inside [-1, 1] stay there (maximum principle), the phases separate."""

from __future__ import annotations

import numpy as np

from sciml.data.recipes.base import default_parameters, make_config

TINY = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 32, "t_end": 4.0, "n_t": 5,
        "dt": 0.05, "epsilon": 2e-3}  # fmt: skip


def _free_energy(u: np.ndarray, epsilon: float) -> np.ndarray:
    """F = <eps/2 |grad u|^2 + (u^2 - 1)^2 / 4> per snapshot, gradient spectral (periodic)."""
    n = u.shape[-1]
    k = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)
    u_hat = np.fft.fft2(u)
    grad2 = np.real(np.fft.ifft2(1j * k[:, None] * u_hat)) ** 2
    grad2 += np.real(np.fft.ifft2(1j * k[None, :] * u_hat)) ** 2
    return (0.5 * epsilon * grad2 + 0.25 * (u**2 - 1) ** 2).mean(axis=(-2, -1))


def test_free_energy_decreases_and_the_phases_separate_within_the_wells(generated) -> None:
    u = generated("allen_cahn2d", TINY).read("u").astype(np.float64)  # (N, T, X, Y)
    energy = _free_energy(u, 2e-3)
    assert (np.diff(energy, axis=1) < 0).all()
    assert np.abs(u[:, 0]).max() < 1.0
    assert np.abs(u).max() < 1.0 + 1e-3
    # near a well: none of the domain at the start, more than half of it at t = 4
    near = (np.abs(np.abs(u) - 1) < 0.2).mean(axis=(0, 2, 3))
    assert near[0] == 0 and near[-1] > 0.5


def test_catalog_preset_is_ci_sized_and_the_ace_sizes_are_one_flag_away() -> None:
    preset = default_parameters("allen_cahn2d")
    assert make_config("allen_cahn2d", preset) == make_config("allen_cahn2d", {})
    paper = make_config("allen_cahn2d", {**preset, "paper": True})
    assert (paper.n_samples, paper.n_x) == (15300, 128)

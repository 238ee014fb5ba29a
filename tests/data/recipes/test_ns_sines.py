"""ns_sines: the stored initial velocity is the divergence-free projection of Poseidon's sine
series, evaluated here independently from the drawn coefficients."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.base import RecipeError, block_generator, make_config
from sciml.data.recipes.ns_sines import NSSines

TINY = {"n_samples": 3, "batch_size": 2, "n_fine": 32, "n_x": 16, "t_end": 0.1, "n_t": 3,
        "dt": 0.01, "n_modes": 4}  # fmt: skip


def _sine_series(
    alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray, x: np.ndarray
) -> np.ndarray:
    out = np.zeros((x.size, x.size))
    for i in range(1, alpha.shape[0] + 1):
        for j in range(1, alpha.shape[1] + 1):
            a, b, g = alpha[i - 1, j - 1], beta[i - 1, j - 1], gamma[i - 1, j - 1]
            sx = np.sin(2 * np.pi * i * x + b)[:, None]
            sy = np.sin(2 * np.pi * j * x + g)[None, :]
            out += a / np.sqrt(2 * np.pi * (i + j)) * sx * sy
    return out


def _leray(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = u.shape[0]
    k = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)
    kx, ky = k[:, None], k[None, :]
    k2 = np.where(kx**2 + ky**2 > 0, kx**2 + ky**2, 1.0)
    uh, vh = np.fft.fft2(u), np.fft.fft2(v)
    div = (kx * uh + ky * vh) / k2
    uh, vh = uh - kx * div, vh - ky * div
    uh[0, 0] = vh[0, 0] = 0.0
    return np.real(np.fft.ifft2(uh)), np.real(np.fft.ifft2(vh))


def test_initial_velocity_is_the_projected_sine_series(generated) -> None:
    f = generated("ns_sines", TINY)
    config = make_config("ns_sines", TINY)
    first = NSSines().draw(config, 2, block_generator(0, 0)).numpy()  # the first block
    x = np.arange(32) / 32
    for b in range(2):
        (au, bu, gu), (av, bv, gv) = first[b]
        u, v = _leray(_sine_series(au, bu, gu, x), _sine_series(av, bv, gv, x))
        stored = f.read("velocity")[b, 0].astype(np.float64)
        np.testing.assert_allclose(stored[..., 0], u[::2, ::2], atol=1e-6)
        np.testing.assert_allclose(stored[..., 1], v[::2, ::2], atol=1e-6)
    assert np.all(np.abs(first[:, :, 0]) <= 1) and np.all(
        (first[:, :, 1:] >= 0) & (first[:, :, 1:] <= 2 * np.pi)
    )


def test_modes_the_solver_grid_cannot_resolve_are_refused() -> None:
    with pytest.raises(
        RecipeError, match=r"n_modes=11 is not resolved by n_fine=32: .* n_fine must be > 33"
    ):
        make_config("ns_sines", {**TINY, "n_modes": 11})

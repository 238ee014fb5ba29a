"""The burgers1d recipe: the initial condition and the stored viscosity (the shared checks, the
conserved mean among them, are in test_recipe_contract.py)."""

from __future__ import annotations

import h5py
import numpy as np
import torch

from sciml.data.functions import gaussian_random_field
from sciml.data.recipes.base import block_generator

SMALL = {
    "n_samples": 5,
    "batch_size": 2,
    "n_fine": 64,
    "n_x": 32,
    "t_end": 0.1,
    "n_t": 3,
    "dt": 0.005,
}


def test_first_frame_is_the_subsampled_grf_and_nu_is_stored(generated) -> None:
    f = generated("burgers1d", SMALL)
    u = f.read("u")
    u0 = gaussian_random_field(
        2,
        (64,),
        alpha=2.0,
        tau=5.0,
        sigma=25.0,
        generator=block_generator(0, 0),
        dtype=torch.float64,
    )
    # the recipe removes the Nyquist mode of the fine grid
    u0_hat = torch.fft.rfft(u0)
    u0_hat[:, -1] = 0
    u0 = torch.fft.irfft(u0_hat, n=64)
    assert np.allclose(u[:2, 0], u0[:, ::2].float().numpy(), atol=1e-6)
    with h5py.File(f.path) as h5:
        assert np.allclose(h5["scalars/nu"][...], 0.1)

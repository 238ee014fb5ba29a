"""ns_forced: the stored forcing is A sin(2 pi (x + y)) for every trajectory, the initial data are
those of ns_sines (same seed), and the forcing is what drives the difference from ns_sines."""

from __future__ import annotations

import numpy as np

COMMON = {"n_samples": 2, "batch_size": 2, "n_fine": 32, "n_x": 16, "t_end": 0.002, "n_t": 3,
          "dt": 0.0005, "n_modes": 4}  # fmt: skip


def test_forcing_field_initial_data_and_the_forced_difference(generated) -> None:
    forced = generated("ns_forced", {**COMMON, "forcing_amplitude": 2.0})
    free = generated("ns_sines", COMMON)
    x = np.arange(16) / 16
    f = 2.0 * np.sin(2 * np.pi * (x[:, None] + x[None, :]))
    assert (
        forced.fields["forcing"].shape == (2, 16, 16) and not forced.fields["forcing"].time_varying
    )
    for b in range(2):
        np.testing.assert_allclose(forced.read("forcing")[b], f, atol=1e-6)
    np.testing.assert_array_equal(forced.read("vorticity")[:, 0], free.read("vorticity")[:, 0])
    # d/dt (w_forced - w_free) = f + O(t): after a short time the difference is f t
    for i, t in ((1, 0.001), (2, 0.002)):
        diff = forced.read("vorticity")[:, i] - free.read("vorticity")[:, i]
        assert np.abs(diff - f * t).max() < 0.05 * np.abs(f * t).max()
    assert np.all(forced.scalars["forcing_amplitude"] == 2.0)

"""The dam_break recipe against the classical dam-break results.

Martin & Moyce (1952, Phil. Trans. R. Soc. A 244, 312) measured the surge front of a collapsing
water column of width ``a`` and height ``n² a``; in ``Z = x_front / a`` and ``T = t √(2g/a)`` their
square-column (``n² = 1``) data are the table below (as tabulated in the particle-method literature,
e.g. Koshizuka & Oka 1996). Shallow-water theory (Ritter 1892) bounds the front speed by
``2 √(g h)``. The simulated water is inviscid and slides on a frictionless floor with no gate to
lift, so it runs slightly *ahead* of the experiment (as SPH/MPS models of this test do); the check
is a one-sided band around the data.
"""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.dam_break import (
    MARTIN_MOYCE_T,
    MARTIN_MOYCE_Z,
    martin_moyce_variables,
)

#: two square columns (n² = 1), 12 × 12 particles, 48² grid, 0.25 s (T ≈ 2.5–2.8)
SQUARE = {
    "n_samples": 2,
    "batch_size": 2,
    "lattice": [12, 12],
    "width_range": [0.17, 0.2],
    "aspect_range": [1.0, 1.0],
}


@pytest.fixture
def square(generated):
    return generated("dam_break", SQUARE)


def test_front_and_top_are_time_series_starting_at_the_column_size(square):
    s, series = square.scalars, square.series
    n_t = len(square.time)
    assert series["front"].shape == series["top"].shape == (2, n_t)
    np.testing.assert_allclose(series["front"][:, 0], s["width"], rtol=1e-5)
    np.testing.assert_allclose(series["top"][:, 0], s["height"], rtol=1e-5)
    np.testing.assert_allclose(s["height"], s["width"] * s["aspect"], rtol=1e-6)
    assert square.read("position").shape == (2, n_t, 144, 2)


def test_front_advances_monotonically_and_the_column_drops(square):
    front, top = square.series["front"], square.series["top"]
    assert (np.diff(front, axis=1) > -1e-6).all()
    # A few particles stay up at the wall (the equation-of-state water sustains tension), so the
    # highest particle drops less than the bulk of the column (measured: to 0.80 h at T ≈ 2.5).
    assert (top[:, -1] < 0.9 * top[:, 0]).all()


def test_front_speed_is_bounded_by_the_ritter_speed_and_approaches_it(square):
    speed = np.diff(square.series["front"], axis=1) / np.diff(square.time)  # (N, T-1), m/s
    ritter = 2 * np.sqrt(9.8 * square.scalars["height"])
    # Measured: 1.01–1.03 of the Ritter speed. The 5 % margin is the weak compressibility: the
    # bulk wave speed (7.6 m/s) is only ~2.7 times the front speed, and the elastic energy of the
    # hydrostatically compressed column (J ≈ 0.97 at the bottom) adds to the surge.
    assert (speed.max(1) <= 1.05 * ritter).all()
    assert (speed.max(1) >= 0.8 * ritter).all()


def test_front_follows_martin_and_moyce(square):
    T, Z = martin_moyce_variables(square.time, square.series["front"], square.scalars["width"])
    for i in range(2):
        window = (T[i] >= 0.4) & (T[i] <= MARTIN_MOYCE_T[-1])
        ratio = Z[i, window] / np.interp(T[i, window], MARTIN_MOYCE_T, MARTIN_MOYCE_Z)
        # Measured 0.92–1.14. Early on (T < 1) the front lags by up to 8 %: it is resolved to a
        # particle spacing (a/12, i.e. ΔZ ≈ 0.08) and the weakly compressible column first settles;
        # later it leads, as inviscid models of this experiment do. Band: −15 % / +25 %.
        assert ratio.min() > 0.85 and ratio.max() < 1.25, ratio

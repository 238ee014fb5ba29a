"""The column_collapse recipe against the experimental run-out of quasi-2D granular columns.

Lube et al. (2005, Phys. Rev. E 72, 041301) and Lajeunesse et al. (2005, Phys. Fluids 17, 103302)
found that the normalised run-out of a collapsing column depends on its aspect ratio only:
``(L∞ − L0)/L0 ≈ 1.2 a`` for ``a ≲ 2.3`` and ``≈ 1.9 a^{2/3}`` above
(:func:`~sciml.data.recipes.column_collapse.experimental_runout`).
"""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.column_collapse import experimental_runout

#: two columns with a ∈ [0.8, 2.2] (the linear regime), 8 × 16 particles on a 40² grid, 0.7 s
TWO = {"n_samples": 2, "batch_size": 2, "aspect_range": [0.8, 2.2], "n_steps": 700}


@pytest.fixture
def collapse(generated):
    return generated("column_collapse", TWO)


def test_runout_grows_then_the_deposit_comes_to_rest(collapse):
    front, width = collapse.series["front"], collapse.scalars["width"]
    np.testing.assert_allclose(front[:, 0], width, rtol=1e-5)
    assert (np.diff(front, axis=1) > -1e-3 * width[:, None]).all()
    # at rest: the last 0.1 s moves the front by < 0.5 % of L0 and no particle is faster than 2 cm/s
    last = collapse.time >= collapse.time[-1] - 0.1
    assert (np.ptp(front[:, last], axis=1) < 5e-3 * width).all()
    assert np.abs(collapse.read("velocity")[:, -1]).max() < 0.02
    assert (collapse.series["top"][:, -1] < collapse.scalars["height"]).all()


def test_runout_matches_the_experimental_scaling(collapse):
    s = collapse.scalars
    simulated = (collapse.series["front"][:, -1] - s["width"]) / s["width"]
    ratio = simulated / experimental_runout(s["aspect"])
    # Measured 1.18 and 1.20 here (a = 1.44, 2.09); over a = 0.5…3 the ratio is 0.70 (a = 0.5, a
    # slow edge failure that creeps on) to 1.22 (a = 3). Tolerance ±35 %: the column is only 8
    # particles and 3–5 cells wide and the experiments scatter by ~±15 % about the fits. This is a
    # sanity band at CI scale, not a validation: the run-out is not converged in resolution and
    # grows with it (a = 2: ratio 1.15 on 40², 1.47 on 60², 1.62 on 80²), because the preset sand
    # (φ = 25°, floor μ = tan 25°) is more mobile than the experiments' (φ ≈ 30–35°; with φ = 30°
    # and μ = tan 30° the ratio is 0.97 on 40² and 1.18 on 80²).
    assert (ratio > 0.65).all() and (ratio < 1.35).all(), ratio

"""The FEM recipes' solver parameters: every method gives the same file values, a bad one is
refused naming the allowed values, and the config's choices reach the solver."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.data.recipes.base import RecipeError, make_config
from sciml.solvers.fem.linear_solve import METHODS

SMALL = {"n_samples": 3, "batch_size": 3, "resolution": 17}


def test_the_allowed_solvers_are_the_solver_methods():
    config = make_config("darcy2d", {"solver": "cholesky", "solver_tol": 1e-8})
    solver = config.sparse_solver()
    assert (solver.method, solver.tol) == ("cholesky", 1e-8)
    field = type(config).model_fields["solver"]
    assert set(field.annotation.__args__) == set(METHODS)


@pytest.mark.parametrize("name", ["darcy2d", "darcy_unstructured", "heat2d", "elasticity_plate"])
def test_every_fem_recipe_takes_the_solver_and_refuses_an_unknown_one(name):
    assert make_config(name, {"solver": "amg"}).solver == "amg"
    with pytest.raises(RecipeError, match=r"solver.*'auto'.*'amg'.*'cholesky'.*'direct'.*'cg'"):
        make_config(name, {"solver": "umfpack"})
    with pytest.raises(RecipeError, match="solver_tol"):
        make_config(name, {"solver_tol": 0.0})


def test_direct_and_amg_solves_write_the_same_field(generated):
    direct = generated("darcy2d", SMALL | {"solver": "direct"}).read("u")
    amg = generated("darcy2d", SMALL | {"solver": "amg", "solver_tol": 1e-12}).read("u")
    np.testing.assert_allclose(amg, direct, rtol=0, atol=1e-7 * np.abs(direct).max())

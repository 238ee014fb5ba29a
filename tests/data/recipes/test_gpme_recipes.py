"""GPME recipes: grid files with the exact mass series, test/train parameters, ANP point sets.

(Named apart from tests/solvers/test_gpme.py: pytest needs unique test module basenames here.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from recipe_defaults import config_defaults

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import RecipeError, generate, make_config
from sciml.data.recipes.gpme import GPMEPointSets, draw_parameters
from sciml.solvers.gpme import PROBLEMS, exact_solution, total_mass
from sciml.spec import load_preset


@pytest.mark.parametrize(("name", "parameter", "values"), [
    ("heat", "k", (1.0, 5.0)), ("pme", "m", (1.0, 3.0, 6.0)), ("stefan", "u_star", (0.6, 0.5)),
])  # fmt: skip
def test_test_file_holds_the_closed_form_the_test_values_and_the_exact_mass(
    name: str, parameter: str, values: tuple[float, ...], tmp_path: Path
) -> None:
    n = 2 * len(values)
    f = DatasetFile(
        generate(
            f"gpme_{name}",
            tmp_path / "g.h5",
            config_defaults(f"gpme_{name}", {"n_samples": n, "batch_size": 3}),
            progress=False,
        )
    )
    u, t, x = f.read("u"), np.asarray(f.time), np.asarray(f.coords["x"])
    assert u.shape == (n, 21, 51)
    params = f.scalars[parameter]
    np.testing.assert_allclose(params, np.repeat(values, 2))
    spec = PROBLEMS[name]
    tt = torch.linspace(*spec.t_range, 21, dtype=torch.float64)  # the grid before float32 storage
    xx = torch.linspace(*spec.x_range, 51, dtype=torch.float64)
    np.testing.assert_allclose(t, tt.numpy(), rtol=1e-6)
    np.testing.assert_allclose(x, xx.numpy(), rtol=1e-6)
    pp = torch.as_tensor(params, dtype=torch.float64)
    expected = exact_solution(name, tt[None, :, None], xx[None, None, :], pp[:, None, None])
    np.testing.assert_allclose(u, expected.numpy(), rtol=1e-6, atol=1e-7)
    mass = total_mass(name, tt[None, :], pp[:, None]).numpy()
    np.testing.assert_allclose(f.series["mass"], mass, rtol=1e-6, atol=1e-7)


def test_train_parameters_are_uniform_on_the_paper_range() -> None:
    p = draw_parameters("stefan", 4000, "train", generator=torch.Generator().manual_seed(0))
    assert 0.55 <= float(p.min()) < 0.552 and 0.698 < float(p.max()) <= 0.7
    assert abs(float(p.mean()) - 0.625) < 2e-3


def test_point_sets_are_stratified_in_time_sorted_in_space_and_exact() -> None:
    data = GPMEPointSets("pme", torch.tensor([2.0, 4.0]), seed=3, dtype=torch.float64)
    s = data[1]
    assert s["context_x"].shape == (100, 2) and s["target_y"].shape == (100, 1)
    t = s["context_x"][:, 0].reshape(10, 10)
    x = s["context_x"][:, 1].reshape(10, 10)
    assert (t == t[:, :1]).all()
    assert ((t[:, 0] >= torch.arange(10) / 10) & (t[:, 0] < torch.arange(1, 11) / 10)).all()
    assert (x.diff(dim=1) >= 0).all() and (x == x[:1]).all()
    ref = exact_solution("pme", s["target_x"][:, :1], s["target_x"][:, 1:], 4.0)
    torch.testing.assert_close(s["target_y"], ref)
    torch.testing.assert_close(data[1]["target_x"], s["target_x"])  # fixed per (seed, index)
    assert not torch.equal(s["context_x"], s["target_x"])


def test_catalog_presets_are_the_paper_test_sets() -> None:
    for name, n in (("gpme_heat", 100), ("gpme_pme", 150), ("gpme_stefan", 100)):
        config = make_config(name, load_preset("datasets", name))
        assert (config.n_samples, config.n_t, config.n_x, config.split) == (n, 201, 201, "test")


def test_bad_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="split"):
        make_config("gpme_heat", {"split": "val"})
    with pytest.raises(
        ValueError, match=r"divisible by the 3 test values \[1.0, 3.0, 6.0\], got 4"
    ):
        generate("gpme_pme", tmp_path / "a.h5", {"n_samples": 4}, progress=False)
    with pytest.raises(ValueError, match=r"u_star must lie in \(0, 1\)"):
        generate(
            "gpme_stefan",
            tmp_path / "b.h5",
            {"split": "train", "param_range": (0.5, 1.5)},
            progress=False,
        )
    with pytest.raises(RecipeError, match="low <= high"):
        make_config("gpme_heat", {"param_range": (5.0, 1.0)})
    assert not list(tmp_path.iterdir())

r"""GPME benchmark datasets from closed forms: heat, porous-medium and Stefan problems.

ProbConserv's generalized porous medium equation family (Hansen et al., ICML 2023,
arXiv 2302.11002, Sec. 4; configs ``3b_heat_var_c``, ``1b_pme_var_m``, ``2b_stefan_var_p``),
evaluated from the closed forms of :mod:`sciml.solvers.gpme` (no solver error):

========  =========  ======================  ====================  ====================
recipe    parameter  train range (uniform)   test values           domain
========  =========  ======================  ====================  ====================
gpme_heat    ``k``   [1, 5]                  1, 5                  x∈[0,2π], t∈[0,1]
gpme_pme     ``m``   [1, 6]                  1, 3, 6               [0,1]²
gpme_stefan ``u_star`` [0.55, 0.7]           0.6 (in-dist.), 0.5   x∈[0,1], t∈[0,0.1]
========  =========  ======================  ====================  ====================

Two products:

* the **grid file** (``generate``): ``u`` ``(N, n_t, n_x)`` on the uniform grid with both ends
  (so the trapezoid rule of :func:`sciml.constraints.probconserv.trapezoid_weights` applies), the
  parameter as a scalar ``(N,)`` and the exact conserved mass ``U(t)`` as the series ``mass``
  ``(N, n_t)`` — the ProbConserv target ``b``. ``split="train"`` draws the parameter uniformly
  from the train range; ``split="test"`` repeats the test values, ``n_samples / len(values)`` each
  (the paper: 50 per value on a 201 × 201 grid, the catalog presets);
* the **point sets** of the attentive neural process (:class:`GPMEPointSets`): per function
  ``n_t × n_x`` context points — one time drawn uniformly in each of ``n_t`` equal intervals, and
  ``n_x`` sorted uniform positions — and as many target points drawn the same way (ProbConserv:
  10 × 10 each, 10,000 training functions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator
from torch.utils.data import Dataset

from sciml.data.format import DatasetLayout, FieldLayout
from sciml.data.recipes.base import Recipe, RecipeConfig, block_generator, generate_in_blocks
from sciml.registry import RECIPES
from sciml.solvers.gpme import PROBLEMS, GPMEProblem, problem

__all__ = [
    "GPMEConfig",
    "GPMEHeat",
    "GPMEPME",
    "GPMEPointSets",
    "GPMEStefan",
    "draw_parameters",
    "file_problem",
    "space_time_points",
]


def draw_parameters(
    name: str,
    n: int,
    split: str,
    *,
    generator: torch.Generator,
    param_range: tuple[float, float] | None = None,
    test_values: tuple[float, ...] | None = None,
) -> torch.Tensor:
    """``n`` parameters of GPME problem ``name``, float64 ``(n,)``.

    ``split="train"``: uniform on ``param_range`` (default: the paper's); ``"test"``: each of
    ``test_values`` ``n / len(test_values)`` times, in blocks (``n`` must be a multiple).
    """
    spec = problem(name)
    if split == "train":
        lo, hi = param_range or spec.train_range
        return lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)
    if split == "test":
        values = test_values or spec.test_values
        if n % len(values):
            raise ValueError(
                f"gpme_{name}: split 'test' needs n_samples divisible by the {len(values)} test "
                f"values {list(values)}, got {n}"
            )
        return torch.tensor(values, dtype=torch.float64).repeat_interleave(n // len(values))
    raise ValueError(f"gpme_{name}: split must be 'train' or 'test', got {split!r}")


def space_time_points(
    spec: GPMEProblem, batch: int, n_t: int, n_x: int, *, generator: torch.Generator
) -> torch.Tensor:
    """``(batch, n_t * n_x, 2)`` points ``(t, x)``: stratified times × sorted uniform positions."""
    (t0, t1), (x0, x1) = spec.t_range, spec.x_range
    edges = torch.linspace(t0, t1, n_t + 1, dtype=torch.float64)
    u = torch.rand(batch, n_t, generator=generator, dtype=torch.float64)
    t = edges[:-1] + (edges[1:] - edges[:-1]) * u
    x = (
        (x0 + (x1 - x0) * torch.rand(batch, n_x, generator=generator, dtype=torch.float64))
        .sort(-1)
        .values
    )
    tt = t[:, :, None].expand(batch, n_t, n_x)
    xx = x[:, None, :].expand(batch, n_t, n_x)
    return torch.stack([tt, xx], dim=-1).reshape(batch, n_t * n_x, 2)


def file_problem(dataset_name: str) -> GPMEProblem:
    """The GPME problem whose closed form wrote a grid file named ``dataset_name``
    (``gpme_heat``, ``gpme_pme``, ``gpme_stefan``: the recipes below); any other name is an error
    listing these."""
    name = dataset_name.removeprefix("gpme_")
    if not dataset_name.startswith("gpme_") or name not in PROBLEMS:
        raise ValueError(
            f"no closed form for dataset {dataset_name!r}: one of "
            f"{sorted(f'gpme_{p}' for p in PROBLEMS)} (the gpme_* recipes)"
        )
    return problem(name)


class GPMEPointSets(Dataset):
    """Context/target point sets of GPME functions for the ANP, from the closed form.

    Sample ``i``: ``{"context_x": (n_c, 2), "context_y": (n_c, 1), "target_x": (n_t, 2),
    "target_y": (n_t, 1), "param": ()}``, points ``(t, x)`` in physical units, ``u`` exact; drawn
    from a generator keyed on ``(seed, i)``, so the dataset is fixed and identical on every
    machine.
    """

    def __init__(
        self,
        name: str,
        params: torch.Tensor,
        *,
        n_t: int = 10,
        n_x: int = 10,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.spec = problem(name)
        self.params = params.to(torch.float64)
        self.n_t, self.n_x, self.seed, self.dtype = n_t, n_x, seed, dtype

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        gen = block_generator(self.seed, i)
        param = self.params[i]
        out = {"param": param.to(self.dtype)}
        for kind in ("context", "target"):
            pts = space_time_points(self.spec, 1, self.n_t, self.n_x, generator=gen)[0]
            u = self.spec.solution(pts[:, :1], pts[:, 1:], param)
            out[f"{kind}_x"], out[f"{kind}_y"] = pts.to(self.dtype), u.to(self.dtype)
        return out


class GPMEConfig(RecipeConfig):
    """Grid-file parameters of a GPME recipe (CI-sized defaults; the catalog presets: the
    paper's test sets on 201 × 201)."""

    n_samples: int = Field(default=8, ge=1, description="functions")
    batch_size: int = Field(default=8, ge=1, description="functions per written block")
    split: Literal["train", "test"] = Field(default="test", description="parameter draw")
    n_t: int = Field(default=21, ge=2, description="times on [t0, t1], both ends")
    n_x: int = Field(default=51, ge=2, description="positions on [x0, x1], both ends")
    param_range: tuple[float, float] | None = Field(default=None, description="train range")
    test_values: tuple[float, ...] | None = Field(default=None, description="test parameters")

    @model_validator(mode="after")
    def _check_range(self) -> GPMEConfig:
        if self.param_range is not None and not self.param_range[0] <= self.param_range[1]:
            raise ValueError(
                f"param_range must be (low, high) with low <= high, got {self.param_range}"
            )
        return self


class _GPMERecipe(Recipe):
    """A GPME problem evaluated on a uniform space-time grid (module docstring)."""

    Config = GPMEConfig
    problem_name: ClassVar[str]

    def generate(
        self,
        config: GPMEConfig,  # type: ignore[override]
        out_path: str | os.PathLike,
        *,
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Path:
        spec = problem(self.problem_name)
        params = draw_parameters(
            spec.name,
            config.n_samples,
            config.split,
            generator=block_generator(config.seed, 0),
            param_range=config.param_range,
            test_values=config.test_values,
        )
        lo, hi = spec.valid
        if not bool(((params > lo) & (params < hi)).all()):
            raise ValueError(
                f"gpme_{spec.name}: {spec.parameter} must lie in ({lo:g}, {hi:g}), got values "
                f"from {float(params.min()):g} to {float(params.max()):g} (param_range, test_values)"
            )
        t = torch.linspace(*spec.t_range, config.n_t, dtype=torch.float64)
        x = torch.linspace(*spec.x_range, config.n_x, dtype=torch.float64)
        layout = DatasetLayout(
            dataset_name=f"gpme_{spec.name}",
            n_trajectories=config.n_samples,
            time=t.numpy(),
            coords={"x": x.numpy()},
            fields=[FieldLayout("u")],
            scalars={spec.parameter: params.numpy()},
            series=["mass"],
            config=config.model_dump(),
            seed=config.seed,
            generator="sciml.data.recipes.gpme",
        )

        def make_block(start: int, size: int) -> dict[str, Any]:
            p = params[start : start + size].to(device)
            tt, xx = t.to(device), x.to(device)
            u = spec.solution(tt[None, :, None], xx[None, None, :], p[:, None, None])
            mass = spec.mass(tt[None, :], p[:, None])
            return {"u": u.cpu(), "mass": mass.cpu()}

        return generate_in_blocks(
            out_path, layout, make_block, block_size=config.batch_size, progress=progress
        )


@RECIPES.register("gpme_heat")
class GPMEHeat(_GPMERecipe):
    """Heat equation u = exp(-k t) sin x, the easy GPME case."""

    problem_name = "heat"
    summary = "GPME heat u=exp(-kt) sin x, k~U[1,5] (test 1, 5), exact mass 0 (ProbConserv)"


@RECIPES.register("gpme_pme")
class GPMEPME(_GPMERecipe):
    """Porous medium equation u = (m (t - x)_+)^(1/m), the medium GPME case."""

    problem_name = "pme"
    summary = "GPME porous medium u=(m relu(t-x))^(1/m), m~U[1,6] (test 1, 3, 6) (ProbConserv)"


@RECIPES.register("gpme_stefan")
class GPMEStefan(_GPMERecipe):
    """Stefan problem with a shock at alpha sqrt(t), the hard GPME case."""

    problem_name = "stefan"
    summary = "GPME Stefan, shock at alpha sqrt(t), u*~U[0.55,0.7] (test 0.6, 0.5) (ProbConserv)"

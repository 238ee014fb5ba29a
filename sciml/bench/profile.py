"""Bench profiles: which benchmarks, with which budget, seeds and model options (YAML, validated).

A profile is a YAML file; ``ci`` and ``full`` ship in ``sciml/bench/profiles/``. Its sections::

    name: ci
    budget: {steps: 300}            # or {seconds: 60, probe_steps: 10}: the same for every cell
    seeds: [0]
    trainer: {batch_size: 20}       # spec sections shared by every cell (not epochs/max_steps)
    optimizer: {lr: 0.002}
    scheduler: {name: cosine}
    evaluation: {metrics: [relative_l2, nrmse]}
    models:                         # options per registered family (`preset:` allowed)
      fno: {n_modes: [12, 12], hidden_channels: 16}
    benchmarks:
      poisson2d:
        recipe: poisson2d           # sciml generate <recipe>, with `generate` parameters
        generate: {n_samples: 200}
        data: {inputs: [f], outputs: [u], n_train: 160, n_test: 40, subsample: 2}
        zero_shot: [64]             # also evaluated at these grid sizes, without retraining
        models: {fno: {n_modes: [8, 8]}}   # per-benchmark option overrides (key by key)

A family named nowhere in ``models`` takes part with its catalog preset of the same name
(``sciml/catalog/models/<family>.yaml``) if there is one, else with its constructor defaults: a
family that registers joins every bench, and one that cannot be built for a benchmark is
reported with the reason.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from sciml.spec import SpecError, parse_spec_yaml

#: trainer keys the budget sets, refused in a profile's ``trainer`` sections
BUDGET_KEYS = ("epochs", "max_steps")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Budget(_Strict):
    """The training budget of every cell: optimizer ``steps``, or wall-clock ``seconds``.

    ``seconds`` is turned into a step count per cell by timing ``probe_steps`` steps of a
    throw-away run of the same cell, so the recorded cell is reproducible from its step count.
    """

    steps: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, gt=0)
    probe_steps: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _one_budget(self) -> Budget:
        if (self.steps is None) == (self.seconds is None):
            raise ValueError("give exactly one of budget.steps or budget.seconds")
        return self

    def describe(self) -> str:
        if self.steps is not None:
            return f"{self.steps} optimizer steps per cell"
        return f"{self.seconds:g} s of training per cell (step count from a {self.probe_steps}-step probe)"


class Benchmark(_Strict):
    """One dataset made by a recipe, its split and fields, and its zero-shot resolutions."""

    description: str = ""
    recipe: str
    generate: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(
        description="the spec's data section without dataset/path/generate (kind, inputs, "
        "outputs, n_train, n_test, subsample, ...)"
    )
    task: str | None = None
    zero_shot: list[int] = Field(default_factory=list)
    trainer: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_file_keys(self) -> Benchmark:
        taken = sorted({"dataset", "path", "generate"} & set(self.data))
        if taken:
            raise ValueError(f"data: {taken} are set by the bench (use recipe: and generate:)")
        budget = sorted(set(BUDGET_KEYS) & set(self.trainer))
        if budget:
            raise ValueError(f"trainer: {budget} are set by the profile's budget")
        return self


class Profile(_Strict):
    """A whole bench (see the module docstring)."""

    name: str
    description: str = ""
    budget: Budget
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    trainer: dict[str, Any] = Field(default_factory=dict)
    optimizer: dict[str, Any] = Field(default_factory=dict)
    scheduler: dict[str, Any] = Field(default_factory=dict)
    evaluation: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    benchmarks: dict[str, Benchmark] = Field(min_length=1)
    _source: str = PrivateAttr(default="<profile>")

    @property
    def source(self) -> str:
        """The file the profile was read from (for messages)."""
        return self._source

    @model_validator(mode="after")
    def _budget_keys(self) -> Profile:
        budget = sorted(set(BUDGET_KEYS) & set(self.trainer))
        if budget:
            raise ValueError(f"trainer: {budget} are set by budget:")
        if any(s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be integers >= 0, got {self.seeds}")
        return self


def profiles_dir() -> Path:
    """Folder of the shipped profiles."""
    return Path(str(resources.files("sciml.bench") / "profiles"))


def profile_names() -> list[str]:
    """Sorted names of the shipped profiles."""
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """The shipped profile ``name_or_path`` (``"ci"``, ``"full"``) or the profile in that file;
    a :class:`~sciml.spec.SpecError` names the file, the key and what is allowed."""
    text_path = Path(name_or_path)
    if text_path.suffix in (".yaml", ".yml") or text_path.exists():
        path = text_path
        if not path.is_file():
            raise SpecError(f"--profile {name_or_path}: no such profile file")
    elif str(name_or_path) in profile_names():
        path = profiles_dir() / f"{name_or_path}.yaml"
    else:
        raise SpecError(
            f"--profile {name_or_path!r}: unknown profile; shipped profiles: "
            f"{', '.join(profile_names())} (or give a .yaml file)"
        )
    # the spec's YAML reader: YAML 1.2 floats, duplicate keys and alias bombs refused
    _, raw = parse_spec_yaml(path.read_text(), str(path))
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a bench profile must be a YAML mapping (name, budget, ...)")
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SpecError(f"{path}: {problems}") from None
    profile._source = str(path)
    return profile

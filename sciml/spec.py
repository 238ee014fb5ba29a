"""YAML experiment spec → typed, validated :class:`Spec` (pydantic v2).

A spec has six sections — ``data``, ``model``, ``optimizer``, ``scheduler``, ``trainer``,
``evaluation`` — plus ``name`` and ``seed``. Sections may name a preset from the shipped catalog
(``model: {preset: fno, n_modes: [16, 16]}``): the preset's YAML is loaded and the spec's keys
override it. ``--set a.b=value`` overrides are applied last.

Every user error is a :class:`SpecError` whose one-line message names the file, the line, the key
path and what is allowed, e.g.::

    examples/fno.yaml:14: trainer.epoch: unknown key. Did you mean 'epochs'? Allowed: batch_size, ...

The model section is open-ended (each model family has its own parameters); its keys are checked
against the registered constructor's signature.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sciml.catalog import PresetError, YamlLoader, load_yaml, read_preset
from sciml.registry import (
    DATASETS,
    LOSSES,
    METRICS,
    MODEL_DATA_KEYS,
    MODELS,
    RECIPES,
    UnknownNameError,
)


class SpecError(ValueError):
    """A user error in a spec: the message is meant to be printed as is (no traceback)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class NormalizeSpec(_Strict):
    """How inputs/outputs are normalized (fitted on the training split, saved with the model)."""

    inputs: Literal["gaussian", "range", "none"] = "gaussian"
    outputs: Literal["gaussian", "range", "none"] = "gaussian"
    pointwise: bool = False


class DataSpec(_Strict):
    """Which dataset file, which fields go in and out, and the train/test split."""

    dataset: str = Field(description="recipe name (see `sciml info`) that generates the file")
    path: str | None = Field(
        default=None, description="HDF5 file; default data/<dataset>.h5 (relative to the cwd)"
    )
    generate: dict[str, Any] = Field(
        default_factory=dict, description="recipe parameters used by `sciml generate`"
    )
    kind: str = Field(
        default="grid_pair",
        description="dataset class: grid_pair | time_window | all2all | pdebench_pair | ...",
    )
    inputs: list[str]
    outputs: list[str]
    n_train: int | None = Field(default=None, ge=1)
    n_test: int | None = Field(default=None, ge=1)
    test_fraction: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="default: the dataset class's convention"
    )
    subsample: int = Field(default=1, ge=1)
    options: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments of the dataset class"
    )
    normalize: NormalizeSpec = Field(default_factory=NormalizeSpec)

    @property
    def file(self) -> Path:
        return Path(self.path) if self.path else Path("data") / f"{self.dataset}.h5"


class OptimizerSpec(_Strict):
    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=0.0, ge=0.0)


class SchedulerSpec(_Strict):
    name: Literal["none", "cosine", "step", "plateau"] = "none"
    step_size: int = Field(default=100, ge=1, description="epochs between decays (step)")
    gamma: float = Field(default=0.5, gt=0.0, le=1.0)
    patience: int = Field(default=10, ge=0)
    warmup_steps: int = Field(default=0, ge=0)


class TrainerSpec(_Strict):
    epochs: int = Field(default=100, ge=1)
    max_steps: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=32, ge=1)
    loss: str = "relative_lp"
    grad_clip: float | None = Field(default=None, gt=0.0)
    grad_accum_steps: int = Field(default=1, ge=1)
    amp: Literal["none", "bf16", "fp16"] = "none"
    device: str = "cpu"
    dtype: Literal["float32", "float64"] = "float32"
    log_every: int = Field(default=50, ge=1)
    eval_every: int = Field(default=200, ge=1)
    checkpoint_every: int = Field(default=500, ge=1)
    num_workers: int = Field(default=0, ge=0)
    progress: bool = True


class EvaluationSpec(_Strict):
    metrics: list[str] = Field(
        default_factory=lambda: ["relative_l2", "nrmse", "max_error", "crmse", "brmse"]
    )
    resolutions: list[int] = Field(default_factory=list, description="zero-shot test resolutions")
    rollout_steps: int | None = Field(default=None, ge=1)
    plots: bool = True
    n_plot_samples: int = Field(default=3, ge=0)


class Spec(_Strict):
    """A whole experiment."""

    name: str = "run"
    seed: int = 0
    data: DataSpec
    model: dict[str, Any]
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    trainer: TrainerSpec = Field(default_factory=TrainerSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)

    @property
    def model_name(self) -> str:
        return str(self.model["name"])

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


# ------------------------------------------------------------------------------------------------
# catalog of presets


def load_preset(group: str, name: str) -> dict[str, Any]:
    """The mapping stored in ``catalog/<group>/<name>.yaml``; :class:`SpecError` lists the names."""
    try:
        return read_preset(group, name)
    except PresetError as err:
        raise SpecError(str(err)) from None


# ------------------------------------------------------------------------------------------------
# YAML with line numbers


def _line_index(node: yaml.Node, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path in a composed YAML document to its 1-based line number."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            lines[path] = key_node.start_mark.line + 1
            lines.update(_line_index(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = (*prefix, str(i))
            lines[path] = item.start_mark.line + 1
            lines.update(_line_index(item, path))
    return lines


def _where(source: str, lines: Mapping[tuple[str, ...], int], path: Sequence[Any]) -> str:
    key = tuple(str(p) for p in path)
    while key and key not in lines:
        key = key[:-1]
    return f"{source}:{lines[key]}" if key in lines else source


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.epochs=5"`` → ``(["trainer", "epochs"], 5)`` (the value is parsed as YAML)."""
    if "=" not in text:
        raise SpecError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. trainer.epochs=5")
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise SpecError(f"--set {text!r}: empty key")
    try:
        parsed = load_yaml(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise SpecError(f"--set {text!r}: value is not valid YAML ({exc})") from None
    return parts, parsed


def _apply_override(raw: dict[str, Any], parts: list[str], value: Any) -> None:
    node = raw
    for p in parts[:-1]:
        child = node.get(p)
        if child is None:
            child = node[p] = {}
        if not isinstance(child, dict):
            raise SpecError(f"--set {'.'.join(parts)}: {p!r} is not a section")
        node = child
    node[parts[-1]] = value


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = (
            _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
        )
    return out


def _describe(field_info: Any) -> str:
    ann = field_info.annotation
    text = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
    bounds = [
        f"{sym} {getattr(m, attr)}"
        for m in field_info.metadata
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))
        if getattr(m, attr, None) is not None
    ]
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _model_for_path(path: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model class that owns the last key of ``path`` (for listing allowed keys)."""
    cls: Any = Spec
    for p in path[:-1]:
        fields = getattr(cls, "model_fields", {})
        if p not in fields:
            return None
        ann = fields[p].annotation
        cls = ann if inspect.isclass(ann) and issubclass(ann, BaseModel) else None
        if cls is None:
            return None
    return cls


def _format_validation_error(
    exc: ValidationError, source: str, lines: Mapping[tuple[str, ...], int]
) -> str:
    msgs = []
    for err in exc.errors():
        loc = [p for p in err["loc"]]
        key = ".".join(map(str, loc))
        where = _where(source, lines, loc)
        owner = _model_for_path(loc)
        if err["type"] == "extra_forbidden" and owner is not None:
            allowed = list(owner.model_fields)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            msgs.append(f"{where}: {key}: unknown key.{hint} Allowed: {', '.join(allowed)}")
        elif err["type"] == "missing":
            msgs.append(f"{where}: {key}: required key is missing")
        else:
            expected = ""
            if owner is not None and str(loc[-1]) in owner.model_fields:
                expected = f" (expected {_describe(owner.model_fields[str(loc[-1])])})"
            got = err.get("input")
            msgs.append(f"{where}: {key}: {err['msg']}{expected}; got {got!r}")
    return "\n".join(msgs)


# ------------------------------------------------------------------------------------------------
# semantic checks against the registries


def _check_model_keys(spec: Spec, where: str) -> None:
    try:
        ctor = MODELS.get(spec.model_name)
    except UnknownNameError as exc:
        raise SpecError(f"{where}: model.name: {exc}") from None
    sig = inspect.signature(ctor)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return  # the constructor validates its own keys
    reserved = set(MODEL_DATA_KEYS)
    allowed = [n for n in sig.parameters if n not in reserved]
    for key in spec.model_kwargs:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecError(
                f"{where}: model.{key}: unknown key for model {spec.model_name!r}.{hint} "
                f"Allowed: {', '.join(allowed)}"
            )


def _check_names(spec: Spec, source: str, lines: Mapping[tuple[str, ...], int]) -> None:
    checks: list[tuple[tuple[str, ...], str, Any]] = [
        (("data", "dataset"), spec.data.dataset, RECIPES),
        (("data", "kind"), spec.data.kind, DATASETS),
        (("trainer", "loss"), spec.trainer.loss, LOSSES),
    ]
    checks += [
        (("evaluation", "metrics", str(i)), m, METRICS)
        for i, m in enumerate(spec.evaluation.metrics)
    ]
    for path, name, registry in checks:
        if path == ("data", "dataset") and spec.data.kind.startswith("pdebench"):
            continue  # foreign files are not produced by our recipes
        try:
            registry.get(name)
        except UnknownNameError as exc:
            raise SpecError(f"{_where(source, lines, path)}: {'.'.join(path)}: {exc}") from None
    _check_model_keys(spec, _where(source, lines, ("model", "name")))


# ------------------------------------------------------------------------------------------------
# public entry points


def load_spec(
    path: str | os.PathLike | None = None,
    overrides: Sequence[str] = (),
    *,
    text: str | None = None,
    check_names: bool = True,
) -> Spec:
    """Read, merge presets into, override and validate a spec.

    Parameters
    ----------
    path:
        The YAML file (or ``None`` with ``text``).
    overrides:
        ``["trainer.epochs=5", "model.width=64"]`` as given to ``--set``.
    text:
        YAML text instead of a file (``path`` then only names the source in messages).
    check_names:
        Check model/dataset/loss/metric names and model keys against the registries.
    """
    source = str(path) if path is not None else "<spec>"
    if text is None:
        if path is None:
            raise SpecError("no spec file given")
        p = Path(path)
        if not p.exists():
            raise SpecError(f"{source}: spec file not found")
        text = p.read_text()
    try:
        node = yaml.compose(text, Loader=YamlLoader)
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{source}{line}: invalid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec must be a YAML mapping with sections data, model, ...")
    lines = _line_index(node) if node is not None else {}

    for parts, value in (parse_override(o) for o in overrides):
        _apply_override(raw, parts, value)

    for section, group in (("model", "models"), ("data", "datasets")):
        sec = raw.get(section)
        if isinstance(sec, dict) and "preset" in sec:
            preset = sec.pop("preset")
            base = load_preset(group, str(preset))
            if section == "data":
                # dataset presets hold recipe parameters: they become data.generate defaults
                sec.setdefault("dataset", str(preset))
                sec["generate"] = _merge(base, sec.get("generate", {}))
            else:
                raw[section] = _merge(base, sec)
    model = raw.get("model")
    if isinstance(model, dict) and "name" not in model:
        raise SpecError(f"{_where(source, lines, ('model',))}: model.name: required key is missing")
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_validation_error(exc, source, lines)) from None
    if check_names:
        _check_names(spec, source, lines)
    return spec


def save_spec(spec: Spec, path: str | os.PathLike) -> None:
    """Write the resolved spec atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(spec.to_yaml())
    os.replace(tmp, path)

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
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sciml.atomic import atomic_write_text
from sciml.catalog import PresetError, YamlLoader, load_yaml, preset_names, read_preset
from sciml.registry import (
    CONSTRAINTS,
    DATASETS,
    METRICS,
    MODEL_DATA_KEYS,
    MODELS,
    RECIPES,
    TASKS,
    UnknownNameError,
)
from sciml.training.config import TrainerConfig
from sciml.training.loss_terms import build_loss


class SpecError(ValueError):
    """A user error in a spec: the message is meant to be printed as is (no traceback)."""


#: a spec is a few kilobytes: a bigger file is refused before it is parsed
MAX_SPEC_BYTES = 1_000_000
#: YAML nodes a spec may expand to once aliases (``*name``) are followed. A real spec has a few
#: hundred; an "alias bomb" (billion laughs) has billions, and every walk over it would hang.
MAX_SPEC_NODES = 100_000
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


def _plain_name(name: str) -> str:
    """A run name is one folder name under ``runs/``: no separators, no ``..``, no spaces."""
    if not _PLAIN_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a plain name: it becomes the folder runs/<name>, so use up to 128 "
            "letters, digits and . _ + - (no '/', '\\', '..' or spaces), e.g. 'fno-darcy'"
        )
    return name


RunName = Annotated[str, AfterValidator(_plain_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# The trainer's defaults live in TrainerConfig alone; the spec sections below take them from it.
_DEFAULT = TrainerConfig()


class NormalizeSpec(_Strict):
    """How inputs/outputs are normalized (fitted on the training split, saved with the model)."""

    inputs: Literal["gaussian", "range", "none"] = "gaussian"
    outputs: Literal["gaussian", "range", "none"] = "gaussian"
    pointwise: bool = False
    eps: float | None = Field(
        default=None,
        ge=0.0,
        description="added to the std (gaussian, default 1e-5; neuraloperator 1e-7) or the floor "
        "of the range (range, default 1e-12)",
    )


class DataSpec(_Strict):
    """Which dataset file, which fields go in and out, and the train/test split."""

    dataset: str | None = Field(
        default=None,
        description="recipe name (see `sciml info`) that generates the file; unset for a file no "
        "recipe made (`sciml import`, your own writer), which then needs data.path",
    )
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
    n_val: int | None = Field(
        default=None,
        ge=0,
        description="validation trajectories carved from the end of the training ones (best.pt "
        "is chosen on them); default: val_fraction of them; 0: select on the training split",
    )
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)
    test_fraction: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="default: the dataset class's convention"
    )
    subsample: int = Field(default=1, ge=1)
    options: dict[str, Any] = Field(
        default_factory=dict, description="extra keyword arguments of the dataset class"
    )
    normalize: NormalizeSpec = Field(default_factory=NormalizeSpec)
    shuffle: bool = Field(
        default=_DEFAULT.shuffle, description="new seeded sample order each epoch (else file order)"
    )

    @model_validator(mode="after")
    def _file_is_named(self) -> DataSpec:
        if self.dataset is None and self.path is None:
            raise ValueError(
                "give data.dataset (a recipe, see `sciml info`) or data.path (a file of yours)"
            )
        return self

    @property
    def file(self) -> Path:
        return Path(self.path) if self.path else Path("data") / f"{self.dataset}.h5"


class ParamGroupSpec(_Strict):
    """Parameters whose name matches ``match`` (a regex searched in the parameter name)."""

    match: str
    lr: float | None = Field(default=None, gt=0.0, description="this group's learning rate")
    lr_scale: float | None = Field(default=None, gt=0.0, description="× optimizer.lr")
    weight_decay: float | None = Field(default=None, ge=0.0)


class OptimizerSpec(_Strict):
    name: Literal["adam", "adamw", "adamw_complex"] = _DEFAULT.optimizer  # type: ignore[assignment]
    lr: float = Field(default=_DEFAULT.lr, gt=0.0)
    weight_decay: float = Field(default=_DEFAULT.weight_decay, ge=0.0)
    betas: tuple[float, float] = _DEFAULT.betas
    eps: float = Field(default=_DEFAULT.eps, gt=0.0)
    param_groups: list[ParamGroupSpec] = Field(
        default_factory=list, description="first match wins; the rest use lr/weight_decay"
    )


class SchedulerSpec(_Strict):
    name: Literal["none", "cosine", "step", "plateau", "exponential", "onecycle"] = (
        _DEFAULT.scheduler  # type: ignore[assignment]
    )
    interval: Literal["step", "epoch"] | None = Field(
        default=_DEFAULT.interval,
        description="what the decay counts; default: step for cosine/onecycle, epoch for step/exponential",
    )
    horizon: int | None = Field(
        default=_DEFAULT.horizon,
        ge=1,
        description="decay length in intervals (T_max); default: the run",
    )
    step_size: int = Field(default=_DEFAULT.step_size, ge=1, description="intervals between decays")
    gamma: float = Field(default=_DEFAULT.gamma, gt=0.0, le=1.0)
    patience: int = Field(default=_DEFAULT.patience, ge=0)
    warmup_steps: int = Field(default=_DEFAULT.warmup_steps, ge=0)
    pct_start: float = Field(default=_DEFAULT.pct_start, gt=0.0, lt=1.0)
    div_factor: float = Field(default=_DEFAULT.div_factor, gt=0.0)
    final_div_factor: float = Field(default=_DEFAULT.final_div_factor, gt=0.0)
    cycle_momentum: bool = _DEFAULT.cycle_momentum


class TrainerSpec(_Strict):
    epochs: int = Field(default=_DEFAULT.epochs, ge=1)
    max_steps: int | None = Field(default=_DEFAULT.max_steps, ge=1)
    batch_size: int = Field(default=_DEFAULT.batch_size, ge=1)
    loss: str | dict[str, Any] | list[str | dict[str, Any]] = Field(
        default="relative_lp",
        description="a loss name, {name, weight?, options...}, or a list of them (summed)",
    )
    grad_clip: float | None = Field(default=_DEFAULT.grad_clip, gt=0.0)
    grad_accum_steps: int = Field(default=_DEFAULT.grad_accum_steps, ge=1)
    amp: Literal["none", "bf16", "fp16"] = _DEFAULT.amp  # type: ignore[assignment]
    device: str = _DEFAULT.device
    dtype: Literal["float32", "float64"] = _DEFAULT.dtype  # type: ignore[assignment]
    log_every: int = Field(default=_DEFAULT.log_every, ge=1)
    eval_every: int = Field(default=_DEFAULT.eval_every, ge=1)
    checkpoint_every: int = Field(default=_DEFAULT.checkpoint_every, ge=1)
    num_workers: int = Field(default=_DEFAULT.num_workers, ge=0)
    progress: bool = _DEFAULT.progress


class EvaluationSpec(_Strict):
    metrics: list[str] = Field(
        default_factory=lambda: ["relative_l2", "nrmse", "max_error", "crmse", "brmse"]
    )
    resolutions: list[int] = Field(default_factory=list, description="zero-shot test resolutions")
    rollout_steps: int | None = Field(default=None, ge=1)
    plots: bool = True
    n_plot_samples: int = Field(default=3, ge=0)


class InitFromSpec(_Strict):
    """Start from another run's weights (fine-tuning); see :mod:`sciml.training.finetune`."""

    run: str = Field(description="the trained run directory")
    checkpoint: Literal["best", "last"] = "best"
    reinit: list[str] = Field(
        default_factory=list, description="regexes of state-dict names to keep re-initialized"
    )
    freeze: list[str] = Field(
        default_factory=list, description="regexes of parameter names not to train"
    )


class Spec(_Strict):
    """A whole experiment."""

    name: RunName = "run"
    seed: int = 0
    data: DataSpec
    model: dict[str, Any]
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    trainer: TrainerSpec = Field(default_factory=TrainerSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    task: str | None = Field(
        default=None,
        description="problem kind (see `sciml info`); default: the task of data.kind",
    )
    init_from: InitFromSpec | None = Field(
        default=None, description="fine-tune: a run directory, or {run, checkpoint, reinit, freeze}"
    )

    @field_validator("init_from", mode="before")
    @classmethod
    def _run_shorthand(cls, value: Any) -> Any:
        return {"run": value} if isinstance(value, str) else value

    constraint: dict[str, Any] | None = Field(
        default=None,
        description="{name: <registered constraint>, ...options}: applied to the model's output "
        "in physical units, in training, evaluation, load and export",
    )

    @property
    def model_name(self) -> str:
        return str(self.model["name"])

    @property
    def model_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model.items() if k != "name"}

    def trainer_config(self, *, progress: bool = True) -> TrainerConfig:
        """The :class:`TrainerConfig` of this spec: the ``trainer`` section's fields (all but
        ``loss``), the ``optimizer``'s and ``scheduler``'s (their ``name`` as ``optimizer`` /
        ``scheduler``), ``seed`` and ``data.shuffle``, by name, so a field added to both
        needs no copying code; ``progress=False`` hides the progress bar whatever the spec says."""
        values = self.trainer.model_dump(exclude={"loss"})
        for key, section in (("optimizer", self.optimizer), ("scheduler", self.scheduler)):
            for field_name, value in section.model_dump().items():
                values[key if field_name == "name" else field_name] = value
        values["param_groups"] = tuple(
            {k: v for k, v in group.items() if v is not None} for group in values["param_groups"]
        )
        values.update(
            seed=self.seed, shuffle=self.data.shuffle, progress=self.trainer.progress and progress
        )
        return TrainerConfig(**values)

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
# YAML with line numbers, size and alias limits, no duplicate keys


def _read_spec_text(path: str | os.PathLike) -> str:
    """The text of a spec file, refused (:class:`SpecError`) when missing, a folder, larger than
    :data:`MAX_SPEC_BYTES` (checked before reading it) or not UTF-8 text."""
    p = Path(path)
    if not p.exists():
        raise SpecError(f"{path}: spec file not found")
    if p.is_dir():
        raise SpecError(f"{path}: is a folder, not a spec file")
    size = p.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            f"{path}: {size / 1e6:.1f} MB is too large for a spec (limit "
            f"{MAX_SPEC_BYTES / 1e6:g} MB); is this the right file?"
        )
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason})") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror}") from None


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Nodes in ``node`` with every alias followed (shared subtrees counted once per use)."""
    if id(node) not in memo:
        memo[id(node)] = 0  # a recursive alias (&a [*a]) counts as nothing, not forever
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        memo[id(node)] = 1 + sum(_expanded_size(c, memo) for c in children)
    return memo[id(node)]


def _check_duplicate_keys(node: yaml.Node, source: str, path: tuple[str, ...] = ()) -> None:
    """Refuse a mapping that repeats a key (PyYAML would silently keep the last one)."""
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` merges, not a key
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first:
                raise SpecError(
                    f"{source}:{line}: {'.'.join((*path, key))}: duplicate key (first at line "
                    f"{first[key]}); YAML would keep only the last one, so remove one of them"
                )
            first[key] = line
            _check_duplicate_keys(value_node, source, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(item, source, (*path, str(i)))


def parse_spec_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Compose ``text`` once, check it (expanded size, duplicate keys), then construct it."""
    loader = YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        size = _expanded_size(node, {})
        if size > MAX_SPEC_NODES:
            raise SpecError(
                f"{source}: the YAML expands to {size:,} nodes through aliases (*name); a spec "
                f"may have at most {MAX_SPEC_NODES:,} (an alias bomb?)"
            )
        _check_duplicate_keys(node, source)
        return node, loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{source}{line}: invalid YAML: {problem}") from None
    except RecursionError:
        raise SpecError(f"{source}: the YAML is nested too deeply to be a spec") from None
    finally:
        loader.dispose()


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
    """``"trainer.epochs=5"`` → ``(["trainer", "epochs"], 5)`` (the value is parsed as YAML, so
    ``model.n_modes=[8,8]`` gives a list; quote a string that looks like something else)."""
    if "=" not in text:
        raise SpecError(f"--set {text!r}: expected KEY.PATH=VALUE, e.g. trainer.epochs=5")
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise SpecError(f"--set {text!r}: empty key")
    try:
        parsed = load_yaml(value) if value.strip() else None
    except yaml.YAMLError as exc:
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise SpecError(
            f"--set {text!r}: value is not valid YAML ({problem}); for a list write "
            f"[8, 8], for text that looks like YAML quote it: {key}='\"...\"'"
        ) from None
    return parts, parsed


def _section_keys(parts: Sequence[str]) -> list[str] | None:
    """The keys of the spec section at ``parts`` (``["trainer"]`` → epochs, ...), or ``None``
    when ``parts`` does not name a section of the :class:`Spec` model."""
    owner = _model_for_path([*parts, ""])
    return list(owner.model_fields) if owner is not None and len(parts) else None


def _apply_override(raw: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``raw[parts[0]][parts[1]]...`` to ``value``; a number indexes into a list.

    Refused: a path through a value (``trainer.epochs.x``), an index past a list's end, and a
    non-mapping value onto a section (``trainer=5``), each with what the path holds."""
    key = ".".join(parts)
    node: Any = raw
    for i, p in enumerate(parts):
        last, here = i == len(parts) - 1, ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not p.isdigit() or int(p) >= len(node):
                raise SpecError(
                    f"--set {key}: {'.'.join(parts[:i])} is a list of {len(node)} items; "
                    f"index it with 0..{len(node) - 1}, or set the whole list: "
                    f"--set {'.'.join(parts[:i])}=[...]"
                )
            p = int(p)  # type: ignore[assignment]
        elif not isinstance(node, dict):
            raise SpecError(
                f"--set {key}: {parts[i - 1]!r} is not a section: {'.'.join(parts[:i])} holds "
                f"the value {node!r}; set it with --set {'.'.join(parts[:i])}=VALUE"
            )
        if last:
            current = node[p] if isinstance(node, list) else node.get(p)
            keys = _section_keys(parts)
            if keys is None and isinstance(current, dict):
                keys = list(current)
            if keys is not None and not isinstance(value, dict):
                example = f", e.g. --set {key}.{keys[0]}=..." if keys else ""
                raise SpecError(
                    f"--set {key}={value!r}: {here} is a section (keys: {', '.join(keys)}), "
                    f"not a value; set one of its keys{example}"
                )
            node[p] = value
            return
        child = node[p] if isinstance(node, list) else node.get(p)
        if child is None:
            child = node[p] = {}
        node = child


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
    exc: ValidationError,
    source: str,
    lines: Mapping[tuple[str, ...], int],
    overridden: Mapping[tuple[str, ...], str] | None = None,
) -> str:
    overridden = overridden or {}
    msgs = []
    # a section with a misspelt `preset:` misses the keys the preset would bring: say only the typo
    preset_typos = {
        tuple(err["loc"][:-1])
        for err in exc.errors()
        if err["type"] == "extra_forbidden"
        and difflib.get_close_matches(str(err["loc"][-1]), ["preset"], n=1)
    }
    for err in exc.errors():
        loc = [p for p in err["loc"]]
        if err["type"] == "missing" and tuple(loc[:-1]) in preset_typos:
            continue
        key = ".".join(map(str, loc))
        where = _override_or_where(source, lines, overridden, loc)
        owner = _model_for_path(loc)
        if err["type"] == "extra_forbidden" and owner is not None:
            # `preset:` is resolved before validation, so it is allowed without being a field
            allowed = list(owner.model_fields) + (["preset"] if owner is DataSpec else [])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            msgs.append(f"{where}: {key}: unknown key.{hint} Allowed: {', '.join(allowed)}")
        elif err["type"] == "missing":
            msgs.append(f"{where}: {key}: required key is missing")
        else:
            expected = ""
            if (
                owner is not None
                and str(loc[-1]) in owner.model_fields
                and err["type"] != "value_error"  # a validator's message says what is allowed
            ):
                expected = f" (expected {_describe(owner.model_fields[str(loc[-1])])})"
            got = err.get("input")
            msg = str(err["msg"]).removeprefix("Value error, ")
            msgs.append(f"{where}: {key}: {msg}{expected}; got {got!r}")
    return "\n".join(msgs)


def _override_or_where(
    source: str,
    lines: Mapping[tuple[str, ...], int],
    overridden: Mapping[tuple[str, ...], str],
    path: Sequence[Any],
) -> str:
    """``--set KEY=VALUE`` when ``path`` got its value from that override, else ``file:line``."""
    key = tuple(str(p) for p in path)
    for n in range(len(key), 0, -1):
        if key[:n] in overridden:
            return f"--set {overridden[key[:n]]}"
    return _where(source, lines, path)


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
            close = difflib.get_close_matches(key, [*allowed, "preset"], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecError(
                f"{where}: model.{key}: unknown key for model {spec.model_name!r}.{hint} "
                f"Allowed: {', '.join(allowed)}"
            )


def _check_names(spec: Spec, source: str, lines: Mapping[tuple[str, ...], int]) -> None:
    checks: list[tuple[tuple[str, ...], str, Any]] = [(("data", "kind"), spec.data.kind, DATASETS)]
    if spec.data.dataset is not None:
        checks.append((("data", "dataset"), spec.data.dataset, RECIPES))
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
    try:
        build_loss(spec.trainer.loss)
    except ValueError as exc:
        raise SpecError(f"{_where(source, lines, ('trainer', 'loss'))}: {exc}") from None
    named = [(("task",), spec.task, TASKS)] if spec.task is not None else []
    if spec.constraint is not None:
        if "name" not in spec.constraint:
            where = _where(source, lines, ("constraint",))
            raise SpecError(f"{where}: constraint.name: required key is missing")
        named.append((("constraint", "name"), str(spec.constraint["name"]), CONSTRAINTS))
    for path, name, registry in named:
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
        text = _read_spec_text(path)
    elif len(text.encode()) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: too large for a spec (limit {MAX_SPEC_BYTES / 1e6:g} MB)")
    node, raw = parse_spec_yaml(text, source)
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a spec must be a YAML mapping with sections data, model, ...")
    lines = _line_index(node) if node is not None else {}

    # `preset` overrides first, so that the others can reach into what the preset brings
    # (`--set model.n_modes.0=8` on a preset's list)
    parsed = [(parse_override(o), o) for o in overrides]
    overridden = {tuple(parts): text for (parts, _), text in parsed}
    for (parts, value), _ in parsed:
        if parts[-1] == "preset":
            _apply_override(raw, parts, value)
    _resolve_presets(raw)
    for (parts, value), _ in parsed:
        if parts[-1] != "preset":
            _apply_override(raw, parts, value)

    model = raw.get("model")
    if isinstance(model, dict) and "name" not in model:
        raise SpecError(_model_without_name(model, source, lines, overridden))
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_validation_error(exc, source, lines, overridden)) from None
    if check_names:
        _check_names(spec, source, lines)
    return spec


def _resolve_presets(raw: dict[str, Any]) -> None:
    """Replace ``model.preset`` / ``data.preset`` by the preset's keys (the spec's keys win)."""
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


def _model_without_name(
    model: Mapping[str, Any],
    source: str,
    lines: Mapping[tuple[str, ...], int],
    overridden: Mapping[tuple[str, ...], str],
) -> str:
    """The message for a model section with neither ``name`` nor ``preset``: a key that looks
    like a typo of one of them is named first (``preste: fno`` → did you mean 'preset'?)."""
    need = (
        f"the model section needs name: (a model: {', '.join(MODELS.names())}) or preset: "
        f"(one of {', '.join(preset_names('models'))})"
    )
    for key in model:
        close = difflib.get_close_matches(str(key), ["preset", "name"], n=1, cutoff=0.6)
        if close:
            where = _override_or_where(source, lines, overridden, ("model", key))
            return f"{where}: model.{key}: unknown key. Did you mean {close[0]!r}? ({need})"
    where = _override_or_where(source, lines, overridden, ("model",))
    return f"{where}: model.name: required key is missing ({need})"


def save_spec(spec: Spec, path: str | os.PathLike) -> None:
    """Write the resolved spec atomically (:mod:`sciml.atomic`)."""
    atomic_write_text(spec.to_yaml(), path)

"""ONNX export of a trained surrogate: a file that runs in onnxruntime without torch or sciml.

:func:`export_onnx` converts the module ``sciml.load`` returns (normalizers folded in: physical
units in and out) with ``torch.onnx``'s ``torch.export``-based converter at opset
:data:`ONNX_OPSET` (17 is the first with ``DFT``), after replacing neuraloperator's complex
spectral convolutions by their real-arithmetic equivalent (:mod:`sciml.tasks.onnx_spectral`). The
graph is then run in onnxruntime on the task's example inputs and compared with the torch output;
a disagreement refuses the export. Only a checked file is written (atomically), with its inputs,
outputs, shapes, units and normalization in the ONNX ``metadata_props``::

    import onnxruntime as ort
    session = ort.InferenceSession("runs/fno_poisson2d/surrogate.onnx")
    (u,) = session.run(None, {"x": f})          # f: float32 (1, 1, 64, 64) → u (1, 1, 64, 64)

Inputs are named after the model's input keys (``x``; ``x``, ``dt`` for a time-conditioned run;
the training grid of a coordinate-taking model is folded in), outputs ``y``, or ``y_mean`` and
``y_var`` for a probabilistic model.

A model whose operators have no ONNX form is refused with :class:`OnnxExportError`, naming the
family and the operator (a layer that knows it has none says so before the conversion, through
a class attribute ``onnx_refusal``: the hard PDE constraint); nothing is written and there is no
fallback. Unlike the other formats the batch axis is dynamic (checked at several batch sizes);
the grid and dtype are fixed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import tempfile
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sciml.atomic import atomic_write_bytes
from sciml.embed import PlainOutput, output_tensors
from sciml.rundir import RunDirError
from sciml.tasks.onnx_spectral import UnsupportedSpectralConv, with_real_spectral_convs

__all__ = ["ONNX_OPSET", "RTOL", "OnnxExportError", "export_onnx", "family_name", "read_metadata"]

ONNX_OPSET = 18
RTOL = 1e-4  # onnxruntime vs torch: |onnx - torch| <= RTOL * |torch| + ATOL_SCALE * max|torch|
ATOL_SCALE = 1e-5

_NO_FUNCTION = re.compile(
    r"No ONNX function found for <OpOverload\(op='([\w.]+)', overload='(\w+)'\)>\.?"
    r"(?: Failure message: ([^\n]+))?"
)

# the innermost frame of our own code in a tracing failure: where the model branches on data
_SCIML_FRAME = re.compile(
    r'File "[^"]*/(sciml/(?!tasks/onnx)[^"]+)", line (\d+), in \w+\n\s*([^\n]+)'
)


class OnnxExportError(ValueError):
    """The model cannot be written as an ONNX file that reproduces it (the message says why)."""


def family_name(info: Mapping[str, Any]) -> str:
    """The model family of a run's ``model.json``, with its constraint: ``"fno"``,
    ``"fno + mass_projection"``."""
    name = str(info.get("name", "?"))
    constraint = info.get("constraint")
    if isinstance(constraint, Mapping) and constraint.get("name"):
        return f"{name} + {constraint['name']}"
    return name


def export_onnx(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    out: str | Path,
    *,
    info: Mapping[str, Any],
    checks: Sequence[tuple[torch.Tensor, ...]] = (),
    rtol: float = RTOL,
) -> Path:
    """Write ``module`` (a loaded run's surrogate) traced with ``inputs`` to the ONNX file ``out``.

    Parameters
    ----------
    module:
        The module ``sciml.load`` returns; its output is a tensor or a ``(mean, var)`` pair.
    inputs:
        The task's example inputs (``Task.example_inputs``), e.g. ``x`` ``(B, C_in, *S)`` and a
        lead time ``dt`` ``(B,)``, with ``B >= 2``. The leading (batch) axis of every input and
        output is dynamic in the file (named ``batch``); the other axes and the dtype are fixed.
    info:
        The run's ``model.json`` (family, fields, grid, normalization: written as metadata).
    checks:
        Further inputs (other batch sizes) the file must reproduce the torch output on.
    rtol:
        onnxruntime's output must match torch's within ``rtol · |torch| + 1e-5 · max|torch|``.

    Raises
    ------
    OnnxExportError
        An operator without an ONNX conversion (named), or onnxruntime disagreeing with torch.
    """
    import onnx
    import onnxruntime as ort

    out = Path(out)
    family = family_name(info)
    if inputs[0].shape[0] < 2:
        # torch.export specializes a size-1 axis to 1: trace with a batch of two or more
        raise ValueError(f"trace ONNX with a batch of at least 2, got {inputs[0].shape[0]}")
    try:
        # fail before the slow conversion if the folder cannot take a file
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write there: {exc}") from None
    for layer in module.modules():
        # a layer may say up front why it has no ONNX form (``onnx_refusal``, a class attribute)
        reason = getattr(type(layer), "onnx_refusal", None)
        if reason:
            raise OnnxExportError(f"{family}: cannot be exported to ONNX: {reason}")
    input_names = _input_names(module, len(inputs))
    try:
        plain = PlainOutput(with_real_spectral_convs(module)).eval().requires_grad_(False)
    except UnsupportedSpectralConv as exc:
        raise OnnxExportError(f"{family}: cannot be exported to ONNX: {exc}") from None
    with torch.no_grad():
        expected = output_tensors(module(*inputs))
        output_names = ["y_mean", "y_var"] if len(expected) == 2 else ["y"]
        model = _convert(plain, inputs, input_names, output_names, family)
    try:
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unexported types
        raise OnnxExportError(_cannot_run(family, exc)) from None
    worst, batches = 0.0, []
    for case in (inputs, *checks):
        worst = max(worst, _check(session, module, case, input_names, output_names, family, rtol))
        batches.append(int(case[0].shape[0]))
    metadata = _metadata(info, family, input_names, inputs, output_names, expected)
    metadata["sciml.validation"] = (
        f"onnxruntime {ort.__version__} vs torch {torch.__version__} on the example inputs at "
        f"batch sizes {sorted(set(batches))}: max |diff| {worst:.3e} (rtol={rtol:g}, "
        f"atol={ATOL_SCALE:g}*max|torch|)"
    )
    onnx.helper.set_model_props(model, metadata)
    model.doc_string = f"sciml {family} surrogate: physical units in and out"
    onnx.checker.check_model(model)
    atomic_write_bytes(model.SerializeToString(), [out])
    return out


def _check(
    session: Any,
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    family: str,
    rtol: float,
) -> float:
    """Run ``inputs`` through onnxruntime and torch; the max abs difference, or
    :class:`OnnxExportError` where they disagree."""
    with torch.no_grad():
        expected = output_tensors(module(*inputs))
    feeds = {name: t.detach().cpu().numpy() for name, t in zip(input_names, inputs)}
    try:
        got = session.run(output_names, feeds)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unexported types
        raise OnnxExportError(_cannot_run(family, exc)) from None
    worst = 0.0
    for name, g, e in zip(output_names, got, expected):
        e = e.detach().cpu().numpy()
        atol = ATOL_SCALE * float(np.abs(e).max(initial=0.0))
        if g.shape != e.shape or not np.allclose(g, e, rtol=rtol, atol=atol):
            diff = np.abs(g - e).max() if g.shape == e.shape else f"shape {g.shape} vs {e.shape}"
            raise OnnxExportError(
                f"{family}: the ONNX graph run in onnxruntime disagrees with the torch model on "
                f"output {name!r} at batch size {e.shape[0]} (max |diff| {diff}, allowed "
                f"rtol={rtol:g}, atol={atol:.2e}); not written"
            )
        worst = max(worst, float(np.abs(g - e).max(initial=0.0)))
    return worst


def _cannot_run(family: str, exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{family}: onnxruntime cannot run the exported graph: {lines[0] if lines else exc!r}"


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``sciml.*`` metadata of an exported file, JSON values decoded (needs only ``onnx``)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta: dict[str, Any] = {}
    for prop in model.metadata_props:
        try:
            meta[prop.key] = json.loads(prop.value)
        except json.JSONDecodeError:
            meta[prop.key] = prop.value
    return meta


def _input_names(module: nn.Module, n: int) -> list[str]:
    """The graph's input names: the model's input keys without ``coords`` (the training grid is
    folded in), e.g. ``["x"]`` or ``["x", "dt"]``."""
    keys = [k for k in getattr(module, "input_keys", ("x",)) if k != "coords"]
    if len(keys) != n:
        raise OnnxExportError(
            f"the model takes inputs {keys} but the task gives {n} example inputs; cannot name "
            "the ONNX inputs"
        )
    return keys


def _convert(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    input_names: list[str],
    output_names: list[str],
    family: str,
) -> Any:
    """``torch.onnx.export`` (``torch.export`` based) → an ``onnx.ModelProto``; a failure becomes an
    :class:`OnnxExportError` naming the operator."""
    log = io.StringIO()
    disabled = logging.root.manager.disable
    try:
        # the converter prints progress and logs graphs of failed attempts: the outcome (the file,
        # or one error naming the operator) is what the caller reads
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)
            batch = torch.export.Dim("batch", min=1)
            program = torch.onnx.export(
                module,
                inputs,
                dynamic_shapes=(tuple({0: batch} for _ in inputs),),  # forward(*inputs)
                dynamo=True,
                opset_version=ONNX_OPSET,
                input_names=input_names,
                output_names=output_names,
                external_data=False,
                verbose=False,
            )
    except Exception as exc:  # noqa: BLE001 - every converter failure is reported as one error
        raise OnnxExportError(
            f"{family}: cannot be exported to ONNX (opset {ONNX_OPSET}): {_reason(exc)}"
        ) from exc
    finally:
        logging.disable(disabled)
    return program.model_proto


def _reason(exc: BaseException) -> str:
    """The operator (or tracing step) that stopped the conversion, in one line."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ if root.__cause__ is not None else root.__context__
    if type(root).__module__.startswith("sciml."):
        # a layer of ours that refuses tracing says why itself
        return f"{type(root).__name__}: {root}"
    text = "".join(traceback.format_exception(exc))
    found = _NO_FUNCTION.search(text)
    if found:
        op, overload, why = found.groups()
        detail = f" ({why.strip()})" if why else ""
        return (
            f"operator {op}.{overload} has no ONNX conversion{detail}; "
            "`sciml export --format export` (torch.export) may still write it"
        )
    for marker in ("data-dependent", "Dynamic control flow", "Unsupported"):
        for line in text.splitlines():
            if marker in line:
                where = _SCIML_FRAME.findall(text)
                at = f" (at {where[-1][0]}:{where[-1][1]}: {where[-1][2].strip()})" if where else ""
                return f"torch.export cannot trace it: {line.strip()}{at}"
    first = str(root).strip().splitlines()
    ours = _SCIML_FRAME.findall(text)
    frames = traceback.extract_tb(root.__traceback__)
    if ours:
        at = f" (at {ours[-1][0]}:{ours[-1][1]}: {ours[-1][2].strip()})"
    else:
        at = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(root).__name__}: {first[0] if first else ''}{at}"


def _metadata(
    info: Mapping[str, Any],
    family: str,
    input_names: Sequence[str],
    inputs: Sequence[torch.Tensor],
    output_names: Sequence[str],
    outputs: Sequence[torch.Tensor],
) -> dict[str, str]:
    """``metadata_props``: names, shapes, dtypes and meaning of every input and output."""
    grid = info.get("spatial_shape")
    meaning = {
        "x": f"input fields {info.get('input_fields')} (channels), grid {grid}, physical units",
        "dt": "lead time, in the time units of the training data; one per batch sample",
        "t": "time, in the time units of the training data; one per batch sample",
        "y": f"output fields {info.get('output_fields')} (channels), grid {grid}, physical units",
        "y_mean": f"mean of the output fields {info.get('output_fields')}, physical units",
        "y_var": f"variance of the output fields {info.get('output_fields')}, physical units squared",
    }

    def describe(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> str:
        rows = [
            {
                "name": n,
                "shape": ["batch", *t.shape[1:]],
                "dtype": str(t.dtype).removeprefix("torch."),
                "meaning": meaning.get(n, ""),
            }
            for n, t in zip(names, tensors)
        ]
        return json.dumps(rows)

    return {
        "sciml.family": family,
        "sciml.task": str(info.get("task", "")),
        "sciml.inputs": describe(input_names, inputs),
        "sciml.outputs": describe(output_names, outputs),
        "sciml.input_fields": json.dumps(info.get("input_fields", [])),
        "sciml.output_fields": json.dumps(info.get("output_fields", [])),
        "sciml.units": (
            "physical units in and out: the input normalizer and the output de-normalization "
            "fitted on the training split are inside the graph"
        ),
        "sciml.normalization": json.dumps(info.get("normalize")),
        "sciml.opset": str(ONNX_OPSET),
    }

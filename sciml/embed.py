"""Embed a trained model in simulation code: :class:`Surrogate` and :func:`export_module`.

A :class:`Surrogate` is an ``nn.Module`` with the normalizers fitted at training time folded in:
physical fields in, physical fields out, batched ``(B, C_in, *S)`` or a single sample ``(C_in, *S)``,
movable with ``.to(device, dtype)``. Models that need query coordinates (DeepONet) get the training
grid by default, so the call is the same for every field model family::

    surrogate = sciml.load("runs/fno_poisson2d")
    u = surrogate(f)            # f: (B, 1, 64, 64) source → u: (B, 1, 64, 64) solution
    u1 = surrogate(u0, dt)      # a time-conditioned model: lead time dt (s), scalar or (B,)

:func:`export_module` writes a file that loads without sciml installed (``torch.export`` program
or TorchScript), checked against the in-memory model. ``sciml.load`` / ``sciml.export``
(:mod:`sciml.tasks`) build these for a run directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from sciml.atomic import atomic_path
from sciml.models.outputs import GaussianOutput, is_gaussian
from sciml.rundir import MODEL_INFO, RunDirError

__all__ = ["MODEL_INFO", "RunDirError", "Surrogate", "example_input", "export_module"]


class Surrogate(nn.Module):
    """A trained model in physical units.

    Parameters
    ----------
    model:
        The normalized model (``NormalizedModel``) restored from a run.
    info:
        The run's ``model.json``: field names, channels, training grid, ...
    coords:
        ``(d, *S)`` training-grid coordinates, used when the model needs coordinates and the caller
        gives none.
    """

    def __init__(self, model: nn.Module, info: dict[str, Any], coords: torch.Tensor | None) -> None:
        super().__init__()
        self.model = model
        self.info = info
        self.input_fields: list[str] = list(info.get("input_fields", []))
        self.output_fields: list[str] = list(info.get("output_fields", []))
        self.n_dims = int(info["n_dims"])
        self.input_keys: tuple[str, ...] = tuple(getattr(model, "input_keys", ("x",)))
        self.needs_coords = "coords" in self.input_keys
        if coords is not None:
            self.register_buffer("coords", coords.clone())
        else:
            self.coords = None

    def forward(self, x: torch.Tensor, *extra: Any, coords: torch.Tensor | None = None) -> Any:
        """Map input fields to output fields.

        Parameters
        ----------
        x:
            ``(B, C_in, *S)`` or ``(C_in, *S)`` input fields in physical units, ``C_in`` the
            trained ``in_channels`` (else a :class:`ValueError` naming them,
            :meth:`check_channels`).
        *extra:
            The model's further inputs in the order of its ``input_keys`` (e.g. the lead time
            ``dt`` (s) of a time-conditioned model, a number or ``(B,)``).
        coords:
            ``(B, d, *S)`` or ``(d, *S)`` query coordinates (models with ``coords`` input only);
            default: the training grid.

        Returns
        -------
        Tensor or GaussianOutput
            ``(B, C_out, *S)`` or ``(C_out, *S)``, matching the batching of ``x``; a
            probabilistic model's ``(mean, var)`` pair of such tensors.
        """
        single = x.dim() == self.n_dims + 1
        if single:
            x = x.unsqueeze(0)
        if x.dim() != self.n_dims + 2:
            raise ValueError(
                f"expected input of shape (B, C_in, *S) or (C_in, *S) with {self.n_dims} spatial "
                f"dims, got {tuple(x.shape)}"
            )
        self.check_channels(x.shape[1])
        given = list(extra)
        args = [x]
        for key in self.input_keys[1:]:
            if key == "coords":
                value = coords if coords is not None else (given.pop(0) if given else None)
                if value is None:
                    if self.coords is None:
                        raise ValueError("this model needs query coordinates: pass coords=")
                    value = self.coords
                if value.dim() == self.n_dims + 1:
                    value = value.unsqueeze(0).expand(x.shape[0], *value.shape)
            else:
                if not given:
                    raise ValueError(
                        f"this model takes {list(self.input_keys)}: call surrogate(x, "
                        f"{', '.join(self.input_keys[1:])})"
                    )
                value = torch.as_tensor(given.pop(0))
                if value.dim() == 0:
                    value = value.expand(x.shape[0])
            args.append(value.to(x))
        out = self.model(*args)
        if not single:
            return out
        if is_gaussian(out):
            return GaussianOutput(out[0].squeeze(0), out[1].squeeze(0))
        return out.squeeze(0)

    def check_channels(self, got: int) -> None:
        """A one-line :class:`ValueError` when ``got`` input channels are not the trained
        ``in_channels``, naming the channels in their order: the input fields, then a
        time-conditioned run's ``constant_inputs`` (``data.options.constant_inputs``, e.g. a
        forcing, which the caller appends after the state)."""
        expected = self.info.get("in_channels")
        if expected is None or got == int(expected):
            return
        expected = int(expected)
        constant = list(self.info.get("constant_inputs") or [])
        if constant:
            n_constant = expected - int(self.info["out_channels"])
            channels = (
                f"the fields {self.input_fields} ({expected - n_constant}) then the constant "
                f"inputs {constant} ({n_constant}), concatenated along the channel axis"
            )
            if got == expected - n_constant:
                channels += f" (the constant inputs {constant} are missing)"
        else:
            channels = f"the fields {self.input_fields}"
        raise ValueError(f"input has {got} channels, expected {expected}: {channels}")


def example_input(surrogate: Surrogate, batch: int = 2) -> torch.Tensor:
    """A random input of the training shape ``(batch, C_in, *S)`` for tracing and tests."""
    shape = (batch, int(surrogate.info["in_channels"]), *surrogate.info["spatial_shape"])
    ref = next(surrogate.parameters())
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(ref)


def export_module(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    out: str | os.PathLike,
    *,
    format: Literal["export", "torchscript"] = "export",
) -> Path:
    """Write ``module`` traced with ``inputs`` to ``out`` (atomically), for use without sciml.

    * ``"export"``: a ``torch.export`` program (``.pt2``), load with ``torch.export.load(path)
      .module()``;
    * ``"torchscript"``: a traced TorchScript module (``.ts``), load with ``torch.jit.load``
      (for C++ / older deployments; torch 2.13 deprecates ``torch.jit``, so prefer ``"export"``).

    A ``(mean, var)`` output is written as a plain tuple (readers need no sciml class). Both are
    specialized to the shapes of ``inputs``: neuraloperator's FNO fixes the batch size
    when traced (its einsum contraction path is computed from concrete shapes), so a dynamic batch
    dimension cannot be exported for every model family. The written file is re-loaded and its
    output compared with the in-memory module's before the file is moved into place.
    """
    out = Path(out)
    try:
        # fail before the slow export if the folder cannot take a file; an earlier export at
        # `out` is left as it is until the new one has been checked
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write there: {exc}") from None
    module = PlainOutput(module)
    with torch.no_grad(), atomic_path(out) as tmp:
        expected = module(*inputs)
        if format == "export":
            program = torch.export.export(module, inputs)
            torch.export.save(program, tmp)
            got = torch.export.load(tmp).module()(*inputs)
        else:
            traced = torch.jit.trace(module, inputs, check_trace=False)
            traced.save(str(tmp))
            got = torch.jit.load(str(tmp))(*inputs)
        for g, e in zip(output_tensors(got), output_tensors(expected)):
            if not torch.allclose(g, e, rtol=1e-5, atol=1e-6):
                raise RuntimeError(
                    f"exported model differs from the in-memory one by {(g - e).abs().max():.3e}"
                )
    return out


class PlainOutput(nn.Module):
    """``module`` with a :class:`GaussianOutput` returned as a plain ``(mean, var)`` tuple."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *inputs: torch.Tensor) -> Any:
        out = self.module(*inputs)
        return (out[0], out[1]) if is_gaussian(out) else out


def output_tensors(output: Any) -> tuple[torch.Tensor, ...]:
    """A model's output as a tuple of tensors (one tensor, or the entries of a tuple/list)."""
    return tuple(output) if isinstance(output, (tuple, list)) else (output,)

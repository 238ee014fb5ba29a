"""Embed a trained model in simulation code: :func:`load` → :class:`Surrogate`, and :func:`export`.

A :class:`Surrogate` is an ``nn.Module`` with the normalizers fitted at training time folded in:
physical fields in, physical fields out, batched ``(B, C_in, *S)`` or a single sample ``(C_in, *S)``,
movable with ``.to(device, dtype)``. Models that need query coordinates (DeepONet) get the training
grid by default, so the call is the same for every model family::

    surrogate = sciml.load("runs/fno_poisson2d")
    u = surrogate(f)            # f: (B, 1, 64, 64) source → u: (B, 1, 64, 64) solution

:func:`export` writes a file that loads without sciml installed (``torch.export`` program or
TorchScript), checked against the in-memory model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from sciml.devices import resolve_device
from sciml.models.build import build_normalized_model, build_simulator

MODEL_INFO = "model.json"


class RunDirError(ValueError):
    """A run directory that is missing, incomplete or not from sciml."""


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
        self.needs_coords = "coords" in tuple(getattr(model, "input_keys", ("x",)))
        if coords is not None:
            self.register_buffer("coords", coords.clone())
        else:
            self.coords = None

    def forward(self, x: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """Map input fields to output fields.

        Parameters
        ----------
        x:
            ``(B, C_in, *S)`` or ``(C_in, *S)`` input fields in physical units.
        coords:
            ``(B, d, *S)`` or ``(d, *S)`` query coordinates (models with ``coords`` input only);
            default: the training grid.

        Returns
        -------
        Tensor
            ``(B, C_out, *S)`` or ``(C_out, *S)``, matching the batching of ``x``.
        """
        single = x.dim() == self.n_dims + 1
        if single:
            x = x.unsqueeze(0)
        if x.dim() != self.n_dims + 2:
            raise ValueError(
                f"expected input of shape (B, C_in, *S) or (C_in, *S) with {self.n_dims} spatial "
                f"dims, got {tuple(x.shape)}"
            )
        args = [x]
        if self.needs_coords:
            if coords is None:
                if self.coords is None:
                    raise ValueError("this model needs query coordinates: pass coords=")
                coords = self.coords
            if coords.dim() == self.n_dims + 1:
                coords = coords.unsqueeze(0).expand(x.shape[0], *coords.shape)
            args.append(coords.to(x))
        out = self.model(*args)
        return out.squeeze(0) if single else out


def _read_info(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: run directory not found")
    info_path = run_dir / MODEL_INFO
    if not info_path.exists():
        raise RunDirError(
            f"{run_dir}: no {MODEL_INFO} (not a sciml run, or training never started)"
        )
    try:
        return json.loads(info_path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{info_path}: corrupt model description: {exc}") from None


def load(
    run_dir: str | os.PathLike,
    *,
    checkpoint: Literal["best", "last"] = "best",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Surrogate | nn.Module:
    """Restore the trained model of ``run_dir`` in eval mode.

    A field-to-field model comes back as a :class:`Surrogate`. A learned simulator (a run on
    particle trajectories, e.g. NCLaw) comes back as itself, e.g. a
    :class:`~sciml.models.learned_mpm.LearnedMPM`: its ``.simulator`` is an
    :class:`~sciml.solvers.mpm.MPMSimulator` with the trained law, whose ``step``/``rollout`` take
    any particle state in SI units (another shape, particle count or velocity).

    Parameters
    ----------
    checkpoint:
        ``"best"`` (lowest validation loss) or ``"last"``.
    """
    device = resolve_device(device)  # a clear ValueError for a device this machine lacks
    run_dir = Path(run_dir)
    info = _read_info(run_dir)
    path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not path.exists():
        if checkpoint == "best" and (path.parent / "last.pt").exists():
            raise RunDirError(
                f"{path}: not found: validation never gave a finite loss (e.g. every validation "
                "rollout diverged); use the last checkpoint (--checkpoint last)"
            )
        raise RunDirError(f"{path}: checkpoint not found (did training save one?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged zip/pickle
        raise RunDirError(f"{path}: cannot read checkpoint: {exc}") from None
    if "simulation" in info.get("kwargs", {}):
        # a learned simulator maps physical particle states itself: no normalizers to fold in
        simulator = build_simulator(info)
        simulator.load_state_dict(state["model"])
        return simulator.to(device=device, dtype=dtype).eval()
    model = build_normalized_model(info)
    model.load_state_dict(state["model"])
    coords = torch.tensor(info["coords"]) if info.get("coords") is not None else None
    return Surrogate(model, info, coords).to(device=device, dtype=dtype).eval()


def example_input(surrogate: Surrogate, batch: int = 2) -> torch.Tensor:
    """A random input of the training shape ``(batch, C_in, *S)`` for tracing and tests."""
    shape = (batch, int(surrogate.info["in_channels"]), *surrogate.info["spatial_shape"])
    ref = next(surrogate.parameters())
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(ref)


def export(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    format: Literal["export", "torchscript"] = "export",
    batch_size: int = 1,
) -> Path:
    """Write the surrogate of ``run_dir`` to a file that loads without sciml.

    * ``"export"``: a ``torch.export`` program (``.pt2``), load with ``torch.export.load(path)
      .module()``;
    * ``"torchscript"``: a traced TorchScript module (``.ts``), load with ``torch.jit.load``
      (for C++ / older deployments; torch 2.13 deprecates ``torch.jit``, so prefer ``"export"``).

    Both are specialized to inputs of shape ``(batch_size, C_in, *S)`` on the training grid:
    neuraloperator's FNO fixes the batch size when traced (its einsum contraction path is computed
    from concrete shapes), so a dynamic batch dimension cannot be exported for every model family.
    The written file is re-loaded and compared with the in-memory surrogate before returning.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if format not in ("export", "torchscript"):
        raise ValueError(f"unknown export format {format!r}; use 'export' or 'torchscript'")
    run_dir = Path(run_dir)
    surrogate = load(run_dir)
    x = example_input(surrogate, batch=batch_size)
    suffix = ".pt2" if format == "export" else ".ts"
    out = Path(out) if out is not None else run_dir / f"surrogate{suffix}"
    # the temporary name keeps the suffix: torch.export.load warns about any other than .pt2
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    try:
        tmp.touch()  # fail before the slow export if the folder cannot take the file
    except OSError as exc:
        raise RunDirError(f"{out}: cannot write there: {exc}") from None
    try:
        with torch.no_grad():
            expected = surrogate(x)
            if format == "export":
                program = torch.export.export(surrogate, (x,))
                torch.export.save(program, tmp)
                got = torch.export.load(tmp).module()(x)
            else:
                traced = torch.jit.trace(surrogate, (x,), check_trace=False)
                traced.save(str(tmp))
                got = torch.jit.load(str(tmp))(x)
        if not torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
            raise RuntimeError(
                "exported model differs from the in-memory one by "
                f"{(got - expected).abs().max():.3e}"
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    return out

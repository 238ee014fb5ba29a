"""Every task and model family end to end on one device: generate → train → evaluate → load.

The data are generated on the same device (the recipes' solvers are device-agnostic too).

Runs tiny specs (a few steps each) through the public API with ``trainer.device`` set, and prints
one row per case: whether it ran, its wall time, and its test metric. It is how a CUDA machine
checks the device paths CI (CPU only) cannot; on CPU it is a quick integration check::

    python benchmarks/device_end_to_end.py --device cuda            # all cases
    python benchmarks/device_end_to_end.py --device cpu --cases fno_poisson gns_jelly

Nothing is asserted: a failing case prints its error and the script exits 1 at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import yaml

import sciml

POISSON = {"n_samples": 24, "resolution": 16, "batch_size": 24}
BURGERS = {"n_samples": 10, "batch_size": 10, "n_fine": 64, "n_x": 32, "n_t": 6}
DARCY = {"n_samples": 24, "batch_size": 8, "resolution": 17}
NS = {"n_samples": 6}
JELLY = {
    "n_samples": 1,
    "materials": ["jelly"],
    "particles_per_side": 4,
    "grid_n": 16,
    "dt": 1e-3,
    "n_steps": 24,
    "save_every": 1,
    "e_scale_range": [0.2, 0.2],
    "save_state": True,
}
TRAINER = {"epochs": 2, "batch_size": 8, "progress": False, "eval_every": 2}

#: name → (recipe, generate parameters, spec without data.path, the metric to print)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any], str]] = {
    "fno_poisson": (
        "poisson2d",
        POISSON,
        {
            "data": {"inputs": ["f"], "outputs": ["u"], "n_test": 8},
            "model": {"name": "fno", "n_modes": [4, 4], "hidden_channels": 8, "n_layers": 2},
        },
        "relative_l2",
    ),
    "fno_poisson_bf16": (
        "poisson2d",
        POISSON,
        {
            "data": {"inputs": ["f"], "outputs": ["u"], "n_test": 8},
            "model": {"name": "fno", "n_modes": [4, 4], "hidden_channels": 8, "n_layers": 2},
            "trainer": {"amp": "bf16"},
        },
        "relative_l2",
    ),
    "deeponet_poisson_fp16": (  # fp16 loss scaling needs real parameters (FNO's are complex)
        "poisson2d",
        POISSON,
        {
            "data": {"inputs": ["f"], "outputs": ["u"], "n_test": 8, "subsample": 2},
            "model": {"name": "deeponet", "branch_layers": [32, 32], "trunk_layers": [32, 32]},
            "trainer": {"amp": "fp16"},
        },
        "relative_l2",
    ),
    "deeponet_poisson": (
        "poisson2d",
        POISSON,
        {
            "data": {"inputs": ["f"], "outputs": ["u"], "n_test": 8, "subsample": 2},
            "model": {"name": "deeponet", "branch_layers": [32, 32], "trunk_layers": [32, 32]},
        },
        "relative_l2",
    ),
    "mgno_darcy": (
        "darcy2d",
        DARCY,
        {
            "data": {"inputs": ["coeff"], "outputs": ["u"], "n_test": 8},
            "model": {"preset": "mgno"},
            "trainer": {"loss": {"name": "h1", "periodic": False}},
        },
        "relative_l2",
    ),
    "fno_time_burgers": (
        "burgers1d",
        BURGERS,
        {
            "data": {"kind": "all2all", "inputs": ["u"], "outputs": ["u"], "n_test": 2},
            "model": {"name": "fno_time", "n_modes": [4], "hidden_channels": 8, "n_layers": 2},
        },
        "direct_relative_l2_final",
    ),
    "scot_ns_sines": (
        "ns_sines",
        NS,
        {
            "data": {
                "kind": "all2all",
                "inputs": ["velocity"],
                "outputs": ["velocity"],
                "n_test": 2,
            },
            "model": {"preset": "scot-mini"},
        },
        "direct_relative_l2_final",
    ),
    "ensemble_poisson": (
        "poisson2d",
        POISSON,
        {
            "task": "probabilistic_field",
            "data": {"inputs": ["f"], "outputs": ["u"], "n_test": 8},
            "model": {
                "name": "gaussian_ensemble",
                "n_members": 2,
                "base_options": {"n_modes": [4, 4], "hidden_channels": 8, "n_layers": 2},
            },
            "trainer": {"loss": "gaussian_nll"},
        },
        "log_likelihood",
    ),
    "fno_burgers_mass": (
        "burgers1d",
        BURGERS,
        {
            "data": {"kind": "time_window", "inputs": ["u"], "outputs": ["u"], "n_test": 2},
            "model": {"name": "fno", "n_modes": [4], "hidden_channels": 8, "n_layers": 2},
            "constraint": {"name": "mass_projection"},
            "evaluation": {"metrics": ["relative_l2", "conservation_error"]},
        },
        "conservation_error",
    ),
    "gns_jelly": (
        "mpm2d",
        JELLY,
        {
            "data": {
                "kind": "particle_window",
                "inputs": ["position"],
                "outputs": ["position"],
                "options": {"n_frames": 16},
            },
            "model": {"name": "gns", "radius": 0.1, "latent": 8, "n_message_passing": 1},
            "trainer": {"loss": "mse", "max_steps": 4, "epochs": 1000},
            "evaluation": {"metrics": ["position_mse"]},
        },
        "position_mse",
    ),
    "nclaw_jelly": (
        "mpm2d",
        JELLY,
        {
            "data": {
                "kind": "particle_trajectory",
                "inputs": ["position", "velocity", "affine", "deformation", "mass", "volume"],
                "outputs": ["position"],
                "options": {"n_frames": 7},
            },
            "model": {"name": "learned_mpm", "law": "nclaw", "teacher_forcing": [2, 6]},
            "optimizer": {"lr": 1.0},
            "trainer": {"loss": "trajectory_mse", "batch_size": 1, "grad_clip": 0.1},
            "evaluation": {"metrics": ["position_mse"]},
        },
        "position_mse",
    ),
}


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_case(name: str, device: str, root: Path) -> tuple[float, float]:
    """Generate, train, evaluate and load one case; returns (seconds, metric)."""
    recipe, params, spec, metric = CASES[name]
    data = root / f"{recipe}.h5"
    if not data.exists():
        sciml.generate(recipe, data, params, device=device, progress=False)
    full = _merge(
        {
            "name": name,
            "data": {"dataset": recipe, "generate": params, "path": str(data)},
            "trainer": {**TRAINER, "device": device},
            "evaluation": {"metrics": ["relative_l2"], "plots": False},
        },
        spec,
    )
    started = time.perf_counter()
    run_dir = root / "runs" / name
    sciml.train(sciml.load_spec(text=yaml.safe_dump(full)), run_dir, progress=False)
    report = sciml.evaluate(run_dir, device=device, out_dir=run_dir / "eval")
    loaded = sciml.load(run_dir, device=device)
    assert next(loaded.parameters()).device.type == torch.device(device).type
    seconds = time.perf_counter() - started
    section = next(iter(report.sections.values()))
    return seconds, float(section[metric])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    if args.device == "cpu":
        args.cases = [c for c in args.cases if not c.endswith(("bf16", "fp16"))]
    failed = 0
    print("| case | device | ok | seconds | metric |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            try:
                seconds, value = run_case(name, args.device, Path(tmp))
                print(f"| {name} | {args.device} | yes | {seconds:.1f} | "
                      f"{CASES[name][3]} = {value:.3g} |", flush=True)  # fmt: skip
            except Exception as exc:  # report every case, then fail
                failed += 1
                print(f"| {name} | {args.device} | NO | - | {type(exc).__name__}: {exc} |")
                traceback.print_exc(file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""A time loop of plain NumPy code that calls an ONNX-exported surrogate (no torch, no sciml).

The loop is what a simulation code in another language or environment does with a surrogate: it
holds the state as an array, calls the model through onnxruntime once per step, and computes its
own diagnostics. Here the surrogate is a 1D viscous Burgers stepper (``u(t) → u(t + Δt)``, an FNO
trained on the ``burgers1d`` recipe, ν = 0.1 on the periodic unit interval); the loop rolls it
out autoregressively from a held-out initial condition and prints, per step, the relative L2
error against the solver's trajectory, the mass ∫u dx (conserved by periodic Burgers) and max|u|.
Shapes, field names and units are read from the file's metadata (``sciml.inputs``).

Setup (needs sciml; generates a small dataset, trains for a few seconds, exports; writes
``DIR/surrogate.onnx`` and ``DIR/reference.npz``)::

    python examples/onnx_time_loop.py --setup runs/onnx_burgers

The loop (needs only numpy and onnxruntime)::

    python examples/onnx_time_loop.py runs/onnx_burgers/surrogate.onnx \\
        --reference runs/onnx_burgers/reference.npz --steps 10

Any exported stepping run works (``sciml export RUN --format onnx``) whose input and output are
the same fields on the same grid; ``--reference`` is optional (without it the initial condition is
``sin(2πx)``, the error column is omitted).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort


def load_stepper(path: str | Path) -> tuple[ort.InferenceSession, dict]:
    """The onnxruntime session of an exported surrogate and its ``sciml.inputs`` entry for ``x``."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    inputs = {row["name"]: row for row in json.loads(meta["sciml.inputs"])}
    if set(inputs) != {"x"}:
        raise SystemExit(f"{path}: a stepper takes one input x, this file takes {sorted(inputs)}")
    return session, inputs["x"]


def rollout(
    session: ort.InferenceSession, u0: np.ndarray, n_steps: int, reference: np.ndarray | None
) -> list[dict[str, float]]:
    """Step ``u0`` ``(C, X)`` ``n_steps`` times; per step the diagnostics the loop prints."""
    state = u0[None].astype(np.float32)  # (1, C, X): a batch of one (any batch size works)
    rows = []
    for step in range(1, n_steps + 1):
        (state,) = session.run(["y"], {"x": state})
        u = state[0]
        row = {"step": step, "mass": float(u.mean()), "max_abs": float(np.abs(u).max())}
        if reference is not None and step < len(reference):
            truth = reference[step]
            row["rel_l2"] = float(np.linalg.norm(u - truth) / np.linalg.norm(truth))
        rows.append(row)
    return rows


def run_loop(onnx_path: str, reference_path: str | None, n_steps: int) -> None:
    """Print the rollout table."""
    session, x = load_stepper(onnx_path)
    _, channels, n_x = x["shape"]  # ["batch", C, X]
    print(f"surrogate {onnx_path}: x {x['shape']} ({x['meaning']})")
    reference = None
    if reference_path is not None:
        reference = np.load(reference_path)["u"]  # (T, C, X), solver frames one step apart
        u0 = reference[0]
    else:
        grid = np.arange(n_x) / n_x
        u0 = np.broadcast_to(np.sin(2 * np.pi * grid), (channels, n_x))
    print(
        f"{'step':>4} {'mass':>10} {'max|u|':>8}"
        + (f" {'rel L2':>8}" if reference is not None else "")
    )
    print(f"{0:>4} {float(u0.mean()):>10.5f} {float(np.abs(u0).max()):>8.4f}")
    for row in rollout(session, u0, n_steps, reference):
        error = f" {row['rel_l2']:>8.4f}" if "rel_l2" in row else ""
        print(f"{row['step']:>4} {row['mass']:>10.5f} {row['max_abs']:>8.4f}{error}")


def setup(out_dir: str | Path, *, epochs: int = 40, n_samples: int = 64, n_t: int = 11) -> Path:
    """Generate a small Burgers dataset, train an FNO stepper, export it to ONNX and save the
    held-out last trajectory as ``reference.npz``; returns the ONNX path. Needs sciml (torch)."""
    import sciml
    from sciml.data.format import DatasetFile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "burgers.h5"
    if not data.exists():
        sciml.generate(
            "burgers1d",
            data,
            {"n_samples": n_samples, "batch_size": n_samples, "n_x": 64, "n_t": n_t},
            progress=False,
        )
    spec = f"""\
name: onnx_burgers
data: {{dataset: burgers1d, path: {data}, kind: time_window, inputs: [u], outputs: [u], n_test: 2}}
model: {{name: fno, n_modes: [12], hidden_channels: 16, n_layers: 3}}
trainer: {{epochs: {epochs}, batch_size: 32, progress: false}}
"""
    run_dir = out / "run"
    sciml.train(sciml.load_spec(text=spec), run_dir, progress=False)
    path = sciml.export(run_dir, out / "surrogate.onnx", format="onnx")
    u = DatasetFile(data).read("u")  # (N, T, X); the last n_test=2 are the test split
    np.savez(out / "reference.npz", u=u[-1][:, None].astype(np.float32))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("onnx", nargs="?", help="an exported stepping surrogate (.onnx)")
    parser.add_argument("--reference", help="reference.npz with u (T, C, X) from --setup")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--setup", metavar="DIR", help="train and export a Burgers stepper to DIR")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs of --setup")
    args = parser.parse_args()
    if args.setup:
        path = setup(args.setup, epochs=args.epochs)
        print(f"wrote {path} and {Path(args.setup) / 'reference.npz'}")
        return
    if args.onnx is None:
        parser.error("give the .onnx file to run, or --setup DIR")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    run_loop(args.onnx, args.reference, args.steps)


if __name__ == "__main__":
    main()

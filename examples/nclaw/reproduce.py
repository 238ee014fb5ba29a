"""NCLaw's claim at CPU scale: a law learned inside the simulator generalizes, black boxes do not.

Ma et al. (ICML 2023) train a neural constitutive law on ONE trajectory by differentiating
through MPM and report that it generalizes to longer horizons, new initial velocities and new
shapes far better than black-box learned simulators. This script repeats that comparison in 2D
on one CPU, with three models trained on the same first 0.2 s (201 frames) of one jelly
trajectory (``examples/nclaw_jelly.yaml``):

* **NCLaw** — the invariant, stress-free-at-rest law (:mod:`sciml.models.nclaw`) in MPM,
  trained with ``sciml.train`` (teacher forcing 25 → 200, Adam lr 1.0, cosine, clip 0.1);
* **MLP law** — the same training, but the law is a plain MLP on ``F`` with biases
  (:mod:`sciml.models.mlp_law`: not rotation-equivariant, not stress-free at rest);
* **GNS** — a graph-network particle simulator (:mod:`sciml.models.gns`, Sanchez-Gonzalez et al.
  2020) trained on the same frames (:func:`baselines.train_gns`).

Tests (all simulated by the same MPM with the true jelly law; position MSE over every frame of a
free rollout from the first frame, NCLaw's metric):

* ``train (0.2 s)`` — the training trajectory over the trained horizon (in distribution);
* ``horizon 2x`` — the same trajectory over 0.4 s (401 frames);
* ``velocity`` — 3 trajectories of the same body with random linear velocity and spin;
* ``shape`` — a disk (2D) or ball (3D) of another size and particle count, with the training
  velocity and spin.

Run (about 30 min on 2 cores; ``--quick`` runs every step in 2–3 min, numbers meaningless)::

    .venv/bin/python examples/nclaw/reproduce.py --out runs/nclaw_repro

``--spec`` runs the same comparison from another NCLaw spec (its ``data.generate`` section makes
the training and test data), e.g. the elastoplastic one, where NCLaw learns the elastic and the
plastic network (about 25 min)::

    .venv/bin/python examples/nclaw/reproduce.py --spec examples/nclaw_plasticine.yaml \
        --out runs/nclaw_repro_plasticine

Its ``model.diverged_segments: skip`` applies to both learned laws; the number of skipped
segments is reported with the training times. ``--spec examples/nclaw_jelly3d.yaml`` runs it in
3D (NCLaw's training scene: a 1000-particle cube on a 20³ grid).

It writes ``results.md`` (the table), ``results.json`` and ``results.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

import sciml  # noqa: E402
from sciml.spec import Spec  # noqa: E402
from sciml.training import NonFiniteLossError  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from baselines import gns_position_mse, train_gns  # noqa: E402

SPEC = Path(__file__).parents[1] / "nclaw_jelly.yaml"
TRAIN_FRAMES = 201
#: learning rates tried in turn (NCLaw's 1.0 first); a law is trained at the first that does not
#: diverge, and the diverged attempts are reported
LAW_LRS = {"nclaw": (1.0, 0.1), "mlp_law": (1.0, 0.1, 0.01, 0.001)}
#: the GNS steps 2 ms (2 saved frames) at a time: black-box particle simulators use frames
#: coarser than the simulator's step
GNS_STRIDE = 2

#: the rows of the results table
TESTS = ("train (0.2 s)", "horizon 2x", "velocity", "shape")
#: the out-of-distribution test files
TEST_FILES = ("velocity", "shape")
#: recipe overrides of the "velocity" test file, on top of the training data's ``generate``
VELOCITY_TEST: dict[str, Any] = {
    "n_samples": 3,
    "seed": 1,
    "velocity": None,
    "spin": None,
    "speed_max": 2.0,
    "spin_max": 6.0,
}
#: recipe overrides of the "shape" test file per recipe: a disk of 384 particles instead of a
#: 256-particle square (2D), a ball of 912 particles instead of a 1000-particle cube (3D)
SHAPE_TEST: dict[str, dict[str, Any]] = {
    "mpm2d": {"shape": "disk", "particles_per_side": 22, "size_range": [0.46, 0.46], "seed": 2},
    "mpm3d": {"shape": "ball", "particles_per_side": 12, "size_range": [0.6, 0.6], "seed": 2},
}


def test_overrides(recipe: str) -> dict[str, dict[str, Any]]:
    """Recipe overrides of each test file (:data:`TEST_FILES`) for ``recipe``."""
    if recipe not in SHAPE_TEST:
        raise SystemExit(f"reproduce.py needs an mpm2d or mpm3d spec, got dataset {recipe!r}")
    return {"velocity": VELOCITY_TEST, "shape": SHAPE_TEST[recipe]}


def make_data(recipe: str, generate: dict[str, Any], out: Path, quick: bool) -> dict[str, Path]:
    """The training file and the test files (same MPM settings, other bodies/velocities)."""
    overrides = test_overrides(recipe)
    files = {"train": out / "data" / "train.h5"}
    files.update({name: out / "data" / f"{name}.h5" for name in TEST_FILES})
    base = dict(generate)
    if quick:
        base["n_steps"] = 60
    for name, path in files.items():
        if not path.exists():
            sciml.generate(recipe, path, {**base, **overrides.get(name, {})}, progress=False)
    return files


def spec_for(spec: Path, law: str, lr: float, train_file: Path, quick: bool) -> Spec:
    """``spec`` on ``train_file``, with the law ``law`` and learning rate ``lr``."""
    overrides = [f"data.path={train_file}", "trainer.progress=false", f"optimizer.lr={lr}"]
    if law != "nclaw":
        overrides += [f"model.law={law}", "model.law_options={}", f"name={law}"]
    if quick:
        overrides += [
            "trainer.epochs=3",
            "data.options.n_frames=31",
            "model.teacher_forcing=[10,30]",
        ]
    return sciml.load_spec(spec, overrides)


def _finished(run: Path) -> bool:
    """Whether ``run`` trained all its epochs (its last logged step is the last epoch)."""
    if not (run / "metrics.csv").exists():
        return False
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    epochs = yaml.safe_load((run / "spec.yaml").read_text())["trainer"]["epochs"]
    return bool(rows) and int(rows[-1]["step"]) == int(epochs)


def train_law(
    spec: Path, law: str, files: dict[str, Path], out: Path, quick: bool
) -> tuple[Path | None, list[str]]:
    """Train ``law`` at the first learning rate of :data:`LAW_LRS` whose training does not
    diverge (a NaN loss stops the trainer).

    Returns the run directory (``None`` if every learning rate diverged) and a note per
    diverged learning rate. Finished and diverged runs (a ``DIVERGED`` note) are reused, so the
    script can be re-run cheaply.
    """
    notes = []
    for lr in LAW_LRS[law]:
        run = out / f"{law}_lr{lr:g}"
        diverged = run / "DIVERGED"
        if not _finished(run) and not diverged.exists():
            try:
                sciml.train(
                    spec_for(spec, law, lr, files["train"], quick),
                    run,
                    overwrite=True,
                    progress=False,
                )
            except NonFiniteLossError as err:
                diverged.write_text(str(err))
        if diverged.exists():
            notes.append(f"{law} at lr {lr:g}: {diverged.read_text().split(';')[0]}")
            continue
        return run, notes
    return None, notes


def learned_law_errors(run: Path, files: dict[str, Path], out: Path) -> dict[str, str]:
    """Position MSE (m²) of a trained learned-MPM run on every test (free rollouts), formatted;
    a rollout that blew up is reported with the frame where it did.

    The best checkpoint is evaluated, or the last one when no validation rollout stayed finite.
    """
    checkpoint = "best" if (run / "checkpoints" / "best.pt").exists() else "last"

    def evaluate(name: str) -> tuple[float, dict[str, float]]:
        section = sciml.evaluate(
            run, data=files[name], out_dir=out / name, checkpoint=checkpoint
        ).sections["test"]
        return section["position_mse"], section

    def cell(mse: float, section: dict[str, float], frames: int | None = None) -> str:
        finite, total = int(section["finite_frames"]), frames or int(section["rollout_frames"])
        return f"{mse:.3g}" if finite >= total else f"diverged at frame {finite + 1}"

    horizon, train = evaluate("train")
    with open(out / "train" / "position_mse.csv") as fh:
        curve = [float(row["position_mse"]) for row in csv.DictReader(fh)]
    trained = curve[: TRAIN_FRAMES - 1]
    in_distribution = sum(trained) / len(trained)
    errors = {
        "train (0.2 s)": cell(
            in_distribution, train, min(TRAIN_FRAMES - 1, int(train["rollout_frames"]))
        ),
        "horizon 2x": cell(horizon, train),
    }
    for name in TEST_FILES:
        errors[name] = cell(*evaluate(name))
    if checkpoint == "last":
        errors = {k: f"{v} (last checkpoint)" for k, v in errors.items()}
    return errors


def _as_float(cell: str) -> float:
    """The number of a table cell; NaN (no bar) for a diverged rollout."""
    try:
        return float(cell.split()[0])
    except ValueError:
        return math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/nclaw_repro"))
    parser.add_argument(
        "--spec", type=Path, default=SPEC, help="the NCLaw spec (default: the jelly example)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run (tiny, meaningless)")
    parser.add_argument("--gns-steps", type=int, default=2000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out: Path = args.out
    data = yaml.safe_load(args.spec.read_text())["data"]
    generate = data["generate"]
    files = make_data(data["dataset"], generate, out, args.quick)
    results: dict[str, dict[str, str]] = {}
    timings: dict[str, float] = {}
    skipped: dict[str, int] = {}  # teacher-forced segments skipped in training (diverged)

    notes: list[str] = []
    for law in LAW_LRS:
        run, diverged = train_law(args.spec, law, files, out, args.quick)
        notes += diverged
        if run is None:
            lrs = ", ".join(f"{lr:g}" for lr in LAW_LRS[law])
            results[f"{law} (lr {lrs})"] = {t: "training diverged" for t in TESTS}
            continue
        with open(run / "metrics.csv") as fh:
            rows = list(csv.DictReader(fh))
        timings[law] = float(rows[-1]["time"])
        skipped[law] = int(sum(float(row.get("skipped_segments") or 0) for row in rows))
        results[f"{law} (lr {run.name.split('_lr')[-1]})"] = learned_law_errors(
            run, files, out / "eval" / run.name
        )

    started = time.perf_counter()
    gns_run = out / "gns"
    if gns_run.exists():  # the trainer refuses to start a fresh run in a used directory
        shutil.rmtree(gns_run)
    gns = train_gns(
        files["train"],
        gns_run,
        steps=8 if args.quick else args.gns_steps,
        seed=0,
        n_frames=31 if args.quick else TRAIN_FRAMES,
        stride=GNS_STRIDE,
    )
    timings["gns"] = time.perf_counter() - started
    n_frames = 61 if args.quick else int(generate["n_steps"]) // int(generate["save_every"]) + 1

    def gns_mse(name: str, frames: int) -> float:
        n_traj = VELOCITY_TEST["n_samples"] if name == "velocity" else 1
        errors = [
            gns_position_mse(gns, files[name], k, frames, stride=GNS_STRIDE) for k in range(n_traj)
        ]
        return sum(errors) / n_traj

    gns_steps = 8 if args.quick else args.gns_steps
    results[f"gns ({gns_steps} steps)"] = {
        "train (0.2 s)": f"{gns_mse('train', TRAIN_FRAMES):.3g}",
        "horizon 2x": f"{gns_mse('train', n_frames):.3g}",
        **{name: f"{gns_mse(name, n_frames):.3g}" for name in TEST_FILES},
    }

    tests = list(TESTS)
    lines = [
        "| test | " + " | ".join(results) + " |",
        "|---" * (len(results) + 1) + "|",
        *(f"| {t} | " + " | ".join(results[m][t] for m in results) + " |" for t in tests),
        "",
        "training wall time (s): " + ", ".join(f"{m} {v:.0f}" for m, v in timings.items()),
        "diverged teacher-forced segments skipped in training: "
        + ", ".join(f"{m} {n}" for m, n in skipped.items()),
        *(f"diverged: {note}" for note in notes),
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    summary = {"mse": results, "seconds": timings, "skipped_segments": skipped, "diverged": notes}
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    width = 0.8 / len(results)
    for i, (model, errs) in enumerate(results.items()):
        ax.bar(
            [j + i * width for j in range(len(tests))],
            [_as_float(errs[t]) for t in tests],
            width,
            label=model,
        )
    ax.set_xticks([j + width for j in range(len(tests))], tests)
    ax.set_yscale("log")
    ax.set_ylabel("position MSE (m²)")
    ax.legend()
    fig.savefig(out / "results.png", dpi=110)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

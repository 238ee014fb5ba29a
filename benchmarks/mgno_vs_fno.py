"""MgNO against FNO of matched size on Darcy flow (issue 14): accuracy runs and step cost.

Run from the repository root (CPU; the runs use one thread each, run one after the other)::

    .venv/bin/sciml generate --spec examples/mgno_darcy.yaml        # data/darcy2d_63.h5
    .venv/bin/python benchmarks/mgno_vs_fno.py accuracy --seeds 0 1 2
    .venv/bin/python benchmarks/mgno_vs_fno.py ablation --seeds 0 1 2
    .venv/bin/sciml generate darcy2d --set resolution=63 --set n_samples=500 --set tau=5 \
        --out data/darcy2d_63_tau5.h5
    .venv/bin/python benchmarks/mgno_vs_fno.py rough --seeds 0 1 2
    .venv/bin/python benchmarks/mgno_vs_fno.py accuracy --seeds 0 --epochs 60   # longer runs
    .venv/bin/python benchmarks/mgno_vs_fno.py table --figure docs/figures/mgno_vs_fno_darcy.png
    .venv/bin/python benchmarks/mgno_vs_fno.py step --repeats 7     # training step time, memory

``accuracy``: for each seed, ``sciml train`` + ``sciml evaluate`` of
``examples/mgno_darcy.yaml`` (MgNO, 467,964 parameters) and ``examples/fno_darcy_matched.yaml``
(FNO, 504,541) — same data (darcy2d, 63² file read at 32², 360 train / 40 validation / 100 test),
Adam + OneCycle, relative H1 loss, epochs and batch size; only the model differs. ``best.pt``
(lowest validation loss, as in the paper) is evaluated; the test split is read only then.
``ablation``: the MgNO spec with ``padding_mode: circular`` (periodic padding on the Dirichlet
problem; no zero-shot, 63 nodes cannot be padded periodically). ``rough``: both specs on a
rougher Darcy set (the recipe's GRF with ``tau = 5``: shorter length scale, more interfaces).
Run folders are ``runs/mgno_vs_fno/<label>_s<seed>`` (``<label>_e<epochs>_s<seed>`` with
``--epochs``, which overrides the specs' 20 epochs); a finished one (``eval/metrics.json``) is not
run again, so the work can be split over several calls.

``table`` reads the finished runs: test and train relative L2 and H1 (finite differences, the
training loss) of ``best.pt``, the train–test gap (test − train rel. L2), zero-shot rel.
L2 at 63², parameters and training seconds per epoch (``time`` column of ``metrics.csv``),
mean ± sample std over seeds. The zero-shot error is computed here, not read from ``sciml
evaluate`` (which skips it for MgNO: ``resolution_invariant = False``, see
``sciml/models/mgno.py``), for every run whose spec lists evaluation resolutions; a second table
diagnoses it: the ratio to the training-grid error and the constant factor ``c`` that best fits
``c · prediction`` to the 63² targets (least squares over all test samples — a diagnosis on the
test split, never used for a model), with the rel. L2 that factor would leave.

``step``: seconds per training step (forward + backward + Adam, batch 10 at 32², one thread),
median of ``--repeats`` alternating measurements, wall and CPU time, and peak extra resident
memory of one training step, each model in a fresh subprocess (CPU has no allocator counter).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _env import cpu_model, version  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCIML = str(Path(sys.executable).with_name("sciml"))
#: the second problem: rougher permeability, GRF length scale 1/5 instead of 1/3 (tau 5)
ROUGH = ["data.path=data/darcy2d_63_tau5.h5", "data.generate.tau=5.0"]
SPECS = {
    "mgno": ("examples/mgno_darcy.yaml", []),
    "fno": ("examples/fno_darcy_matched.yaml", []),
    "mgno_circular": (
        "examples/mgno_darcy.yaml",
        ["model.padding_mode=circular", "evaluation.resolutions=[]"],
    ),
    "mgno_rough": ("examples/mgno_darcy.yaml", ROUGH),
    "fno_rough": ("examples/fno_darcy_matched.yaml", ROUGH),
}
OUT = ROOT / "runs" / "mgno_vs_fno"
#: row names of the table
DISPLAY = {
    "mgno": "mgno",
    "fno": "fno",
    "mgno_circular": "mgno, circular padding",
    "mgno_rough": "mgno, rough (τ = 5)",
    "fno_rough": "fno, rough (τ = 5)",
}


def _run(label: str, seed: int, epochs: int | None) -> Path:
    spec, extra = SPECS[label]
    run = OUT / (f"{label}_s{seed}" if epochs is None else f"{label}_e{epochs}_s{seed}")
    if (run / "eval" / "metrics.json").is_file():
        return run
    sets = [f"seed={seed}", "trainer.progress=false", *extra]
    if epochs is not None:
        sets.append(f"trainer.epochs={epochs}")
    args = [SCIML, "train", spec, "--out", str(run), "--overwrite", "--quiet"]
    for s in sets:
        args += ["--set", s]
    print(f"[{time.strftime('%H:%M:%S')}] train {label} seed {seed}", flush=True)
    subprocess.run(args, check=True, cwd=ROOT)
    subprocess.run([SCIML, "evaluate", str(run)], check=True, cwd=ROOT)
    return run


def _scores(run: Path) -> dict[str, float]:
    """Relative L2 / H1 of ``best.pt`` on the train and test splits, from the run."""
    import sciml
    from sciml.evaluation.runner import compute_metrics, predict
    from sciml.tasks import task_for
    from sciml.training.losses import H1Loss

    spec = sciml.load_spec(run / "spec.yaml")
    surrogate = sciml.load(run)
    h1 = H1Loss(periodic=False, reduction="mean")
    out: dict[str, float] = {}
    for split in ("train", "test"):
        dataset = task_for(spec).dataset(split, n_val=spec.data.n_val or 0)
        result = predict(surrogate.model, dataset, batch_size=20)
        out[f"{split}_l2"] = compute_metrics(result["pred"], result["target"], ["relative_l2"])[
            "relative_l2"
        ]
        out[f"{split}_h1"] = float(h1(result["pred"], result["target"]))
    out["zero_shot_l2"] = out["zero_shot_scale"] = out["zero_shot_scaled_l2"] = float("nan")
    if spec.evaluation.resolutions:  # the native grid of the file (63²): subsample 1
        dataset = task_for(spec).dataset("test", n_val=spec.data.n_val or 0, subsample=1)
        result = predict(surrogate.model, dataset, batch_size=20)
        pred, target = result["pred"], result["target"]
        scale = float((pred * target).sum() / (pred * pred).sum())
        out["zero_shot_l2"] = compute_metrics(pred, target, ["relative_l2"])["relative_l2"]
        out["zero_shot_scale"] = scale
        out["zero_shot_scaled_l2"] = compute_metrics(scale * pred, target, ["relative_l2"])[
            "relative_l2"
        ]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    epochs = max(float(r["epoch"]) for r in rows)
    out["s_per_epoch"] = max(float(r["time"]) for r in rows) / epochs
    out["epochs"] = epochs
    out["params"] = sum(p.numel() for p in surrogate.model.model.parameters())
    return out


def _fmt(values: list[float], scale: float = 1.0, digits: int = 4) -> str:
    values = [v * scale for v in values]
    if any(v != v for v in values):  # NaN: not measured (no zero-shot for circular padding)
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _groups() -> dict[str, list[Path]]:
    """Finished run folders by table row name: ``<label>_s<seed>`` (the specs' epochs) and
    ``<label>_e<epochs>_s<seed>`` (``--epochs``) are separate rows."""
    groups: dict[tuple[str, int], list[Path]] = {}
    for label in SPECS:
        for run in sorted(OUT.glob(f"{label}_*s*")):
            name = run.name.rsplit("_s", 1)[0]
            epochs = name.removeprefix(f"{label}_e")
            if name != label and not epochs.isdigit():
                continue  # another label that starts with this one (mgno_circular for mgno)
            if (run / "eval" / "metrics.json").is_file():
                key = (DISPLAY[label], 0 if name == label else int(epochs))
                groups.setdefault(key, []).append(run)
    # the specs' epochs first, then longer runs, in the order of SPECS
    return {
        row + (f", {epochs} epochs" if epochs else ""): runs
        for (row, epochs), runs in sorted(
            groups.items(), key=lambda item: (list(DISPLAY.values()).index(item[0][0]), item[0][1])
        )
    }


def table() -> str:
    lines = [
        f"CPU: {cpu_model()}, torch {version('torch')}, 1 thread per run, other jobs running",
        "",
        "| model | seeds | params | epochs | test rel. L2 | test rel. H1 | train rel. L2 "
        "| gap (test − train L2) | zero-shot 63² rel. L2 | s/epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    diagnosis = [
        "",
        "Zero-shot at 63² (trained at 32²): ratio to the training-grid error, and the constant "
        "factor c that best fits c · prediction to the 63² targets (a diagnosis on the test split)",
        "",
        "| model | seeds | test rel. L2 at 32² | zero-shot rel. L2 at 63² | ratio | best factor c "
        "| rel. L2 of c · prediction |",
        "|---|---|---|---|---|---|---|",
    ]
    for group, runs in _groups().items():
        scores = [_scores(r) for r in runs]

        def col(key: str, scores: list[dict[str, float]] = scores) -> list[float]:
            return [s[key] for s in scores]

        gap = [s["test_l2"] - s["train_l2"] for s in scores]
        lines.append(
            f"| {group} | {len(scores)} | {int(scores[0]['params']):,} "
            f"| {int(scores[0]['epochs'])} | {_fmt(col('test_l2'))} | {_fmt(col('test_h1'))} "
            f"| {_fmt(col('train_l2'))} | {_fmt(gap)} | {_fmt(col('zero_shot_l2'))} "
            f"| {_fmt(col('s_per_epoch'), digits=1)} |"
        )
        if any(s["zero_shot_l2"] == s["zero_shot_l2"] for s in scores):  # not NaN
            ratio = [s["zero_shot_l2"] / s["test_l2"] for s in scores]
            diagnosis.append(
                f"| {group} | {len(scores)} | {_fmt(col('test_l2'))} "
                f"| {_fmt(col('zero_shot_l2'))} | {_fmt(ratio, digits=1)} "
                f"| {_fmt(col('zero_shot_scale'), digits=2)} "
                f"| {_fmt(col('zero_shot_scaled_l2'))} |"
            )
    return "\n".join(lines + diagnosis)


_STEP_CHILD = """
import resource, sys, time, torch
torch.set_num_threads(1)
from sciml.models.build import build_model
name, kwargs = sys.argv[1], eval(sys.argv[2])
model = build_model(name, kwargs, in_channels=1, out_channels=1, n_dims=2)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
x, y = torch.randn(10, 1, 32, 32), torch.randn(10, 1, 32, 32)
def step():
    opt.zero_grad(); loss = (model(x) - y).square().mean(); loss.backward(); opt.step()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(2): step()
wall, cpu = [], []
for _ in range(int(sys.argv[3])):
    t, c = time.perf_counter(), time.process_time(); step()
    wall.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
print(sum(p.numel() for p in model.parameters()), (peak - base) / 1024, *wall, "|", *cpu)
"""

STEP_MODELS = {
    "mgno": ("mgno", {}),
    "fno": ("fno", {"hidden_channels": 20, "n_modes": [24, 24], "n_layers": 4}),
}


def step(repeats: int) -> str:
    """Median step times of alternating single-measurement rounds, one subprocess per model."""
    wall: dict[str, list[float]] = {k: [] for k in STEP_MODELS}
    cpu: dict[str, list[float]] = {k: [] for k in STEP_MODELS}
    info: dict[str, tuple[int, float]] = {}
    for r in range(repeats):
        order = list(STEP_MODELS) if r % 2 == 0 else list(reversed(STEP_MODELS))
        for label in order:
            name, kwargs = STEP_MODELS[label]
            out = subprocess.run(
                [sys.executable, "-c", _STEP_CHILD, name, repr(kwargs), "3"],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout.split()
            bar = out.index("|")
            info[label] = (int(out[0]), float(out[1]))
            wall[label] += [float(v) for v in out[2:bar]]
            cpu[label] += [float(v) for v in out[bar + 1 :]]
    lines = [
        f"CPU: {cpu_model()}, torch {version('torch')}, 1 thread, batch 10 at 32², "
        f"{repeats} alternating rounds × 3 steps, other jobs running",
        "",
        "| model | params | s/step (median wall) | s/step (median CPU) | peak extra RSS, one step |",
        "|---|---|---|---|---|",
    ]
    for label in STEP_MODELS:
        lines.append(
            f"| {label} | {info[label][0]:,} | {statistics.median(wall[label]):.3f} "
            f"| {statistics.median(cpu[label]):.3f} | {info[label][1]:.0f} MiB |"
        )
    ratio_w = statistics.median(wall["mgno"]) / statistics.median(wall["fno"])
    ratio_c = statistics.median(cpu["mgno"]) / statistics.median(cpu["fno"])
    lines.append(f"\nMgNO / FNO step time: {ratio_w:.2f}× wall, {ratio_c:.2f}× CPU")
    return "\n".join(lines)


def figure(path: Path) -> None:
    """Test rel. L2 per seed (dots) of each finished model, and the error fields of seed 0's
    MgNO and FNO on the first test sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import sciml
    from sciml.tasks import task_for

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    groups = _groups()
    for i, runs in enumerate(groups.values()):
        values = [
            json.loads((r / "eval" / "metrics.json").read_text())["test"]["relative_l2"]
            for r in runs
        ]
        axes[0].plot([i] * len(values), values, "o")
    axes[0].set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    axes[0].set_ylabel("test relative L2")
    axes[0].set_yscale("log")
    runs = {"MgNO": OUT / "mgno_s0", "FNO": OUT / "fno_s0"}
    spec = sciml.load_spec(runs["MgNO"] / "spec.yaml")
    sample = task_for(spec).dataset("test", n_val=spec.data.n_val or 0)[0]
    target = sample["y"][0]
    image = axes[1].imshow(target.T, origin="lower", extent=(0, 1, 0, 1))
    axes[1].set_title("target u (test sample 0)")
    fig.colorbar(image, ax=axes[1])
    with torch.no_grad():
        errors = {k: (sciml.load(r)(sample["x"])[0] - target).abs() for k, r in runs.items()}
    vmax = max(float(e.max()) for e in errors.values())
    for ax, (name, err) in zip(axes[2:], errors.items()):
        image = ax.imshow(err.T, origin="lower", extent=(0, 1, 0, 1), vmin=0, vmax=vmax)
        ax.set_title(f"|{name} − u|, seed 0")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["accuracy", "ablation", "rough", "table", "step"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--figure", type=Path, help="with table: also draw this figure")
    args = parser.parse_args()
    torch.set_num_threads(1)
    groups = {"accuracy": ["mgno", "fno"], "ablation": ["mgno_circular"]}
    groups["rough"] = ["mgno_rough", "fno_rough"]
    if args.what in groups:
        labels = groups[args.what]
        for seed in args.seeds:
            for label in labels:
                _run(label, seed, args.epochs)
        print(table())
    elif args.what == "table":
        print(table())
        if args.figure is not None:
            figure(args.figure)
    else:
        print(step(args.repeats))


if __name__ == "__main__":
    main()

"""sciml's Trainer against the training loops of DeepXDE and neuraloperator (issue 3 acceptance).

Run from the repository root, on an otherwise idle machine (CPU only; GPUs are hidden)::

    DDE_BACKEND=pytorch .venv/bin/python benchmarks/trainer_vs_anchors.py --out docs/bench.md
    .venv/bin/python benchmarks/trainer_vs_anchors.py --quick          # smoke run, ~1-2 min

Flags: ``--part a|b|all`` (default all), ``--steps N`` (Part A iterations, default 10000),
``--epochs E`` (Part B epochs, default 3), ``--threads K`` (torch threads for both sides,
default all cores), ``--repeats R`` (Part B: best of R runs per side), ``--data-dir D`` (keep and
reuse the generated HDF5 files), ``--out FILE`` (also write the markdown table there).

What it measures, in one process, one side after the other, with the same data arrays:

Part A -- DeepONet on DeepXDE's antiderivative example (v ~ GRF, u' = v; 150 train / 1000 test
functions at 100 sensors). The same unstacked DeepONet on both sides: branch [100, 40, 40],
trunk [1, 40, 40], ReLU, Glorot normal, Adam lr 1e-3, full batch 150, MSE loss, ``--steps``
iterations, test error evaluated every 250 steps on both sides.

* sciml: ``sciml.train`` on ``examples/deeponet_antiderivative.yaml``; test relative L2 after the
  fact from ``checkpoints/step_<N>.pt``; times from the ``time`` column of ``metrics.csv``
  (training seconds since the loop started, excluding setup).
* DeepXDE: ``dde.nn.DeepONetCartesianProd`` + ``dde.data.TripleCartesianProd`` +
  ``Model.train(display_every=250)``; test error from ``losshistory.metrics_test`` ("mean l2
  relative error", the same per-sample mean as ours); times from a callback
  (``on_train_begin`` .. ``on_batch_end``).

Reported: seconds until the test relative L2 first reaches <= 0.03 (resolution: 250 steps),
final and best test error, ms/step. Ratio = DeepXDE time / sciml time (>= 1: sciml is faster).

Part B -- FNO training throughput on our poisson2d data (-Lap u = f, periodic; 600 samples
generated at 64x64, read at subsample 2 -> 32x32; 500 train). The same neuraloperator
``FNO(n_modes=(12, 12), hidden_channels=32, in_channels=1, out_channels=1, n_layers=4)``, batch
20, Adam lr 1e-3, constant lr, relative L2 loss, ``--epochs`` epochs, *no evaluation during
training on either side*, no input/output normalization on either side.

* sciml: ``sciml.train`` on ``examples/fno_poisson2d.yaml`` with overrides; samples/s =
  n_train * epochs / (``time`` at the last step of ``metrics.csv``).
* neuraloperator: ``neuralop.training.Trainer(data_processor=None)`` with ``LpLoss(d=2, p=2)``
  (its default sum over the batch, which that Trainer expects) and ``test_loaders={}``;
  samples/s = n_train * epochs / wall time of ``trainer.train(...)``.

Ratio = sciml samples/s / neuraloperator samples/s (>= 1: sciml is faster), for the best run of
each side and for each back-to-back pair of runs; the sides alternate which runs first.

The DeepONet of Part A is tiny (7401 parameters): its step time is dominated by per-step
overheads and by thread contention, so on a 2-core machine also report ``--threads 1``.

Both parts run an untimed warm-up (a few forward/backward passes of the same network) first, so
that neither side pays the process's one-time costs (thread pools, FFT plans, lazy imports).
"""

from __future__ import annotations

import os

# CPU benchmark: hide GPUs before torch/deepxde are imported (DeepXDE would otherwise move
# itself to CUDA while the other side runs on CPU).
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("DDE_BACKEND", "pytorch")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _env import cpu_model, default_threads, version  # noqa: E402  (benchmarks/ is the script's folder)
from torch.utils.data import DataLoader, Dataset, default_collate  # noqa: E402

import sciml  # noqa: E402
from sciml.data.grid import GridPairDataset  # noqa: E402
from sciml.evaluation.metrics import relative_l2  # noqa: E402
from sciml.models.build import build_normalized_model  # noqa: E402
from sciml.training.checkpoint import load_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.03  # test relative L2 to reach on antiderivative (DeepXDE's paper value: 0.028)
EVERY = 250  # evaluation interval (steps) on both sides in Part A
A_TRAIN, A_TEST = 150, 1000
B_TEST = 100
NEVER = 10**9  # "do not do this during the run" for eval/log/checkpoint intervals


# ------------------------------------------------------------------------------------------------
# helpers


@dataclass
class Row:
    bench: str
    metric: str
    ours: str
    anchor: str
    ratio: str


@dataclass
class CurveResult:
    """Part A outcome of one side: test rel. L2 and elapsed seconds at each evaluated step."""

    steps: int
    errors: dict[int, float] = field(default_factory=dict)
    times: dict[int, float] = field(default_factory=dict)

    def time_to(self, target: float) -> tuple[int, float] | None:
        for step in sorted(self.errors):
            if step > 0 and self.errors[step] <= target:
                return step, self.times[step]
        return None

    @property
    def final_error(self) -> float:
        return self.errors[max(self.errors)]

    @property
    def best_error(self) -> float:
        return min(v for k, v in self.errors.items() if k > 0)

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.times[self.steps] / self.steps


def _read_metrics(run_dir: Path) -> dict[int, float]:
    """``step -> time`` from a run's metrics.csv."""
    with open(run_dir / "metrics.csv", newline="") as fh:
        return {int(r["step"]): float(r["time"]) for r in csv.DictReader(fh)}


def _ensure(recipe: str, path: Path, params: dict) -> Path:
    if not path.exists():
        t0 = time.perf_counter()
        sciml.generate(recipe, path, params, progress=False)
        print(f"  generated {path} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return path


def _stack(ds: Dataset) -> dict[str, torch.Tensor]:
    return default_collate([ds[i] for i in range(len(ds))])


# ------------------------------------------------------------------------------------------------
# Part A: DeepONet, antiderivative, time to test rel. L2 0.03


def _warmup_mlp() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(100, 40), torch.nn.ReLU(), torch.nn.Linear(40, 40))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(A_TRAIN, 100)
    for _ in range(50):
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()


def part_a_sciml(data: Path, steps: int, work: Path) -> CurveResult:
    run_dir = work / "a_sciml"
    shutil.rmtree(run_dir, ignore_errors=True)
    spec = sciml.load_spec(
        REPO / "examples" / "deeponet_antiderivative.yaml",
        [
            f"data.path={data}",
            f"data.n_train={A_TRAIN}",
            f"data.n_test={A_TEST}",
            f"trainer.epochs={steps}",
            f"trainer.batch_size={A_TRAIN}",
            f"trainer.eval_every={EVERY}",
            f"trainer.log_every={EVERY}",
            f"trainer.checkpoint_every={EVERY}",
            "trainer.progress=false",
        ],
    )
    sciml.train(spec, run_dir, progress=False)
    times = _read_metrics(run_dir)
    info = json.loads((run_dir / "model.json").read_text())
    test = _stack(GridPairDataset(data, ["v"], ["u"], split="test", n_train=A_TRAIN, n_test=A_TEST))
    out = CurveResult(steps=steps, times=times)
    model = build_normalized_model(info)
    model.eval()
    for step in sorted(times):
        ckpt = run_dir / "checkpoints" / f"step_{step}.pt"
        if not ckpt.exists():
            continue
        model.load_state_dict(load_checkpoint(ckpt)["model"])
        with torch.no_grad():
            pred = model(test["x"], test["coords"])
        out.errors[step] = float(relative_l2(pred, test["y"]).mean())
    if steps not in out.errors:
        raise RuntimeError(f"no checkpoint at the last step {steps} (steps % {EVERY} != 0?)")
    return out


def part_a_deepxde(data: Path, steps: int, seed: int = 0) -> CurveResult:
    import deepxde as dde  # here: importing it prints and configures a backend

    train = GridPairDataset(data, ["v"], ["u"], split="train", n_train=A_TRAIN, n_test=A_TEST)
    test = GridPairDataset(data, ["v"], ["u"], split="test", n_train=A_TRAIN, n_test=A_TEST)
    tr, te = _stack(train), _stack(test)
    coords = tr["coords"][0]  # (1, 100): the sensors, shared by every sample
    if not (torch.equal(tr["coords"], coords.expand_as(tr["coords"]))):
        raise RuntimeError("antiderivative samples do not share one sensor grid")
    sensors = coords.T.numpy().astype(np.float32)  # (100, 1)

    def arr(t: torch.Tensor) -> np.ndarray:
        return t[:, 0, :].numpy().astype(np.float32)  # (N, 1, 100) -> (N, 100)

    data_obj = dde.data.TripleCartesianProd(
        X_train=(arr(tr["x"]), sensors),
        y_train=arr(tr["y"]),
        X_test=(arr(te["x"]), sensors),
        y_test=arr(te["y"]),
    )
    dde.config.set_random_seed(seed)
    net = dde.nn.DeepONetCartesianProd([100, 40, 40], [1, 40, 40], "relu", "Glorot normal")
    model = dde.Model(data_obj, net)
    model.compile("adam", lr=1e-3, metrics=["mean l2 relative error"], verbose=0)

    class Stamps(dde.callbacks.Callback):
        """Elapsed seconds since training began, at each display step (after its test)."""

        def __init__(self) -> None:
            super().__init__()
            self.t0 = 0.0
            self.times: dict[int, float] = {0: 0.0}

        def on_train_begin(self) -> None:
            self.t0 = time.perf_counter()

        def on_batch_end(self) -> None:
            step = self.model.train_state.step
            if step % EVERY == 0 or step == steps:
                self.times[step] = time.perf_counter() - self.t0

    stamps = Stamps()
    losshistory, _ = model.train(
        iterations=steps, batch_size=None, display_every=EVERY, callbacks=[stamps], verbose=0
    )
    errors = {int(s): float(m[0]) for s, m in zip(losshistory.steps, losshistory.metrics_test)}
    return CurveResult(steps=steps, errors=errors, times=stamps.times)


def part_a(data: Path, steps: int, work: Path) -> list[Row]:
    _warmup_mlp()
    print(f"Part A: sciml DeepONet, {steps} steps ...", flush=True)
    ours = part_a_sciml(data, steps, work)
    print(f"Part A: DeepXDE DeepONet, {steps} steps ...", flush=True)
    anchor = part_a_deepxde(data, steps)
    bench = "DeepONet antiderivative (vs DeepXDE Model.train)"
    reach_o, reach_a = ours.time_to(TARGET), anchor.time_to(TARGET)

    def cell(r: CurveResult, reach: tuple[int, float] | None) -> str:
        if reach is None:
            return f"not reached in {r.steps} steps (best {r.best_error:.4f})"
        return f"{reach[1]:.2f} s (step {reach[0]})"

    if reach_o and reach_a:
        ratio = f"{reach_a[1] / reach_o[1]:.2f}x"
    elif reach_o and not reach_a:
        ratio = f"> {anchor.times[anchor.steps] / reach_o[1]:.2f}x (anchor did not reach)"
    else:
        ratio = "n/a (sciml did not reach)"
    return [
        Row(
            bench,
            f"time to test rel. L2 <= {TARGET} [s]",
            cell(ours, reach_o),
            cell(anchor, reach_a),
            ratio,
        ),
        Row(
            bench,
            f"test rel. L2 after {steps} steps",
            f"{ours.final_error:.4f}",
            f"{anchor.final_error:.4f}",
            "-",
        ),
        Row(
            bench,
            "best test rel. L2 (every 250 steps)",
            f"{ours.best_error:.4f}",
            f"{anchor.best_error:.4f}",
            "-",
        ),
        Row(
            bench,
            "ms/step (incl. test eval every 250)",
            f"{ours.ms_per_step:.3f}",
            f"{anchor.ms_per_step:.3f}",
            f"{anchor.ms_per_step / ours.ms_per_step:.2f}x",
        ),
    ]


# ------------------------------------------------------------------------------------------------
# Part B: FNO training throughput


class _XY(Dataset):
    """GridPairDataset samples without ``coords`` (neuraloperator calls ``model(**sample)``)."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        s = self.base[i]
        return {"x": s["x"], "y": s["y"]}


def _neuralop_fno() -> torch.nn.Module:
    from neuralop.models import FNO

    return FNO(n_modes=(12, 12), hidden_channels=32, in_channels=1, out_channels=1, n_layers=4)


def _warmup_fno() -> None:
    torch.manual_seed(0)
    net = _neuralop_fno()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(20, 1, 32, 32)
    for _ in range(5):
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()


def part_b_sciml(data: Path, n_train: int, epochs: int, work: Path) -> tuple[float, int]:
    run_dir = work / "b_sciml"
    shutil.rmtree(run_dir, ignore_errors=True)
    spec = sciml.load_spec(
        REPO / "examples" / "fno_poisson2d.yaml",
        [
            f"data.path={data}",
            f"data.n_train={n_train}",
            f"data.n_test={B_TEST}",
            "data.subsample=2",
            "data.normalize.inputs=none",
            "data.normalize.outputs=none",
            "model.n_modes=[12, 12]",
            "model.hidden_channels=32",
            "model.n_layers=4",
            "optimizer.name=adam",
            "optimizer.lr=0.001",
            "scheduler.name=none",
            "trainer.loss=relative_lp",
            f"trainer.epochs={epochs}",
            "trainer.batch_size=20",
            f"trainer.eval_every={NEVER}",
            f"trainer.log_every={NEVER}",
            f"trainer.checkpoint_every={NEVER}",
            "trainer.progress=false",
        ],
    )
    result = sciml.train(spec, run_dir, progress=False)
    times = _read_metrics(run_dir)
    info = json.loads((run_dir / "model.json").read_text())
    n_params = sum(p.numel() for p in build_normalized_model(info).parameters())
    return n_train * epochs / times[result.steps], n_params


def part_b_neuralop(data: Path, n_train: int, epochs: int, seed: int = 0) -> tuple[float, int]:
    from neuralop.losses import LpLoss
    from neuralop.training import Trainer

    base = GridPairDataset(
        data,
        ["f"],
        ["u"],
        split="train",
        n_train=n_train,
        n_test=B_TEST,
        subsample=2,
        in_memory=True,
    )
    dataset = _XY(base)
    for i in range(len(dataset)):  # fill the in-memory cache (sciml's normalizer fit does too)
        dataset[i]
    loader = DataLoader(
        dataset, batch_size=20, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    torch.manual_seed(seed)
    model = _neuralop_fno()
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)  # constant
    trainer = Trainer(
        model=model,
        n_epochs=epochs,
        device="cpu",
        data_processor=None,
        eval_interval=1,
        verbose=False,
    )
    with warnings.catch_warnings():
        # LpLoss warns that it ignores the extra keyword x=... that Trainer passes it.
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        trainer.train(
            train_loader=loader,
            test_loaders={},
            optimizer=optimizer,
            scheduler=scheduler,
            training_loss=LpLoss(d=2, p=2),
        )
        wall = time.perf_counter() - t0
    return n_train * epochs / wall, n_params


def part_b(data: Path, n_train: int, epochs: int, repeats: int, work: Path) -> list[Row]:
    _warmup_fno()
    ours, anchor = [], []
    for r in range(repeats):
        # Alternate which side goes first, so that neither always runs on a warmer machine.
        sides = [("sciml", ours), ("neuraloperator", anchor)]
        for side, results in sides if r % 2 == 0 else sides[::-1]:
            print(f"Part B: {side} FNO, {epochs} epochs (run {r + 1}/{repeats}) ...", flush=True)
            if side == "sciml":
                sps, n_ours = part_b_sciml(data, n_train, epochs, work)
            else:
                sps, n_anchor = part_b_neuralop(data, n_train, epochs)
            results.append(sps)
    if n_ours != n_anchor:
        print(f"  WARNING: parameter counts differ: sciml {n_ours}, neuraloperator {n_anchor}")
    bench = "FNO poisson2d 32x32 (vs neuraloperator Trainer)"
    best = "best of " + str(repeats) + ", " if repeats > 1 else ""
    return [
        Row(
            bench,
            f"training samples/s ({best}{epochs} epochs x {n_train})",
            f"{max(ours):.1f}",
            f"{max(anchor):.1f}",
            f"{max(ours) / max(anchor):.2f}x",
        ),
        Row(
            bench,
            "ratio of each back-to-back pair of runs (spread = run-to-run noise)",
            "-",
            "-",
            ", ".join(f"{a / b:.2f}x" for a, b in zip(ours, anchor)),
        ),
        Row(bench, "parameters", str(n_ours), str(n_anchor), "-"),
    ]


# ------------------------------------------------------------------------------------------------
# main


def render(rows: list[Row], header: list[str]) -> str:
    lines = [*header, "", "| benchmark | metric | sciml | anchor | ratio (>= 1: sciml faster) |"]
    lines.append("|---|---|---|---|---|")
    lines += [f"| {r.bench} | {r.metric} | {r.ours} | {r.anchor} | {r.ratio} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["a", "b", "all"], default="all")
    ap.add_argument("--steps", type=int, default=10000, help="Part A iterations (default 10000)")
    ap.add_argument("--epochs", type=int, default=3, help="Part B epochs (default 3)")
    ap.add_argument("--threads", type=int, default=default_threads(), help="torch threads")
    ap.add_argument("--repeats", type=int, default=1, help="Part B: best of R runs per side")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (500 steps, 1 epoch)")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep/reuse generated data here")
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)

    steps, epochs, n_samples = args.steps, args.epochs, 600
    if args.quick:
        steps, epochs, n_samples = 500, 1, 160
    if steps % EVERY:
        ap.error(f"--steps must be a multiple of {EVERY}")
    n_train = n_samples - B_TEST
    torch.set_num_threads(args.threads)

    work = Path(tempfile.mkdtemp(prefix="sciml_bench_"))
    data_dir = args.data_dir or work
    data_dir.mkdir(parents=True, exist_ok=True)
    header = [
        f"sciml {sciml.__version__}, torch {torch.__version__}, deepxde {version('deepxde')}, "
        f"neuraloperator {version('neuraloperator')}, Python {platform.python_version()}",
        f"CPU: {cpu_model()}; {os.cpu_count()} logical cores; torch threads {args.threads} (both "
        f"sides); load average at start {os.getloadavg()[0]:.2f}",
        f"Command: benchmarks/trainer_vs_anchors.py --part {args.part} --steps {steps} "
        f"--epochs {epochs} --threads {args.threads} --repeats {args.repeats}"
        + (" (--quick)" if args.quick else ""),
    ]
    rows: list[Row] = []
    try:
        if args.part in ("a", "all"):
            path = _ensure("antiderivative", data_dir / "antiderivative.h5", {})
            rows += part_a(path, steps, work)
        if args.part in ("b", "all"):
            name = f"poisson2d_{n_samples}x64.h5"
            params = {"n_samples": n_samples, "resolution": 64}
            path = _ensure("poisson2d", data_dir / name, params)
            rows += part_b(path, n_train, epochs, args.repeats, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = render(rows, header)
    print("\n" + table)
    if args.out is not None:
        args.out.write_text(table)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""sciml's Trainer against DeepXDE's and neuraloperator's training loops, each anchor's setup
expressed as a sciml spec (issue 23, part 3).

Run from the repository root, on an otherwise idle machine (CPU only; GPUs are hidden)::

    .venv/bin/python benchmarks/trainer_vs_anchors.py --data-dir data/anchors --out bench.md
    .venv/bin/python benchmarks/trainer_vs_anchors.py --quick          # smoke run, ~1 min

Flags: ``--part deeponet|fno|all`` (default all), ``--seeds S`` (default 5), ``--threads K``
(torch threads for both sides, default: the cores this process may use), ``--no-same-init``
(skip the runs from the anchor's initial weights), ``--data-dir D`` (keep and reuse the generated
files), ``--out FILE`` (also write the markdown table there), ``--quick`` (tiny sizes).

The two setups are the specs in ``benchmarks/anchors/`` (read them for every setting):

* ``deeponet_deepxde.yaml`` -- DeepXDE's antiderivative DeepONet: 150 train / 1000 test
  functions, branch [100, 40, 40], trunk [1, 40, 40], ReLU, Glorot normal, Adam 1e-3, MSE,
  10 000 full-batch steps. Anchor: ``dde.nn.DeepONetCartesianProd`` + ``dde.Model.train``.
* ``fno_neuralop_darcy16.yaml`` -- neuraloperator's small Darcy example: FNO n_modes (8, 8),
  hidden 24, projection ratio 2 (99,721 parameters), 1000 train at 16², batch 32, outputs
  UnitGaussian-normalized (eps 1e-7), neuraloperator's AdamW (lr 1e-2, weight decay 1e-4, eps
  1e-6), CosineAnnealingLR(T_max=30) stepped per epoch, 15 epochs, H1 loss on normalized outputs
  with periodic finite differences, summed over the batch; test 100 at 16² and zero-shot 50 at
  32². Anchor: ``neuralop.Trainer`` with its ``DefaultDataProcessor``,
  ``UnitGaussianNormalizer``, ``AdamW``, ``H1Loss(d=2)``.

Data: the anchors' own files (DeepXDE's ``antiderivative_aligned_*.npz``, neuraloperator's
``darcy_*_16.pt``/``darcy_test_32.pt``) cannot be downloaded here; the script generates data of
the same kind with sciml's recipes (once, into ``--data-dir``): ``antiderivative`` (defaults: v
~ GRF length scale 0.2 at 100 sensors, 1150 functions), ``darcy2d`` at ``resolution=16``
(``solve_resolution=61``, 1100 samples, seed 0: 1000 train + 100 test) and at ``resolution=32``
(``solve_resolution=63``, 50 samples, seed 1: the zero-shot test). Both sides read the same
arrays.

Per seed s (0..S-1), in one process, one run after the other:

1. the anchor's loop, seeded with s (its own initialization and batch order);
2. sciml on the anchor spec with ``seed: s`` (``sciml.train``);
3. unless ``--no-same-init``: sciml again, started from the anchor's initial weights of step 1
   (``init_from`` a run directory holding them; same seed otherwise). For the FNO the script
   first compares them with sciml's own seed-s initialization: sciml builds the same
   neuraloperator module after ``torch.manual_seed(s)``, so they are equal, and step 2 already
   was that run (it is not repeated; the script says so if they ever differ, and runs it).

Error: test relative L2 (per-sample mean, :func:`sciml.evaluation.metrics.relative_l2`) of the
*final* weights on both sides (neither DeepXDE's ``Model.train`` nor neuraloperator's ``Trainer``
selects a checkpoint here; sciml's ``last.pt``). Wall time: the training loop only (sciml: the
``time`` column of ``metrics.csv`` at the last step; DeepXDE: ``on_train_begin`` to
``on_train_end``; neuraloperator: ``Trainer.train``), no data generation, setup or test
evaluation. Reported: mean ± standard deviation (ddof 1) over the seeds; error ratio = sciml /
anchor (≤ 1: sciml at least as accurate), time ratio = sciml / anchor (≤ 1: sciml at least as
fast). The goal (issue 23): sciml's mean error within one standard deviation of the anchor's, or
below, at ≤ the anchor's wall time.
"""

from __future__ import annotations

import os

# CPU benchmark: hide GPUs before torch/deepxde are imported (DeepXDE would otherwise move
# itself to CUDA while the other side runs on CPU).
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("DDE_BACKEND", "pytorch")

import argparse  # noqa: E402
import copy  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
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
from sciml.rundir import RunDir  # noqa: E402
from sciml.training import seed_everything  # noqa: E402
from sciml.training.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ANCHORS = REPO / "benchmarks" / "anchors"
DEEPONET_SPEC = ANCHORS / "deeponet_deepxde.yaml"
FNO_SPEC = ANCHORS / "fno_neuralop_darcy16.yaml"
A_TRAIN, A_TEST = 150, 1000
F_TRAIN, F_TEST, F_TEST32 = 1000, 100, 50
#: the data files (name, recipe, parameters); the sizes above index into them
DATA = {
    "antiderivative": ("antiderivative", {}),
    "darcy2d_16": (
        "darcy2d",
        {"resolution": 16, "solve_resolution": 61, "n_samples": F_TRAIN + F_TEST, "seed": 0},
    ),
    "darcy2d_32": (
        "darcy2d",
        {"resolution": 32, "solve_resolution": 63, "n_samples": F_TEST32, "seed": 1},
    ),
}


@dataclass
class Runs:
    """Test errors (one list per test set) and training-loop seconds of one side, per seed."""

    errors: dict[str, list[float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)

    def add(self, errors: dict[str, float], seconds: float | None) -> None:
        for name, value in errors.items():
            self.errors.setdefault(name, []).append(value)
        if seconds is not None:
            self.seconds.append(seconds)


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(values: list[float], digits: int = 4) -> str:
    if not values:
        return "–"
    mean, std = _mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


# ------------------------------------------------------------------------------------------------
# data and sciml runs


def _ensure(data_dir: Path, name: str) -> Path:
    recipe, params = DATA[name]
    path = data_dir / f"{name}.h5"
    if not path.exists():
        t0 = time.perf_counter()
        sciml.generate(recipe, path, dict(params), progress=False)
        print(f"  generated {path} ({time.perf_counter() - t0:.1f} s)", flush=True)
    return path


def _stack(ds: Dataset) -> dict[str, torch.Tensor]:
    return default_collate([ds[i] for i in range(len(ds))])


def _read_times(run_dir: Path) -> dict[int, float]:
    with open(RunDir(run_dir).metrics_csv, newline="") as fh:
        return {int(r["step"]): float(r["time"]) for r in csv.DictReader(fh)}


def _write_init_run(state: dict[str, torch.Tensor], run_dir: Path) -> Path:
    """A run directory whose ``last.pt`` holds ``state`` as its model weights: what a spec's
    ``init_from`` reads (only ``model`` is used; the other entries a checkpoint must have are
    empty)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    path = RunDir(run_dir).checkpoint("last")
    path.parent.mkdir(parents=True)
    empty = {"optimizer": {}, "scheduler": {}, "step": 0, "epoch": 0, "rng": {}, "val_loss": None}
    save_checkpoint({"model": state, **empty}, path)
    return run_dir


def sciml_run(
    spec_path: Path,
    overrides: list[str],
    work: Path,
    tag: str,
    test_sets: dict[str, dict[str, torch.Tensor]],
    init: dict[str, torch.Tensor] | None = None,
) -> tuple[dict[str, float], float]:
    """Train the spec; test errors of the final weights and the training-loop seconds."""
    run_dir = work / tag
    shutil.rmtree(run_dir, ignore_errors=True)
    if init is not None:
        overrides = [*overrides, f"init_from.run={_write_init_run(init, work / (tag + '_init'))}"]
        overrides.append("init_from.checkpoint=last")
    spec = sciml.load_spec(spec_path, overrides)
    result = sciml.train(spec, run_dir, progress=False)
    seconds = _read_times(run_dir)[result.steps]
    info = json.loads(RunDir(run_dir).model_info.read_text())
    model = build_normalized_model(info)
    model.load_state_dict(load_checkpoint(RunDir(run_dir).checkpoint("last"))["model"])
    if init is not None:  # every weight came from the anchor (nothing left at sciml's init)
        own = {k for k in model.state_dict() if "normalizer" not in k}
        if own != set(init):
            raise RuntimeError(f"init weights do not cover the model: {sorted(own ^ set(init))}")
    model.eval()
    errors = {}
    with torch.no_grad():
        for name, batch in test_sets.items():
            pred = model(*[batch[k] for k in model.input_keys])
            errors[name] = float(relative_l2(pred, batch["y"]).mean())
    return errors, seconds


def _sciml_initial_state(run_dir: Path, seed: int) -> dict[str, torch.Tensor]:
    """The untrained weights of the run in ``run_dir`` when started with ``seed`` (the model
    ``model.json`` describes, built after ``seed_everything(seed)`` as ``sciml train`` does)."""
    info = json.loads(RunDir(run_dir).model_info.read_text())
    seed_everything(seed)
    model = build_normalized_model(info)
    return {k: v for k, v in model.state_dict().items() if "normalizer" not in k}


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k].to(a[k].dtype)) for k in a)


# ------------------------------------------------------------------------------------------------
# DeepONet vs DeepXDE


def _deepxde_to_sciml(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """DeepXDE ``DeepONetCartesianProd`` weights under sciml's ``NormalizedModel`` names."""
    out = {}
    for name, value in state.items():
        if name.startswith("branch."):
            out["model.branches.0." + name[len("branch.") :]] = value
        elif name.startswith("trunk."):
            out["model.trunks.0." + name[len("trunk.") :]] = value
        elif name == "b.0":
            out["model.bias"] = value.reshape(1)
        else:
            raise RuntimeError(f"unexpected DeepXDE parameter {name}")
    return {k: v.detach().clone() for k, v in out.items()}


def deepxde_run(
    train: dict[str, torch.Tensor], test: dict[str, torch.Tensor], steps: int, seed: int
) -> tuple[dict[str, float], float, dict[str, torch.Tensor]]:
    """DeepXDE's loop; test error of the final weights, loop seconds, its initial weights."""
    import deepxde as dde  # here: importing it prints and configures a backend

    sensors = train["coords"][0].T.numpy().astype(np.float32)  # (100, 1)

    def arr(t: torch.Tensor) -> np.ndarray:
        return t[:, 0, :].numpy().astype(np.float32)  # (N, 1, 100) -> (N, 100)

    data = dde.data.TripleCartesianProd(
        X_train=(arr(train["x"]), sensors),
        y_train=arr(train["y"]),
        X_test=(arr(test["x"]), sensors),
        y_test=arr(test["y"]),
    )
    dde.config.set_random_seed(seed)
    net = dde.nn.DeepONetCartesianProd([100, 40, 40], [1, 40, 40], "relu", "Glorot normal")
    init = copy.deepcopy(net.state_dict())
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3, verbose=0)

    class Clock(dde.callbacks.Callback):
        def on_train_begin(self) -> None:
            self.t0 = time.perf_counter()

        def on_train_end(self) -> None:
            self.seconds = time.perf_counter() - self.t0

    clock = Clock()
    model.train(
        iterations=steps, batch_size=None, display_every=steps, callbacks=[clock], verbose=0
    )
    pred = torch.as_tensor(model.predict((arr(test["x"]), sensors)))
    error = float(relative_l2(pred[:, None, :], test["y"]).mean())
    return {"test": error}, clock.seconds, _deepxde_to_sciml(init)


def part_deeponet(path: Path, seeds: int, steps: int, same_init: bool, work: Path) -> dict:
    kw = {"n_train": A_TRAIN, "n_test": A_TEST}
    train = _stack(GridPairDataset(path, ["v"], ["u"], split="train", **kw))
    test = _stack(GridPairDataset(path, ["v"], ["u"], split="test", **kw))
    overrides = [f"data.path={path}", f"trainer.epochs={steps}"]
    for key in ("log_every", "eval_every", "checkpoint_every"):
        overrides.append(f"trainer.{key}={steps}")
    anchor, ours, same = Runs(), Runs(), Runs()
    for seed in range(seeds):
        print(
            f"DeepONet seed {seed}: DeepXDE, sciml{', sciml from DeepXDE init' * same_init}",
            flush=True,
        )
        errors, seconds, init = deepxde_run(train, test, steps, seed)
        anchor.add(errors, seconds)
        ours.add(
            *sciml_run(DEEPONET_SPEC, [*overrides, f"seed={seed}"], work, "don", {"test": test})
        )
        if same_init:
            same.add(
                *sciml_run(
                    DEEPONET_SPEC,
                    [*overrides, f"seed={seed}"],
                    work,
                    "don_same",
                    {"test": test},
                    init,
                )
            )
        print(
            f"  errors {anchor.errors['test'][-1]:.5f} / {ours.errors['test'][-1]:.5f}"
            + (f" / {same.errors['test'][-1]:.5f}" if same_init else ""),
            flush=True,
        )
    return {"anchor": anchor, "sciml": ours, "same": same}


# ------------------------------------------------------------------------------------------------
# FNO vs neuraloperator


class _XY(Dataset):
    """``{"x", "y"}`` samples (neuraloperator's ``Trainer`` calls ``model(**sample)``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def neuralop_run(
    train: dict[str, torch.Tensor],
    test_sets: dict[str, dict[str, torch.Tensor]],
    epochs: int,
    seed: int,
) -> tuple[dict[str, float], float, dict[str, torch.Tensor]]:
    """neuraloperator's example loop; test errors of the final weights, loop seconds, and its
    initial weights under sciml's names."""
    from neuralop import H1Loss, Trainer
    from neuralop.data.transforms.data_processors import DefaultDataProcessor
    from neuralop.data.transforms.normalizers import UnitGaussianNormalizer
    from neuralop.models import FNO
    from neuralop.training import AdamW

    out_norm = UnitGaussianNormalizer(dim=[0, 2, 3], eps=1e-7)  # load_darcy_flow_small's
    out_norm.fit(train["y"])
    processor = DefaultDataProcessor(in_normalizer=None, out_normalizer=out_norm)
    torch.manual_seed(seed)
    model = FNO(
        n_modes=(8, 8),
        in_channels=1,
        out_channels=1,
        hidden_channels=24,
        projection_channel_ratio=2,
    )
    init = {
        "model.net." + k: v.detach().clone()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)  # neuraloperator keeps a metadata dict there too
    }
    loader = DataLoader(_XY(train["x"], train["y"]), batch_size=32, shuffle=True)
    optimizer = AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30)
    trainer = Trainer(
        model=model,
        n_epochs=epochs,
        device="cpu",
        data_processor=processor,
        eval_interval=epochs + 1,
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # H1Loss warns about keywords the Trainer passes it
        t0 = time.perf_counter()
        trainer.train(
            train_loader=loader,
            test_loaders={},
            optimizer=optimizer,
            scheduler=scheduler,
            regularizer=False,
            training_loss=H1Loss(d=2),
        )
        seconds = time.perf_counter() - t0
    model.eval()
    errors = {}
    with torch.no_grad():
        for name, batch in test_sets.items():
            pred = out_norm.inverse_transform(model(batch["x"]))
            errors[name] = float(relative_l2(pred, batch["y"]).mean())
    return errors, seconds, init


def part_fno(
    path16: Path, path32: Path, seeds: int, epochs: int, n_train: int, same_init: bool, work: Path
) -> dict:
    kw = {"n_train": n_train, "n_test": F_TEST}
    train = _stack(GridPairDataset(path16, ["coeff"], ["u"], split="train", **kw))
    tests = {
        "16²": _stack(GridPairDataset(path16, ["coeff"], ["u"], split="test", **kw)),
        "32² zero-shot": _stack(GridPairDataset(path32, ["coeff"], ["u"], split="all")),
    }
    overrides = [f"data.path={path16}", f"trainer.epochs={epochs}", f"data.n_train={n_train}"]
    anchor, ours, same = Runs(), Runs(), Runs()
    for seed in range(seeds):
        print(
            f"FNO seed {seed}: neuraloperator, sciml{', sciml from its init' * same_init}",
            flush=True,
        )
        errors, seconds, init = neuralop_run(train, tests, epochs, seed)
        anchor.add(errors, seconds)
        ours.add(*sciml_run(FNO_SPEC, [*overrides, f"seed={seed}"], work, "fno", tests))
        if same_init and _same_weights(init, _sciml_initial_state(work / "fno", seed)):
            # sciml's seeded FNO is neuraloperator's module built after torch.manual_seed(seed):
            # the run above already started from the anchor's initial weights
            same.add({k: v[-1] for k, v in ours.errors.items()}, None)
        elif same_init:
            same.add(
                *sciml_run(FNO_SPEC, [*overrides, f"seed={seed}"], work, "fno_same", tests, init)
            )
        print(
            "  errors "
            + "; ".join(
                f"{k}: {anchor.errors[k][-1]:.5f} / {ours.errors[k][-1]:.5f}"
                + (f" / {same.errors[k][-1]:.5f}" if same_init else "")
                for k in tests
            ),
            flush=True,
        )
    return {"anchor": anchor, "sciml": ours, "same": same}


# ------------------------------------------------------------------------------------------------
# table


def rows(label: str, anchor_name: str, res: dict) -> list[str]:
    anchor, ours, same = res["anchor"], res["sciml"], res["same"]
    out = []
    for i, test in enumerate(anchor.errors):
        a, o = anchor.errors[test], ours.errors[test]
        (am, asd), (om, _) = _mean_std(a), _mean_std(o)
        verdict = "yes" if om <= am + asd else "no"
        time_cells = ["–", "–", "–"]
        if i == 0:
            tr = statistics.fmean(ours.seconds) / statistics.fmean(anchor.seconds)
            time_cells = [_fmt(ours.seconds, 1), _fmt(anchor.seconds, 1), f"{tr:.2f}"]
        same_cell = _fmt(same.errors[test]) if same.errors else "not run"
        out.append(
            f"| {label} {test} | {_fmt(o)} | {anchor_name} {_fmt(a)} | {om / am:.2f} | {verdict} "
            f"| {same_cell} | {time_cells[0]} | {time_cells[1]} | {time_cells[2]} |"
        )
    return out


def per_seed(label: str, res: dict) -> list[str]:
    lines = []
    for side in ("anchor", "sciml", "same"):
        for test, values in res[side].errors.items():
            lines.append(f"- {label} {test}, {side}: " + ", ".join(f"{v:.5f}" for v in values))
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["deeponet", "fno", "all"], default="all")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per side (default 5)")
    ap.add_argument("--threads", type=int, default=default_threads(), help="torch threads")
    ap.add_argument(
        "--no-same-init",
        dest="same_init",
        action="store_false",
        help="skip the runs from the anchor's initial weights",
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 500 steps, 2 epochs x 200")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep/reuse generated data here")
    ap.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        ap.error(f"--seeds must be >= 1, got {args.seeds}")
    steps, epochs, n_train = (500, 2, 200) if args.quick else (10000, 15, F_TRAIN)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    work = Path(tempfile.mkdtemp(prefix="sciml_anchors_"))
    data_dir = args.data_dir or work
    data_dir.mkdir(parents=True, exist_ok=True)
    command = "benchmarks/trainer_vs_anchors.py " + " ".join(sys.argv[1:] if argv is None else argv)
    header = [
        f"Command: `{command.strip()}`",
        f"sciml {sciml.__version__}, torch {torch.__version__}, deepxde {version('deepxde')}, "
        f"neuraloperator {version('neuraloperator')}, Python {platform.python_version()}",
        f"CPU: {cpu_model()}; {os.cpu_count()} logical cores; torch threads {args.threads} (both "
        f"sides); load average at start {os.getloadavg()[0]:.2f}; {args.seeds} seeds"
        + (" (--quick sizes)" if args.quick else ""),
    ]
    t_start = time.perf_counter()
    table = [
        "| benchmark | sciml test rel. L2 | anchor test rel. L2 | error ratio | within 1 std | "
        "sciml from anchor's init | sciml loop s | anchor loop s | time ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    seeds_lines: list[str] = []
    try:
        if args.part in ("deeponet", "all"):
            path = _ensure(data_dir, "antiderivative")
            res = part_deeponet(path, args.seeds, steps, args.same_init, work)
            table += rows(f"DeepONet antiderivative ({steps} steps)", "DeepXDE", res)
            seeds_lines += per_seed("DeepONet", res)
        if args.part in ("fno", "all"):
            p16, p32 = _ensure(data_dir, "darcy2d_16"), _ensure(data_dir, "darcy2d_32")
            res = part_fno(p16, p32, args.seeds, epochs, n_train, args.same_init, work)
            table += rows(f"FNO Darcy ({epochs} epochs × {n_train})", "neuraloperator", res)
            seeds_lines += per_seed("FNO", res)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header.append(f"Total wall time of this command: {time.perf_counter() - t_start:.0f} s")
    text = "\n".join([*header, "", *table, "", "Per seed (0, 1, ...):", "", *seeds_lines]) + "\n"
    print("\n" + text)
    if args.out is not None:
        args.out.write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Poseidon's sample-efficiency claim in miniature (Herde et al., "Poseidon: Efficient Foundation
Models for PDEs", NeurIPS 2024): pretrain a small scOT all2all on NS-Sines + NS-Gauss, fine-tune it
on a downstream task not in pretraining with N training trajectories, against the same scOT and
an FNO (``fno_time``) trained from scratch on the same N and steps; plus the all2all vs one-step
(``data.options.max_lead: 1``) ablation at one N.

Tasks (``--task``): ``shear`` (the shear layer, u and v; specs ``*_shear.yaml``, runs under
``runs/scot``), ``tracer`` (a passive tracer carried by NS, u, v and c, a channel the
pretraining never saw; specs ``*_tracer.yaml``, runs under ``runs/scot/tracer``) and ``forced``
(Kolmogorov-forced NS, u and v, with the forcing as a third *input* channel; specs
``*_forced.yaml``, runs under ``runs/scot/forced``).

Every run is ``sciml train <spec> --set ...`` and ``sciml evaluate <run>`` on the specs of this
folder; nothing is trained here. The table's error is computed from the trained runs
(``sciml.load``) on the test trajectories of the task's file:

* ``L1 %``: median over test trajectories of 100 · Σ|pred − y| / Σ|y| (Poseidon's metric) at the
  final stored time t = 1, per channel group ([u, v]; [c] for the tracer) and averaged over the
  groups (Poseidon's mean of group medians; one group for the shear layer and forced NS), *direct
  jump* 0 → 1 (one call with Δt = 1) and *autoregressive* (10 calls with Δt = 0.1); every call
  gets the task's constant inputs (the forcing) after the state;
* ``L2``: ``sciml evaluate``'s ``direct_relative_l2_final`` (mean relative L2, direct jump).

Efficiency gain (our formula; Poseidon's EG is defined against FNO): with e the fine-tuned error
with N trajectories, N* is the number of trajectories a from-scratch model needs to reach e, read
off its error-vs-N curve interpolated linearly in log N – log e (first crossing); EG(N) = N* / N,
printed for every N against scOT from scratch and FNO. When the baseline stays above e at every N
measured, only the lower bound EG > N_max / N is printed; when it is at or below e already at
N_min, only the upper bound EG ≤ N_min / N (no extrapolation below N_min).

Training length: ``trainer.max_steps = 50·√N`` optimizer steps of batch 16 for every model at a
given N (the compute budget of the shared machine; Poseidon trains a fixed number of epochs).
Model selection on the 8 validation trajectories only; the 16 test trajectories are read after
training, once.

    sciml generate ns_sines --out data/scot/ns_sines_n11.h5 --set n_samples=40 --set n_t=11 --set seed=1
    sciml generate ns_gauss --out data/scot/ns_gauss_n11.h5 --set n_samples=40 --set n_t=11 --set seed=1
    sciml generate shear_layer --out data/scot/shear_layer_n11.h5 --set n_samples=152 --set n_t=11 \\
        --set n_fine=64 --set seed=2
    sciml generate ns_tracer --out data/scot/ns_tracer_n11.h5 --set n_samples=152 --set n_t=11 \\
        --set n_fine=64 --set seed=3
    sciml generate ns_forced --out data/scot/ns_forced_n11.h5 --set n_samples=56 --set n_t=11 \\
        --set n_fine=64 --set seed=4
    nice -n 10 python examples/scot/poseidon_miniature.py --seeds 0 1   # shear, N = 8 ... 128
    nice -n 10 python examples/scot/poseidon_miniature.py --task tracer --seeds 0 1   # N = 8 ... 128
    nice -n 10 python examples/scot/poseidon_miniature.py --task forced               # N = 8 32
    python examples/scot/plot_error_vs_n.py runs/scot/summary_shear.json \\
        runs/scot/summary_tracer.json --out docs/figures/scot_error_vs_n.png

Each invocation also writes ``<runs>/summary_<task>.json`` (every run's errors, per seed, and
the parameter count of each model), which ``plot_error_vs_n.py`` draws.

Another scOT size, same study: ``--model-preset scot-mini`` trains every scOT run (the
pretraining, fine-tuned, scratch and one-step runs) with the catalog preset
``sciml/catalog/models/scot-mini.yaml`` instead of the specs' model section, by ``--set``
overrides of every key of the preset (the specs' data, optimizer, steps and learning rates are
kept); the FNO runs are unchanged. Its runs and summary go to ``runs/scot_mini`` (``--runs``
overrides it), so the default study's runs are never reused for it:

    nice -n 10 python examples/scot/poseidon_miniature.py --model-preset scot-mini --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
N_VAL, N_TEST = 8, 16
MODELS = ("finetune", "scratch", "fno")


@dataclass(frozen=True)
class Downstream:
    """A downstream task: its file, state fields, channel groups of the metric, specs' suffix,
    the runs' sub-folder, default N and ablation N, and the time-constant input fields appended to
    the state in every call (``data.options.constant_inputs`` of its specs)."""

    file: Path
    fields: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    suffix: str
    folder: str
    ns: tuple[int, ...]
    ablation_n: int
    constant_inputs: tuple[str, ...] = ()


TASKS = {
    "shear": Downstream(
        Path("data/scot/shear_layer_n11.h5"),
        ("velocity",),
        ((0, 1),),
        "shear",
        "",
        (8, 16, 32, 64, 128),
        32,
    ),
    "tracer": Downstream(
        Path("data/scot/ns_tracer_n11.h5"),
        ("velocity", "tracer"),
        ((0, 1), (2,)),
        "tracer",
        "tracer",
        (8, 16, 32, 64, 128),
        32,
    ),
    "forced": Downstream(
        Path("data/scot/ns_forced_n11.h5"),
        ("velocity",),
        ((0, 1),),
        "forced",
        "forced",
        (8, 32),
        0,
        ("forcing",),
    ),
}


def steps_for(n: int) -> int:
    """Optimizer steps of every run with ``n`` training trajectories: 50·√n."""
    return int(round(50 * math.sqrt(n)))


def preset_overrides(preset: str, specs: list[Path]) -> tuple[str, ...]:
    """``--set`` overrides that make ``specs`` build the catalog model ``preset``.

    A spec's own keys win over its preset's (``sciml.spec``), so ``model.preset=...`` alone would
    keep the specs' sizes: every key of the preset is set explicitly as well. A key of a spec's
    model section that the preset does not set would survive unseen, and another model family
    would train something else, so both are refused."""
    from sciml.catalog import load_yaml, read_preset

    model = read_preset("models", preset)
    for spec in specs:
        own = (load_yaml(spec.read_text()) or {}).get("model") or {}
        extra = sorted(set(own) - set(model) - {"preset"})
        if own.get("name") != model.get("name") or extra:
            raise SystemExit(
                f"--model-preset {preset}: {spec.name}'s model ({own.get('name')}, keys "
                f"{sorted(own)}) is not replaced by the preset ({model.get('name')}, keys "
                f"{sorted(model)})"
            )
    return (f"model.preset={preset}", *(f"model.{k}={json.dumps(v)}" for k, v in model.items()))


def n_parameters(run: Path) -> int:
    """Trainable parameters of a run's model (``sciml.load``; normalizers are buffers)."""
    import sciml as api

    return sum(p.numel() for p in api.load(run).parameters())


def sciml(*args: str) -> float:
    """Run the ``sciml`` CLI of this interpreter on one thread; the CPU seconds it used."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    before = os.times()
    subprocess.run([sys.executable, "-m", "sciml", *args], check=True, env=env)
    after = os.times()
    return (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def train(spec: str, out: Path, *overrides: str) -> tuple[float, float]:
    """Train ``spec`` into ``out`` unless it is already there (its ``best.pt``) and evaluate it;
    the CPU seconds of the training and of the evaluation (0 for a step reused)."""
    cpu = [0.0, 0.0]
    if not (out / "checkpoints" / "best.pt").is_file():
        sets = [a for o in overrides for a in ("--set", o)]
        cpu[0] = sciml(
            "train", str(HERE / spec), "--out", str(out), "--overwrite", "--quiet", *sets
        )
    if not (out / "eval" / "metrics.json").is_file():
        cpu[1] = sciml("evaluate", str(out))
    return cpu[0], cpu[1]


@torch.no_grad()
def final_time_errors(run: Path, task: Downstream) -> dict[str, float]:
    """Median relative L1 (%) at the last stored time, direct jump and autoregressive, and the
    evaluation's mean relative L2 of the direct jump (see the module docstring)."""
    import sciml as api
    from sciml.data.grid import AllToAllDataset

    torch.set_num_threads(1)
    test = AllToAllDataset(
        task.file,
        list(task.fields),
        split="test",
        n_test=N_TEST,
        constant_inputs=list(task.constant_inputs),
    )
    k_all = range(len(test.trajectories))
    frames = torch.stack([test.trajectory(k) for k in k_all])  # (n, T, C, *S)
    constants = torch.stack([test.constants(k) for k in k_all])  # (n, C_c, *S)
    surrogate = api.load(run)

    def call(state: torch.Tensor, dt: float) -> torch.Tensor:
        return surrogate(torch.cat([state, constants], dim=1), torch.full((len(state),), dt))

    x0, truth = frames[:, 0], frames[:, -1]
    jump = call(x0, float(test.time[-1] - test.time[0]))
    state = x0
    for _ in range(len(test.time) - 1):
        state = call(state, float(test.time[1] - test.time[0]))

    def median_l1(pred: torch.Tensor, group: tuple[int, ...]) -> float:
        p, y = pred[:, list(group)], truth[:, list(group)]
        err = (p - y).abs().flatten(1).sum(1) / y.abs().flatten(1).sum(1)
        return float(100 * err.median())

    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    out = {"direct_l2": float(metrics["test"]["direct_relative_l2_final"])}
    for key, pred in (("direct_l1", jump), ("auto_l1", state)):
        per_group = [median_l1(pred, g) for g in task.groups]
        out[key] = float(np.mean(per_group))
        if len(task.groups) > 1:
            for k, value in enumerate(per_group):
                out[f"{key}_g{k}"] = value
    return out


def efficiency_gain(ns: list[int], curve: list[float], target: float, n: int) -> str:
    """EG = N*/``n``: N* where the baseline's error-vs-N ``curve`` (errors at ``ns``, interpolated
    linearly in log N – log e) first reaches ``target``, the model's error with ``n``
    trajectories; a bound where N* is outside the measured N (see the module docstring)."""
    logn, loge = np.log(ns), np.log(curve)
    for k in range(len(ns)):
        if curve[k] <= target:
            if k == 0:
                return f"<= {ns[0] / n:.2g} (baseline at or below it already at N = {ns[0]})"
            f = (np.log(target) - loge[k - 1]) / (loge[k] - loge[k - 1])
            return f"{math.exp(logn[k - 1] + f * (logn[k] - logn[k - 1])) / n:.2f}"
    return f"> {ns[-1] / n:g} (not reached at any N measured)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="shear")
    parser.add_argument(
        "--ns", type=int, nargs="+", help="N (default: 8 16 32 64 128; forced: 8 32)"
    )
    parser.add_argument(
        "--ablation-n", type=int, help="N of the one-step ablation; 0: none (default 32; forced: 0)"
    )
    parser.add_argument(
        "--model-preset",
        help="catalog model preset of every scOT run (e.g. scot-mini); default: the specs' model "
        "(scot-micro). FNO runs are unchanged",
    )
    parser.add_argument(
        "--runs",
        type=Path,
        help="runs root (default runs/scot; with --model-preset P: runs/<P with _ for ->)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="downstream seeds (runs of seed s > 0 "
        "go to <runs>/seed<s>/); the table shows the mean over them of each test median",
    )
    args = parser.parse_args()
    task = TASKS[args.task]
    args.ns = args.ns or list(task.ns)
    args.ablation_n = task.ablation_n if args.ablation_n is None else args.ablation_n
    if args.ablation_n and args.ablation_n not in args.ns:
        parser.error(f"--ablation-n {args.ablation_n} must be 0 or one of --ns {args.ns}")
    if not task.file.is_file():
        raise SystemExit(f"{task.file} is missing; see the commands in {__file__}'s docstring")
    scot_specs = ["pretrain.yaml", *(f"{m}_{task.suffix}.yaml" for m in ("finetune", "scratch"))]
    preset = (
        preset_overrides(args.model_preset, [HERE / s for s in scot_specs])
        if args.model_preset
        else ()
    )
    if args.runs is None:
        args.runs = Path("runs") / (args.model_preset or "scot").replace("-", "_")
    cpu: dict[str, tuple[float, float]] = {}
    start = time.time()
    pretrain = args.runs / "pretrain"
    cpu["pretrain"] = train("pretrain.yaml", pretrain, *preset)
    results: dict[tuple[str, int, int], dict[str, float]] = {}
    params = {"pretrain": n_parameters(pretrain)}
    n_ab = args.ablation_n
    for seed in args.seeds:
        root = args.runs / task.folder
        root = root / f"seed{seed}" if seed else root
        for n in args.ns:
            sets = (
                f"data.n_train={n + N_VAL}",
                f"trainer.max_steps={steps_for(n)}",
                f"seed={seed}",
            )
            for model in MODELS:
                run = root / f"{model}_n{n}"
                extra = (f"init_from.run={pretrain}",) if model == "finetune" else ()
                extra += preset if model != "fno" else ()
                cpu[f"{run.name}/{seed}"] = train(f"{model}_{task.suffix}.yaml", run, *sets, *extra)
                results[(model, n, seed)] = final_time_errors(run, task)
                params.setdefault(model, n_parameters(run))
        if not n_ab:
            continue
        run = root / f"scratch_onestep_n{n_ab}"
        sets = (
            f"data.n_train={n_ab + N_VAL}",
            f"trainer.max_steps={steps_for(n_ab)}",
            f"seed={seed}",
        )
        cpu[f"{run.name}/{seed}"] = train(
            f"scratch_{task.suffix}.yaml", run, *sets, "data.options.max_lead=1", *preset
        )
        results[("onestep", n_ab, seed)] = final_time_errors(run, task)

    summary = args.runs / f"summary_{args.task}.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(
        json.dumps(
            {
                "task": args.task,
                "model_preset": args.model_preset or "specs (scot-micro)",
                "parameters": params,
                "cpu_s_train_evaluate": {
                    k: [round(t, 1), round(e, 1)] for k, (t, e) in cpu.items()
                },
                "seeds": args.seeds,
                "ns": args.ns,
                "steps": {n: steps_for(n) for n in args.ns},
                "ablation_n": n_ab,
                "runs": [
                    {"model": model, "n": n, "seed": seed, **errors}
                    for (model, n, seed), errors in sorted(results.items())
                ],
            },
            indent=1,
        )
    )

    def mean(model: str, n: int, key: str) -> float:
        return float(np.mean([results[(model, n, s)][key] for s in args.seeds]))

    seeds = ", ".join(map(str, args.seeds))
    print(f"\n{args.task}, test = {N_TEST} trajectories, final time t = 1, mean over seeds {seeds}")
    print(
        f"parameters: scOT ({args.model_preset or 'the specs model'}) {params['finetune']:,}, "
        f"FNO {params['fno']:,}"
    )
    print(
        "| N | steps | model | L1 % direct (median) | L1 % autoregr. (median) | L2 direct (mean) |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.ns:
        for model in MODELS:
            print(
                f"| {n} | {steps_for(n)} | {model} | {mean(model, n, 'direct_l1'):.2f} "
                f"| {mean(model, n, 'auto_l1'):.2f} | {mean(model, n, 'direct_l2'):.4f} |"
            )
    if len(task.groups) > 1:
        print("\nper channel group, L1 % direct / autoregressive (median):")
        for n in args.ns:
            for model in MODELS:
                groups = " | ".join(
                    f"{mean(model, n, f'direct_l1_g{k}'):.2f} / {mean(model, n, f'auto_l1_g{k}'):.2f}"
                    for k in range(len(task.groups))
                )
                print(f"| {n} | {model} | {groups} |")
    if len(args.seeds) > 1:
        print("\nper seed, L1 % direct:")
        for (model, n, seed), r in sorted(results.items()):
            print(f"  {model} N={n} seed {seed}: {r['direct_l1']:.2f}")
    print("\nefficiency gain of the fine-tuned scOT, EG(N) = N*/N (direct L1):")
    for model in ("scratch", "fno"):
        curve = [mean(model, n, "direct_l1") for n in args.ns]
        gains = [
            efficiency_gain(args.ns, curve, mean("finetune", n, "direct_l1"), n) for n in args.ns
        ]
        print(f"  vs {model}: " + "; ".join(f"N={n}: {g}" for n, g in zip(args.ns, gains)))
    if n_ab:
        print(
            f"\nablation, scOT from scratch, N = {n_ab}, {steps_for(n_ab)} steps (median L1 %, t = 1):"
        )
        print("| training pairs | direct | autoregressive |\n|---|---|---|")
        for label, model in (("all2all", "scratch"), ("one-step (max_lead 1)", "onestep")):
            print(
                f"| {label} | {mean(model, n_ab, 'direct_l1'):.2f} "
                f"| {mean(model, n_ab, 'auto_l1'):.2f} |"
            )
    print("\nCPU seconds (train + evaluate) per run/seed, this invocation (0 = reused):")
    print(", ".join(f"{k} {t:.0f} + {e:.0f}" for k, (t, e) in cpu.items()))
    total = sum(t + e for t, e in cpu.values())
    print(f"total CPU {total / 60:.1f} min, wall {(time.time() - start) / 60:.1f} min")
    print(f"errors of every run: {summary}")


if __name__ == "__main__":
    main()

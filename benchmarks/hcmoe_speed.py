"""PI-HC vs PI-HC-MoE: constraint-layer step time and LM iterations vs constrained points and K.

Diffusion–sorption on a ``n_t × n_x`` grid, basis = an untrained float64 FNO (width 32, 8 modes,
N = 16) applied to recipe initial data, batch 2. For each number of experts ``K`` (spatial split
``[1, K]``) and each point budget, times the hard constraint layer alone:

* ``train``: forward (batched LM) + IFT backward of ``u.sum()``;
* ``infer``: forward under ``no_grad``.

Two budgets: *fixed per expert* (``m`` points per expert, total ``K·m``: the paper's setting, 20k
per expert) and *fixed total* (``M`` points split over the experts). Reports the median wall
time of ``--repeats`` runs, the median process CPU time, and the mean LM iterations per problem
(paper Fig. 4; Chalapathi et al., ICLR 2024, App. C.4). Speed-up columns are PI-HC (K = 1) time
over MoE time in the same run.

    nice -n 10 python benchmarks/hcmoe_speed.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _env import cpu_model, version

from sciml.constraints.hard import HardPDEConstraint
from sciml.data.recipes.base import generate
from sciml.models.fno import FNO


def basis_and_batch(n_x: int, n_t: int, n_basis: int, tmp: str) -> tuple[torch.Tensor, dict]:
    from sciml.data.format import DatasetFile

    path = generate(
        "diffusion_sorption",
        f"{tmp}/ds_speed.h5",
        {"n_samples": 2, "batch_size": 2, "n_x": n_x, "n_t": 2, "substeps": 1},
        progress=False,
    )
    u0 = torch.as_tensor(DatasetFile(path).read("u")[:, 0], dtype=torch.float64)
    torch.manual_seed(0)
    net = FNO(1, n_basis, 2, n_modes=8, width=32, n_layers=4).double()
    with torch.no_grad():
        basis = net(u0[:, None, None, :].expand(-1, 1, n_t, -1).contiguous())
    return basis, {"x": u0}


def measure(layer: HardPDEConstraint, basis: torch.Tensor, batch: dict, train: bool, repeats: int):
    walls, cpus, iters = [], [], []
    for i in range(repeats + 1):  # the first run warms up and is not counted
        b = basis.clone().requires_grad_(train)
        w0, c0 = time.perf_counter(), time.process_time()
        if train:
            layer.train()
            layer(b, batch).sum().backward()
        else:
            layer.eval()
            with torch.no_grad():
                layer(b, batch)
        if i:
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
            iters.append(float(layer.last_result.n_iter.double().mean()))
    return statistics.median(walls), statistics.median(cpus), statistics.mean(iters)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n-x", type=int, default=128)
    p.add_argument("--n-t", type=int, default=51)
    p.add_argument("--experts", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--per-expert", type=int, nargs="+", default=[100, 300, 800])
    p.add_argument("--total", type=int, nargs="+", default=[400, 1600, 6400])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tmp", default="/tmp")
    p.add_argument("--plot", help="write a PNG of time vs points per K (both budgets) here")
    args = p.parse_args()
    torch.set_num_threads(1)
    basis, batch = basis_and_batch(args.n_x, args.n_t, 16, args.tmp)
    print(
        f"# hcmoe_speed: grid {args.n_t}x{args.n_x}, batch 2, N=16, float64, 1 thread, "
        f"{cpu_model()}, torch {version('torch')}; median of {args.repeats} runs; other jobs "
        f"were running on this machine"
    )
    rows: list[tuple[str, int, int, float, float]] = []
    for budget, values in (("per expert", args.per_expert), ("total", args.total)):
        print(f"\n## fixed points {budget}\n")
        print(
            "| points | K | train s | train CPU s | infer s | infer CPU s | LM iters | "
            "train speed-up vs K=1 | infer speed-up vs K=1 |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for value in values:
            base = None
            for k in args.experts:
                m = value if budget == "per expert" else value // k
                layer = HardPDEConstraint(n_basis=16, n_points=m, experts=(1, k))
                tr = measure(layer, basis, batch, True, args.repeats)
                inf = measure(layer, basis, batch, False, args.repeats)
                if base is None:
                    base = (tr, inf)
                rows.append((budget, value, k, tr[1], inf[1]))
                print(
                    f"| {value} | {k} | {tr[0]:.3f} | {tr[1]:.3f} | {inf[0]:.3f} | {inf[1]:.3f} | "
                    f"{inf[2]:.1f} | {base[0][0] / tr[0]:.2f} | {base[1][0] / inf[0]:.2f} |",
                    flush=True,
                )
    if args.plot:
        plot(rows, args.plot)


def plot(rows: list[tuple[str, int, int, float, float]], path: str) -> None:
    """CPU seconds per call vs points, one line per K, train and inference, both budgets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for col, (budget, phase) in enumerate(
        [(b, ph) for b in ("per expert", "total") for ph in (3, 4)]
    ):
        ax = axes[col]
        for k in sorted({r[2] for r in rows}):
            pts = [(r[1], r[phase]) for r in rows if r[0] == budget and r[2] == k]
            ax.plot(*zip(*pts), marker="o", label=f"K={k}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"points {budget}")
        ax.set_ylabel("CPU s per call")
        ax.set_title(f"{'train' if phase == 3 else 'inference'}, fixed {budget}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

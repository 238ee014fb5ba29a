"""PI-SC vs PI-HC vs PI-HC-MoE on diffusion–sorption at CPU scale (Chalapathi et al., ICLR 2024).

Trains an FNO on the physics alone (PDE residual over the full grid + initial and boundary rows,
weights 1, no solution data; paper §4.1, App. C.1) and reports the test relative L2 error
against our finite-volume reference (``diffusion_sorption`` recipe):

* ``sc``  — PI-SC: the FNO predicts ``u`` (1 channel), the residual is the loss;
* ``hc``  — PI-HC: the FNO predicts ``N`` basis functions, ``hard_pde`` with one expert;
* ``moe`` — PI-HC-MoE: the same with ``experts = [1, K]`` (paper: K = 4 spatial experts).

Usage (each run a few minutes on one CPU thread)::

    nice -n 10 python examples/hcmoe/train_ds.py --model moe --steps 300 --out runs/hcmoe

The data file is generated on first use (``--data``). Results go to ``<out>/<model>.json``;
``python examples/hcmoe/train_ds.py --table <out>`` prints the comparison.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from sciml.constraints.hard import DiffusionSorptionResidual, HardPDEConstraint
from sciml.data.format import DatasetFile
from sciml.data.recipes.base import generate
from sciml.models.fno import FNO

PAPER = {"sc": 85.93, "hc": 7.55, "moe": 3.60}  # test rel. L2 %, paper Table 1 (DS)


def load_data(path: Path, n_samples: int, n_x: int, n_t: int) -> torch.Tensor:
    """``u`` ``(N, T, X)`` float64 from the recipe file (generated if missing)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        overrides = {"n_samples": n_samples, "batch_size": 16, "n_x": n_x, "n_t": n_t}
        generate("diffusion_sorption", path, overrides, progress=False)
    f = DatasetFile(path)
    return torch.as_tensor(f.read("u"), dtype=torch.float64)


def physics_loss(pde: DiffusionSorptionResidual, u: torch.Tensor, batch: dict) -> torch.Tensor:
    """Mean squared PDE residual over the grid + mean squared initial/boundary residual."""
    return (
        pde.grid_residual(u, batch).pow(2).mean() + pde.condition_residual(u, batch).pow(2).mean()
    )


def rel_l2(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Per-sample relative L2 error ``(B,)``."""
    return (pred - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["sc", "hc", "moe"], default="moe")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-basis", type=int, default=16)
    p.add_argument("--n-points", type=int, default=0, help="PDE points per expert (0: all)")
    p.add_argument("--experts", type=int, default=4, help="spatial experts of --model moe")
    p.add_argument("--residual-scale", type=float, default=1.0)
    p.add_argument(
        "--interface-weight", type=float, default=0.0, help="continuity rows (our extension)"
    )
    p.add_argument("--n-train", type=int, default=32)
    p.add_argument("--n-test", type=int, default=8)
    p.add_argument("--n-x", type=int, default=64)
    p.add_argument("--n-t", type=int, default=26)
    p.add_argument("--data", type=Path, default=Path("runs/hcmoe/ds.h5"))
    p.add_argument("--out", type=Path, default=Path("runs/hcmoe"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table", type=Path, help="print the table of the results in this folder")
    args = p.parse_args()
    if args.table:
        print_table(args.table)
        return
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    u_all = load_data(args.data, args.n_train + args.n_test, args.n_x, args.n_t)
    train, test = u_all[: args.n_train], u_all[args.n_train :]
    pde = DiffusionSorptionResidual(residual_scale=args.residual_scale)
    out_channels = 1 if args.model == "sc" else args.n_basis
    net = FNO(1, out_channels, 2, n_modes=8, width=32, n_layers=4).double()
    layer = None
    if args.model != "sc":
        experts = (1, args.experts if args.model == "moe" else 1)
        layer = HardPDEConstraint(
            pde,
            n_basis=args.n_basis,
            n_points=args.n_points or None,
            experts=experts,
            max_iter=50,
            interface_weight=args.interface_weight,
            rtol=1e-4,
            atol=1e-4,
        )
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=(0.1) ** (1 / args.steps))

    def predict(u0: torch.Tensor) -> torch.Tensor:
        x = u0[:, None, None, :].expand(-1, 1, args.n_t, -1).contiguous()
        out = net(x)
        return out if layer is None else layer(out, {"x": u0})

    gen = torch.Generator().manual_seed(args.seed)
    start, iters = time.perf_counter(), []
    for step in range(args.steps):
        idx = torch.randint(0, args.n_train, (args.batch,), generator=gen)
        u0 = train[idx, 0]
        u = predict(u0)
        loss = physics_loss(pde, u, {"x": u0})
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if layer is not None:
            iters.append(float(layer.last_result.n_iter.double().mean()))
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  physics loss {float(loss.detach()):.3e}", flush=True)
    train_s = time.perf_counter() - start
    net.eval()
    if layer is not None:
        layer.eval()
    with torch.no_grad():
        errs = torch.cat(
            [
                rel_l2(predict(test[i : i + 4, 0])[:, 0], test[i : i + 4])
                for i in range(0, len(test), 4)
            ]
        )
    result = {
        "model": args.model,
        "experts": 1 if args.model != "moe" else args.experts,
        "rel_l2_mean_pct": 100 * float(errs.mean()),
        "rel_l2_std_pct": 100 * float(errs.std()),
        "paper_pct": PAPER[args.model],
        "steps": args.steps,
        "train_s": train_s,
        "lm_iters_mean": sum(iters) / len(iters) if iters else None,
        "not_converged": None if layer is None else f"{layer.n_not_converged}/{layer.n_solves}",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.model}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "args"}))


def print_table(folder: Path) -> None:
    rows = [
        json.loads((folder / f"{m}.json").read_text())
        for m in ("sc", "hc", "moe")
        if (folder / f"{m}.json").exists()
    ]
    print(
        "| model | test rel. L2 % (ours) | paper % | steps | train s | mean LM iters | not converged |"
    )
    print("|---|---|---|---|---|---|---|")
    names = {"sc": "PI-SC", "hc": "PI-HC", "moe": "PI-HC-MoE"}
    for r in rows:
        it = "–" if r["lm_iters_mean"] is None else f"{r['lm_iters_mean']:.1f}"
        print(
            f"| {names[r['model']]} | {r['rel_l2_mean_pct']:.2f} ± {r['rel_l2_std_pct']:.2f} | "
            f"{r['paper_pct']} | {r['steps']} | {r['train_s']:.0f} | {it} | {r['not_converged'] or '–'} |"
        )


if __name__ == "__main__":
    main()

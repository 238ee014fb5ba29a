"""Diagnose a trained PI-HC / PI-HC-MoE run on diffusion–sorption: is its loss smooth, is the
implicit-function gradient the loss's derivative, where does the physics loss sit?

On a batch of training trajectories (physics loss of the specs: mean squared PDE residual over
the grid, residual scale 500, + mean squared initial/boundary residual), with the layer's
Levenberg–Marquardt solved tightly (rtol = atol = 1e-12, ≤ 500 iterations) so that solver
tolerance is not what is measured:

* the loss at θ + ε·d for a random unit direction d (ε = 0, 1e-8, 1e-6, 1e-4): a smooth loss
  moves by O(ε);
* the directional derivative along the normalised −gradient: implicit-function gradient vs
  central finite differences (ε = 1e-4, 1e-5);
* the share of the PDE loss on the grid columns next to the expert interfaces, and the share of
  the predicted field at or below 0 (where the physics' retardation has its kink).

Usage::

    python examples/hcmoe/diagnose_ds.py runs/hcmoe_diffusion_sorption --checkpoint last
    python examples/hcmoe/diagnose_ds.py runs/hcmoe_diffusion_sorption --smoothing 0.01
"""

from __future__ import annotations

import argparse

import torch
from run_data import load_constrained, run_dataset

from sciml.constraints.hard import DiffusionSorptionResidual, LMOptions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--checkpoint", choices=["best", "last"], default="last")
    p.add_argument("--data", help="dataset file (default: the run spec's data.path)")
    p.add_argument("--smoothing", type=float, help="override the PDE's smoothing (layer and loss)")
    p.add_argument("--samples", type=int, nargs="+", default=[0, 5, 11, 17])
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_constrained(args.run_dir, args.checkpoint)
    net, layer = model.model, model.constraint
    if args.smoothing is not None:
        layer.pde.smoothing = args.smoothing
    ds = run_dataset(args.run_dir, "train", args.data)
    samples = [ds[i] for i in args.samples]
    batch = {"x": torch.stack([s["x"] for s in samples])}
    target = torch.stack([s["y"] for s in samples])
    pde = DiffusionSorptionResidual(residual_scale=500.0, smoothing=layer.pde.smoothing)
    params = list(net.parameters())
    views = [torch.view_as_real(q) if q.is_complex() else q for q in params]
    layer.options = LMOptions(max_iter=500, rtol=1e-12, atol=1e-12)
    layer.train()

    def loss() -> tuple[torch.Tensor, torch.Tensor]:
        u = model(batch["x"])
        interior = pde.grid_residual(u, batch).square()
        return interior.mean() + pde.condition_residual(u, batch).square().mean(), u

    def loss_at(eps: float, direction: torch.Tensor) -> float:
        saved = [q.detach().clone() for q in params]
        with torch.no_grad():
            offset = 0
            for v in views:
                v.add_(eps * direction[offset : offset + v.numel()].view_as(v))
                offset += v.numel()
            value = float(loss()[0])
            for q, s in zip(params, saved):
                q.copy_(s)
        return value

    value, u = loss()
    grad = torch.autograd.grad(value, params)
    flat = torch.cat([(torch.view_as_real(g) if g.is_complex() else g).flatten() for g in grad])
    res = layer.last_result
    rel = ((u - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)).mean()
    print(
        f"loss {float(value.detach()):.5f}  rel. L2 {100 * float(rel.detach()):.2f} %  LM iterations mean "
        f"{float(res.n_iter.double().mean()):.1f}, max {int(res.n_iter.max())}, not converged "
        f"{res.n_not_converged}/{res.converged.numel()}  smoothing {layer.pde.smoothing}"
    )
    direction = torch.randn(
        flat.numel(), dtype=flat.dtype, generator=torch.Generator().manual_seed(1)
    )
    direction /= direction.norm()
    moved = [loss_at(eps, direction) for eps in (0.0, 1e-8, 1e-6, 1e-4)]
    print("loss at theta + eps d, eps = 0, 1e-8, 1e-6, 1e-4:", " ".join(f"{v:.6f}" for v in moved))
    down = -flat / flat.norm()
    for eps in (1e-4, 1e-5):
        fd = (loss_at(eps, down) - loss_at(-eps, down)) / (2 * eps)
        print(
            f"along -grad: finite differences (eps {eps:g}) {fd:.4e}, implicit gradient "
            f"{float(flat @ down):.4e}"
        )
    with torch.no_grad():
        interior = pde.grid_residual(u, batch).square()
        n_x, k = interior.shape[-1], layer.experts[-1]
        cols = sorted({j for e in range(1, k) for j in range(e * n_x // k - 2, e * n_x // k + 2)})
        share = float(interior[..., cols].sum() / interior.sum()) if cols else 0.0
        print(
            f"PDE loss on the {len(cols)} of {n_x} columns next to the {k - 1} interfaces: "
            f"{100 * share:.1f} %;  predicted u <= 0 at {100 * float((u <= 0).double().mean()):.1f} "
            f"% of the grid"
        )


if __name__ == "__main__":
    main()

"""Where does a trained PI-HC-MoE run on diffusion–sorption lose accuracy: at the expert
interfaces or inside the blocks, and would another solve of the same basis do better?

On the spec's validation trajectories (never the test split), from the run's ``best.pt``:

* the specs' training loss (PDE residual at scale 500 and condition rows, mean squares) of the
  reference and of the prediction, and the
  share of its PDE part on the interface columns and on the t = 0 row; the error at t = 0 (the
  initial condition) and at t > 0;
* rel. L2 of the MoE field, the share of its squared error on the columns next to the
  interfaces (2 on each side) against their share of the grid, and the rel. L2 without them;
* the jump of the prediction at each interface, ``|b(x)·(ω_k − ω_{k+1})|`` at the two columns
  beside it, relative to the rms of the reference;
* per expert: LM iterations, unconverged problems, the condition number of the Jacobian of its
  rows at the solution (with the ridge), and the rel. L2 on its own block;
* the same basis solved again with other settings of the layer: one global problem
  (``experts [1, 1]``), other splits, the PDE rows at another ``residual_scale`` — whether the
  basis or the split/weighting of the least squares limits the error.

Usage::

    python examples/hcmoe/interfaces_ds.py RUN_DIR [--resolve "1,1" "1,2" --scales 1 500]
"""

from __future__ import annotations

import argparse

import torch
from run_data import load_constrained, run_dataset

import sciml.constraints.hard.layer as layer_module
from sciml.constraints.hard import DiffusionSorptionResidual
from sciml.constraints.hard.layer import expert_blocks


def _rel(u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (u - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best")
    p.add_argument("--split", default="val", choices=["val", "train"])
    p.add_argument("--resolve", nargs="*", default=["1,1", "1,2", "1,4"])
    p.add_argument("--scales", nargs="*", type=float, default=[])
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_constrained(args.run_dir, args.checkpoint)
    net, layer = model.model, model.constraint
    ds = run_dataset(args.run_dir, args.split)
    samples = [ds[i] for i in range(min(len(ds), 8))]
    batch = {"x": torch.stack([s["x"] for s in samples])}
    y = torch.stack([s["y"] for s in samples])  # (B, 1, T, X)
    layer.eval()

    captured = {}
    original = layer_module.solve_least_squares

    def capture(system, **kw):  # the system of the last forward, for its Jacobian
        captured["system"] = system
        return original(system, **kw)

    layer_module.solve_least_squares = capture
    with torch.no_grad():
        basis = net(batch["x"])  # (B, N, T, X) — the basis before the constraint
        u = layer(basis, batch)
    res, system = layer.last_result, captured["system"]
    b, k = basis.shape[0], layer.n_experts
    n_x = y.shape[-1]
    rel = _rel(u, y)
    print(
        f"run {args.run_dir} ({args.checkpoint}.pt), {args.split} split, {b} trajectories, "
        f"experts {layer.experts}, residual_scale {layer.pde.scale}"
    )
    print(f"rel. L2 {100 * float(rel.mean()):.2f} %")
    ex = layer.experts[-1]
    cuts = [e * n_x // ex for e in range(1, ex)] if layer.experts[0] == 1 else []
    cols = sorted({j for c in cuts for j in range(c - 2, c + 2)})
    loss_pde = DiffusionSorptionResidual(residual_scale=500.0, smoothing=layer.pde.smoothing)
    with torch.no_grad():
        r2 = loss_pde.grid_residual(u, batch).square()  # the specs' training loss, (B, T, X)
        c2 = loss_pde.condition_residual(u, batch).square().mean()
        ref2 = loss_pde.grid_residual(y, batch).square()  # the reference's own
    print(
        f"the reference's own specs' loss: PDE {float(ref2.mean()):.4f} ({100 * float(ref2[:, 0].sum() / ref2.sum()):.1f}"
        f" % on the t = 0 row; {float(ref2[:, 1:].mean()):.4f} without it), conditions "
        f"{float(loss_pde.condition_residual(y, batch).square().mean()):.4f}"
    )
    line = f"specs' loss: PDE {float(r2.mean()):.4f}, conditions {float(c2):.4f}"
    if cols:
        line += f"; PDE loss on the interface columns {100 * float(r2[..., cols].sum() / r2.sum()):.1f} %"
    print(line)
    print(
        f"share of the PDE loss on the t = 0 row {100 * float(r2[:, 0].sum() / r2.sum()):.1f} %; "
        f"rel. L2 at t = 0 (initial condition) {100 * float(_rel(u[:, :, :1], y[:, :, :1]).mean()):.2f}"
        f" %, at t > 0 {100 * float(_rel(u[:, :, 1:], y[:, :, 1:]).mean()):.2f} %"
    )
    if cols:
        err2 = (u - y).square()
        share = float(err2[..., cols].sum() / err2.sum())
        keep = [j for j in range(n_x) if j not in cols]
        rel_in = _rel(u[..., keep], y[..., keep])
        print(
            f"interface columns {len(cols)}/{n_x} ({100 * len(cols) / n_x:.1f} % of the grid): "
            f"{100 * share:.1f} % of the squared error; rel. L2 without them "
            f"{100 * float(rel_in.mean()):.2f} %"
        )
        w = res.solution.reshape(b, k, -1)
        rms = y.flatten(1).square().mean(1).sqrt()
        for e, c in enumerate(cuts):
            diff = w[:, e] - w[:, e + 1]  # (B, N)
            jump = torch.einsum("bntx,bn->btx", basis[..., c - 1 : c + 1], diff).abs()
            print(
                f"  interface {e + 1} (x column {c}): jump mean {float(jump.mean() / rms.mean()):.3f}"
                f", max {float(jump.max() / rms.mean()):.3f} of the reference rms"
            )
    _, jac = system.residual_and_jacobian(res.solution)
    cond = torch.linalg.cond(jac)  # (B·K,)
    it = res.n_iter.reshape(b, k).double()
    nc = (~res.converged).reshape(b, k).sum(0)
    cond = cond.reshape(b, k)
    blocks = expert_blocks(tuple(y.shape[2:]), layer.experts)
    for e in range(k):
        mask = blocks == e
        rel_e = ((u - y)[..., mask]).flatten(1).norm(dim=1) / y[..., mask].flatten(1).norm(dim=1)
        print(
            f"  expert {e}: LM iters {float(it[:, e].mean()):.1f}, not converged {int(nc[e])}/{b}"
            f", cond(J) median {float(cond[:, e].median()):.3g}, max {float(cond[:, e].max()):.3g}"
            f", rows {jac.shape[1]} for {jac.shape[2]} weights, rel. L2 on its block "
            f"{100 * float(rel_e.mean()):.2f} %"
        )
    layer_module.solve_least_squares = original

    def resolve(label: str) -> None:
        """Solve ``basis`` again with the layer's current experts and row scale and print it."""
        with torch.no_grad():
            u2 = layer(basis, batch)
        r = layer.last_result
        print(
            f"{label}: rel. L2 {100 * float(_rel(u2, y).mean()):.2f} %, LM iters "
            f"{float(r.n_iter.double().mean()):.1f}, not converged {r.n_not_converged}"
        )

    experts0, scale0 = list(layer.experts), layer.pde.scale
    for spec_split in args.resolve:
        layer.experts = [int(v) for v in spec_split.split(",")]
        resolve(f"same basis re-solved with experts {layer.experts}")
    layer.experts = experts0
    for s in args.scales:
        layer.pde.scale = s
        resolve(f"same basis, experts {layer.experts}, PDE rows at residual_scale {s:g}")
    layer.pde.scale = scale0


if __name__ == "__main__":
    main()

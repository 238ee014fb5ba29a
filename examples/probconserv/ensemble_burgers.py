"""ProbConserv beyond the paper: the update on a deep-ensemble FNO for periodic Burgers or advection.

Burgers' equation and linear advection on the periodic unit interval conserve the total mass
:math:`\\int_0^1 u\\,dx`, so the conservation target of the prediction ``u(t_end)`` is the mass
of the input ``u(0)`` (periodic rectangle rule). A 3-member Gaussian-head FNO ensemble
(:class:`sciml.models.ensemble.GaussianEnsemble`, each member trained on its own Gaussian NLL) is
trained for a fixed wall-clock budget; the exact-limit ProbConserv update is applied post hoc and
CE and the relative L2 error are reported before and after (Operator-ProbConserv,
arXiv 2403.10642, does this with its own ensembles)::

    nice -n 10 python examples/probconserv/ensemble_burgers.py --out runs/probconserv
    nice -n 10 python examples/probconserv/ensemble_burgers.py --data advection1d --out runs/probconserv

Burgers: ``burgers1d`` (nu = 0.1, t_end = 1), stored on 64 of the solver's 256 points. Advection:
``advection1d`` (beta = 0.1, t_end = 2, a shift by 0.2), solved on the 64 stored points (the exact
Fourier shift, so the stored data conserves the rectangle-rule mass to float32 round-off).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from sciml.constraints.probconserv import ProbConserv, periodic_weights
from sciml.data.format import DatasetFile
from sciml.data.recipes.base import generate
from sciml.evaluation.metrics import gaussian_log_likelihood, relative_l2
from sciml.registry import MODELS

# recipe -> (output folder, recipe options): the initial state u(0) and u(t_end) on 64 points
DATA = {
    "burgers1d": ("burgers_ensemble", {"n_x": 64, "n_t": 2}),
    "advection1d": ("advection_ensemble", {"n_x": 64, "n_fine": 64, "n_t": 2, "dt": 2.0}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(DATA), default="burgers1d")
    parser.add_argument("--out", type=Path, default=Path("runs/probconserv"))
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=50)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    folder, options = DATA[args.data]
    out_dir = args.out / folder
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{args.data}.h5"
    n = args.n_train + args.n_test
    if not path.exists():
        generate(args.data, path, {"n_samples": n, "batch_size": 50, **options}, progress=False)
    f = DatasetFile(path)
    u = torch.as_tensor(f.read("u"), dtype=torch.float64)  # (N, 2, X)
    x = torch.as_tensor(f.coords["x"], dtype=torch.float64)
    u0, u1 = u[:, :1], u[:, 1:]
    g = periodic_weights(x, 1.0)
    mass = (g * u0).sum(-1)  # (N, 1): conserved by the PDE
    print(
        f"data: {n} trajectories; max |mass(t_end) - mass(0)| = {float(((g * u1).sum(-1) - mass).abs().max()):.1e}"
    )

    model = MODELS.get("gaussian_ensemble")(
        in_channels=1,
        out_channels=1,
        n_dims=1,
        base="fno",
        base_options={"n_modes": 16, "hidden_channels": 24, "n_layers": 4},
        n_members=args.members,
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xs, ys = u0[: args.n_train].float(), u1[: args.n_train].float()
    start, step = time.perf_counter(), 0
    while time.perf_counter() - start < 60 * args.minutes:
        idx = torch.randint(0, args.n_train, (20,))
        outs = model.member_outputs(xs[idx])
        loss = sum(-gaussian_log_likelihood(o, ys[idx]).mean() for o in outs)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            print(f"  step {step}  NLL/member {loss.item() / args.members:.3f}", flush=True)

    model = model.double().eval()
    test = slice(args.n_train, n)
    with torch.no_grad():
        raw = model(u0[test])
    batch = {"coords": x, "mass": mass[test]}
    constrained = ProbConserv("probconserv", quadrature="periodic", period=1.0)(raw, batch)
    hard = ProbConserv("hardc", quadrature="periodic", period=1.0)(raw, batch)
    result = {
        "steps": step,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "members": args.members,
    }
    for name, out in (("ensemble FNO", raw), ("HardC", hard), ("ProbConserv", constrained)):
        ce = (g * out.mean).sum(-1) - mass[test]
        rel = relative_l2(out.mean, u1[test])
        ll = gaussian_log_likelihood(out, u1[test])
        result[name] = {
            "max_abs_CE": float(ce.abs().max()),
            "mean_abs_CE": float(ce.abs().mean()),
            "rel_l2": float(rel.mean()),
            "rel_l2_se": float(rel.std() / math.sqrt(rel.numel())),
            "LL": float(ll.mean()),
        }
        print(f"{name:13s} max|CE| {result[name]['max_abs_CE']:.2e}  rel.L2 {result[name]['rel_l2']:.4f}"
              f" ({result[name]['rel_l2_se']:.4f})  LL {result[name]['LL']:.3f}")  # fmt: skip
    (out_dir / "results.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

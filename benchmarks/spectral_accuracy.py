"""Accuracy of the pseudo-spectral solvers: prints the tables of docs/solvers.md.

Run: .venv/bin/python benchmarks/spectral_accuracy.py   (float64, single thread, ~20 s)
"""

import math

import torch

from sciml.solvers import exact
from sciml.solvers.spectral import (
    Burgers,
    Grid,
    KdV,
    KuramotoSivashinsky,
    NavierStokes2D,
    SpectralEquation,
    SpectralSolver,
)
from sciml.testing import convergence_order

torch.set_default_dtype(torch.float64)
SCHEMES = ["etdrk1", "etdrk2", "etdrk3", "etdrk4", "cn_rk2", "cn_rk3", "cn_rk4"]


def row(name, dts, errs):
    print(
        f"| {name} | "
        + " | ".join(f"{e:.2e}" for e in errs)
        + f" | {convergence_order(dts, errs):.2f} |"
    )


class Bernoulli(SpectralEquation):  # u' = λu − u² on a constant field
    def __init__(self, grid, lam):
        super().__init__(grid, dealias="none")
        self.lam = lam

    def linear_symbol(self):
        return torch.full((1, 1, *self.grid.fourier_shape), self.lam)

    def nonlinear(self, u_hat):
        u = self.to_physical(u_hat)
        return -self.to_fourier(u * u)


dts, e = [0.05, 0.025, 0.0125, 0.00625], math.exp(-1.0)
ref = -0.8 * e / (-1 + 0.8 * (e - 1))
for s in SCHEMES:
    errs = []
    for dt in dts:
        n = round(1 / dt)
        u = SpectralSolver(Bernoulli(Grid(4), -1.0), dt, s).rollout(
            torch.full((1, 1, 4), 0.8), n, save_every=n
        )
        errs.append(abs(float(u[0, -1, 0, 0]) - ref))
    row(s, dts, errs)

g = Grid(256)
(x,) = g.coordinates()
dts = [0.1, 0.05, 0.025, 0.0125]
for s in SCHEMES:
    errs = []
    for dt in dts:
        n = round(1 / dt)
        u = SpectralSolver(Burgers(g, nu=0.1), dt, s).rollout(
            exact.burgers_cole_hopf(x, 0, 0.1), n, save_every=n
        )
        errs.append(float((u[:, -1] - exact.burgers_cole_hopf(x, 1.0, 0.1)).abs().max()))
    row(s, dts, errs)

g = Grid(256, 50.0)
(x,) = g.coordinates()
dts = [0.02, 0.01, 0.005]
for s in ["etdrk2", "etdrk4", "cn_rk4"]:
    errs = []
    for dt in dts:
        n = round(1 / dt)
        u = SpectralSolver(KdV(g), dt, s).rollout(
            exact.kdv_soliton(x, 0, 2.0, x0=25.0, length=50.0), n, save_every=n
        )
        errs.append(
            float((u[:, -1] - exact.kdv_soliton(x, 1.0, 2.0, x0=25.0, length=50.0)).abs().max())
        )
    row(s, dts, errs)

g = Grid(128, 32 * math.pi)
(x,) = g.coordinates()
u0 = torch.cos(x / 16) * (1 + torch.sin(x / 16))
final = lambda dt: SpectralSolver(KuramotoSivashinsky(g), dt).rollout(
    u0, round(5 / dt), save_every=round(5 / dt)
)[:, -1]
reference, dts = final(0.0025), [0.2, 0.1, 0.05, 0.025, 0.0125]
row("etdrk4 (KS)", dts, [float((final(dt) - reference).abs().max()) for dt in dts])

g = Grid((64, 64))
x, y = g.coordinates()
w0 = exact.taylor_green_vorticity(x, y, 0, 0.01, k=2)
for s, dt in [("etdrk4", 0.05), ("cn_rk4", 0.05), ("cn_rk4", 0.025)]:
    n = round(2 / dt)
    w = SpectralSolver(NavierStokes2D(g, nu=0.01, drag=0.05), dt, s).rollout(w0, n, save_every=n)
    print(
        s,
        dt,
        float(
            (w[:, -1] - exact.taylor_green_vorticity(x, y, 2.0, 0.01, k=2, drag=0.05)).abs().max()
        ),
    )

"""ETDRK4 time-step error on viscous Burgers with u0 = sin x (ν = 0.1, N = 256, t = 1), against
the general Cole–Hopf solution (heat-kernel quadrature): the dt–error table of docs/solvers.md.

Run: .venv/bin/python benchmarks/spectral_cole_hopf_dt.py   (float64, one thread, ~10 s)
"""

import math
import warnings

import torch

from sciml.solvers.exact import burgers_cole_hopf_quadrature
from sciml.solvers.spectral import Burgers, Grid, SpectralSolver

torch.set_num_threads(1)
# the large steps exceed the advective CFL estimate on purpose (ETDRK4 is still stable there)
warnings.filterwarnings("ignore", message="dt=.* exceeds the advective stability limit")
NU, N, T = 0.1, 256, 1.0
DTS = [0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125]


def main() -> None:
    grid = Grid(N, 2 * math.pi, dtype=torch.float64)
    (x,) = grid.coordinates()
    u0 = torch.sin(x)
    ref = burgers_cole_hopf_quadrature(u0.reshape(-1), x.reshape(-1), T, NU)
    print(f"Burgers u0 = sin x, nu = {NU}, N = {N}, t = {T}; max error vs Cole-Hopf quadrature")
    print("| scheme | " + " | ".join(f"dt = {dt:g}" for dt in DTS) + " |")
    print("|---" * (len(DTS) + 1) + "|")
    for scheme in ("etdrk2", "etdrk3", "etdrk4"):
        errors = []
        for dt in DTS:
            solver = SpectralSolver(Burgers(grid, nu=NU), dt=dt, scheme=scheme)
            n = round(T / dt)
            with torch.no_grad():
                u = solver.rollout(u0, n, save_every=n)[0, -1, 0]
            errors.append(float((u - ref).abs().max()))
        print(f"| {scheme} | " + " | ".join(f"{e:.2e}" for e in errors) + " |")
        orders = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
        print("|   local order | | " + " | ".join(f"{o:.2f}" for o in orders) + " |")


if __name__ == "__main__":
    main()

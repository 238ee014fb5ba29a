"""A surrogate inside a user's time loop: the Poisson solve of a transport simulation.

The "simulation" is user code: a scalar density ``f(x, y, t)`` on the periodic unit square is
carried by a uniform wind (an exact spectral shift, so the reference is exact), and at every step the
potential ``u`` with ``-Δu = f`` is needed (as a pressure or gravitational potential would be). The
reference computes it with an FFT solve; the trained FNO surrogate of ``examples/fno_poisson2d.yaml``
replaces that solve. The loop prints the surrogate's relative error per step and the potential
energy ``½∫|∇u|²`` both ways.

Run after training (any run trained on ``poisson2d``)::

    python examples/embed_in_solver.py runs/fno_poisson2d --steps 10
"""

from __future__ import annotations

import argparse
import math

import torch

import sciml
from sciml.data.functions import gaussian_random_field


def fft_poisson(f: torch.Tensor) -> torch.Tensor:
    """Reference solver: zero-mean ``u`` with ``-Δu = f`` on the periodic unit square, ``(B, X, Y)``."""
    n = f.shape[-1]
    k = torch.fft.fftfreq(n, 1.0 / n, dtype=f.dtype)
    kr = torch.fft.rfftfreq(n, 1.0 / n, dtype=f.dtype)
    k2 = (4 * math.pi**2) * (k[:, None] ** 2 + kr[None, :] ** 2)
    inv = torch.where(k2 > 0, 1.0 / k2.clamp_min(1e-30), torch.zeros_like(k2))
    return torch.fft.irfft2(torch.fft.rfft2(f) * inv, s=f.shape[-2:])


def shift(f: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """Exact periodic translation of ``f (B, X, Y)`` by ``(dx, dy)`` (spectral phase shift)."""
    n = f.shape[-1]
    k = torch.fft.fftfreq(n, 1.0 / n, dtype=f.dtype)
    kr = torch.fft.rfftfreq(n, 1.0 / n, dtype=f.dtype)
    phase = torch.exp(-2j * math.pi * (k[:, None] * dx + kr[None, :] * dy))
    return torch.fft.irfft2(torch.fft.rfft2(f) * phase, s=f.shape[-2:])


def energy(u: torch.Tensor) -> torch.Tensor:
    """``½∫|∇u|²`` per sample by spectral differentiation, ``(B,)``."""
    n = u.shape[-1]
    k = torch.fft.fftfreq(n, 1.0 / n, dtype=u.dtype)
    k2 = (2 * math.pi) ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    uh = torch.fft.fft2(u) / n**2
    return 0.5 * (k2 * uh.abs() ** 2).sum(dim=(-2, -1))


def run(run_dir: str, steps: int = 10, resolution: int = 64, seed: int = 1) -> list[float]:
    """Simulate ``steps`` steps; return the surrogate's relative L2 error at each step."""
    surrogate = sciml.load(run_dir)  # physical units in and out, normalizers folded in
    f = gaussian_random_field(
        1,
        (resolution, resolution),
        alpha=2.0,
        tau=3.0,
        remove_mean=True,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
    )
    wind, dt = (0.3, 0.1), 0.05
    errors = []
    for step in range(steps):
        f = shift(f, wind[0] * dt, wind[1] * dt)  # the user's transport step
        u_ref = fft_poisson(f)
        with torch.no_grad():  # inference only; the surrogate is differentiable when needed
            u_sur = surrogate(f.float()).double()  # (1, X, Y): one sample, one channel
        err = float((u_sur - u_ref).norm() / u_ref.norm())
        errors.append(err)
        print(
            f"step {step:3d}  rel. L2 error {err:.3e}  energy ref {float(energy(u_ref)[0]):.5e}"
            f"  surrogate {float(energy(u_sur)[0]):.5e}"
        )
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run trained on poisson2d, e.g. runs/fno_poisson2d")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--resolution", type=int, default=64)
    args = parser.parse_args()
    errors = run(args.run_dir, args.steps, args.resolution)
    print(
        f"mean relative error of the surrogate over {len(errors)} steps: {sum(errors) / len(errors):.3e}"
    )


if __name__ == "__main__":
    main()

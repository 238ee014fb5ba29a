"""Is a vorticity data file learnable by a physics-only loss on its own grid?

For each file (``t0_fields/vorticity`` ``(N, T, X, Y)``, times on ``[0, t_end]``) prints: max
:math:`|\\omega|`; the relative L2 of persistence :math:`\\omega(t) = \\omega_0` (mean ± s.d. over
trajectories, in %); the rms of the reference's own residual of the discrete vorticity operator
(:class:`~sciml.constraints.hard.NavierStokesVorticityResidual`, the one the PI-SC/HC/MoE losses
use) overall and per time index, against the rms of its :math:`\\omega_t`; and the fraction of
the initial enstrophy at wavenumbers ``|k| >= 6`` of the grid (under-resolution); and the rms of
the same residual with :math:`\\omega_x, \\omega_y, \\Delta\\omega` by second-order central finite
differences (periodic) instead of spectrally, the derivatives a per-expert ("broken") residual
would need inside a non-periodic block (the velocity stays spectral).

Usage::

    python examples/hcmoe/ns_data_check.py data/ns_sines_16x9.h5 --t-end 0.5
"""

from __future__ import annotations

import argparse

import h5py
import torch

from sciml.constraints.hard import NavierStokesVorticityResidual


def finite_difference_residual(w: torch.Tensor, pde: NavierStokesVorticityResidual) -> torch.Tensor:
    """Vorticity residual ``(N, T, X, Y)`` of ``w`` ``(N, T, X, Y)`` with the spatial derivatives
    of the vorticity by second-order central differences on the periodic grid (spacing
    ``pde.length / X``); ``ω_t`` and the velocity as :meth:`~NavierStokesVorticityResidual.features`."""
    q = pde.features(w[:, None], pde.grid(tuple(w.shape[1:]), {}))[:, :, 0]  # (N, F, T, X, Y)
    h = pde.length / w.shape[-1]
    q[:, 4] = (w.roll(-1, -2) - w.roll(1, -2)) / (2 * h)
    q[:, 5] = (w.roll(-1, -1) - w.roll(1, -1)) / (2 * h)
    q[:, 6] = (w.roll(-1, -2) + w.roll(1, -2) + w.roll(-1, -1) + w.roll(1, -1) - 4 * w) / h**2
    return pde.pointwise(q.movedim(1, -1))[0]


def check(path: str, t_end: float, nu: float) -> None:
    """Print the figures of the module docstring for one file."""
    with h5py.File(path, "r") as f:
        w = torch.tensor(f["t0_fields/vorticity"][...], dtype=torch.float64)  # (N, T, X, Y)
    rel = (w - w[:, :1]).flatten(1).norm(dim=1) / w.flatten(1).norm(dim=1)
    pde = NavierStokesVorticityResidual(nu=nu, t_end=t_end)
    residual = pde.grid_residual(w[:, None], {})  # (N, T, X, Y)
    t = torch.linspace(0.0, t_end, w.shape[1], dtype=torch.float64)
    (w_t,) = torch.gradient(w, spacing=(t,), dim=1)
    spectrum = torch.fft.rfft2(w[:, 0]).abs().square()
    k = torch.fft.fftfreq(w.shape[2], 1 / w.shape[2]).abs()[:, None]
    high = (k >= 6) | (torch.arange(spectrum.shape[-1]) >= 6)[None]
    per_time = residual.square().mean(dim=(0, 2, 3)).sqrt()
    fd_rms = finite_difference_residual(w, pde).square().mean().sqrt()
    print(
        f"{path}: max|w| {w.abs().max():.2f}, persistence rel. L2 {100 * rel.mean():.2f} ± "
        f"{100 * rel.std():.2f} %, reference residual rms {residual.square().mean().sqrt():.4g} "
        f"vs w_t rms {w_t.square().mean().sqrt():.4g}, enstrophy at |k| >= 6: "
        f"{spectrum[:, high].sum() / spectrum.sum():.3g}"
    )
    print("  residual rms per time index: " + " ".join(f"{v:.3g}" for v in per_time.tolist()))
    print(f"  residual rms with finite-difference w_x, w_y, lap w: {fd_rms:.4g}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--t-end", type=float, required=True, help="time of the last stored frame")
    p.add_argument("--nu", type=float, default=1e-4)
    args = p.parse_args()
    for path in args.files:
        check(path, args.t_end, args.nu)


if __name__ == "__main__":
    main()

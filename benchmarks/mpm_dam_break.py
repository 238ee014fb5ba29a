"""Dam break (Martin & Moyce 1952, n² = 2) with sciml's MLS-MPM: resolution study and wall checks.

Run from the repository root (float32, one thread; about 2 minutes for the default resolutions
on one core)::

    .venv/bin/python benchmarks/mpm_dam_break.py                         # 48 96 192 cells on 1.4 m
    .venv/bin/python benchmarks/mpm_dam_break.py --grids 48 96 --width 0.05715 --floor-friction 0.1
    .venv/bin/python benchmarks/mpm_dam_break.py --plot /tmp/dam_break.png --out /tmp/dam_break.md

The case: a water column (NCLaw water, E = 1e5 Pa, ν = 0.3, ρ = 1e3 kg/m³) of width ``a``
(default 0.2 m) and height 2a in the box [0, 1.4 m]², 2 × 2 particles per cell, Δt = 0.1 Δx / (c +
2√(g·2a)) (c the bulk wave speed), run to T = t √(2g/a) = 3.6, through the ``dam_break`` recipe's
own geometry and diagnostics (:func:`sciml.data.recipes.mpm_columns.column_extent`: front = the
k-th farthest particle, k = 0.5 % of the particles). Printed per resolution: the front ``Z = x/a``
at T = 1, 1.5, …, 3.5, its RMS and largest relative difference from Martin & Moyce's front for
the same column width (for a = 0.2 m, which they did not test, the a = 2.25 in = 0.05715 m
series: their Z(T) depends weakly on a), the RMS change in Z from the previous resolution on
1 ≤ T ≤ 3, the wall depth ``H/(2a)`` and its RMS and largest relative difference from Martin &
Moyce's tabulated residual column height at their times ``τ = t √(g/a)`` within the run (their
table is for a = 2.25 in, used for every width), and three wall checks over the whole run: particles behind
a wall (x or y below the wall plane ``o``, in cells), the smallest ``J = det F`` within 2 cells of
a wall and in the bulk.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from sciml.data.recipes.dam_break import (
    MARTIN_MOYCE,
    MARTIN_MOYCE_HEIGHT,
    DamBreakConfig,
    martin_moyce_front,
    martin_moyce_height,
)
from sciml.data.recipes.mpm_bodies import rollout_frames
from sciml.data.recipes.mpm_columns import column_extent, origin
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, Walls
from sciml.solvers.mpm.materials import DENSITY, make_material

G = 9.8
T_REPORT = np.arange(1.0, 3.51, 0.5)


def run(n: int, args: argparse.Namespace) -> dict:
    a, box = args.width, args.box
    grid = Grid(2, n, size=box)
    dx = grid.dx
    nx = max(2, round(2 * a / dx))  # 2 particles per cell
    config = DamBreakConfig(
        grid_n=n,
        box_size=box,
        lattice=(nx, 2 * nx),
        width_range=(a, a),
        aspect_range=(2.0, 2.0),
        floor_friction=args.floor_friction,
        wall_friction=args.wall_friction,
    )
    law = make_material("water", E=args.E)
    c = math.sqrt(args.E * 0.3 / (1.3 * 0.4) / DENSITY)
    dt = args.cfl * dx / (c + 2 * math.sqrt(G * 2 * a))
    t_end = args.t_end / math.sqrt(2 * G / a)
    save_every = max(1, round(t_end / 60 / dt))
    n_frames = math.ceil(t_end / dt / save_every) + 1
    walls = Walls(
        friction=[(args.wall_friction,) * 2, (args.floor_friction, 0.0)],
        on_plane=not args.taichi_walls,
    )
    sim = MPMSimulator(grid, law, walls=walls)
    o = origin(n, box_size=box)
    ref = np.stack(
        np.meshgrid(
            (np.arange(nx) + 0.5) / nx, (np.arange(2 * nx) + 0.5) / (2 * nx), indexing="ij"
        ),
        -1,
    ).reshape(-1, 2)
    x = torch.as_tensor(o + ref * np.array([a, 2 * a]), dtype=torch.float32)
    state = MPMState.create(x, density=DENSITY, particle_volume=2 * a * a / len(ref))
    start = time.perf_counter()
    frames = rollout_frames(sim, state, n_frames, dt=dt, save_every=save_every, save_state=True)
    seconds = time.perf_counter() - start
    pos = frames["position"].numpy()
    ext = column_extent(pos, np.array([a]), np.array([2 * a]), config)
    t = np.arange(n_frames) * dt * save_every
    T = t * math.sqrt(2 * G / a)
    J = torch.linalg.det(frames["deformation"][0].double()).numpy()  # (T, P)
    xs, ys = pos[0, ..., 0], pos[0, ..., 1]
    wall = np.minimum(np.minimum(xs - o, ys - o), box - o - xs) < 2 * dx
    return {
        "n": n,
        "particles": len(ref),
        "steps": (n_frames - 1) * save_every,
        "dt": dt,
        "seconds": seconds,
        "T": T,
        "Z": ext["front"][0] / a,
        "H": ext["wall_depth"][0] / (2 * a),
        "behind": float(max(0.0, (o - min(xs.min(), ys.min())) / dx)),
        "J_wall": float(J[wall].min()) if wall.any() else float("nan"),
        "J_bulk": float(J[~wall].min()),
        "empty": _empty_bulk_cells(pos[0, np.abs(T - 2.0).argmin()], n, dx, o),
    }


def _empty_bulk_cells(x: np.ndarray, n: int, dx: float, o: float) -> float:
    """Percentage of empty cells in the bulk of the water (cells of each occupied column from two
    cells above the floor to two cells below the column's highest particle): stripe clumping
    leaves such holes."""
    counts = np.zeros((n, n), int)
    cells = np.floor(x / dx).astype(int)
    np.add.at(counts, (cells[:, 0], cells[:, 1]), 1)
    floor = round(o / dx)
    empty = total = 0
    for column in counts:
        if column.any():
            bulk = column[floor + 2 : np.nonzero(column)[0].max() - 2]
            total += len(bulk)
            empty += int((bulk == 0).sum())
    return 100.0 * empty / max(total, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=int, nargs="+", default=[48, 96, 192])
    ap.add_argument("--width", type=float, default=0.2, help="column width a (m)")
    ap.add_argument("--box", type=float, default=1.4, help="box edge (m)")
    ap.add_argument("--E", type=float, default=1e5)
    ap.add_argument("--cfl", type=float, default=0.5)
    ap.add_argument("--t-end", type=float, default=3.6, help="final T = t sqrt(2g/a)")
    ap.add_argument("--floor-friction", type=float, default=0.0)
    ap.add_argument("--wall-friction", type=float, default=0.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--taichi-walls",
        action="store_true",
        help="the wall layer of Taichi/NCLaw (Walls()) instead of Walls(on_plane=True)",
    )
    ap.add_argument("--plot", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mm_width = args.width if args.width in (0.028575, 0.05715) else 0.05715
    lines = [
        f"dam break n²=2, a = {args.width} m, box {args.box} m, floor μ = {args.floor_friction}, "
        f"wall μ = {args.wall_friction}, E = {args.E:g} Pa, walls "
        f"{'Walls() (Taichi/NCLaw layer)' if args.taichi_walls else 'Walls(on_plane=True)'}; "
        f"Martin & Moyce series a = {mm_width} m",
        "",
        "| grid | particles | steps | s | "
        + " | ".join(f"Z(T={T:g})" for T in T_REPORT)
        + " | RMS ΔZ/Z_MM 1≤T≤3 | max | RMS ΔZ vs previous | H/2a (T=1, 2, 3) "
        "| RMS ΔH/H_MM | max | behind wall (cells) "
        "| min J wall | min J bulk | empty bulk cells at T = 2 (%) |",
        "|" + "---|" * (4 + len(T_REPORT) + 10),
    ]
    results, prev = [], None
    fine_T = np.linspace(1.0, 3.0, 41)
    for n in args.grids:
        r = run(n, args)
        results.append(r)
        Z = np.interp(fine_T, r["T"], r["Z"])
        mm = martin_moyce_front(fine_T, mm_width)
        rel = Z / mm - 1
        change = "—" if prev is None else f"{np.sqrt(np.mean((Z - prev) ** 2)):.3f}"
        prev = Z
        H = np.interp([1.0, 2.0, 3.0], r["T"], r["H"])
        tau = r["T"] / math.sqrt(2)  # t √(g/a)
        mm_tau = MARTIN_MOYCE_HEIGHT[MARTIN_MOYCE_HEIGHT[:, 0] <= tau[-1], 0]
        rel_H = np.interp(mm_tau, tau, r["H"]) / martin_moyce_height(mm_tau) - 1
        lines.append(
            f"| {n}² | {r['particles']} | {r['steps']} | {r['seconds']:.0f} | "
            + " | ".join(f"{z:.2f}" for z in np.interp(T_REPORT, r["T"], r["Z"]))
            + f" | {np.sqrt(np.mean(rel**2)):.3f} | {rel[np.abs(rel).argmax()]:+.3f} | {change} | "
            + ", ".join(f"{h:.2f}" for h in H)
            + f" | {np.sqrt(np.mean(rel_H**2)):.3f} | {rel_H[np.abs(rel_H).argmax()]:+.3f}"
            + f" | {r['behind']:.2f} | {r['J_wall']:.3f} | {r['J_bulk']:.3f} | {r['empty']:.1f} |"
        )
        print(lines[-1], flush=True)
    mm_T = np.linspace(0, 3.6, 9)
    lines.append("")
    lines.append(
        "Martin & Moyce Z: "
        + ", ".join(f"T={T:.2f}: {z:.2f}" for T, z in zip(mm_T, martin_moyce_front(mm_T, mm_width)))
    )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for r in results:
            ax1.plot(r["T"], r["Z"], label=f"MPM {r['n']}²")
            ax2.plot(r["T"] / math.sqrt(2), r["H"], label=f"MPM {r['n']}²")
        for w, table in (("1.125 in", 0.028575), ("2.25 in", 0.05715)):
            ax1.plot(*MARTIN_MOYCE[table].T, "o", label=f"Martin & Moyce, a = {w}")
        ax2.plot(*MARTIN_MOYCE_HEIGHT.T, "ko", label="Martin & Moyce, a = 2.25 in")
        ax1.set(xlabel="T = t √(2g/a)", ylabel="Z = front / a", xlim=(0, 3.7), ylim=(1, 6))
        ax2.set(xlabel="τ = t √(g/a)", ylabel="H = wall depth / 2a", xlim=(0, 2.6), ylim=(0, 1.05))
        ax1.legend()
        ax2.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()

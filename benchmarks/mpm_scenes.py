"""MPM scenes against classical experiments: dam break (Martin & Moyce 1952) and granular column
collapse (Lube et al. 2005). Accuracy, not speed.

Run from the repository root::

    .venv/bin/python benchmarks/mpm_scenes.py            # ~5 min on one core
    .venv/bin/python benchmarks/mpm_scenes.py --quick    # smoke run (coarse, numbers meaningless)

* Dam break: two square water columns (``dam_break``, 12×12 particles, 48² grid, dt 5e-4 s);
  nondimensional front ``Z = x/a`` against Martin & Moyce at ``T = t √(2g/a)`` ∈ [0.4, 2.5], the
  front's peak speed against Ritter's shallow-water speed ``2√(gh)``.
* Column collapse: one sand column per aspect ratio ``a = H0/L0`` (``column_collapse``,
  L0 = 0.1 m, 8×16 particles, 40² grid, dt 1e-3 s, 0.8 s); normalized run-out
  ``(L∞ − L0)/L0`` against the quasi-2D fit of Lube et al. (2005).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import generate
from sciml.data.recipes.column_collapse import experimental_runout
from sciml.data.recipes.dam_break import martin_moyce_front, martin_moyce_variables


def dam_break(tmp: Path, quick: bool) -> list[str]:
    """The recipe's default n² = 2 column (a = 0.2 m, 12 × 24 particles, 64² grid on 1.4 m) to
    T ≈ 3.6, free slip; the resolution study is benchmarks/mpm_dam_break.py."""
    f = DatasetFile(
        generate(
            "dam_break",
            tmp / "dam.h5",
            {"n_samples": 1, "batch_size": 1, "width_range": [0.2, 0.2]},
            progress=False,
        )
    )
    front, s = f.series["front"], f.scalars
    T, Z = martin_moyce_variables(f.time, front, s["width"])
    rows = [
        "| column | Z_sim / Z_Martin–Moyce (a = 2.25 in), T ∈ [1, 3.5] | max front speed / "
        "Ritter 2√(gh) | Z at T = 3.5 (M&M: 4.3) |",
        "|---|---|---|---|",
    ]
    for i in range(len(front)):
        window = (T[i] >= 1.0) & (T[i] <= 3.5)
        ratio = Z[i, window] / martin_moyce_front(T[i, window])
        speed = np.diff(front[i]) / np.diff(f.time)
        ritter = 2 * np.sqrt(9.8 * s["height"][i])
        rows.append(
            f"| {i} | {ratio.min():.3f} – {ratio.max():.3f} | {speed.max() / ritter:.3f} | "
            f"{np.interp(3.5, T[i], Z[i]):.2f} |"
        )
    return rows


def column_collapse(tmp: Path, quick: bool) -> list[str]:
    aspects = [1.0, 2.0] if quick else [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    simulated = []
    for a in aspects:
        config = {
            "n_samples": 1,
            "batch_size": 1,
            "aspect_range": [a, a],
            "width_range": [0.1, 0.1],
            "grid_n": 40,
            "lattice": [4, 8] if quick else [8, 16],
            "E": 2e5,
            "dt": 1e-3,
            "n_steps": 200 if quick else 800,
            "save_every": 50,
            "save_state": False,
        }
        f = DatasetFile(generate("column_collapse", tmp / f"col_{a}.h5", config, progress=False))
        width = f.scalars["width"][0]
        simulated.append((f.series["front"][0, -1] - width) / width)
    fit = experimental_runout(np.array(aspects))
    return [
        "| a | " + " | ".join(f"{a:g}" for a in aspects) + " |",
        "|---" * (len(aspects) + 1) + "|",
        "| (L∞ − L0)/L0 simulated | " + " | ".join(f"{v:.2f}" for v in simulated) + " |",
        "| Lube et al. 2005 fit | " + " | ".join(f"{v:.2f}" for v in fit) + " |",
        "| ratio | " + " | ".join(f"{v / e:.2f}" for v, e in zip(simulated, fit)) + " |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        print("## Dam break\n")
        print("\n".join(dam_break(Path(tmp), args.quick)))
        print("\n## Column collapse\n")
        print("\n".join(column_collapse(Path(tmp), args.quick)))


if __name__ == "__main__":
    main()

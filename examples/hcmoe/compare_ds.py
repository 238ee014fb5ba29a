"""Validation and test relative L2 of runs trained from the PI-SC / PI-HC / PI-HC-MoE specs
(diffusion–sorption or Navier–Stokes, any ``space_time`` run), with the solver columns of their
``metrics.csv``.

Each run is evaluated from its ``best.pt`` (lowest validation physics loss) on the spec's
validation and test trajectories (FV reference): mean relative L2 over the trajectories. Runs
are grouped by the name without its ``_s<seed>`` suffix; a group's row gives the mean ± s.d.
over its seeds (validation: to choose settings; test: to report them).

Usage::

    python examples/hcmoe/compare_ds.py runs/hcmoe3/*_lr*
    python examples/hcmoe/compare_ds.py runs/hcmoe3/ns_* --persistence

``--persistence`` adds the row of the trivial prediction u(t) = u(0) (the input broadcast over
t) on the first run's data: the error a model must beat to have learned any dynamics.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path

import torch
from run_data import run_dataset

import sciml


def rel_l2(run: Path, split: str, persistence: bool = False) -> float:
    """Mean relative L2 % of ``best.pt`` on ``split`` of the run's data file (``persistence``:
    of the input ``u(0)`` broadcast over t instead)."""
    ds = run_dataset(run, split)
    model = None if persistence else sciml.load(run, checkpoint="best", dtype=torch.float64)
    errors = []
    with torch.no_grad():
        for i in range(len(ds)):
            s = ds[i]
            pred = s["x"][: s["y"].shape[0]] if model is None else model.eval()(s["x"][None])[0]
            errors.append(float((pred - s["y"]).norm() / s["y"].norm()))
    return 100 * statistics.fmean(errors)


def solver_columns(run: Path) -> dict[str, float]:
    """Sums of the LM columns over the run and the wall time of its last row."""
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    out = {"time": float(rows[-1]["time"]), "steps": int(rows[-1]["step"])}
    for key in ("lm_solves", "lm_iterations", "lm_not_converged"):
        values = [float(r[key]) for r in rows if r.get(key)]
        if values:
            out[key] = sum(values)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--persistence", action="store_true", help="add the u(t) = u(0) row")
    args = p.parse_args()
    torch.set_num_threads(1)
    groups: dict[str, list[dict[str, float]]] = {}
    print("| run | val rel. L2 % | test rel. L2 % | train s | LM iters / solve | not converged |")
    print("|---|---|---|---|---|---|")
    if args.persistence:
        val, test = (rel_l2(args.runs[0], split, persistence=True) for split in ("val", "test"))
        print(f"| persistence u(t) = u(0) | {val:.2f} | {test:.2f} | – | – | – |")
    for run in sorted(args.runs):
        if not (run / "checkpoints" / "best.pt").exists():
            continue
        row = {"val": rel_l2(run, "val"), "test": rel_l2(run, "test"), **solver_columns(run)}
        groups.setdefault(re.sub(r"_s\d+$", "", run.name), []).append(row)
        iters = f"{row['lm_iterations'] / row['lm_solves']:.1f}" if "lm_solves" in row else "–"
        bad = (
            f"{row['lm_not_converged']:.0f} / {row['lm_solves']:.0f}" if "lm_solves" in row else "–"
        )
        print(
            f"| {run.name} | {row['val']:.2f} | {row['test']:.2f} | {row['time']:.0f} | {iters} "
            f"| {bad} |"
        )
    print()
    print("| group | seeds | val rel. L2 % | test rel. L2 % |")
    print("|---|---|---|---|")
    for name, rows in groups.items():
        cells = []
        for key in ("val", "test"):
            values = [r[key] for r in rows]
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            cells.append(f"{statistics.fmean(values):.2f} ± {sd:.2f}")
        print(f"| {name} | {len(rows)} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()

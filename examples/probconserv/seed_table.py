"""Tables over training seeds from ``reproduce.py --run`` results (docs/benchmarks.md, ProbConserv).

Reads ``<dir>/<problem>/results.json`` for each directory given (one per training seed, written
by ``examples/probconserv/reproduce.py --run ... --out <dir>``) and prints two markdown tables:

* per seed and parameter: the MSE (s.e. over the test functions) of ANP, HardC-ANP and
  ProbConserv-ANP at the paper's ``t_eval``, with the ANP's CE, the best MSE in bold, and the
  number of (seed, parameter) cases where ProbConserv's MSE is below both others;
* over seeds: mean and standard error over the seeds (s.d. / sqrt(n_seeds)) of each seed's
  per-parameter mean CE, LL and MSE, per parameter and method.

Usage::

    python examples/probconserv/seed_table.py --problem stefan runs/probconserv_spec_cont_s{0,1,2}
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

METHODS = ("ANP", "HardC-ANP", "ProbConserv-ANP")


def load(dirs: list[Path], problem: str) -> list[dict[str, Any]]:
    """The ``results.json`` of ``problem`` in each directory, in order."""
    return [json.loads((d / problem / "results.json").read_text()) for d in dirs]


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (s.d. with n − 1 / sqrt(n); 0 for one value) of ``values``."""
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def per_seed_table(dirs: list[Path], results: list[dict[str, Any]]) -> str:
    """Markdown: MSE (s.e.) per seed, parameter and method, and the ProbConserv win count."""
    lines = [
        "| run | param | ANP MSE (its CE) | HardC-ANP MSE | ProbConserv-ANP MSE |",
        "|---|---|---|---|---|",
    ]
    wins = cases = 0
    for d, res in zip(dirs, results, strict=True):
        for param in res["ANP"]["per_param"]:
            rows = {m: res[m]["per_param"][param] for m in METHODS}
            mse = {m: rows[m]["MSE"][0] for m in METHODS}
            best = min(mse.values())
            cells = []
            for m in METHODS:
                text = f"{mse[m]:.2e} ({rows[m]['MSE'][1]:.1e})"
                cells.append(f"**{text}**" if mse[m] == best else text)
            cells[0] += f" (CE {rows['ANP']['CE'][0]:+.1e})"
            lines.append(f"| {d.name} | {param} | " + " | ".join(cells) + " |")
            cases += 1
            wins += mse["ProbConserv-ANP"] < min(mse["ANP"], mse["HardC-ANP"])
    lines.append("")
    lines.append(f"ProbConserv's MSE below the ANP's and HardC's in {wins} of {cases} cases.")
    return "\n".join(lines)


def over_seeds_table(results: list[dict[str, Any]]) -> str:
    """Markdown: mean (s.e. over seeds) of CE, LL, MSE per parameter and method."""
    lines = [
        f"| param | method | CE | LL | MSE | (n seeds = {len(results)}) |",
        "|---|---|---|---|---|---|",
    ]
    for param in results[0]["ANP"]["per_param"]:
        for m in METHODS:
            cells = []
            for key in ("CE", "LL", "MSE"):
                mean, se = mean_se([r[m]["per_param"][param][key][0] for r in results])
                cells.append(f"{mean:.2e} ({se:.1e})" if key != "LL" else f"{mean:.2f} ({se:.2f})")
            lines.append(f"| {param} | {m} | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def shock_table(dirs: list[Path], results: list[dict[str, Any]]) -> str:
    """Markdown: shock position mean (s.d.) with the paper's detector, per seed (if recorded)."""
    lines = [
        "| run | true front | ANP mean (s.d.) | ProbConserv-ANP mean (s.d.) |",
        "|---|---|---|---|",
    ]
    for d, res in zip(dirs, results, strict=True):
        if "shock" not in res:
            continue
        shock = res["shock"]["threshold 0"]
        cells = [
            f"{shock[m]['mean']:.4f} ({shock[m]['std']:.3f})" for m in ("ANP", "ProbConserv-ANP")
        ]
        lines.append(f"| {d.name} | {res['shock']['true_front']:.4f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", required=True, choices=("heat", "pme", "stefan"))
    parser.add_argument("dirs", nargs="+", type=Path, help="reproduce.py --out directories")
    args = parser.parse_args()
    results = load(args.dirs, args.problem)
    print(per_seed_table(args.dirs, results), end="\n\n")
    print(over_seeds_table(results), end="\n\n")
    print(shock_table(args.dirs, results))


if __name__ == "__main__":
    main()

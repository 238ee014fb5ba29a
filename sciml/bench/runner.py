"""``sciml bench``: every registered model family on every benchmark of a profile, one table.

For each selected benchmark the data file is generated once (``<out>/data/<benchmark>-<hash>.h5``,
named by the recipe's resolved parameters, reused while they stay the same); then every
selected family × seed is a cell (:mod:`sciml.bench.cells`) whose record is written atomically
to ``<out>/cells/<benchmark>/<model>/seed<k>.json``. A rerun of the same command skips every
cell whose record is finished and current (same fingerprint), so an interrupted bench resumes
where it stopped. A cell that raises an unexpected error is recorded as ``failed`` with its
traceback beside the record (``seed<k>.error.txt``), the bench goes on, and the next run tries
it again. The leaderboard (:mod:`sciml.bench.leaderboard`) covers the selected cells.

Layout of ``<out>``::

    data/        the benchmark files
    runs/        one run directory per cell (spec.yaml, checkpoints, metrics.csv, eval/)
    cells/       one JSON record per cell
    leaderboard.md  leaderboard.json  error_vs_parameters.png  error_vs_time.png  zero_shot.png
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sciml.atomic import atomic_write_text
from sciml.bench.cells import FINISHED, Cell, cell_fingerprint, cell_spec, run_cell
from sciml.bench.leaderboard import write_leaderboard
from sciml.bench.profile import Profile
from sciml.data.recipes.base import generate, make_config
from sciml.devices import resolve_device
from sciml.registry import MODELS
from sciml.spec import SpecError
from sciml.training.config import fingerprint


@dataclass
class BenchResult:
    """What a bench run produced: every selected cell's record and the leaderboard files."""

    records: list[dict[str, Any]]
    markdown_path: Path
    json_path: Path
    figures: list[Path] = field(default_factory=list)
    reused: int = 0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "failed"]


def select(asked: Sequence[str] | None, allowed: Sequence[str], option: str) -> list[str]:
    """``asked`` (all of ``allowed`` when ``None``), each checked against ``allowed``."""
    if asked is None:
        return list(allowed)
    unknown = [a for a in asked if a not in allowed]
    if unknown:
        raise SpecError(
            f"{option} {','.join(unknown)}: unknown {option.removeprefix('--')}; "
            f"allowed: {', '.join(allowed)}"
        )
    return list(dict.fromkeys(asked))


def benchmark_file(profile: Profile, name: str, out: Path, *, progress: bool) -> Path:
    """The data file of benchmark ``name`` under ``out/data``, generated unless present (a
    ``.partial`` file of an interrupted generation is continued)."""
    bench = profile.benchmarks[name]
    config = make_config(bench.recipe, bench.generate)  # RecipeError names a bad parameter
    key = fingerprint({"recipe": bench.recipe, "config": config.model_dump(mode="json")})[:10]
    path = out / "data" / f"{name}-{key}.h5"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        generate(bench.recipe, path, bench.generate, progress=progress, resume=partial.exists())
    return path


def cell_record_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / cell.benchmark / cell.model / f"seed{cell.seed}.json"


def _stored(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # cannot happen with atomic writes unless edited by hand: run it again


def run_bench(
    profile: Profile,
    out: str | Path,
    *,
    models: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> BenchResult:
    """Run the selected cells of ``profile`` into ``out`` and write the leaderboard there.

    Parameters
    ----------
    models, benchmarks:
        Registered model families / the profile's benchmarks to run (default: all); an
        unknown name is a :class:`~sciml.spec.SpecError` listing the allowed ones.
    seeds:
        Seeds to run (default: the profile's).
    """
    out = Path(out)
    try:
        resolve_device(device)
    except ValueError as err:
        raise SpecError(f"--device: {err}") from None
    families = select(models, MODELS.names(), "--models")
    names = select(benchmarks, list(profile.benchmarks), "--benchmarks")
    seed_list = list(dict.fromkeys(seeds if seeds is not None else profile.seeds))
    if any(s < 0 for s in seed_list):
        raise SpecError(f"--seeds {seed_list}: seeds must be integers >= 0")
    cells = [Cell(b, m, s) for b in names for m in families for s in seed_list]
    records: list[dict[str, Any]] = []
    reused = 0
    bar = tqdm(total=len(cells), desc="bench", unit="cell", disable=not progress)
    with bar:
        for name in names:
            bar.set_postfix_str(f"data {name}")
            data_file = benchmark_file(profile, name, out, progress=progress)
            for cell in (c for c in cells if c.benchmark == name):
                bar.set_postfix_str(cell.key)
                record, was_stored = _cell(profile, cell, data_file, out, device)
                reused += was_stored
                records.append(record)
                bar.update(1)
    md, js, figures = write_leaderboard(records, profile, out)
    return BenchResult(records, md, js, figures, reused)


def _cell(
    profile: Profile, cell: Cell, data_file: Path, out: Path, device: str
) -> tuple[dict[str, Any], bool]:
    """The record of ``cell``: the stored one when finished and current, else a fresh run."""
    path = cell_record_path(out, cell)
    stored = _stored(path)
    if stored is not None and stored.get("status") in FINISHED:
        spec = cell_spec(profile, cell, data_file, steps=profile.budget.steps, device=device)
        if stored.get("fingerprint") == cell_fingerprint(profile, spec):
            return stored, True
    run_dir = out / "runs" / cell.benchmark / cell.model / f"seed{cell.seed}"
    error_file = path.with_suffix(".error.txt")
    started = time.perf_counter()
    try:
        record = run_cell(profile, cell, data_file, run_dir, device=device)
    except SpecError:
        raise  # a profile the spec layer refuses is the user's to fix, not a model's result
    except Exception as exc:  # noqa: BLE001 - one family's bug must not hide the others' results
        record = {
            "benchmark": cell.benchmark,
            "model": cell.model,
            "seed": cell.seed,
            "status": "failed",
            "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "traceback": str(error_file),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(traceback.format_exc(), error_file)
        print(f"sciml bench: {cell.key} failed: {record['reason']}", file=sys.stderr)
    else:
        error_file.unlink(missing_ok=True)
    record["cell_seconds"] = time.perf_counter() - started
    if record["status"] == "ok":
        record["run_dir"] = str(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json.dumps(record, indent=2, default=str), path)
    return record, False

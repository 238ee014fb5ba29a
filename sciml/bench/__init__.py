"""``sciml bench``: every registered model family on every benchmark of a profile, one leaderboard.

    from sciml.bench import load_profile, run_bench
    result = run_bench(load_profile("ci"), "runs/bench-ci", models=["fno", "mgno"])
    print(result.markdown_path.read_text())

Profiles (:mod:`sciml.bench.profile`) name the benchmarks (recipe, generation parameters, split,
zero-shot resolutions), the budget, the seeds and the model options per family; cells
(:mod:`sciml.bench.cells`) are ordinary runs of the workflow; the runner
(:mod:`sciml.bench.runner`) makes the data, runs or reuses each cell and writes the leaderboard
(:mod:`sciml.bench.leaderboard`, :mod:`sciml.bench.plots`).
"""

from sciml.bench.profile import Profile, load_profile, profile_names
from sciml.bench.runner import BenchResult, run_bench

__all__ = ["BenchResult", "Profile", "load_profile", "profile_names", "run_bench"]

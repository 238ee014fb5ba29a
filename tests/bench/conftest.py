"""The tiny bench run once per module (see bench_profile.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bench_profile import write_profile


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any]:
    """``(profile, out, result)`` of the tiny bench run once with fno and deeponet (trained) and
    fno_time and nclaw (which the field task cannot train)."""
    from sciml.bench import run_bench

    folder = tmp_path_factory.mktemp("bench")
    profile = write_profile(folder)
    out = folder / "out"
    result = run_bench(
        profile, out, models=["fno", "deeponet", "fno_time", "nclaw"], progress=False
    )
    return profile, out, result

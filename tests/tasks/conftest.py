"""A tiny Burgers trajectory file shared by the task tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def burgers_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 trajectories of 1D viscous Burgers, 32 points, 6 stored times (periodic: mass is
    conserved)."""
    from sciml.data.recipes.base import generate

    path = tmp_path_factory.mktemp("burgers") / "burgers.h5"
    generate(
        "burgers1d",
        path,
        {"n_samples": 10, "batch_size": 10, "n_fine": 64, "n_x": 32, "n_t": 6},
        progress=False,
    )
    return path

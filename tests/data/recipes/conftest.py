"""Shared fixture of the recipe tests: each (recipe, configuration) file is generated once a session."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import generate


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., DatasetFile]:
    """``generated(name, overrides)``: the file of recipe ``name``, shared by every test asking it.

    The file is generated on first use; tests read it and must not modify it.
    """
    files: dict[str, DatasetFile] = {}

    def get(name: str, overrides: Mapping[str, Any]) -> DatasetFile:
        key = f"{name} {sorted(overrides.items())!r}"
        if key not in files:
            path = tmp_path_factory.mktemp(name) / f"{name}.h5"
            files[key] = DatasetFile(generate(name, path, overrides, progress=False))
        return files[key]

    return get

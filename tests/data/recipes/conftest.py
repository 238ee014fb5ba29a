"""Shared fixture of the recipe tests: each (recipe, configuration) file is generated once a session.

The recipe tests are written against a recipe's ``Config`` defaults (CI-sized), not its catalog
preset (the benchmark sizes, which :func:`~sciml.data.recipes.base.make_config` applies for every
user): :func:`recipe_defaults.config_defaults` undoes the preset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from recipe_defaults import config_defaults

from sciml.data.format import DatasetFile
from sciml.data.recipes.base import generate


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., DatasetFile]:
    """``generated(name, overrides)``: the file of recipe ``name`` with ``overrides`` over its
    ``Config`` defaults, shared by every test asking it.

    The file is generated on first use; tests read it and must not modify it.
    """
    files: dict[str, DatasetFile] = {}

    def get(name: str, overrides: Mapping[str, Any]) -> DatasetFile:
        key = f"{name} {sorted(overrides.items())!r}"
        if key not in files:
            path = tmp_path_factory.mktemp(name) / f"{name}.h5"
            params = config_defaults(name, overrides)
            files[key] = DatasetFile(generate(name, path, params, progress=False))
        return files[key]

    return get

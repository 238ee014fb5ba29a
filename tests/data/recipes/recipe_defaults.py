"""The configuration the recipe tests are written against: a recipe's ``Config`` defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sciml.data.recipes.base import default_parameters
from sciml.registry import RECIPES


def config_defaults(name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` over recipe ``name``'s ``Config`` defaults of the keys its preset sets."""
    fields = RECIPES.get(name).Config.model_fields
    undone = {
        key: fields[key].default
        for key in default_parameters(name)
        if not fields[key].is_required()
    }
    return {**undone, **overrides}

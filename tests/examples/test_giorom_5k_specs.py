"""examples/giorom_<material>_5k{,_gns_dense,_gns_sparse}.yaml: the four materials at 5184 particles
follow one protocol (docs/giorom.md, "Accuracy at 5184 particles"). Within a material the three
specs share the data, the noise and the training; across materials only the material, the data
path and the measured noise differ. The 3D jelly pair (examples/giorom_jelly_3d{,_gns_sparse}.yaml)
follows the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sciml.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MATERIALS = ("water", "jelly", "sand", "plasticine")
VARIANTS = ("", "_gns_dense", "_gns_sparse")


def _spec(material: str, variant: str) -> dict[str, Any]:
    path = EXAMPLES / f"giorom_{material}_5k{variant}.yaml"
    spec = load_spec(path).model_dump(mode="json")
    assert spec["name"] == path.stem
    return spec


def _without_material(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with what may differ between materials blanked out."""
    data = {
        **spec["data"],
        "path": None,
        "generate": {**spec["data"]["generate"], "materials": None},
    }
    model = {**spec["model"], "noise_std": None}
    return {**spec, "name": spec["name"].split("_", 2)[-1], "data": data, "model": model}


@pytest.mark.parametrize("material", MATERIALS)
def test_the_three_specs_of_a_material_share_data_noise_and_training(material: str) -> None:
    specs = {v: _spec(material, v) for v in VARIANTS}
    giorom, dense, sparse = specs[""], specs["_gns_dense"], specs["_gns_sparse"]
    for spec in specs.values():
        assert spec["data"]["generate"]["materials"] == [material]
        assert spec["data"]["path"] == f"data/giorom_{material}_5k.h5"
        assert spec["model"]["noise_std"] == giorom["model"]["noise_std"]
        for key in ("trainer", "optimizer", "scheduler", "evaluation", "seed"):
            assert spec[key] == giorom[key], key
    assert {k: v for k, v in dense["data"].items() if k != "options"} == {
        k: v for k, v in giorom["data"].items() if k != "options"
    }
    assert "sampling" not in dense["data"]["options"]
    assert sparse["data"] == giorom["data"]
    assert giorom["data"]["options"]["sampling"] == {"method": "fps", "ratio": 0.05}
    # the sparse GNS steps the same sampled particles on the same graph as GIOROM
    assert (giorom["model"]["name"], sparse["model"]["name"], dense["model"]["name"]) == (
        "giorom",
        "gns",
        "gns",
    )
    assert sparse["model"]["radius"] == giorom["model"]["radius"]
    assert dense["model"]["radius"] < giorom["model"]["radius"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_materials_differ_only_in_material_path_and_noise(variant: str) -> None:
    reference = _without_material(_spec("jelly", variant))
    for material in MATERIALS:
        assert _without_material(_spec(material, variant)) == reference, material


def test_the_3d_jelly_specs_share_data_noise_and_training_and_the_sampled_graph() -> None:
    giorom, sparse = (
        load_spec(EXAMPLES / f"giorom_jelly_3d{v}.yaml").model_dump(mode="json")
        for v in ("", "_gns_sparse")
    )
    assert giorom["data"] == sparse["data"]
    assert giorom["data"]["dataset"] == "mpm3d_large"
    assert giorom["data"]["options"]["sampling"] == {"method": "fps", "ratio": 0.05}
    for key in ("trainer", "optimizer", "scheduler", "evaluation", "seed"):
        assert giorom[key] == sparse[key], key
    assert giorom["model"]["noise_std"] == sparse["model"]["noise_std"]
    assert giorom["model"]["radius"] == sparse["model"]["radius"]
    # radius = 3 sampled spacings, bandwidth = 1 (the 2D specs' rule)
    assert giorom["model"]["radius"] == pytest.approx(
        3 * giorom["model"]["reconstruction"]["bandwidth"], rel=0.01
    )

"""scOT, the time-conditioned SwinV2 U-Net of Poseidon (Herde et al., NeurIPS 2024), registered as
model ``"scot"`` (presets ``scot-t`` and ``scot-mini`` in ``sciml/catalog/models``).

Modules: :mod:`~sciml.models.scot.norm` (time-conditioned LayerNorm),
:mod:`~sciml.models.scot.windows` (window geometry and masks),
:mod:`~sciml.models.scot.attention` (scaled cosine attention, continuous position bias),
:mod:`~sciml.models.scot.blocks` (Swin block, patch merging/unmerging, ConvNeXt skip block),
:mod:`~sciml.models.scot.model` (the U-Net, grids and resampling).
"""

from sciml.models.config import strict_config
from sciml.models.scot.model import ScOT
from sciml.registry import MODELS

__all__ = ["ScOT"]

MODELS.register("scot")(strict_config("scot")(ScOT))

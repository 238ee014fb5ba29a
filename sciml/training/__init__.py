"""Training: the :class:`Trainer` loop, its config, checkpoints and data-parallel support.

Import cost is kept low (no tensorboard, deepxde or neuralop at import time).
"""

from sciml.training.checkpoint import CheckpointError, load_checkpoint
from sciml.training.config import TrainerConfig, fingerprint
from sciml.training.trainer import (
    NonFiniteLossError,
    Trainer,
    TrainerSetupError,
    TrainResult,
    check_device,
    seed_everything,
)

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "TrainResult",
    "Trainer",
    "TrainerConfig",
    "TrainerSetupError",
    "check_device",
    "fingerprint",
    "load_checkpoint",
    "seed_everything",
]

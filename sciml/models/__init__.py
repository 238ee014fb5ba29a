"""Model families; importing this package registers each one in :data:`sciml.registry.MODELS`."""

from sciml.models import deeponet as deeponet
from sciml.models import fno as fno
from sciml.models import nclaw as nclaw

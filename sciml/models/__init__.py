"""Model families; importing this package registers each one in :data:`sciml.registry.MODELS`."""

from sciml.models import anp as anp
from sciml.models import deeponet as deeponet
from sciml.models import ensemble as ensemble
from sciml.models import fno as fno
from sciml.models import learned_mpm as learned_mpm
from sciml.models import mgno as mgno
from sciml.models import mlp_law as mlp_law
from sciml.models import nclaw as nclaw
from sciml.models import scot as scot
from sciml.registry import MODELS

# torch-geometric takes seconds to import: load the graph models only when a spec asks for one
MODELS.register_lazy("gns", "sciml.models.gns")
MODELS.register_lazy("giorom", "sciml.models.giorom")

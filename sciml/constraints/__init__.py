"""Constraints: layers that make a model's physical-units output satisfy a physical law.

Importing this package registers each constraint in :data:`sciml.registry.CONSTRAINTS`.
"""

from sciml.constraints import hard as hard
from sciml.constraints import mass_projection as mass_projection
from sciml.constraints import probconserv as probconserv
